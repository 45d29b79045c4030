"""One delivery attempt against a real local HTTP receiver: request shape, signature, failures."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from notify_support import NOW
from receiver import HANG, Receiver

from tasksql.errors import NotificationError
from tasksql.model import Webhook
from tasksql.notify import webhook
from tasksql.notify.webhook import WebhookFailed, sign, verify_signature

PAYLOAD = json.dumps({"version": "1.0", "messageId": "m-1", "text": "déjà vu"}, ensure_ascii=False)
SECRET = "s3cr3t-signing-key"
AUTH = "Bearer token-that-must-not-leak"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def send(session: aiohttp.ClientSession, hook: Webhook, timeout_s: float = 5.0) -> webhook.Delivered:
    return await webhook.send(
        session,
        hook,
        message_id="m-1",
        event_type="TASK_FAILED",
        payload=PAYLOAD,
        now=NOW,
        timeout_s=timeout_s,
    )


async def test_post_carries_the_payload_and_the_documented_headers(
    session: aiohttp.ClientSession, receiver: Receiver
) -> None:
    hook = Webhook(url=receiver.url, authorization_header=AUTH, signing_secret=SECRET)

    answer = await send(session, hook)

    assert answer.status_code == 200 and answer.duration_ms >= 0
    [got] = receiver.requests
    assert (got.method, got.path) == ("POST", "/hook")
    assert got.body == PAYLOAD.encode()
    assert got.json()["text"] == "déjà vu"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Authorization"] == AUTH
    assert got.headers["X-Tasksql-Message-Id"] == "m-1"
    assert got.headers["X-Tasksql-Event"] == "TASK_FAILED"


async def test_the_signature_verifies_with_the_secret_and_an_independent_hmac(
    session: aiohttp.ClientSession, receiver: Receiver
) -> None:
    await send(session, Webhook(url=receiver.url, signing_secret=SECRET))

    [got] = receiver.requests
    header = got.headers["X-Tasksql-Signature"]
    stamp = int(NOW.timestamp())
    # what a receiver written in any language does: HMAC-SHA256 over "<t>." + raw body
    expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + got.body, hashlib.sha256).hexdigest()
    assert header == f"t={stamp},v1={expected}"
    assert verify_signature(SECRET, header, got.body, now=stamp + 10)
    assert not verify_signature("wrong-secret", header, got.body, now=stamp)
    assert not verify_signature(SECRET, header, got.body + b" ", now=stamp)
    assert not verify_signature(SECRET, header, got.body, now=stamp + 301)  # a replay, too late
    assert not verify_signature(SECRET, "garbage", got.body, now=stamp)


async def test_without_secret_or_authorization_those_headers_are_absent(
    session: aiohttp.ClientSession, receiver: Receiver
) -> None:
    await send(session, Webhook(url=receiver.url))
    [got] = receiver.requests
    assert "X-Tasksql-Signature" not in got.headers
    assert "Authorization" not in got.headers


async def test_get_sends_no_body_and_put_sends_it(session: aiohttp.ClientSession, receiver: Receiver) -> None:
    await send(session, Webhook(url=receiver.url, method="GET", signing_secret=SECRET))
    await send(session, Webhook(url=receiver.url, method="put"))
    get, put = receiver.requests
    assert (get.method, get.body) == ("GET", b"")
    assert verify_signature(SECRET, get.headers["X-Tasksql-Signature"], b"", now=NOW.timestamp())
    assert (put.method, put.body) == ("PUT", PAYLOAD.encode())


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (500, True),
        (503, True),
        (408, True),
        (429, True),
        (400, False),
        (401, False),
        (404, False),
        (410, False),
    ],
)
async def test_error_answers_are_retryable_or_not_by_status(
    session: aiohttp.ClientSession, receiver: Receiver, status: int, retryable: bool
) -> None:
    receiver.status = status
    with pytest.raises(WebhookFailed) as info:
        await send(session, Webhook(url=receiver.url))
    err = info.value
    assert isinstance(err, NotificationError)
    assert (err.status_code, err.retryable) == (status, retryable)
    assert err.message == f"HTTP {status}: answer {status}"


async def test_retry_after_in_seconds_is_passed_on(
    session: aiohttp.ClientSession, receiver: Receiver
) -> None:
    receiver.status = 429
    receiver.extra_headers = {"Retry-After": "17"}
    with pytest.raises(WebhookFailed) as info:
        await send(session, Webhook(url=receiver.url))
    assert info.value.retry_after == 17.0


async def test_redirects_are_not_followed(session: aiohttp.ClientSession, receiver: Receiver) -> None:
    receiver.status = 302
    receiver.extra_headers = {"Location": "http://127.0.0.1:9/elsewhere"}
    with pytest.raises(WebhookFailed) as info:
        await send(session, Webhook(url=receiver.url, authorization_header=AUTH))
    assert not info.value.retryable and info.value.status_code == 302
    assert len(receiver.requests) == 1


async def test_a_hanging_receiver_times_out_and_is_retryable(
    session: aiohttp.ClientSession, receiver: Receiver
) -> None:
    receiver.script.append(HANG)
    with pytest.raises(WebhookFailed) as info:
        await send(session, Webhook(url=receiver.url), timeout_s=0.3)
    assert info.value.retryable and info.value.status_code is None
    assert info.value.message == "no answer within 0.3 s"


async def test_a_closed_port_is_a_retryable_connection_error(session: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    secret_url = f"http://127.0.0.1:{port}/services/T000/B000/XXXXSECRETTOKEN"
    with pytest.raises(WebhookFailed) as info:
        await send(session, Webhook(url=secret_url, authorization_header=AUTH))
    err = info.value
    assert err.retryable and err.status_code is None
    assert err.message.startswith("connection failed")
    for secret in ("XXXXSECRETTOKEN", AUTH, str(port)):
        assert secret not in str(err)


async def test_an_invalid_url_is_not_retryable(session: aiohttp.ClientSession) -> None:
    with pytest.raises(WebhookFailed) as info:
        await send(session, Webhook(url="not a url"))
    assert not info.value.retryable


def test_sign_is_the_documented_format() -> None:
    assert sign("k", 1700000000, b"{}") == (
        "t=1700000000,v1=" + hmac.new(b"k", b"1700000000.{}", hashlib.sha256).hexdigest()
    )


async def test_a_header_with_a_line_break_is_refused_before_sending(
    session: aiohttp.ClientSession, receiver: Receiver
) -> None:
    with pytest.raises(WebhookFailed) as info:
        await send(session, Webhook(url=receiver.url, authorization_header="Bearer a\r\nX-Injected: 1"))
    assert not info.value.retryable
    assert "X-Injected" not in str(info.value)
    assert receiver.requests == []
