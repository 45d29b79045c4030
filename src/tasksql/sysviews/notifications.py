"""``system.notification_history``: every webhook delivery attempt, newest first.

One row per attempt, with the message's event type and its current state (PENDING while it is
being retried, DELIVERED, or FAILED when given up). It shows no payloads, URLs or headers, so no
secret can leak through it.

After tasksql's columns come Databend's, under Databend's names (databendlabs/databend
src/query/storages/system/src/notification_history_table.rs, whose schema is
``notification_history_schema()``): ``created_on`` (when the message was queued),
``processed`` (when the attempt was made), ``message_source`` (``TASK``), ``integration_name``,
``message`` (the event type: the payload is not shown), ``status`` (Snowflake's and Databend's
words: ``QUEUED``, ``SUCCESS``, ``RETRIABLE_FAILURE``, ``FAILURE``) and ``error_message`` (``''``
when none).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from tasksql.model.outbox import DeliveryRecord, OutboxState
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
        ("created_on", TS),
        ("processed", TS),
        ("message_source", pa.string()),
        ("integration_name", pa.string()),
        ("message", pa.string()),
        ("status", pa.string()),
        ("error_message", pa.string()),
    ]
)


def _status(record: DeliveryRecord) -> str:
    """Databend's (and Snowflake's) status of one attempt."""
    if record.error is None:
        return "SUCCESS"
    if record.state is OutboxState.FAILED:
        return "FAILURE"
    return "RETRIABLE_FAILURE"


async def notification_history_table(
    ctx: Introspection, named: dict[str, object], positional: list[object]
) -> pa.Table:
    """Every retained delivery attempt (``system.notification_history``)."""
    history = await ctx.catalog.notification_history()
    created = {m.message_id: m.created_at for m in await ctx.catalog.list_notifications()} if history else {}
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
            created.get(r.message_id),
            r.sent_at,
            "TASK",
            r.integration,
            r.event_type,
            _status(r),
            r.error or "",
        )
        for r in history
    ]
    return table_from_rows(NOTIFICATION_HISTORY_SCHEMA, rows)
