"""A task's next run instants, as ``next_runs('<task>', n)`` lists them, for a task record.

``next_runs`` names its task by a string, which cannot hold a name part with dots in it; the API's
``/tasks/{name}/next_runs`` and the task page start from the task's record instead and list the
same rows from the same schedule code (:func:`tasksql.schedules.next_runs`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tasksql import schedules
from tasksql.model import TaskRecord

#: The columns of ``next_runs(...)``, in its order.
COLUMNS = ("task_name", "n", "scheduled_time", "local_time", "timezone", "note")


def next_run_rows(rec: TaskRecord, n: int, after: datetime) -> list[dict[str, Any]]:
    """The first ``n`` instants of ``rec``'s schedule after ``after`` (none for a task without a
    schedule or run after a predecessor), each a dict of :data:`COLUMNS`."""
    task = rec.definition
    if task.schedule is None or task.after:
        return []
    fires = schedules.next_runs(
        task.schedule, n, after=after, anchor=rec.resumed_on or rec.created_on, dst_policy=task.dst_policy
    )
    tz = getattr(task.schedule, "timezone", "UTC")
    return [
        dict(zip(COLUMNS, (rec.name.name, i, f.utc, f.local.isoformat(), tz, f.note), strict=True))
        for i, f in enumerate(fires, 1)
    ]
