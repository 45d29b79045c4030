"""The value of a ``SCHEDULE`` clause in every spelling, and its validation.

Accepted forms (after ``SCHEDULE =``, ``SCHEDULE`` or ``ON SCHEDULE``)::

    '5 MINUTES' | '5 minute' | '5m' | '500ms'           fixed rate (Snowflake, Timeplus)
    'USING CRON <expr> [<time zone>]'                    cron (Snowflake)
    '<expr> [<time zone>]'                               cron (Timeplus' quoted cron)
    5 MINUTE | 5s | 500 ms                               fixed rate (Databend, Timeplus)
    USING CRON '<expr>' ['<time zone>']                  cron (Databend)
    CRON '<expr>' ['<time zone>'] | CRON 0 */5 * * * *   cron (VoltDB: quoted, or unquoted fields)
    EVERY <interval>                                     fixed rate (VoltDB)
    DELAY <interval>                                     fixed delay (VoltDB; tasksql extension)
    FROM CLASS <class> [WITH (<literal>, ...)]           Python schedule class (VoltDB)

Days of the week are numbered as Unix cron numbers them (0-7, 0 and 7 Sunday) except in
Databend's ``USING CRON '<expr>'`` with 6 or 7 fields, numbered as Databend's cron library
numbers them (1-7, Sunday = 1); the schedule records which (``CronSchedule.day_numbering``).

A missing time zone means UTC. Validation of the cron expression, the time zone and the interval
is :func:`tasksql.schedules.check`; its error spans are mapped back onto the statement here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tasksql import schedules
from tasksql.errors import ScheduleError, Span
from tasksql.model import (
    CronSchedule,
    CustomSchedule,
    DayNumbering,
    DelaySchedule,
    DstPolicy,
    IntervalSchedule,
    ScheduleSpec,
)
from tasksql.sql.cursor import Cursor, describe
from tasksql.sql.located import Located, string_contents, tokens_text
from tasksql.sql.tokens import Token, TokenKind
from tasksql.sql.values import (
    at_interval_keyword,
    interval_from_string,
    looks_like_interval,
    parse_interval,
    parse_literal_list,
    parse_unquoted_interval,
)

#: What a schedule value may look like (for syntax errors).
SCHEDULE_FORMS = (
    "'<n> <unit>'",
    "'USING CRON <expr> <time zone>'",
    "<n> <unit>",
    "INTERVAL <n> <unit>",
    "USING CRON '<expr>' '<time zone>'",
    "CRON <expr>",
    "EVERY <n> <unit>",
    "DELAY <n> <unit>",
    "FROM CLASS <class>",
)

# Month and weekday names a cron field may use.
_NAMES = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC SUN MON TUE WED THU FRI SAT".split()
_CRON_ATOM = re.compile(r"(\*|\?|L|W|LW|\d*L|\d+W|\d+|" + "|".join(_NAMES) + r")", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ParsedSchedule:
    """A schedule and where it was written: ``expr`` locates a cron expression's characters in the
    source and ``tz_span`` its time zone, so validation errors point at the right text."""

    spec: ScheduleSpec
    span: Span
    expr: Located | None = None
    tz_span: Span | None = None


def is_cron_word(word: str) -> bool:
    """Whether a white-space separated word is a cron field (else it is taken as a time zone)."""
    return all(p == "" or _CRON_ATOM.fullmatch(p) for p in re.split(r"[,\-/#]", word))


def _cron_from_text(cur: Cursor, loc: Located, whole: Span) -> ParsedSchedule:
    """``[USING] [CRON] <expr> [<tz>]`` inside a string."""
    m = re.match(r"\s*(USING\s+)?CRON\b", loc.text, re.IGNORECASE)
    body = loc.slice(m.end()) if m else loc
    words = body.words()
    if not words:
        raise cur.error("the cron expression is empty", at=whole, code="INVALID_CRON", cls=ScheduleError)
    timezone, tz_span = "UTC", None
    last = words[-1]
    if len(words) > 1 and not last.text.startswith("@") and not is_cron_word(last.text):
        timezone, tz_span = last.text, last.span(cur.index)
        words = words[:-1]
    expr = Located.join(words)
    return ParsedSchedule(CronSchedule(expr.text, timezone), whole, expr, tz_span)


def _from_string(cur: Cursor, tok: Token) -> ParsedSchedule:
    loc = string_contents(tok).strip()
    if looks_like_interval(loc.text):
        return ParsedSchedule(IntervalSchedule(interval_from_string(cur, loc, schedule=True)), tok.span)
    return _cron_from_text(cur, loc, tok.span)


def _quoted_cron(cur: Cursor, first: Token, *, databend: bool = False) -> ParsedSchedule:
    """``'<expr>' ['<tz>']`` after ``USING CRON`` or ``CRON``.

    ``databend``: written ``USING CRON '<expr>'``, Databend's form. An expression of 6 or 7 fields
    there numbers its days as Databend's cron library does (1-7, Sunday = 1). Five fields read as
    Unix cron: that library takes no 5-field expression, so one is not Databend's.
    """
    expr_tok = cur.expect_kind(TokenKind.STRING, "a quoted cron expression")
    expr = string_contents(expr_tok).collapse()
    timezone, tz_span = "UTC", None
    if cur.at_kind(TokenKind.STRING):
        tz_tok = cur.next()
        timezone, tz_span = tz_tok.text.strip(), tz_tok.span
    if not expr.text:
        raise cur.error("the cron expression is empty", at=expr_tok, code="INVALID_CRON", cls=ScheduleError)
    numbering = DayNumbering.UNIX
    if databend and len(expr.text.split()) in (6, 7):
        numbering = DayNumbering.DATABEND
    spec = CronSchedule(expr.text, timezone, numbering)
    return ParsedSchedule(spec, cur.span_since(first), expr, tz_span)


def _unquoted_cron(cur: Cursor, first: Token) -> ParsedSchedule:
    """VoltDB's ``CRON 0 0 */5 * * MON-FRI``: the fields up to the next clause keyword."""
    taken: list[Token] = []
    while (tok := cur.peek()) is not None:
        glued = bool(taken) and tok.start == taken[-1].end
        if (
            tok.kind in (TokenKind.NUMBER, TokenKind.COMMA)
            or (tok.kind is TokenKind.OPERATOR and tok.text != ";")
            or (tok.kind is TokenKind.WORD and (glued or is_cron_word(tok.text)))
        ):
            taken.append(cur.next())
        else:
            break
    if not taken:
        raise cur.error(
            f"expected a cron expression, found {describe(cur.peek())}",
            at=cur.peek(),
            expected=["<cron expression>", "'<cron expression>'"],
        )
    expr = tokens_text(taken)
    return ParsedSchedule(CronSchedule(expr.text, "UTC"), cur.span_since(first), expr)


