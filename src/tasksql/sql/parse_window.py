"""``EXECUTE TASK t FOR WINDOW '<from>' TO '<to>' [STEP '<interval>'] [FORCE]``: a backfill.

The windows are ``[from, to)`` cut into consecutive pieces: every STEP, or without STEP at the
instants of the task's schedule (one window when it has none); the engine cuts them
(:func:`windows`). ``FORCE`` runs windows that already succeeded again. Times are ISO dates or
timestamps (``'2026-01-01'``, ``'2026-01-01 06:00'``, with an offset or in UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tasksql.errors import Span, ValidationError
from tasksql.sql.cursor import Cursor
from tasksql.sql.located import string_contents
from tasksql.sql.tokens import TokenKind
from tasksql.sql.values import parse_interval

#: The most windows one backfill may run.
MAX_WINDOWS = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class BackfillWindow:
    """The FOR WINDOW clause: the range, the step (None: the task's schedule), FORCE, and the
    spans of its parts for errors found later (too many windows)."""

    start: datetime
    end: datetime
    step: timedelta | None = None
    force: bool = False
    span: Span | None = None


def _timestamp(cur: Cursor, what: str) -> datetime:
    tok = cur.peek()
    if tok is None or tok.kind is not TokenKind.STRING:
        raise cur.unexpected([f"'<{what}>'"], "in FOR WINDOW")
    cur.pos += 1
    text = string_contents(tok).text.strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise cur.error(
            f"expected a date or timestamp such as '2026-01-01' or '2026-01-01 06:00:00+00:00' for the"
            f" window's {what}, got {text!r}",
            at=tok,
            code="INVALID_VALUE",
            cls=ValidationError,
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_for_window(cur: Cursor) -> BackfillWindow:
    """After ``FOR WINDOW``: ``'<from>' TO '<to>' [STEP '<interval>'] [FORCE]``.

    :raises TasksqlError: at the part that is wrong: a time that is no date, an end not after the
        start, a step that is no positive interval.
    """
    first = cur.peek()
    start = _timestamp(cur, "start")
    cur.expect("TO")
    end_tok = cur.peek()
    end = _timestamp(cur, "end")
    if end <= start:
        raise cur.error(
            f"the window's end ({end.isoformat()}) must be after its start ({start.isoformat()})",
            at=end_tok,
            code="INVALID_VALUE",
            cls=ValidationError,
        )
    step: timedelta | None = None
    if cur.accept_word("STEP"):
        step = timedelta(milliseconds=parse_interval(cur))
        if (end - start) / step > MAX_WINDOWS:
            raise cur.error(
                f"STEP cuts the window into more than {MAX_WINDOWS} windows; use a longer STEP or a"
                " shorter range",
                at=cur.previous(),
                code="INVALID_VALUE",
                cls=ValidationError,
            )
    force = cur.accept_word("FORCE") is not None
    assert first is not None
    return BackfillWindow(start=start, end=end, step=step, force=force, span=cur.span_since(first))
