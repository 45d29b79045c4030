"""Deliver one notification to a webhook, and the HMAC signature receivers verify.

One attempt is one HTTP request with the integration's method (POST by default) to its URL:

* the payload JSON as the body (GET sends no body), ``Content-Type: application/json``; with a
  ``WEBHOOK_BODY_TEMPLATE``, the template with its placeholder replaced by the payload's text
  (:mod:`tasksql.model.webhook_template`), and the signature over that body;
* ``Authorization: <authorization_header>`` when the integration has one (the full header value);
* ``X-Tasksql-Message-Id: <messageId>``, the same on every attempt, for de-duplication;
* ``X-Tasksql-Event: <messageType>``;
* with a ``signing_secret``: ``X-Tasksql-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>`` is
  the HMAC-SHA256, keyed with the secret, of ``"<t>."`` followed by the exact body bytes.

A receiver verifies by recomputing the HMAC over ``"<t>." + body`` with the shared secret,
comparing in constant time, and refusing a ``t`` too far from its own clock (replays);
:func:`verify_signature` does exactly that.

A 2xx answer is a delivery. Anything else raises :class:`WebhookFailed` (a
:class:`~tasksql.errors.NotificationError`) whose ``retryable`` says whether to try again: 5xx,
408, 429, timeouts and connection errors are retryable; other 4xx, redirects (never followed,
so the Authorization header cannot travel to another host) and invalid URLs are not.

Secrets (the authorization header, the signing secret, a WEBHOOK_SECRET's value) and the URL
(webhook URLs often embed a token) never appear in error messages or logs; aiohttp's exceptions
never leave this module.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from tasksql.clock import monotonic
from tasksql.display import decimal_text, round_ms
from tasksql.errors import NotificationError
from tasksql.model import Webhook
from tasksql.model.secret import redacted
from tasksql.model.webhook_template import render as render_template

#: Seconds one attempt may take (connect, send, and read the answer) before it counts as failed.
DEFAULT_TIMEOUT_S = 10.0
#: A signature whose timestamp is further than this from the receiver's clock is refused.
SIGNATURE_TOLERANCE_S = 300
#: At most this many characters of a receiver's error answer are kept in the history.
MAX_ERROR_BODY = 200

MESSAGE_ID_HEADER = "X-Tasksql-Message-Id"
EVENT_HEADER = "X-Tasksql-Event"
SIGNATURE_HEADER = "X-Tasksql-Signature"
USER_AGENT = "tasksql-webhook/1"

_RETRYABLE_4XX = frozenset({408, 429})
_BODYLESS = frozenset({"GET", "HEAD"})


class WebhookFailed(NotificationError):
    """One delivery attempt failed. ``status_code`` is the receiver's answer when it gave one;
    ``retry_after`` the seconds it asked to wait (``Retry-After``), when it did."""

    default_code = "WEBHOOK_FAILED"

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.status_code = status_code
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivered:
    """A successful attempt: the receiver's status code and how long the request took."""

    status_code: int
    duration_ms: float


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Tasksql-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: str, header: str, body: bytes, *, now: float, tolerance_s: float = SIGNATURE_TOLERANCE_S
) -> bool:
    """Whether ``header`` (an ``X-Tasksql-Signature`` value) signs ``body`` with ``secret`` and its
    timestamp is within ``tolerance_s`` of ``now`` (unix seconds). Never raises."""
    parts: dict[str, str] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(key, value)
    stamp = parts.get("t", "")
    if not stamp.isdigit() or "v1" not in parts or abs(now - int(stamp)) > tolerance_s:
        return False
    expected = sign(secret, int(stamp), body).rpartition("v1=")[2]
    return hmac.compare_digest(expected, parts["v1"])


