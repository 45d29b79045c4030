"""Job bodies for the notification outbox and its delivery history.

Claims take due messages under a lease (PostgreSQL selects them ``FOR UPDATE SKIP LOCKED``, so
dispatchers of several nodes claiming at once take different messages and none waits for another;
on SQLite the write lock serialises claims). Payloads are stored and returned as given; nothing
here logs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from tasksql.catalog.dialect import CatalogDialect
from tasksql.catalog.rows import (
    attempt_history_params,
    attempt_record_params,
    db_time,
    delivery_record,
    from_db_time_opt,
    outbox_item_params,
    outbox_message,
)
from tasksql.catalog.writer import D
from tasksql.model.outbox import DeliveryAttempt, DeliveryRecord, OutboxItem, OutboxMessage, OutboxState


def enqueue(sql: CatalogDialect[D], db: D, items: Sequence[OutboxItem]) -> None:
    """Queue messages, due at their ``created_at``; an id already stored is left as it is."""
    if items:
        sql.many(db, "outbox_insert", [outbox_item_params(item) for item in items])


def claim(
    sql: CatalogDialect[D], db: D, node_id: str, now: datetime, lease_seconds: float, limit: int
) -> list[OutboxMessage]:
    """Lease up to ``limit`` due messages to ``node_id``."""
    params = {
        "node_id": node_id,
        "now": db_time(now),
        "lease_until": db_time(now + timedelta(seconds=lease_seconds)),
        "limit": limit,
    }
    messages = [outbox_message(row) for row in sql.rows(db, "outbox_claim", params)]
    # RETURNING gives no order; hand them out earliest due first, as they were chosen.
    messages.sort(key=lambda m: (m.next_attempt_at, m.created_at, m.message_id))
    return messages


def next_due(sql: CatalogDialect[D], db: D) -> datetime | None:
    row = sql.first(db, "outbox_next_due")
    return None if row is None else from_db_time_opt(row["due"])


def record(sql: CatalogDialect[D], db: D, attempt: DeliveryAttempt) -> bool:
    """Insert the history row of ``attempt`` and settle the message if its holder may still do so."""
    updated = sql.count(db, "outbox_record", attempt_record_params(attempt)) > 0
    sql.execute(db, "notification_history_insert", attempt_history_params(attempt))
    return updated


def history(
    sql: CatalogDialect[D], db: D, message_id: str | None, integration: str | None, limit: int | None
) -> list[DeliveryRecord]:
    params = {"message_id": message_id, "integration": integration, "limit": sql.limit(limit)}
    return [delivery_record(row) for row in sql.rows(db, "notification_history_list", params)]


def list_messages(
    sql: CatalogDialect[D], db: D, state: OutboxState | None, limit: int | None
) -> list[OutboxMessage]:
    params = {"state": None if state is None else state.value, "limit": sql.limit(limit)}
    return [outbox_message(row) for row in sql.rows(db, "outbox_list", params)]


def prune(sql: CatalogDialect[D], db: D, cutoff: datetime) -> int:
    """Delete settled messages created before ``cutoff`` and their attempts; returns how many messages."""
    params = {"cutoff": db_time(cutoff)}
    sql.execute(db, "notification_history_prune", params)
    return sql.count(db, "outbox_prune", params)
