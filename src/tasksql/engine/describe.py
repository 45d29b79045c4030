"""DESCRIBE TASK: every fact about a task and every property, with the value the engine applies.

The result has the columns ``property``, ``value`` and ``is_default``. Its rows come in two groups:

* facts, named as the SHOW TASKS columns are (lower case): ``name``, ``id``, ``state``, ``owner``,
  ``version``, ``spelling``, ``created_on``, ``last_committed_on``, ``last_suspended_on``,
  ``last_suspended_reason``, ``next_scheduled_time``, ``scheduler``, ``body_kind``, ``definition``;
* properties, named by the keyword written in CREATE TASK and in ALTER TASK ... SET / UNSET (upper
  case, words joined by ``_``): ``WAREHOUSE``, ``SCHEDULE``, ``USER_TASK_TIMEOUT_MS``,
  ``SUSPEND_TASK_AFTER_NUM_FAILURES``, ..., ``HISTORY_RETENTION``, ``ON_ERROR``, ``INTO``, then
  ``AFTER``, ``WHEN``, ``TAG``, ``CONTACT`` and one row per session parameter.

A property the task does not set has ``is_default`` true and shows its *effective* value: the value
the engine applies (``USER_TASK_TIMEOUT_MS`` 3600000, ``HISTORY_RETENTION`` the server's retention),
or NULL when leaving it out means "none" (no ``COMMENT``, no ``ERROR_INTEGRATION``). Intervals show
as they are written (``1 HOUR``); ``USER_TASK_TIMEOUT_MS`` is a number of milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from enum import Enum
from typing import Any

from tasksql.engine.core import Engine
from tasksql.model import (
    DEFAULT_CATCH_UP_WINDOW_MS,
    DEFAULT_MAX_CONCURRENT_RUNS,
    CatchUp,
    DstPolicy,
    QualifiedName,
    TaskDef,
    TaskRecord,
    effective_overlap,
    effective_suspend_after,
    effective_timeout_ms,
    effective_warehouse,
    pinned_node,
)
from tasksql.scheduler.retry import DEFAULT_BACKOFF
from tasksql.settings import Settings
from tasksql.sql.properties import PROPERTIES
from tasksql.sql.render_values import render_interval
from tasksql.sysviews.liveness import scheduler_column
from tasksql.sysviews.taskrows import body_kind, definition_text, next_time, schedule_text

DESCRIBE_COLUMNS = ("property", "value", "is_default")

Row = tuple[str, Any, bool]

_DEFAULTS = {f.name: f.default for f in fields(TaskDef)}
_INTERVAL_FIELDS = frozenset(
    {"retry_delay_ms", "retry_max_delay_ms", "catch_up_window_ms", "history_retention_ms"}
)
_DAY_MS = 86_400_000

#: field -> the value the engine applies when the task leaves the field unset (others: none).
_EFFECTIVE: dict[str, Callable[[TaskDef, Settings], Any]] = {
    "warehouse": lambda t, s: effective_warehouse(t),
    "node": lambda t, s: pinned_node(t),
    "overlap_policy": lambda t, s: effective_overlap(t),
    "timeout_ms": lambda t, s: effective_timeout_ms(t),
    "suspend_after_failures": lambda t, s: effective_suspend_after(t),
    "auto_retry_attempts": lambda t, s: 0,
    "retry_delay_ms": lambda t, s: 0,
    "retry_backoff": lambda t, s: DEFAULT_BACKOFF,
    "max_concurrent_runs": lambda t, s: DEFAULT_MAX_CONCURRENT_RUNS,
    "dst_policy": lambda t, s: DstPolicy.STANDARD,
    "catch_up": lambda t, s: CatchUp.NONE,
    "catch_up_window_ms": lambda t, s: DEFAULT_CATCH_UP_WINDOW_MS,
    "history_retention_ms": lambda t, s: round(s.history_retention_days * _DAY_MS),
}


async def describe_rows(engine: Engine, rec: TaskRecord) -> list[Row]:
    """The rows of ``DESCRIBE TASK`` for ``rec`` (see the module docstring)."""
    now = engine.now()
    live = await scheduler_column(engine.catalog, now, in_process=engine.scheduler is not None)
    return _facts(engine, rec, live) + _properties(rec.definition, engine.settings)


def _facts(engine: Engine, rec: TaskRecord, scheduler: str) -> list[Row]:
    task = rec.definition
    facts: list[tuple[str, Any]] = [
        ("name", engine.display_name(rec.name)),
        ("id", rec.id),
        ("state", rec.state.value),
        ("owner", rec.owner),
        ("version", rec.version),
        ("spelling", rec.spelling.value),
        ("created_on", rec.created_on),
        ("last_committed_on", rec.last_committed_on),
        ("last_suspended_on", rec.last_suspended_on),
        ("last_suspended_reason", rec.suspend_reason.value if rec.suspend_reason else None),
        ("next_scheduled_time", next_time(rec, engine.now())),
        ("scheduler", scheduler),
        ("body_kind", body_kind(task)),
        ("definition", definition_text(task)),
    ]
    return [(name, value, False) for name, value in facts]


def _properties(task: TaskDef, settings: Settings) -> list[Row]:
    rows: list[Row] = []
    for prop in PROPERTIES:
        if not prop.canonical:
            continue
        value = getattr(task, prop.field)
        is_default = value == _DEFAULTS[prop.field]
        if is_default and prop.field in _EFFECTIVE:
            value = _EFFECTIVE[prop.field](task, settings)
        rows.append((prop.key, _shown(prop.field, value), is_default))
    rows.append(("AFTER", json.dumps([str(p) for p in task.after]), not task.after))
    rows.append(("WHEN", task.when, task.when is None))
    rows.append(("TAG", json.dumps(dict(task.tags)) if task.tags else None, not task.tags))
    rows.append(("CONTACT", json.dumps(dict(task.contacts)) if task.contacts else None, not task.contacts))
    rows.extend((key.upper(), literal, False) for key, literal in task.session_params)
    return rows


def _shown(field: str, value: Any) -> Any:
    """A property value as DESCRIBE shows it: numbers stay numbers, the rest is text."""
    if value is None:
        return None
    if field == "schedule":
        return schedule_text(value)
    if field in _INTERVAL_FIELDS:
        return render_interval(value) if value else "0 SECONDS"
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, QualifiedName):
        return str(value)
    if isinstance(value, tuple):
        return json.dumps(list(value))
    return value
