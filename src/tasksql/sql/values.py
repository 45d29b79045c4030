"""Literal values of the task grammar: numbers, booleans, strings, JSON, literal lists, intervals.

Every parser here consumes tokens from a :class:`Cursor` and either returns a typed value or raises
a :class:`~tasksql.errors.TasksqlError` subclass pointing at the offending token.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from tasksql.errors import ScheduleError, TasksqlError, ValidationError
from tasksql.jsontext import JsonTextError, loads_user_json
from tasksql.model import RESERVED_WORDS
from tasksql.sql.cursor import Cursor, describe
from tasksql.sql.located import Located, string_contents
from tasksql.sql.tokens import Token, TokenKind

# --- intervals -----------------------------------------------------------------------------------

#: Time units, singular, plural and short, to milliseconds.
UNITS: dict[str, int] = {}
for _names, _ms in (
    (("MS", "MSEC", "MSECS", "MILLISECOND", "MILLISECONDS"), 1),
    (("S", "SEC", "SECS", "SECOND", "SECONDS"), 1000),
    (("M", "MIN", "MINS", "MINUTE", "MINUTES"), 60_000),
    (("H", "HR", "HRS", "HOUR", "HOURS"), 3_600_000),
    (("D", "DAY", "DAYS"), 86_400_000),
    (("W", "WK", "WKS", "WEEK", "WEEKS"), 7 * 86_400_000),  # Timeplus's 1w, ClickHouse's INTERVAL 1 WEEK
):
    for _name in _names:
        UNITS[_name] = _ms

#: Calendar units (Timeplus's ``1M``, ``1q``, ``1y``; ClickHouse's ``INTERVAL 1 MONTH``): their
#: length varies, so no interval schedule can honour them; each is refused with the cron to write.
CALENDAR_UNITS: dict[str, tuple[str, str]] = {}
for _calendar_names, _when, _cron in (
    (("MONTH", "MONTHS", "MON", "MONS"), "the first of every month", "0 0 0 1 * *"),
    (("Q", "QUARTER", "QUARTERS", "QTR", "QTRS"), "the first of every quarter", "0 0 0 1 1,4,7,10 *"),
    (("Y", "YR", "YRS", "YEAR", "YEARS"), "every 1 January", "0 0 0 1 1 *"),
):
    for _name in _calendar_names:
        CALENDAR_UNITS[_name] = (_when, _cron)

#: Units as error messages list them.
UNIT_NAMES = ("MILLISECONDS", "SECONDS", "MINUTES", "HOURS", "DAYS", "WEEKS")

#: The largest interval accepted anywhere (100 years): beyond it date arithmetic overflows.
MAX_INTERVAL_MS = 100 * 366 * 86_400_000

_INTERVAL_TEXT = re.compile(
    r"\s*([+-]?\s*(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([^\s\d.+-]\S*)?\s*"
)


def looks_like_interval(text: str) -> bool:
    """Whether a string's contents are meant as an interval (a number and at most one word)."""
    return _INTERVAL_TEXT.fullmatch(text) is not None


def interval_ms(
    cur: Cursor, number: str, unit: str | None, number_at: Located, unit_at: Located | None, *, schedule: bool
) -> int:
    """Milliseconds of ``number unit``; errors point into the source through the locations."""
    cls: type[TasksqlError] = ScheduleError if schedule else ValidationError
    if unit is None:
        raise cur.error(
            f"expected a time unit after {number.strip()}",
            at=number_at.span(cur.index),
            expected=list(UNIT_NAMES),
            code="UNKNOWN_UNIT",
            cls=cls,
        )
    calendar = CALENDAR_UNITS.get(unit.upper())
    if calendar is not None:
        raise _calendar_unit(cur, number, unit, calendar, unit_at or number_at, cls)
    factor = UNITS.get(unit.upper())
    if factor is None:
        raise cur.error(
            f"unknown time unit {unit!r}; expected one of {', '.join(UNIT_NAMES)} (or ms, s, m, h, d, w)",
            at=(unit_at or number_at).span(cur.index),
            expected=list(UNIT_NAMES),
            code="UNKNOWN_UNIT",
            cls=cls,
        )
    try:
        value = Decimal(number.replace("_", "").replace(" ", "")) * factor
    except InvalidOperation:
        raise cur.error(f"{number.strip()} is not a number", at=number_at.span(cur.index)) from None
    where = Located.join([number_at, unit_at]) if unit_at else number_at
    span = cur.index.span(where.offsets[0] if where.offsets else where.end, where.end)
    if value <= 0:
        raise cur.error(
            f"an interval must be positive, got {number.strip()} {unit}",
            at=span,
            code="INVALID_INTERVAL",
            cls=cls,
        )
    if value != value.to_integral_value():
        raise cur.error(
            f"an interval must be a whole number of milliseconds, got {number.strip()} {unit}",
            at=span,
            code="INVALID_INTERVAL",
            cls=cls,
        )
    if value > MAX_INTERVAL_MS:
        raise cur.error(
            f"an interval may be at most 100 years, got {number.strip()} {unit}",
            at=span,
            code="INVALID_INTERVAL",
            cls=cls,
        )
    return int(value)


