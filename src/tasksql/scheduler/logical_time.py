"""Logical time: the instants a run stands for, bound into its WHEN and body.

A body (or WHEN) may name four variables, replaced before the warehouse sees the text by a
timestamp literal of the warehouse's dialect (:func:`literal`), or NULL:

* ``:scheduled_time``: the instant the run stands for: its scheduled instant, or the end of its
  backfill window;
* ``:window_end``: the same instant;
* ``:window_start``: the instant before it: the previous instant of the task's schedule, the start
  of its backfill window, or, for a task without a schedule of its own (triggered, run after
  others, or by EXECUTE TASK only), the scheduled time of its last successful run (NULL if none);
* ``:last_success_scheduled_time``: the logical instant of the task's latest successful run
  before this one's (NULL if none).

Names are matched case-insensitively, outside string literals, quoted names and comments, and not
after another ``:`` (PostgreSQL's ``x::date``). A backfill run carries its window in its config
(:data:`WINDOW_KEY`), which is how history shows it and how graph members of the run see it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tasksql.catalog.base import Catalog
from tasksql.model import RunState
from tasksql.model.run import RunRecord
from tasksql.scheduler.entry import Entry
from tasksql.scheduler.trigger_checks import TriggerChecks
from tasksql.schedules.base import Schedule

#: The key of a run's config that holds its backfill window: ``{"start": iso, "end": iso}``.
WINDOW_KEY = "tasksql_window"

NAMES = ("scheduled_time", "last_success_scheduled_time", "window_start", "window_end")

# Strings, quoted names and comments are skipped whole; a variable is a ':' not after another ':'.
_SCAN = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|--[^\n]*|/\*.*?\*/|\$\$.*?\$\$|::+"""
    r"""|:(?P<name>scheduled_time|last_success_scheduled_time|window_start|window_end)\b""",
    re.S | re.I,
)
_MENTION = re.compile(r"(?i):(?:scheduled_time|last_success_scheduled_time|window_start|window_end)\b")
#: How far back the previous instant of a schedule is looked for.
_LOOK_BACK = timedelta(days=800)
#: Runs read per page while looking for the last successful one.
_PAGE = 500


@dataclass(frozen=True, slots=True)
class LogicalTime:
    """The values of the variables for one run (aware UTC datetimes, or None)."""

    scheduled_time: datetime
    window_start: datetime | None
    window_end: datetime
    last_success_scheduled_time: datetime | None

    def value(self, name: str) -> datetime | None:
        return getattr(self, name.lower())  # type: ignore[no-any-return]


def mentions(text: str | None) -> bool:
    """Whether ``text`` may name a variable (a cheap test before :func:`bind`)."""
    return text is not None and ":" in text and _MENTION.search(text) is not None


def literal(dialect: str, value: datetime | None) -> str:
    """``value`` as a timestamp literal of ``dialect``: an instant on PostgreSQL (``timestamptz``),
    the UTC wall time elsewhere (DuckDB and MySQL ``TIMESTAMP``, ClickHouse ``DateTime`` in UTC,
    SQLite text as its date functions write it)."""
    if value is None:
        return "NULL"
    utc = value.astimezone(UTC)
    text = utc.strftime("%Y-%m-%d %H:%M:%S") + (f".{utc.microsecond:06d}" if utc.microsecond else "")
    if dialect == "postgres":
        return f"TIMESTAMPTZ '{text}+00'"
    if dialect in ("clickhouse", "chdb"):
        if utc.microsecond:  # DateTime has whole seconds; DateTime64 needs ClickHouse 20.1 or later
            return f"toDateTime64('{text}', 6, 'UTC')"
        return f"toDateTime('{text}', 'UTC')"
    if dialect == "sqlite":
        return f"'{text}'"
    return f"TIMESTAMP '{text}'"


def bind(text: str, dialect: str, values: LogicalTime) -> str:
    """``text`` with each variable replaced by its literal (see the module's docstring)."""

    def sub(m: re.Match[str]) -> str:
        name = m.group("name")
        return m.group(0) if name is None else literal(dialect, values.value(name))

    return _SCAN.sub(sub, text)


def window_of(config: str | None) -> tuple[datetime, datetime] | None:
    """The backfill window a run's config carries, if any."""
    if not config or WINDOW_KEY not in config:
        return None
    try:
        found = json.loads(config).get(WINDOW_KEY)
        return datetime.fromisoformat(found["start"]), datetime.fromisoformat(found["end"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def with_window(config: str | None, start: datetime, end: datetime) -> str:
    """``config`` (a JSON object, or None) with the backfill window set."""
    merged = json.loads(config) if config else {}
    if not isinstance(merged, dict):
        merged = {}
    merged[WINDOW_KEY] = {"start": start.isoformat(), "end": end.isoformat()}
    return json.dumps(merged)


def previous_instant(schedule: Schedule, at: datetime) -> datetime | None:
    """The latest instant of ``schedule`` before ``at`` (None when there is none within
    :data:`_LOOK_BACK`): schedules only answer "what comes next", so the search steps back by
    doubling gaps until an instant before ``at`` appears, then walks forward to the last one."""
    back = timedelta(seconds=1)
    while back <= _LOOK_BACK:
        probe = at - back
        first = schedule.next_fire(probe - timedelta(microseconds=1))
        if first is not None and first < at:
            last = first
            while True:
                nxt = schedule.next_fire(last)
                if nxt is None or nxt >= at:
                    return last
                last = nxt
        back *= 2
    return None


def logical_instant(run: RunRecord) -> datetime:
    """The instant a run stands for: its backfill window's end, else its scheduled time."""
    window = window_of(run.config)
    return window[1] if window is not None else run.scheduled_time


async def last_success(catalog: Catalog, task_id: int, before: datetime) -> datetime | None:
    """The logical instant of ``task_id``'s latest successful run whose logical instant is before
    ``before``, read newest first a page at a time."""
    end: datetime | None = None
    best: datetime | None = None
    while True:
        page = await catalog.list_runs(task_id=task_id, end=end, limit=_PAGE)
        for r in page:
            if r.state is RunState.SUCCEEDED:
                at = logical_instant(r)
                if at < before and (best is None or at > best):
                    best = at
        # a backfill run (logical instant in the past) may be recorded after later instants: the
        # latest success by scheduled time is found on the first page that has one; backfills
        # recorded after it are on the pages before
        if best is not None or len(page) < _PAGE:
            return best
        end = page[-1].scheduled_time


def own_schedule(entry: Entry) -> Schedule | None:
    """The schedule of the entry's task itself (None: triggered, a graph child, no SCHEDULE)."""
    schedule = entry.schedule
    return None if schedule is None or isinstance(schedule, TriggerChecks) else schedule


async def compute(catalog: Catalog, run: RunRecord, schedule: Schedule | None) -> LogicalTime:
    """The variables of ``run``; ``schedule``: the task's own schedule (None when it has none)."""
    window = window_of(run.config)
    end = window[1] if window is not None else run.scheduled_time
    last = await last_success(catalog, run.task_id, end)
    if window is not None:
        start: datetime | None = window[0]
    elif schedule is not None:
        start = previous_instant(schedule, end)
    else:
        start = last
    return LogicalTime(
        scheduled_time=end, window_start=start, window_end=end, last_success_scheduled_time=last
    )
