"""Decoding JSON that a user wrote (a task's CONFIG, EXECUTE TASK ... USING CONFIG), within bounds.

Python's decoder recurses once per nesting level, so ``[[[[...]]]]`` 100,000 deep raises
RecursionError. :func:`loads_user_json` first measures the nesting in one linear scan (no
recursion) and refuses text nested deeper than :data:`MAX_JSON_DEPTH`; it also refuses strings that
decode to text that cannot be stored (a ``"\\ud800"`` escape: see :mod:`tasksql.storable`). Every
refusal is a :class:`JsonTextError` with the offset in the JSON text of what was refused.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tasksql.storable import describe_char, first_unstorable

#: The deepest nesting of arrays and objects accepted (the HTTP API's bound on request bodies too).
MAX_JSON_DEPTH = 64

# A JSON string (skipped whole, its brackets do not nest) or one bracket.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
# An escape inside a JSON string: \uXXXX or a one-character escape.
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)


class JsonTextError(ValueError):
    """JSON text refused: ``message`` says why, ``offset`` is where in the JSON text (0-based)."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


def nesting_beyond(text: str, limit: int = MAX_JSON_DEPTH) -> int | None:
    """The offset of the first bracket that opens level ``limit + 1``, or None when ``text`` nests
    no deeper than ``limit``. Linear, no recursion; strings are skipped whole."""
    if text.count("[") + text.count("{") <= limit:
        return None  # cannot nest deeper than the number of openers: no scan needed
    depth = 0
    for m in _STRING_OR_BRACKET.finditer(text):
        ch = m.group()
        if ch in "[{":
            depth += 1
            if depth > limit:
                return m.start()
        elif ch in "]}":
            depth -= 1
    return None


def _unstorable_escape(text: str) -> int | None:
    """The offset of an escape that decodes to a character that cannot be stored: ``\\u0000`` or a
    ``\\uD800``-style surrogate that does not pair up; None when there is none."""
    pending: int | None = None  # offset of a high surrogate escape waiting for its low half
    last_end = -1
    for m in _ESCAPE.finditer(text):
        code = int(m.group(1), 16) if m.group(1) else -1
        if pending is not None:
            if m.start() != last_end or not 0xDC00 <= code <= 0xDFFF:
                return pending
            pending = None  # a valid pair
        elif 0xD800 <= code <= 0xDBFF:
            pending = m.start()
        elif 0xDC00 <= code <= 0xDFFF or code == 0:
            return m.start()
        last_end = m.end()
    return pending


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (JSON has no NaN or Infinity)")


def loads_user_json(text: str, limit: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads(text)`` for JSON a user wrote.

    :raises JsonTextError: the text is not JSON (the decoder's message and position), nests deeper
        than ``limit``, or holds a string that cannot be stored (a lone surrogate or NUL, written
        as an escape or not).
    """
    deep = nesting_beyond(text, limit)
    if deep is not None:
        raise JsonTextError(f"arrays and objects nested deeper than {limit} levels", deep)
    bad = first_unstorable(text)
    if bad is not None:
        raise JsonTextError(f"the text holds {describe_char(text[bad])}", bad)
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise JsonTextError(exc.msg, exc.pos) from None
    except (ValueError, RecursionError) as exc:  # RecursionError: not expected after the depth check
        constant = re.search(r"-?\b(?:NaN|Infinity)\b", text)
        raise JsonTextError(str(exc), constant.start() if constant else 0) from None
    bad = _unstorable_escape(text) if "\\" in text else None
    if bad is not None:
        escape = text[bad : bad + 6]
        what = "a NUL character" if escape == "\\u0000" else "a lone surrogate, not a character"
        raise JsonTextError(f"string escape {escape} is {what}, which cannot be stored", bad)
    return value