def _calendar_unit(
    cur: Cursor, number: str, unit: str, calendar: tuple[str, str], at: Located, cls: type[TasksqlError]
) -> TasksqlError:
    when, cron = calendar
    return cur.error(
        f"{number.strip()} {unit} is a calendar interval, not a fixed length of time: write a cron"
        f" schedule instead, such as USING CRON '{cron}' ({when} at midnight)",
        at=at.span(cur.index),
        expected=list(UNIT_NAMES),
        code="UNKNOWN_UNIT",
        cls=cls,
    )


def interval_from_string(cur: Cursor, loc: Located, *, schedule: bool) -> int:
    """An interval written inside a string: ``'5 MINUTE'``, ``'5 minutes'``, ``'5m'``, ``'500ms'``."""
    m = _INTERVAL_TEXT.fullmatch(loc.text)
    if m is None:
        cls: type[TasksqlError] = ScheduleError if schedule else ValidationError
        raise cur.error(
            f"expected an interval such as '5 MINUTES', got {loc.text!r}",
            at=loc.span(cur.index),
            code="INVALID_INTERVAL",
            cls=cls,
        )
    number_at = loc.slice(m.start(1), m.end(1))
    unit_at = loc.slice(m.start(2), m.end(2)) if m.group(2) else None
    return interval_ms(cur, m.group(1), m.group(2), number_at, unit_at, schedule=schedule)


def _token_loc(tok: Token) -> Located:
    return Located(tok.raw, tuple(range(tok.start, tok.end)), tok.end)


def parse_unquoted_interval(cur: Cursor, *, schedule: bool) -> int:
    """``[+|-]<number> <unit>`` as tokens: ``5 MINUTE``, ``5s``, ``500 ms``."""
    _, first, num = _signed_number(cur, "a number")
    number = cur.text_of(first, num)
    number_at = Located(number, tuple(range(first.start, num.end)), num.end)
    unit_tok = cur.peek()
    if (
        unit_tok is not None
        and unit_tok.kind is TokenKind.WORD
        and (
            unit_tok.upper in UNITS
            or unit_tok.start == num.end  # "5x": glued to the number, so certainly meant as a unit
            or _taken_as_unit(cur, unit_tok)
        )
    ):
        cur.pos += 1
        if unit_tok.text == "M" and unit_tok.start == num.end:
            # Timeplus's interval aliases are case-sensitive: 1m is a minute, 1M a month
            cls: type[TasksqlError] = ScheduleError if schedule else ValidationError
            raise _calendar_unit(cur, number, "M", CALENDAR_UNITS["MONTH"], _token_loc(unit_tok), cls)
        return interval_ms(cur, number, unit_tok.text, number_at, _token_loc(unit_tok), schedule=schedule)
    return interval_ms(cur, number, None, number_at, None, schedule=schedule)


#: Words that end an interval without a unit rather than being a (misspelt) unit.
_CLAUSE_WORDS = frozenset({"RUN", "ON", "OPTIONS", "LOCATION", "CONTACT", "CLASS"})


def _taken_as_unit(cur: Cursor, tok: Token) -> bool:
    """Whether a word after a number is meant as its unit: not a keyword, not a ``KEY =``."""
    after = cur.peek(1)
    if after is not None and after.kind is TokenKind.EQ:
        return False
    return tok.text.lower() not in RESERVED_WORDS and tok.upper not in _CLAUSE_WORDS


