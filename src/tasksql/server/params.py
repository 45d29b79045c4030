"""Query parameters, checked the same way on every route.

A route names the parameters it takes; :class:`Query` refuses any other name, a name given twice,
and a value of the wrong form, each with a 400 (``INVALID_PARAMETER``) whose message names the
parameter, what it accepts and what was sent. Forms: integers within a range, booleans (``true``
or ``false``, also ``1``/``0``, ``yes``/``no``), one of a fixed set of words (any case), and
ISO-8601 timestamps (UTC when they carry no offset).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from aiohttp import web

from tasksql.server.http_errors import RequestError

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_SHOWN = 60  # characters of a bad value repeated in a message


def _bad(message: str) -> RequestError:
    return RequestError(400, message, code="INVALID_PARAMETER")


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


class Query:
    """The query parameters of one request; any name not in ``accepted`` is refused."""

    def __init__(self, request: web.Request, accepted: Iterable[str] = ()) -> None:
        self.accepted = tuple(accepted)
        self.values: dict[str, str] = {}
        for name, value in request.query.items():
            if name not in self.accepted:
                known = ", ".join(self.accepted) if self.accepted else "none"
                raise _bad(
                    f"unknown query parameter {_shown(name)} for {request.method} {request.path}; "
                    f"it accepts: {known}"
                )
            if name in self.values:
                raise _bad(f"query parameter {name} is given more than once; give it once")
            self.values[name] = value

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        raw = self.values.get(name)
        if raw is None:
            return default
        text = raw.strip()
        if (
            not (text.isascii() and text.lstrip("-").isdigit())
            or len(text) > 12
            or not low <= int(text) <= high
        ):
            raise _bad(f"query parameter {name} must be an integer from {low} to {high}, not {_shown(raw)}")
        return int(text)

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.values.get(name)
        if raw is None:
            return default
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise _bad(f"query parameter {name} must be true or false, not {_shown(raw)}")

    def choice(self, name: str, choices: Iterable[str]) -> str | None:
        """One of ``choices`` (matched in any case, returned as spelled there), or None if absent."""
        raw = self.values.get(name)
        if raw is None:
            return None
        options = tuple(choices)
        for option in options:
            if raw.strip().lower() == option.lower():
                return option
        raise _bad(f"query parameter {name} must be one of {', '.join(options)}, not {_shown(raw)}")

    def timestamp(self, name: str) -> datetime | None:
        """An ISO-8601 timestamp (``2024-05-01T12:00:00Z``; UTC without an offset), or None if absent."""
        raw = self.values.get(name)
        if raw is None:
            return None
        text = raw.strip()
        if text[-6:-5] == " ":  # an unescaped "+02:00" offset arrives as " 02:00" (form encoding)
            text = text[:-6] + "+" + text[-5:]
        try:
            value = datetime.fromisoformat(text)
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except (ValueError, OverflowError):
            raise _bad(
                f"query parameter {name} must be an ISO-8601 timestamp such as 2024-05-01T12:00:00Z, "
                f"not {_shown(raw)}"
            ) from None