def parse_class_path(cur: Cursor) -> str:
    """A Python class: ``'pkg.mod.Class'`` / ``'pkg.mod:Class'`` or the same unquoted (case kept)."""
    tok = cur.peek()
    if tok is not None and tok.kind is TokenKind.STRING:
        cur.pos += 1
        if not tok.text.strip():
            raise cur.error("the class path is empty", at=tok, code="INVALID_VALUE")
        return tok.text.strip()
    if tok is None or tok.kind not in (TokenKind.WORD, TokenKind.IDENT):
        raise cur.error(f"expected a class name, found {describe(tok)}", at=tok, expected=["<class>"])
    parts = [cur.next().text]
    while cur.at(".") or (cur.at_kind(TokenKind.OPERATOR) and cur.peek().text == ":"):  # type: ignore[union-attr]
        sep = cur.next().text
        part = cur.peek()
        if part is None or part.kind not in (TokenKind.WORD, TokenKind.IDENT):
            raise cur.error(
                f"expected a name after '{sep}', found {describe(part)}", at=part, expected=["<identifier>"]
            )
        parts.extend([sep, cur.next().text])
    return "".join(parts)


#: Databend's unit for sub-second intervals; its binder takes 500 to 999 of them.
_DATABEND_MS_UNITS = frozenset({"MILLISECOND", "MILLISECONDS"})


