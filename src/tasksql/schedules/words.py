"""Schedules in plain words, for people reading a list of tasks.

:func:`schedule_words` turns a schedule (the model's spec) into a short phrase:

=====================================  =============================================
schedule                               words
=====================================  =============================================
``5 SECONDS``                          every 5 seconds
``DELAY 10 MINUTES``                   10 minutes after each run ends
``USING CRON 0 9 * * 1-5 Europe/Berlin`` at 09:00 on weekdays, Europe/Berlin
``USING CRON */15 * * * * UTC``        every 15 minutes, UTC
``USING CRON 0 2 L * * UTC``           at 02:00 on the last day of the month, UTC
``CRON 0 0 9 * * 2 TIMEZONE UTC``      at 09:00 on Mondays, UTC (Databend: 1 is Sunday)
``FROM CLASS pkg.Hourly``              computed by pkg.Hourly
=====================================  =============================================

:func:`words_for_text` does the same for the text SHOW TASKS prints in its ``schedule`` column.
Cron expressions are described from their parsed fields for the common shapes; anything else
falls back to cronsim's description, then to the expression itself, so a phrase is always given.
Pure functions: no I/O, never raise for a schedule the parser accepted.
"""

from __future__ import annotations

import re

from tasksql.errors import ScheduleError
from tasksql.model import (
    CronSchedule,
    CustomSchedule,
    DayNumbering,
    DelaySchedule,
    IntervalSchedule,
    ScheduleSpec,
)
from tasksql.schedules.cronexpr import CronExpr, parse_cron
from tasksql.schedules.cronmatch import WallMatcher
from tasksql.schedules.durations import phrase