def at_interval_keyword(cur: Cursor) -> bool:
    """Whether ``INTERVAL <n> <unit>`` or ``INTERVAL '<n> <unit>'`` comes next (ClickHouse's and
    Timeplus's interval literal, which Timeplus's ``SCHEDULE`` and ``TIMEOUT`` take)."""
    tok, nxt = cur.peek(), cur.peek(1)
    return (
        tok is not None
        and tok.kind is TokenKind.WORD
        and tok.upper == "INTERVAL"
        and nxt is not None
        and (
            nxt.kind in (TokenKind.NUMBER, TokenKind.STRING)
            or (nxt.kind is TokenKind.OPERATOR and nxt.text in "+-")
        )
    )


def parse_interval(cur: Cursor, *, schedule: bool = False) -> int:
    """An interval, quoted (``'5 MINUTES'``) or not (``5 MINUTE``, ``5s``), or an ``INTERVAL``
    literal (``INTERVAL 5 SECOND``): milliseconds, > 0."""
    if at_interval_keyword(cur):
        cur.pos += 1
    tok = cur.peek()
    if tok is not None and tok.kind is TokenKind.STRING:
        cur.pos += 1
        return interval_from_string(cur, string_contents(tok).strip(), schedule=schedule)
    if tok is not None and (
        tok.kind is TokenKind.NUMBER or (tok.kind is TokenKind.OPERATOR and tok.text in "+-")
    ):
        return parse_unquoted_interval(cur, schedule=schedule)
    if tok is not None and tok.kind is TokenKind.WORD and tok.upper == "INTERVAL":
        cur.pos += 1  # INTERVAL with no length after it: the error is there
        raise cur.unexpected(["<n> <unit>", "'<n> <unit>'"], "after INTERVAL")
    raise cur.unexpected(["'<n> <unit>'", "<n> <unit>", "INTERVAL <n> <unit>"])


# --- scalars -------------------------------------------------------------------------------------


def _signed_number(cur: Cursor, what: str) -> tuple[str, Token, Token]:
    """``[+|-]NUMBER`` as (text, first token, number token)."""
    first = cur.peek()
    sign = ""
    if first is not None and first.kind is TokenKind.OPERATOR and first.text in ("+", "-"):
        cur.pos += 1
        sign = first.text
    tok = cur.peek()
    if tok is None or tok.kind is not TokenKind.NUMBER:
        raise cur.error(f"expected {what}, found {describe(tok)}", at=tok, expected=[what])
    cur.pos += 1
    assert first is not None
    return sign + tok.raw.replace("_", ""), first, tok


