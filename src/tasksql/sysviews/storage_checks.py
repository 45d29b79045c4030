"""``system.storage_checks``: what check_disk runs checked, one row per object, oldest first: the
run and node, the object (its kind and storage id), the check that ran, the result (OK, DAMAGED,
FIXED, SKIPPED) and what was found (see :mod:`tasksql.scheduler.check_disk`)."""

from __future__ import annotations

import pyarrow as pa

from tasksql.sysviews.tables import Introspection, table_from_rows

TS = pa.timestamp("us", tz="UTC")

STORAGE_CHECKS_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("run_id", pa.int64()),
        ("task_id", pa.int64()),
        ("task_name", pa.string()),
        ("node_id", pa.string()),
        ("object_kind", pa.string()),
        ("storage_id", pa.string()),
        ("check_name", pa.string()),
        ("result", pa.string()),
        ("detail", pa.string()),
        ("checked_at", TS),
    ]
)


async def storage_checks_table(
    ctx: Introspection, named: dict[str, object], positional: list[object]
) -> pa.Table:
    rows = [
        (
            c.check_id,
            c.run_id,
            c.task_id,
            c.task_name,
            c.node_id,
            c.object_kind,
            c.storage_id,
            c.check,
            c.result.value,
            c.detail,
            c.checked_at,
        )
        for c in await ctx.catalog.list_storage_checks()
    ]
    return table_from_rows(STORAGE_CHECKS_SCHEMA, rows)