_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
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
_NTH = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}
_UNIT_MS = {"MILLISECOND": 1, "SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}
_INTERVAL_TEXT = re.compile(r"(\d+) (MILLISECOND|SECOND|MINUTE|HOUR|DAY)S?", re.IGNORECASE)
_DATABEND_CRON_TEXT = re.compile(r"CRON (.+) TIMEZONE (\S+)", re.IGNORECASE)
#: The most times of day listed one by one ("at 09:15 and 17:15"); more read as a rule.
_MAX_TIMES = 4


def schedule_words(spec: ScheduleSpec) -> str:
    """A short English phrase for ``spec`` (see the module's table)."""
    if isinstance(spec, IntervalSchedule):
        return every(spec.every_ms)
    if isinstance(spec, DelaySchedule):
        return f"{phrase(spec.delay_ms)} after each run ends"
    if isinstance(spec, CronSchedule):
        return cron_words(spec.expr, spec.timezone, spec.day_numbering)
    return f"computed by {spec.class_path}"


def words_for_text(text: str | None) -> str | None:
    """The phrase for a schedule as SHOW TASKS prints it (``5 SECONDS``, ``DELAY 1 HOUR``,
    ``USING CRON <expr> <zone>``, Databend's ``CRON <expr> TIMEZONE <zone>`` (its days numbered
    from Sunday = 1), ``FROM CLASS <path>``); None for no schedule. Text of another form is
    returned as it is."""
    if text is None:
        return None
    stripped = text.strip()
    upper = stripped.upper()
    interval = _INTERVAL_TEXT.fullmatch(stripped.removeprefix("DELAY ").removeprefix("delay "))
    if interval is not None:
        ms = int(interval.group(1)) * _UNIT_MS[interval.group(2).upper()]
        if ms > 0:
            return schedule_words(DelaySchedule(ms) if upper.startswith("DELAY ") else IntervalSchedule(ms))
    if upper.startswith("USING CRON "):
        expr, _, zone = stripped[len("USING CRON ") :].rpartition(" ")
        if expr.strip():
            return cron_words(expr, zone)
    databend = _DATABEND_CRON_TEXT.fullmatch(stripped)
    if databend is not None:
        return cron_words(databend.group(1), databend.group(2), DayNumbering.DATABEND)
    if upper.startswith("FROM CLASS "):
        return schedule_words(CustomSchedule(stripped[len("FROM CLASS ") :].strip()))
    return stripped


def every(ms: int) -> str:
    """``every 5 seconds``, ``every minute`` (a count of one is left out)."""
    text = phrase(ms)
    return "every " + (text[2:] if text.startswith("1 ") else text)


def cron_words(expr: str, timezone: str, day_numbering: DayNumbering = DayNumbering.UNIX) -> str:
    """The phrase for a cron expression in ``timezone``, the zone last: ``at 09:00 daily, UTC``."""
    try:
        parsed = parse_cron(expr, day_numbering)
    except ScheduleError:
        return f"cron {expr.strip()}, {timezone}"
    text = _describe(parsed)
    if text is None:
        explained = WallMatcher(parsed).explain()  # names the years itself
        text = explained[0].lower() + explained[1:] if explained else f"cron {expr.strip()}"
    elif parsed.year_text:
        text = f"{text} {parsed.year_text}"
    return f"{text}, {timezone}"


def _describe(expr: CronExpr) -> str | None:
    """Our phrase for the common shapes; None when another describer should try."""
    second, minute, hour, dom, month, dow = expr.fields
    time = _time_part(second, minute, hour)
    if time is None:
        return None
    days = _day_part(dom, dow)
    months = _month_part(month)
    if days is None or months is None:
        return None
    if dom != "*" and month != "*" and _is_number(dom) and _is_number(month) and dow == "*":
        days, months = f"on {int(dom)} {_MONTHS[int(month) - 1]}", ""  # once a year
    if not days and not months and time.startswith("at ") and not time.startswith("at minute"):
        days = "every day"
    return " ".join(part for part in (time, days, months) if part)


def _time_part(second: str, minute: str, hour: str) -> str | None:
    if second != "0":
        if minute == "*" and hour == "*":
            return _repeat(second, "second")
        return None
    if hour == "*":
        if minute == "*":
            return "every minute"
        if minute == "0":
            return "every hour"
        if _is_number(minute):
            return f"at minute {minute} of every hour"
        return _repeat(minute, "minute")
    if minute == "0" and hour.startswith("*/"):
        return _repeat(hour, "hour")
    minutes, hours = _values(minute), _values(hour)
    if minutes is None or hours is None:
        if minute.startswith("*/") and hours is not None:
            within = _repeat(minute, "minute")
            return None if within is None else f"{within} during {_hours_phrase(hour, hours)}"
        return None
    if len(minutes) * len(hours) > _MAX_TIMES:
        return None
    times = [f"{h:02d}:{m:02d}" for h in hours for m in minutes]
    return "at " + _join(times)


def _hours_phrase(field: str, hours: list[int]) -> str:
    if "-" in field and "," not in field and "/" not in field:
        return f"{hours[0]:02d}:00-{hours[-1]:02d}:59"
    return "hours " + _join([f"{h:02d}" for h in hours])


def _repeat(field: str, unit: str) -> str | None:
    """``*`` and ``*/n`` of a field: ``every minute``, ``every 5 minutes``."""
    if field == "*":
        return f"every {unit}"
    if field.startswith("*/") and _is_number(field[2:]):
        n = int(field[2:])
        return f"every {unit}" if n == 1 else f"every {n} {unit}s"
    return None


def _day_part(dom: str, dow: str) -> str | None:
    if dom == "*" and dow == "*":
        return ""
    if dom == "*":
        return _weekdays(dow)
    if dow == "*":
        return _month_days(dom)
    days, weekdays = _month_days(dom), _weekdays(dow)
    if days is None or weekdays is None:
        return None
    return f"{days} or {weekdays}"  # both restricted: either matches (Vixie cron)


def _weekdays(dow: str) -> str | None:
    special = re.fullmatch(r"(\d)(L|#(\d))", dow)
    if special is not None:
        day = _DAYS[int(special.group(1))]
        nth = "last" if special.group(2) == "L" else _NTH[int(special.group(3))]
        return f"on the {nth} {day} of the month"
    values = _values(dow)
    if values is None:
        return None
    days = sorted({v % 7 for v in values})
    if days == [1, 2, 3, 4, 5]:
        return "on weekdays"
    if days == [0, 6]:
        return "on weekends"
    if "-" in dow and "," not in dow and "/" not in dow and len(days) > 2:
        first, last = (int(v) for v in dow.split("-"))
        return f"from {_DAYS[first]} through {_DAYS[last]}"
    return "on " + _join([_DAYS[d] + "s" for d in days])


def _month_days(dom: str) -> str | None:
    if dom == "L":
        return "on the last day of the month"
    if dom == "LW":
        return "on the last weekday of the month"
    if dom.endswith("W") and dom[:-1].isdigit():
        return f"on the weekday nearest the {_ordinal(int(dom[:-1]))} of the month"
    values = _values(dom)
    if values is None:
        return None
    return "on the " + _join([_ordinal(d) for d in values]) + " of the month"


def _month_part(month: str) -> str | None:
    if month == "*":
        return ""
    values = _values(month)
    if values is None:
        return None
    return "in " + _join([_MONTHS[m - 1] for m in values])


def _values(field: str) -> list[int] | None:
    """The values of a list of numbers and ranges (no steps, no wildcards); None otherwise."""
    out: list[int] = []
    for term in field.split(","):
        if _is_number(term):
            out.append(int(term))
        elif re.fullmatch(r"\d+-\d+", term):
            lo, hi = (int(v) for v in term.split("-"))
            out.extend(range(lo, hi + 1))
        else:
            return None
    return sorted(set(out))


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()
