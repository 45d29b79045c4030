"""``system.notification_history``: every webhook delivery attempt, newest first.

One row per attempt, with the message's event type and its current state (PENDING while it is
being retried, DELIVERED, or FAILED when given up). It shows no payloads, URLs or headers, so no
secret can leak through it.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from tasksql.sysviews.tables import Introspection, table_from_rows

TS = pa.timestamp("us", tz="UTC")

NOTIFICATION_HISTORY_SCHEMA = pa.schema(
    [
        ("message_id", pa.string()),
        ("integration", pa.string()),
        ("event_type", pa.string()),
        ("attempt", pa.int64()),
        ("status_code", pa.int64()),
        ("error", pa.string()),
        ("sent_at", TS),
        ("duration_ms", pa.float64()),
        ("state", pa.string()),
    ]
)


async def notification_history_table(
    ctx: Introspection, named: dict[str, object], positional: list[object]
) -> pa.Table:
    """Every retained delivery attempt (``system.notification_history``)."""
    rows: list[tuple[Any, ...]] = [
        (
            r.message_id,
            r.integration,
            r.event_type,
            r.attempt,
            r.status_code,
            r.error,
            r.sent_at,
            r.duration_ms,
            None if r.state is None else r.state.value,
        )
        for r in await ctx.catalog.notification_history()
    ]
    return table_from_rows(NOTIFICATION_HISTORY_SCHEMA, rows)