def request_headers(
    webhook: Webhook, *, message_id: str, event_type: str, body: bytes, now: datetime
) -> dict[str, str]:
    """The headers of one attempt (they include secrets: never log them)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        MESSAGE_ID_HEADER: message_id,
        EVENT_HEADER: event_type,
    }
    if webhook.authorization_header:
        headers["Authorization"] = webhook.authorization_header
    if webhook.signing_secret:
        headers[SIGNATURE_HEADER] = sign(webhook.signing_secret, int(now.timestamp()), body)
    return headers


async def send(
    session: aiohttp.ClientSession,
    webhook: Webhook,
    *,
    message_id: str,
    event_type: str,
    payload: str,
    now: datetime,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    secret: str | None = None,
) -> Delivered:
    """Make one delivery attempt of ``payload``; ``now`` stamps the signature.

    ``secret``: the value of the integration's WEBHOOK_SECRET; the body template's
    ``SNOWFLAKE_WEBHOOK_SECRET`` is replaced by it (the caller has put it in the URL and the
    header, :func:`tasksql.model.secret.substituted`). The errors raised never contain it: a
    receiver's answer that echoes it is recorded with it masked.

    :raises WebhookFailed: the receiver did not answer 2xx within ``timeout_s`` seconds.
    """
    method = (webhook.method or "POST").upper()
    if webhook.body_template is not None:
        payload = render_template(webhook.body_template, payload, secret)
    body = b"" if method in _BODYLESS else payload.encode()
    headers = request_headers(webhook, message_id=message_id, event_type=event_type, body=body, now=now)
    started = monotonic()
    try:
        async with session.request(
            method,
            webhook.url,
            data=body if body else None,
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as response:
            status = response.status
            text = "" if 200 <= status < 300 else await _error_text(response, secret)
            retry_after = _retry_after(response.headers.get("Retry-After"))
    except TimeoutError:
        raise WebhookFailed(f"no answer within {decimal_text(timeout_s)} s", retryable=True) from None
    except aiohttp.InvalidURL:
        raise WebhookFailed("the webhook URL is not a valid URL", retryable=False) from None
    except aiohttp.ClientConnectionError as err:
        raise WebhookFailed(f"connection failed: {_describe(err)}", retryable=True) from None
    except aiohttp.ClientError as err:
        raise WebhookFailed(f"request failed: {_describe(err)}", retryable=True) from None
    except ValueError:
        # aiohttp refuses header values with line breaks (and similar) before sending anything
        raise WebhookFailed("the request is invalid (check the URL and headers)", retryable=False) from None
    duration_ms = round_ms((monotonic() - started) * 1000.0)
    if 200 <= status < 300:
        return Delivered(status_code=status, duration_ms=duration_ms)
    raise _refused(status, text, retry_after)


def _refused(status: int, text: str, retry_after: float | None) -> WebhookFailed:
    if 300 <= status < 400:
        message, retryable = f"HTTP {status}: redirects are not followed; use the final URL", False
    else:
        retryable = status >= 500 or status in _RETRYABLE_4XX
        message = f"HTTP {status}" + (f": {text}" if text else "")
    return WebhookFailed(message, retryable=retryable, status_code=status, retry_after=retry_after)


async def _error_text(response: aiohttp.ClientResponse, secret: str | None) -> str:
    """The start of an error answer, on one line (best effort: a broken body is not an error),
    with ``secret`` masked before it is cut short (an answer may echo what it was sent)."""
    try:
        raw = await response.content.read(MAX_ERROR_BODY * 4)
    except (aiohttp.ClientError, TimeoutError):
        return ""
    return " ".join(redacted(raw.decode("utf-8", "replace"), secret).split())[:MAX_ERROR_BODY]


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds (HTTP dates are ignored)."""
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


def _describe(err: Any) -> str:
    """An aiohttp error without the URL (it may embed a token): its class and OS error, if any."""
    os_error = getattr(err, "os_error", None)
    code = getattr(os_error, "errno", None)
    if isinstance(code, int):
        # os.strerror, not str(os_error): the latter names the address
        return f"{type(err).__name__} ({os.strerror(code)})"
    return type(err).__name__