def parse_int(cur: Cursor, what: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer literal (optionally signed, or quoted: ``'10'``) within [minimum, maximum]."""
    tok = cur.peek()
    if tok is not None and tok.kind is TokenKind.STRING and re.fullmatch(r"\s*[+-]?\d+\s*", tok.text):
        cur.pos += 1
        text, first, last = tok.text.strip(), tok, tok
    else:
        text, first, last = _signed_number(cur, what)
    if not re.fullmatch(r"[+-]?\d+", text):
        raise cur.error(
            f"expected {what}, got {text}",
            at=cur.span_of(first, last),
            code="INVALID_VALUE",
            cls=ValidationError,
        )
    value = int(text)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise cur.error(
            f"{what} must be {bounds}, got {value}",
            at=cur.span_of(first, last),
            code="INVALID_VALUE",
            cls=ValidationError,
        )
    return value


def parse_float(cur: Cursor, what: str, *, minimum: float | None = None) -> float:
    text, first, last = _signed_number(cur, what)
    try:
        value = float(text)
    except ValueError:
        raise cur.error(f"expected {what}, got {text}", at=cur.span_of(first, last)) from None
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        raise cur.error(
            f"{what} must be a number of at least {minimum}, got {text}",
            at=cur.span_of(first, last),
            code="INVALID_VALUE",
            cls=ValidationError,
        )
    return value


def parse_bool(cur: Cursor, what: str = "TRUE or FALSE") -> bool:
    """``TRUE``/``FALSE`` (also quoted, case-insensitive)."""
    tok = cur.peek()
    if tok is not None and tok.kind in (TokenKind.WORD, TokenKind.STRING) and tok.upper in ("TRUE", "FALSE"):
        cur.pos += 1
        return tok.upper == "TRUE"
    raise cur.error(f"expected {what}, found {describe(tok)}", at=tok, expected=["TRUE", "FALSE"])


def parse_string(cur: Cursor, what: str = "a string") -> str:
    """A string literal's value."""
    return cur.expect_kind(TokenKind.STRING, what).text


def parse_word_or_string(cur: Cursor, what: str) -> Token:
    """A bare word, quoted identifier or string (for enum-like values: ``NO_OVERLAP``, ``'INFO'``)."""
    tok = cur.peek()
    if tok is None or tok.kind not in (TokenKind.WORD, TokenKind.STRING, TokenKind.IDENT):
        raise cur.error(f"expected {what}, found {describe(tok)}", at=tok, expected=[what])
    cur.pos += 1
    return tok


def parse_choice(cur: Cursor, what: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (upper case), bare or quoted."""
    tok = parse_word_or_string(cur, what)
    value = tok.text.strip().upper()
    if value not in choices:
        raise cur.error(
            f"{what} must be one of {', '.join(choices)}, got {tok.text!r}",
            at=tok,
            expected=list(choices),
            code="INVALID_VALUE",
            cls=ValidationError,
        )
    return value


def parse_json(cur: Cursor, what: str) -> str:
    """A JSON document in a string (``'{...}'`` or ``$${...}$$``); the text is kept as written.

    :raises ValidationError: INVALID_VALUE when the string is not JSON, nests deeper than
        :data:`~tasksql.jsontext.MAX_JSON_DEPTH` or holds a string that cannot be stored, pointing
        at the place inside the string.
    """
    tok = cur.expect_kind(TokenKind.STRING, f"{what} (a JSON string)")
    try:
        loads_user_json(tok.text)
    except JsonTextError as exc:
        where = string_contents(tok).span(cur.index, exc.offset, exc.offset + 1)
        raise cur.error(
            f"{what} must be valid JSON: {exc.message}", at=where, code="INVALID_VALUE", cls=ValidationError
        ) from None
    return tok.text


def parse_literal(cur: Cursor, what: str = "a literal") -> str:
    """One literal as its verbatim source text: a string, a (signed) number, a word such as TRUE,
    FALSE or NULL, or a bracketed list ``[ 1, 2 ]``."""
    tok = cur.peek()
    if tok is None:
        raise cur.error(f"expected {what}, found the end of the statement", expected=[what])
    if tok.kind in (TokenKind.STRING, TokenKind.WORD, TokenKind.IDENT):
        cur.pos += 1
        return tok.raw
    if tok.kind is TokenKind.NUMBER or (tok.kind is TokenKind.OPERATOR and tok.text in ("+", "-")):
        _, first, last = _signed_number(cur, what)
        return cur.text_of(first, last)
    if tok.kind is TokenKind.LBRACKET:
        return _bracketed(cur, what)
    raise cur.error(f"expected {what}, found {describe(tok)}", at=tok, expected=[what])


def _bracketed(cur: Cursor, what: str) -> str:
    """``[ literal, ... ]`` kept verbatim."""
    first = cur.next()
    depth = 1
    while depth:
        tok = cur.next(f"']' closing the list of {what}")
        if tok.kind is TokenKind.LBRACKET:
            depth += 1
        elif tok.kind is TokenKind.RBRACKET:
            depth -= 1
    return cur.text_of(first, cur.previous())


def parse_literal_list(cur: Cursor, what: str = "an argument") -> tuple[str, ...]:
    """``( literal [, literal ...] )`` (possibly empty) as verbatim literal texts."""
    cur.expect("(")
    out: list[str] = []
    if cur.accept(")"):
        return ()
    while True:
        out.append(parse_literal(cur, what))
        if cur.accept(")"):
            return tuple(out)
        if not cur.accept(","):
            raise cur.unexpected(["','", "')'"])


def parse_string_list(cur: Cursor, what: str) -> tuple[str, ...]:
    """``( 'a' [, 'b' ...] )`` or a single ``'a'``, as the strings' values."""
    if not cur.at("("):
        return (parse_string(cur, what),)
    cur.expect("(")
    out: list[str] = []
    if cur.accept(")"):
        return ()
    while True:
        out.append(parse_string(cur, what))
        if cur.accept(")"):
            return tuple(out)
        if not cur.accept(","):
            raise cur.unexpected(["','", "')'"])
