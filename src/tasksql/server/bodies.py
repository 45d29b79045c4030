"""Reading a JSON request body within bounds: its size, its nesting depth, and its text.

A body is at most :data:`MAX_BODY_BYTES` (larger: 413 ``BODY_TOO_LARGE``, refused before it is
read when ``Content-Length`` says so). Its nesting depth is checked on the raw text *before* it is
decoded (deeper than :data:`MAX_JSON_DEPTH`: 400 ``JSON_TOO_DEEP``), so a body nested 100,000 deep
costs one linear scan, never a recursion. It must be UTF-8, strict JSON (no ``NaN`` or
``Infinity``), and its strings valid Unicode (a lone surrogate such as ``"\\ud800"`` cannot be
stored, so it is refused here: 400 ``BAD_REQUEST``).
"""

from __future__ import annotations

import asyncio
import json
import operator
from itertools import accumulate, count
from typing import Any

from aiohttp import web

from tasksql.server.http_errors import RequestError

#: The largest request body accepted, in bytes (a SQL script of several megabytes fits).
MAX_BODY_BYTES = 8 * 1024 * 1024

#: The deepest nesting of arrays and objects accepted in a request body.
MAX_JSON_DEPTH = 64

_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INLINE_BYTES = 64 * 1024


def json_depth_exceeds(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the arrays and objects in JSON ``text`` nest deeper than ``limit``.

    Bulk byte operations and C iterators, no recursion and no Python code per character: escaped
    backslashes and quotes are dropped, then string contents (a bracket in a string does not
    nest), then everything but brackets; the deepest running count of open brackets is the depth.
    Text that is not JSON gets an answer a decoder would not contradict (it stops at the first
    stray closer; it would descend into unclosed openers).
    """
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # cannot nest deeper than the number of openers (the common case: no scan)
    # left to right, as a decoder reads escapes: a pair of backslashes first, then an escaped quote
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = b"".join(unescaped.split(b'"')[0::2])
    steps = outside_strings.translate(_STEPS, _NOT_BRACKETS)  # an opener is 2, a closer 0
    # after i brackets, the running sum of steps minus i is the number open
    return max(map(operator.sub, accumulate(steps), count(1)), default=0) > limit


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _has_lone_surrogate(value: Any) -> bool:
    """Whether any string (or key) in a decoded JSON value holds text that UTF-8 cannot encode."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def decode_json(raw: bytes, what: str) -> Any:
    """``raw`` decoded under the bounds of the module docstring; :class:`RequestError` if refused.

    ``what`` shows the expected form in the message (``{"sql": "..."}``).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(
            400, f"the request body is not UTF-8 (byte {exc.start}); send {what} as UTF-8 JSON"
        ) from None
    if json_depth_exceeds(raw):
        raise RequestError(
            400,
            f"the request body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels; send {what}",
            code="JSON_TOO_DEEP",
        )
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        # RecursionError cannot happen after the depth check; kept as a guard, never a traceback
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RequestError(400, f"the request body must be JSON: {what} ({detail})") from None
    if _has_lone_surrogate(value):
        raise RequestError(
            400,
            "the request body holds a string with a lone surrogate (such as \\ud800), which is not "
            "text; send valid Unicode",
        )
    return value


async def read_json(request: web.Request, what: str, *, optional: bool = False) -> Any:
    """The request's JSON body, bounded (module docstring). An empty body is None when ``optional``,
    else a 400 naming the expected form ``what``."""
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise too_large()
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large() from None
    if not raw.strip():
        if optional:
            return None
        raise RequestError(400, f"the request needs a JSON body: {what}")
    if len(raw) > _INLINE_BYTES:  # a large body is decoded off the event loop the scheduler runs in
        return await asyncio.to_thread(decode_json, raw, what)
    return decode_json(raw, what)


def too_large() -> RequestError:
    return RequestError(
        413,
        f"the request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB; send less at once "
        "(split a long script)",
        code="BODY_TOO_LARGE",
    )
