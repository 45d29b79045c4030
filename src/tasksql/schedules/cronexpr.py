"""Cron expression syntax: parse and validate, with the position of every error.

This module reads the text only; evaluation lives in :mod:`tasksql.schedules.cronmatch` and
:mod:`tasksql.schedules.cron`. The accepted language:

* 5 fields ``minute hour day-of-month month day-of-week``, 6 fields with ``second`` first
  (Databend, VoltDB), or 7 fields: the six and a ``year`` last (Quartz; Databend's own task tests
  write ``0 0 0 1 1 ? 2100``). Years are 1970-2100, the range of the cron library Databend uses;
  the year field filters the times the six fields select. Fields are separated by white space;
  letters are case-insensitive.
* In every field: ``*``, a value, a range ``a-b``, a step ``*/n``, ``a/n`` or ``a-b/n``, and lists
  of those separated by commas. Months accept ``JAN``-``DEC``; days of the week accept
  ``SUN``-``SAT`` and the numbers 0-7 (0 and 7 are both Sunday). With
  :attr:`DayNumbering.DATABEND <tasksql.model.DayNumbering>` (the expressions Databend's
  ``USING CRON '<expr>'`` writes) the numbers are 1-7 with 1 for Sunday, as in the Rust ``cron``
  crate Databend schedules with (and Quartz); they are turned into Unix numbers while parsing, so
  everything after the parser (matching, words) sees one numbering.
* ``?`` (Quartz, Snowflake) means ``*`` in the day-of-month and day-of-week fields.
* Day of month: ``L`` (last day of the month), ``LW`` (last weekday of the month) and ``nW``
  (Quartz's and VoltDB's nearest weekday: the Monday to Friday nearest day n of the month, never
  in another month; standing alone, with ``*`` or ``?`` for the day of the week). Offsets such as
  ``L-3`` are not supported.
* Day of week: ``5L`` (last Friday of the month) and ``5#2`` (second Friday, ``#1``-``#5``).
* Macros: ``@yearly``/``@annually``, ``@monthly``, ``@weekly``, ``@daily``/``@midnight``,
  ``@hourly``, standing alone.

When both day-of-month and day-of-week are restricted (neither starts with ``*`` or ``?``), a day
matches if either matches (Vixie/Debian cron); otherwise both must match.

Errors are :class:`~tasksql.errors.ScheduleError` with code ``INVALID_CRON``, a message that names
the field ("day-of-month 32 is out of range 1-31") and a ``span`` over that field, relative to the
expression text (the SQL parser shifts it onto the statement).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn, TypeAlias

from tasksql.errors import ScheduleError, Span
from tasksql.model import DayNumbering

MACROS: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTH_WORDS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
#: The longest each month can be (February in a leap year).
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True, slots=True)
class _FieldSpec:
    name: str
    lo: int
    hi: int
    names: tuple[str, ...] = ()
    name_base: int = 0
    #: Said after a value out of range (how this field numbers its values, when that is unusual).
    note: str = ""

    @property
    def hint(self) -> str:
        if self.names:
            return f"{self.lo}-{self.hi} or {self.names[0]}-{self.names[-1]}{self.note}"
        return f"{self.lo}-{self.hi}{self.note}"


SECOND = _FieldSpec("second", 0, 59)
MINUTE = _FieldSpec("minute", 0, 59)
HOUR = _FieldSpec("hour", 0, 23)
DAY_OF_MONTH = _FieldSpec("day-of-month", 1, 31)
MONTH = _FieldSpec("month", 1, 12, MONTH_NAMES, 1)
DAY_OF_WEEK = _FieldSpec("day-of-week", 0, 7, DAY_NAMES, 0)
#: Databend's day of week (the Rust cron crate): 1-7, Sunday = 1; no 0.
DAY_OF_WEEK_DATABEND = _FieldSpec(
    "day-of-week", 1, 7, DAY_NAMES, 1, " (Databend numbers the days 1-7 from Sunday = 1)"
)
YEAR = _FieldSpec("year", 1970, 2100)
_SPECS = (SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK)

_Fail: TypeAlias = Callable[[str], NoReturn]


@dataclass(frozen=True, slots=True, kw_only=True)
class CronExpr:
    """A validated cron expression.

    ``fields`` always has six entries, seconds first (``"0"`` for a 5-field expression), in a
    normalised spelling: upper case, names replaced by numbers, ``?`` replaced by ``*``.
    ``year`` is the normalised seventh field and ``years`` the years it selects; both are None
    when the expression has no year field (every year matches).
    """

    text: str
    fields: tuple[str, str, str, str, str, str]
    has_seconds: bool
    macro: str | None = None
    year: str | None = None
    years: frozenset[int] | None = None

    @property
    def fixed_time(self) -> bool:
        """True when neither the minute nor the hour field starts with ``*`` (Debian cron's test).

        Debian cron applies its daylight-saving adjustments only to such "fixed time" jobs;
        jobs with a wildcard minute or hour simply follow the wall clock.
        """
        return not self.fields[1].startswith("*") and not self.fields[2].startswith("*")

    @property
    def normalized(self) -> str:
        """The six normalised fields joined by single spaces (the year field is not included)."""
        return " ".join(self.fields)

    @property
    def nearest_weekday(self) -> int | None:
        """n of a day-of-month ``nW`` (the weekday nearest day n), else None."""
        dom = self.fields[3]
        return int(dom[:-1]) if dom.endswith("W") and _is_number(dom[:-1]) else None

    @property
    def every_day_text(self) -> str:
        """:attr:`normalized` with a day-of-month ``nW`` read as ``*``: the candidates the
        nearest-weekday filter (:mod:`~tasksql.schedules.cronmatch`) chooses from."""
        if self.nearest_weekday is None:
            return self.normalized
        return " ".join((*self.fields[:3], "*", *self.fields[4:]))

    @property
    def year_text(self) -> str | None:
        """The years as words ("in 2100", "in the years 2030-2040/2"); None without a year field
        or when it selects every year."""
        if self.year is None or self.year == "*":
            return None
        return f"in {self.year}" if self.year.isdigit() else f"in the years {self.year}"


def parse_cron(text: str, day_numbering: DayNumbering = DayNumbering.UNIX) -> CronExpr:
    """Parse and validate ``text``, reading day-of-week numbers per ``day_numbering``.

    The result's fields use Unix day numbers whatever ``day_numbering`` is (macros are Unix
    expressions and read as such).

    :raises ScheduleError: code ``INVALID_CRON``, with ``span`` over the offending field (or the
        whole expression for a wrong field count) relative to ``text``.
    """
    tokens = [(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    macro: str | None = None
    if tokens and tokens[0][0].startswith("@"):
        macro = _macro(text, tokens)
        expanded = MACROS[macro].split()
        tokens = [(field, tokens[0][1], tokens[0][2]) for field in expanded]
    if len(tokens) not in (5, 6, 7):
        start, end = (tokens[0][1], tokens[-1][2]) if tokens else (0, len(text))
        _fail(text, start, end, f"expected 5, 6 or 7 fields, got {len(tokens)}")
    has_seconds = len(tokens) >= 6
    year: str | None = None
    years: set[int] | None = None
    if len(tokens) == 7:
        year_token, year_start, year_end = tokens.pop()
        year, years = _parse_field(YEAR, year_token, text, year_start, year_end)
    specs = _SPECS if has_seconds else _SPECS[1:]
    if day_numbering is DayNumbering.DATABEND and macro is None:
        specs = (*specs[:-1], DAY_OF_WEEK_DATABEND)
    fields: list[str] = [] if has_seconds else ["0"]
    values: list[set[int] | None] = [] if has_seconds else [{0}]
    for spec, (token, start, end) in zip(specs, tokens, strict=True):
        field, expanded_values = _parse_field(spec, token, text, start, end)
        if spec is DAY_OF_WEEK_DATABEND:
            field = ",".join(_unix_day_term(term) for term in field.split(","))
            expanded_values = None if expanded_values is None else {v - 1 for v in expanded_values}
        fields.append(field)
        values.append(expanded_values)
    day_start, day_end = tokens[-3][1], tokens[-3][2]
    nearest = [t for t in fields[3].split(",") if t.endswith("W") and _is_number(t[:-1])]
    if nearest and (fields[3] != nearest[0] or not fields[5].startswith("*")):
        _fail(
            text,
            day_start,
            day_end,
            f"day-of-month {nearest[0]} (the weekday nearest day {nearest[0][:-1]}) stands alone in its"
            " field, with * or ? for the day of the week",
        )
    _check_days_exist(text, day_start, day_end, fields, values)
    return CronExpr(
        text=text,
        fields=(fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]),
        has_seconds=has_seconds,
        macro=macro,
        year=year,
        # The year field has no L, W or # terms, so its values are always known.
        years=None if years is None else frozenset(years),
    )


def _unix_day_term(term: str) -> str:
    """A normalised Databend day-of-week term (1-7, Sunday = 1) in Unix numbers (0-6).

    Ranges are written out (``*/2`` is ``0-6/2``, ``3/2`` is ``2-6/2``): a Unix ``*`` or open
    range reaches 7, a second Sunday, which Databend's 1-7 never selects twice.
    """
    if term == "*":
        return term
    for mark in ("#", "L"):
        day, found, rest = term.partition(mark)
        if found:
            return f"{int(day) - 1}{mark}{rest}"
    base, slash, step = term.partition("/")
    if base == "*":
        first, last = 0, 6
    else:
        left, dash, right = base.partition("-")
        first = int(left) - 1
        last = int(right) - 1 if dash else (6 if slash else first)
    if first == last:
        return str(first)
    return f"{first}-{last}/{step}" if slash else f"{first}-{last}"


def _macro(text: str, tokens: list[tuple[str, int, int]]) -> str:
    word, start, end = tokens[0]
    name = word.lower()
    if name not in MACROS:
        known = ", ".join(MACROS)
        _fail(text, start, end, f"unknown cron macro {word!r}; expected one of {known}")
    if len(tokens) > 1:
        _fail(text, tokens[1][1], tokens[-1][2], f"the macro {word} stands alone; remove the text after it")
    return name


def _fail(text: str, start: int, end: int, message: str) -> NoReturn:
    raise ScheduleError(message, code="INVALID_CRON", span=Span.at(text, start, end), source=text)


def _parse_field(
    spec: _FieldSpec, token: str, text: str, start: int, end: int
) -> tuple[str, set[int] | None]:
    """One field as normalised text, plus the plain values it selects (None if it has L, W or #)."""

    def fail(message: str) -> NoReturn:
        _fail(text, start, end, message)

    terms = token.split(",")
    if "" in terms:
        fail(f"{spec.name} {token!r} has an empty list item")
    out: list[str] = []
    values: set[int] | None = set()
    for term in terms:
        normal, selected = _parse_term(spec, term, fail)
        out.append(normal)
        if selected is None or values is None:
            values = None
        else:
            values |= selected
    return ",".join(out), values


def _parse_term(spec: _FieldSpec, term: str, fail: _Fail) -> tuple[str, set[int] | None]:
    special = _special_term(spec, term, fail)
    if special is not None:
        return special, None
    base, slash, step_text = term.partition("/")
    step = 1
    if slash:
        if not _is_number(step_text):
            fail(f"{spec.name} step {step_text!r} is not a number")
        step = int(step_text)
        if not 1 <= step <= spec.hi:
            fail(f"{spec.name} step {step} is out of range 1-{spec.hi}")
    if base in ("*", "?"):
        if base == "?" and spec not in (DAY_OF_MONTH, DAY_OF_WEEK, DAY_OF_WEEK_DATABEND):
            fail(f"{spec.name} '?' is only allowed in the day-of-month and day-of-week fields")
        first, last, normal = spec.lo, spec.hi, "*"
    elif "-" in base:
        left, _, right = base.partition("-")
        first, last = _value(spec, left, fail), _value(spec, right, fail)
        if last < first:
            fail(f"{spec.name} range {left}-{right} is backwards: the start must not exceed the end")
        normal = f"{first}-{last}"
        if first == last:
            # cronsim reads a one-value range with a step (5-5/2) as "5 to the end, every 2":
            # write the single value, which is what the range selects.
            normal, slash = str(first), ""
    else:
        first = _value(spec, base, fail)
        last = spec.hi if slash else first
        normal = str(first)
    if slash:
        normal += f"/{step}"
    return normal, set(range(first, last + 1, step))


def _special_term(spec: _FieldSpec, term: str, fail: _Fail) -> str | None:
    """The normalised text of an ``L``, ``LW``, ``nL`` or ``n#k`` term; None for ordinary terms."""
    upper = term.upper()
    if spec is DAY_OF_MONTH:
        if upper in ("L", "LW"):
            return upper
        if upper.endswith("W") and _is_number(term[:-1]):
            return f"{_value(spec, term[:-1], fail)}W"
        if upper.startswith("L"):
            fail(f"day-of-month {term!r} is not supported: use L (last day) or LW (last weekday)")
    if spec in (DAY_OF_WEEK, DAY_OF_WEEK_DATABEND):
        if upper == "L":
            fail("day-of-week L needs a day before it, such as 5L for the last Friday of the month")
        if "#" in term:
            day, _, nth = term.partition("#")
            value = _value(spec, day, fail)
            if not _is_number(nth) or not 1 <= int(nth) <= 5:
                fail(f"day-of-week {term}: the number after # must be 1-5")
            return f"{value}#{int(nth)}"
        if upper.endswith("L") and "/" not in term and "-" not in term:
            return f"{_value(spec, term[:-1], fail)}L"
    return None


def _value(spec: _FieldSpec, word: str, fail: _Fail) -> int:
    if _is_number(word):
        number = int(word)
        if not spec.lo <= number <= spec.hi:
            fail(f"{spec.name} {number} is out of range {spec.lo}-{spec.hi}{spec.note}")
        return number
    if word.upper() in spec.names:
        return spec.names.index(word.upper()) + spec.name_base
    fail(f"{spec.name} {word!r} is not a valid value: expected {spec.hint}")


def _is_number(word: str) -> bool:
    return word.isascii() and word.isdigit()


def _check_days_exist(
    text: str, start: int, end: int, fields: list[str], values: list[set[int] | None]
) -> None:
    """Reject a day of month that no selected month has (``0 0 30 2 *``), when it must match."""
    days, months = values[3], values[4]
    must_match_day = fields[3].startswith("*") or fields[5].startswith("*")
    if not must_match_day or fields[3].startswith("*") or days is None or months is None:
        return
    first_day = min(days)
    if first_day <= max(_MONTH_DAYS[m - 1] for m in months):
        return
    names = [_MONTH_WORDS[m - 1] for m in sorted(months)]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    _fail(text, start, end, f"day-of-month {first_day} never occurs in {listed}")
