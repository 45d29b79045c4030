"""Credentials in URLs are secrets wherever a URL is shown; the stored URL is still the one used."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from notify_support import NOW
from receiver import Receiver

from tasksql.display import decimal_text, mask_url
from tasksql.model import Webhook
from tasksql.notify import webhook


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://h.example/hook?token=abc", "https://h.example/hook?token=***"),
        ("https://h.example/hook?a=1&b=&c", "https://h.example/hook?a=***&b=&***"),
        ("https://h.example/hook#s3cret", "https://h.example/hook#***"),
        ("https://user:pw@h.example:8443/x", "https://user:***@h.example:8443/x"),
        ("https://user@h.example/x", "https://user@h.example/x"),
        (
            "https://hooks.slack.com/services/T00000000/B00000000/Xx1Xx1Xx1Xx1Xx1Xx1Xx1Xx1",
            "https://hooks.slack.com/services/T00000000/B00000000/***",
        ),
        ("https://h.example/api/v2/events", "https://h.example/api/v2/events"),
        ("http://127.0.0.1:9/x", "http://127.0.0.1:9/x"),
        ("http://h:notaport/x?token=t", "***"),  # does not parse: hidden whole
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.999971, "1"),
        (1.5590000000000002, "1.559"),
        (0.3, "0.3"),
        (3600.0, "3600"),
        (0.0001, "0"),
        (2.25, "2.25"),
    ],
)
def test_decimal_text(value: float, text: str) -> None:
    assert decimal_text(value) == text


def test_a_webhook_repr_shows_no_credential() -> None:
    hook = Webhook(
        url="https://h.example/x?token=s3cret", authorization_header="Bearer a", signing_secret="k"
    )
    assert repr(hook) == "Webhook(url='https://h.example/x?token=***', method='POST')"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def test_delivery_uses_the_url_as_written(session: aiohttp.ClientSession, receiver: Receiver) -> None:
    url = receiver.url + "?token=s3cret&x=1"
    answer = await webhook.send(
        session, Webhook(url=url), message_id="m-1", event_type="TASK_FAILED", payload=json.dumps({}), now=NOW
    )
    assert answer.status_code == 200
    assert round(answer.duration_ms, 3) == answer.duration_ms
    [got] = receiver.requests
    assert got.query == "token=s3cret&x=1"
