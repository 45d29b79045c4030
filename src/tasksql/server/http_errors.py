"""The API's one error shape, and the middleware that gives it to every error, whatever raised it.

Every error response is JSON::

    {"ok": false, "status": 400, "error": {"code": ..., "message": ..., "type": ...}, "errors": [...]}

with ``status`` equal to the HTTP status and ``errors`` holding ``error.message`` (SQL errors add
``line``, ``column``, ``expected``, ... to ``error``). Requests the API refuses before they reach the
engine (a foreign ``Host``, a body that is not JSON, a bad query parameter) raise
:class:`RequestError`, which carries its own HTTP status and a stable code.

A request that is not HTTP at all (a malformed request line, header or chunk) never reaches the
application: aiohttp answers it with a plain-text 400 and closes the connection. It is the client's
error, so :data:`HANDLER_ARGS` has it logged as one line, without a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from tasksql.errors import TasksqlError

log = logging.getLogger("tasksql.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RequestError(TasksqlError):
    """The HTTP request itself is refused (not the SQL in it): ``status`` is its HTTP status.

    The message is one sentence that names the cause and the fix.
    """

    default_code = "BAD_REQUEST"

    def __init__(self, status: int, message: str, *, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status


def error_body(status: int, err: TasksqlError | None = None, message: str | None = None) -> dict[str, Any]:
    """The one error shape, from a tasksql error or from a plain HTTP status and message."""
    detail = (
        err.to_dict() if err is not None else {"code": "HTTP_ERROR", "message": message or "", "type": "HTTP"}
    )
    return {"ok": False, "status": status, "error": detail, "errors": [detail["message"]]}


def error_response(status: int, err: TasksqlError) -> web.Response:
    return web.json_response(error_body(status, err), status=status)


def _http_error(request: web.Request, exc: web.HTTPException) -> RequestError:
    """aiohttp's own refusals (no route, wrong method, body too large) as errors that say what to do."""
    if isinstance(exc, web.HTTPNotFound):
        return RequestError(
            404,
            f"no route {request.method} {request.path}; the API's routes are under /api/v1 (see docs/api.md)",
            code="ROUTE_NOT_FOUND",
        )
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return RequestError(
            405,
            f"{request.method} is not allowed on {request.path}; use {allowed}",
            code="METHOD_NOT_ALLOWED",
        )
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return RequestError(413, "the request body is too large", code="BODY_TOO_LARGE")
    return RequestError(exc.status, exc.reason, code="HTTP_ERROR")


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as the one JSON shape; an unexpected one is logged once, as a 500."""
    try:
        return await handler(request)
    except RequestError as err:
        return error_response(err.status, err)
    except TasksqlError as err:
        return error_response(err.http_status, err)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, _http_error(request, exc))
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, ascii(request.path))
        return web.json_response(error_body(500, message="internal server error"), status=500)


class _ProtocolLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The log of aiohttp's connection handler: a malformed request is one warning line (its cause,
    escaped), not an error with a traceback; anything else is logged as aiohttp logs it."""

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        if isinstance(exc_info, HttpProcessingError) and exc_info.code < 500:
            cause = " ".join(str(exc_info.message).split())[:300]
            source = args[0] if args else "?"
            self.warning("refused a malformed HTTP request from %s: %r", source, cause)
            return
        super().exception(msg, *args, exc_info=exc_info, **kwargs)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        return msg, kwargs


#: Arguments of aiohttp's connection handler (``web.Application(handler_args=...)``).
HANDLER_ARGS: Mapping[str, Any] = {"logger": _ProtocolLog(logging.getLogger("tasksql.api.http"), {})}
