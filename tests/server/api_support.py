"""Helpers of the API tests: the client type and the one error shape."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

Client = TestClient[Any, Any]


def assert_error_shape(body: dict[str, Any], status: int, code: str | None = None) -> None:
    """The one error shape: ``ok`` false, ``status`` = the HTTP status, one message in ``errors``."""
    assert body["ok"] is False
    assert body["status"] == status
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    if code is not None:
        assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["errors"] == [body["error"]["message"]]
