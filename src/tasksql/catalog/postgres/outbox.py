"""Job bodies of the PostgreSQL catalog for the notification outbox and its delivery history.

Plain functions of a psycopg cursor (see :mod:`tasksql.catalog.postgres.runs`). Claims select
with ``FOR UPDATE SKIP LOCKED``: dispatchers of several nodes claiming at once take different
messages, and none waits for another. Payloads are stored and returned as given; nothing here logs
them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from tasksql.catalog.postgres.connect import Cursor
from tasksql.catalog.queries import load_queries
from tasksql.catalog.rows import (
    attempt_history_params,
    attempt_record_params,
    db_time,
    delivery_record,
    from_db_time_opt,
    outbox_item_params,
    outbox_message,
)
from tasksql.model.outbox import DeliveryAttempt, DeliveryRecord, OutboxItem, OutboxMessage, OutboxState

_Q: dict[str, str] = {name: query.sql for name, query in load_queries("postgres").items()}


def enqueue(cur: Cursor, items: Sequence[OutboxItem]) -> None:
    """Queue messages, due at their ``created_at``; an id already stored is left as it is."""
    if items:
        cur.executemany(_Q["outbox_insert"], [outbox_item_params(item) for item in items])


def claim(cur: Cursor, node_id: str, now: datetime, lease_seconds: float, limit: int) -> list[OutboxMessage]:
    """Lease up to ``limit`` due messages to ``node_id``."""
    params = {
        "node_id": node_id,
        "now": db_time(now),
        "lease_until": db_time(now + timedelta(seconds=lease_seconds)),
        "limit": limit,
    }
    cur.execute(_Q["outbox_claim"], params)
    messages = [outbox_message(row) for row in cur.fetchall()]
    # RETURNING gives no order; hand them out earliest due first, as they were chosen.
    messages.sort(key=lambda m: (m.next_attempt_at, m.created_at, m.message_id))
    return messages


def next_due(cur: Cursor) -> datetime | None:
    cur.execute(_Q["outbox_next_due"])
    row = cur.fetchone()
    return None if row is None else from_db_time_opt(row["due"])


def record(cur: Cursor, attempt: DeliveryAttempt) -> bool:
    """Insert the history row of ``attempt`` and settle the message if its holder may still do so."""
    cur.execute(_Q["outbox_record"], attempt_record_params(attempt))
    updated = cur.rowcount > 0
    cur.execute(_Q["notification_history_insert"], attempt_history_params(attempt))
    return updated


def history(
    cur: Cursor, message_id: str | None, integration: str | None, limit: int | None
) -> list[DeliveryRecord]:
    params = {"message_id": message_id, "integration": integration, "limit": limit}
    cur.execute(_Q["notification_history_list"], params)
    return [delivery_record(row) for row in cur]


def list_messages(cur: Cursor, state: OutboxState | None, limit: int | None) -> list[OutboxMessage]:
    cur.execute(_Q["outbox_list"], {"state": None if state is None else state.value, "limit": limit})
    return [outbox_message(row) for row in cur]


def prune(cur: Cursor, cutoff: datetime) -> int:
    """Delete settled messages created before ``cutoff`` and their attempts; returns how many messages."""
    params = {"cutoff": db_time(cutoff)}
    cur.execute(_Q["notification_history_prune"], params)
    cur.execute(_Q["outbox_prune"], params)
    return cur.rowcount
