"""Canonical SQL text of values: strings, intervals, schedules, JSON, literal lists, bodies.

Every function here produces text that the parser reads back to the same value.
"""

from __future__ import annotations

from tasksql.model import (
    Body,
    ClassBody,
    CronSchedule,
    DayNumbering,
    DelaySchedule,
    IntervalSchedule,
    LocationKind,
    MaintenanceBody,
    ProcedureBody,
    ScheduleSpec,
    SqlBody,
    quote_ident,
)
from tasksql.sql.names import quote_string, render_name, render_simple

_UNITS = (
    (86_400_000, "DAY"),
    (3_600_000, "HOUR"),
    (60_000, "MINUTE"),
    (1000, "SECOND"),
    (1, "MILLISECOND"),
)
_SHORT = ((86_400_000, "d"), (3_600_000, "h"), (60_000, "m"), (1000, "s"), (1, "ms"))


def interval_parts(ms: int, units: tuple[tuple[int, str], ...] = _UNITS) -> tuple[int, str]:
    """``ms`` as (count, unit) in the largest unit that divides it exactly."""
    for size, name in units:
        if ms % size == 0:
            return ms // size, name
    return ms, units[-1][1]


def render_interval(ms: int) -> str:
    """``5 MINUTES``, ``1 HOUR``, ``500 MILLISECONDS``: the largest exact unit, plural unless 1."""
    count, unit = interval_parts(ms)
    return f"{count} {unit}" if count == 1 else f"{count} {unit}S"


def render_compact_interval(ms: int) -> str:
    """Timeplus style: ``5s``, ``2m``, ``500ms``, ``1h``, ``1d``."""
    count, unit = interval_parts(ms, _SHORT)
    return f"{count}{unit}"


def render_databend_interval(ms: int) -> str:
    """Databend style: ``2 MINUTE``, ``30 SECOND``, ``500 MILLISECOND`` (singular units, minutes or
    seconds when exact). Databend takes 500 to 999 MILLISECOND only, so another interval that is
    not whole seconds is written quoted (``'1500 MILLISECONDS'``), which reads back the same."""
    if ms % 60_000 == 0:
        return f"{ms // 60_000} MINUTE"
    if ms % 1000 == 0:
        return f"{ms // 1000} SECOND"
    if 500 <= ms < 1000:
        return f"{ms} MILLISECOND"
    return quote_string(render_interval(ms))


def render_literals(args: tuple[str, ...]) -> str:
    """``(a, b, c)`` from literal texts."""
    return "(" + ", ".join(args) + ")"


def render_class(path: str, args: tuple[str, ...]) -> str:
    text = quote_string(path)
    return f"{text} WITH {render_literals(args)}" if args else text


def render_schedule(spec: ScheduleSpec) -> str:
    """The canonical value of ``SCHEDULE =``."""
    if isinstance(spec, IntervalSchedule):
        return quote_string(render_interval(spec.every_ms))
    if isinstance(spec, DelaySchedule):
        return "DELAY " + quote_string(render_interval(spec.delay_ms))
    if isinstance(spec, CronSchedule):
        quoted = f"{quote_string(spec.expr)} {quote_string(spec.timezone)}"
        if spec.day_numbering is DayNumbering.UNIX and len(spec.expr.split()) in (6, 7):
            # USING CRON '<6 or 7 fields>' is Databend's, whose days are numbered from Sunday = 1.
            return "CRON " + quoted
        return "USING CRON " + quoted
    return "FROM CLASS " + render_class(spec.class_path, spec.args)


def render_json(text: str) -> str:
    """A JSON document as ``$$...$$`` (or a quoted string when it contains ``$$``)."""
    if "$$" in text or text.endswith("$"):
        return quote_string(text)
    return f"$${text}$$"


def dollar_quote(text: str) -> str:
    """``text`` in dollar quotes whose closing tag first occurs right after ``text``."""
    tag, n = "", 0
    while (text + f"${tag}$").find(f"${tag}$") != len(text):
        n += 1
        tag = f"q{n}"
    return f"${tag}${text}${tag}$"


def render_location(body: MaintenanceBody) -> str:
    if body.location is LocationKind.SYSTEM or body.location_name is None:
        return f"LOCATION {body.location.value}"
    return f"LOCATION {body.location.value} {render_simple(body.location_name)}"


def render_body(body: Body) -> str:
    """The body clause: ``AS <sql>``, ``PROCEDURE p WITH (...)``, ``FROM CLASS ...``, ``TYPE ...``.

    An SQL body is written as is when it reads back the same after ``AS``; otherwise (several
    statements, a leading dollar-quoted string, ...) it is dollar-quoted.
    """
    if isinstance(body, SqlBody):
        return "AS " + render_sql_text(body.text)
    if isinstance(body, ProcedureBody):
        text = f"PROCEDURE {render_name(body.procedure)}"
        return f"{text} WITH {render_literals(body.args)}" if body.args else text
    if isinstance(body, ClassBody):
        prefix = "FROM CLASS " if body.schedules else "PROCEDURE FROM CLASS "
        return prefix + render_class(body.class_path, body.args)
    parts = [f"TYPE {body.kind.value}", render_location(body)]
    if body.options:
        parts.append("OPTIONS " + ", ".join(f"{quote_ident(k)} = {v}" for k, v in body.options))
    return " ".join(parts)


def render_sql_text(text: str) -> str:
    """SQL text after ``AS``: verbatim when it reads back as the same single body, else dollar-quoted."""
    from tasksql.sql.bodies import reads_back_as_body

    return text if reads_back_as_body(text) else dollar_quote(text)
