"""SQL literal texts (from ``WITH (...)``) as Python values, for custom schedule constructors.

``'text'`` (with ``''`` for a quote) is a :class:`str`, ``12`` and ``-3`` are :class:`int`,
``1.5`` and ``2e3`` are :class:`float`, ``TRUE``/``FALSE`` are :class:`bool` and ``NULL`` is None
(keywords in any case). Anything else is refused.
"""

from __future__ import annotations

import re

from tasksql.errors import ScheduleError

Literal = str | int | float | bool | None

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_STRING = re.compile(r"'((?:[^']|'')*)'", re.DOTALL)
_KEYWORDS: dict[str, Literal] = {"TRUE": True, "FALSE": False, "NULL": None}


def parse_literal(text: str) -> Literal:
    """The Python value of one SQL literal.

    :raises ScheduleError: code ``INVALID_SCHEDULE`` when ``text`` is not a string, number,
        ``TRUE``, ``FALSE`` or ``NULL`` literal.
    """
    stripped = text.strip()
    if stripped.upper() in _KEYWORDS:
        return _KEYWORDS[stripped.upper()]
    quoted = _STRING.fullmatch(stripped)
    if quoted:
        return quoted.group(1).replace("''", "'")
    if _INT.fullmatch(stripped):
        return int(stripped)
    if _FLOAT.fullmatch(stripped):
        return float(stripped)
    raise ScheduleError(
        f"{text!r} is not a SQL literal (a 'string', a number, TRUE, FALSE or NULL)", code="INVALID_SCHEDULE"
    )


def parse_literals(texts: tuple[str, ...]) -> tuple[Literal, ...]:
    """:func:`parse_literal` of each text, in order; the error names the argument's position."""
    values: list[Literal] = []
    for position, text in enumerate(texts, 1):
        try:
            values.append(parse_literal(text))
        except ScheduleError as exc:
            raise ScheduleError(f"argument {position}: {exc.message}", code=exc.code) from None
    return tuple(values)
