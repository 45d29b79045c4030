"""Triggered tasks (Snowflake): a task without SCHEDULE that runs when its stream gets data.

A task is *triggered* when it has no SCHEDULE of its own (no SCHEDULE, not AFTER another task, not
a finalizer) and its WHEN names ``SYSTEM$STREAM_HAS_DATA('s')`` or ``STREAM_STATUS('s')``. The
scheduler checks the state of those streams (nothing else of the WHEN) and fires a run, recorded
with ``scheduled_from = 'TRIGGER'``, when one of them has data; two trigger instants of one task are
at least :func:`min_trigger_interval` apart (``USER_TASK_MINIMUM_TRIGGER_INTERVAL_IN_SECONDS``,
default 30 as in Snowflake). Pure values, no I/O: the engine (first instant) and the scheduler
(:mod:`tasksql.scheduler.triggers`) share them.
"""

from __future__ import annotations

import re
from datetime import timedelta

from tasksql.model.task import TaskDef

#: Snowflake's default of USER_TASK_MINIMUM_TRIGGER_INTERVAL_IN_SECONDS.
DEFAULT_MIN_TRIGGER_INTERVAL_S = 30

#: The stream functions of a WHEN, with the quoted stream name as group 1 (the same spelling
#: :mod:`tasksql.warehouses.streams` binds).
STREAM_FUNCTION = re.compile(
    r"""(?i)\b(?:system\$stream_has_data|stream_status)\s*\(\s*'((?:[^']|'')*)'\s*\)"""
)


def triggered(task: TaskDef) -> bool:
    """Whether ``task`` runs when its streams get data (see the module's docstring)."""
    return (
        task.schedule is None
        and not task.after
        and task.finalize is None
        and task.when is not None
        and STREAM_FUNCTION.search(task.when) is not None
    )


def trigger_streams(task: TaskDef) -> tuple[str, ...]:
    """The stream names (as written inside the quotes, doubled quotes undone) the WHEN of a
    triggered task checks, in order, each once."""
    if task.when is None:
        return ()
    found = [m.group(1).replace("''", "'") for m in STREAM_FUNCTION.finditer(task.when)]
    return tuple(dict.fromkeys(found))


def min_trigger_interval(task: TaskDef) -> timedelta:
    """The least time between two trigger instants of ``task``."""
    return timedelta(seconds=task.min_trigger_interval_s or DEFAULT_MIN_TRIGGER_INTERVAL_S)