def _databend_milliseconds(cur: Cursor, start: int, ms: int) -> None:
    """Databend's rule for ``SCHEDULE = <n> MILLISECOND``: n from 500 to 999 (its binder's
    "invalid milliseconds_interval value <n>, must be in [500, 1000)"); whole seconds are written
    ``SECOND``. Only ``SCHEDULE = <n> MILLISECOND[S]`` is Databend's spelling: VoltDB's ``EVERY``,
    Timeplus's ``100ms`` and quoted intervals keep tasksql's millisecond precision."""
    unit = cur.tokens[cur.pos - 1] if cur.pos > start else None
    before = cur.tokens[start - 1] if start > 0 else None
    if unit is None or unit.upper not in _DATABEND_MS_UNITS:
        return
    if before is None or before.kind is not TokenKind.EQ:
        return
    if not 500 <= ms < 1000:
        raise cur.error(
            f"invalid MILLISECOND interval {ms}: Databend takes 500 to 999 MILLISECOND"
            " (write a second or more in SECOND or MINUTE)",
            at=cur.index.span(cur.tokens[start].start, unit.end),
            code="INVALID_INTERVAL",
            cls=ScheduleError,
        )


def parse_schedule_value(cur: Cursor) -> ParsedSchedule:
    """One schedule value in any spelling (see the module docstring).

    Notes spelling evidence in ``cur.flags``: ``"databend"`` for an unquoted interval or an
    unquoted ``USING CRON``. Errors: SYNTAX_ERROR, UNKNOWN_UNIT, INVALID_INTERVAL, INVALID_CRON
    (an empty expression); the rest of the validation is :func:`check_schedule`.
    """
    first = cur.peek()
    if first is None:
        raise cur.unexpected(SCHEDULE_FORMS)
    if first.kind is TokenKind.STRING:
        cur.pos += 1
        return _from_string(cur, first)
    if at_interval_keyword(cur):  # Timeplus: SCHEDULE INTERVAL 5 SECOND
        ms = parse_interval(cur, schedule=True)
        return ParsedSchedule(IntervalSchedule(ms), cur.span_since(first))
    if first.kind is TokenKind.NUMBER or (first.kind is TokenKind.OPERATOR and first.text in ("+", "-")):
        cur.flags.add("databend")
        start = cur.pos
        ms = parse_unquoted_interval(cur, schedule=True)
        _databend_milliseconds(cur, start, ms)
        return ParsedSchedule(IntervalSchedule(ms), cur.span_since(first))
    if cur.accept("USING", "CRON"):
        cur.flags.add("databend")
        return _quoted_cron(cur, first, databend=True)
    if cur.accept_word("CRON"):
        if cur.at_kind(TokenKind.STRING):
            return _quoted_cron(cur, first)
        return _unquoted_cron(cur, first)
    if cur.accept_word("EVERY"):
        ms = parse_interval(cur, schedule=True)
        return ParsedSchedule(IntervalSchedule(ms), cur.span_since(first))
    if cur.accept_word("DELAY"):
        ms = parse_interval(cur, schedule=True)
        return ParsedSchedule(DelaySchedule(ms), cur.span_since(first))
    if cur.accept("FROM", "CLASS"):
        path = parse_class_path(cur)
        args = parse_literal_list(cur) if cur.at("WITH", "(") and cur.accept_word("WITH") else ()
        return ParsedSchedule(CustomSchedule(path, args), cur.span_since(first))
    if cur.accept_word("INTERVAL"):  # INTERVAL with no length after it: the error is there
        raise cur.unexpected(["<n> <unit>", "'<n> <unit>'"], "after INTERVAL")
    raise cur.unexpected(SCHEDULE_FORMS, "in SCHEDULE")


def check_schedule(cur: Cursor, parsed: ParsedSchedule, dst_policy: DstPolicy | None = None) -> None:
    """Validate with :func:`tasksql.schedules.check`, moving its error onto the statement text.

    :raises ScheduleError: INVALID_CRON (pointing at the bad field), UNKNOWN_TIMEZONE (at the time
        zone), INVALID_INTERVAL, INVALID_SCHEDULE (at the schedule).
    """
    try:
        schedules.check(parsed.spec, dst_policy)
    except ScheduleError as err:
        if err.code == "UNKNOWN_TIMEZONE" and parsed.tz_span is not None:
            span = parsed.tz_span
        elif err.span is not None and parsed.expr is not None:
            span = parsed.expr.span(cur.index, err.span.start, err.span.end)
        else:
            span = parsed.span
        err.span = span
        err.source = cur.source
        raise
