"""``system.subtasks``: the sub-tasks of maintenance runs (Ocient's ``sys.subtasks``), one
row each, oldest first: the task and run they belong to, the node that executes them, their
state and progress, times and error (see :mod:`tasksql.model.subtask`)."""

from __future__ import annotations

import pyarrow as pa

from tasksql.sysviews.tables import Introspection, table_from_rows

TS = pa.timestamp("us", tz="UTC")

SUBTASKS_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("task_id", pa.int64()),
        ("task_name", pa.string()),
        ("run_id", pa.int64()),
        ("task_type", pa.string()),
        ("location", pa.string()),
        ("node_id", pa.string()),
        ("state", pa.string()),
        ("progress", pa.float64()),
        ("items_done", pa.int64()),
        ("items_total", pa.int64()),
        ("created_at", TS),
        ("started_at", TS),
        ("completed_time", TS),
        ("error_code", pa.string()),
        ("error_message", pa.string()),
    ]
)


async def subtasks_table(ctx: Introspection, named: dict[str, object], positional: list[object]) -> pa.Table:
    rows = [
        (
            s.subtask_id,
            s.task_id,
            s.task_name,
            s.run_id,
            s.task_type,
            s.location,
            s.node_id,
            s.state.value,
            s.progress,
            s.items_done,
            s.items_total,
            s.created_at,
            s.started_at,
            s.completed_time,
            s.error_code,
            s.error_message,
        )
        for s in await ctx.catalog.list_subtasks()
    ]
    return table_from_rows(SUBTASKS_SCHEMA, rows)
