"""Job bodies of the SQLite catalog for the notification outbox and its delivery history.

Plain functions of a ``sqlite3.Connection``, run by the writer thread (inside the group
transaction) or a reader thread; see :mod:`tasksql.catalog.sqlite` for the rules they follow.
Payloads are stored and returned as given; nothing here logs them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta

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

_Q: dict[str, str] = {name: query.sql for name, query in load_queries("sqlite").items()}


def enqueue(conn: sqlite3.Connection, items: Sequence[OutboxItem]) -> None:
    """Queue messages, due at their ``created_at``; an id already stored is left as it is."""
    if items:
        conn.executemany(_Q["outbox_insert"], [outbox_item_params(item) for item in items])


def claim(
    conn: sqlite3.Connection, node_id: str, now: datetime, lease_seconds: float, limit: int
) -> list[OutboxMessage]:
    """Lease up to ``limit`` due messages to ``node_id`` (the caller's transaction is the lock)."""
    params = {
        "node_id": node_id,
        "now": db_time(now),
        "lease_until": db_time(now + timedelta(seconds=lease_seconds)),
        "limit": limit,
    }
    messages = [outbox_message(row) for row in conn.execute(_Q["outbox_claim"], params).fetchall()]
    # RETURNING gives no order; hand them out earliest due first, as they were chosen.
    messages.sort(key=lambda m: (m.next_attempt_at, m.created_at, m.message_id))
    return messages


def next_due(conn: sqlite3.Connection) -> datetime | None:
    row = conn.execute(_Q["outbox_next_due"]).fetchone()
    return None if row is None else from_db_time_opt(row[0])


def record(conn: sqlite3.Connection, attempt: DeliveryAttempt) -> bool:
    """Insert the history row of ``attempt`` and settle the message if its holder may still do so."""
    updated = conn.execute(_Q["outbox_record"], attempt_record_params(attempt)).fetchall()
    conn.execute(_Q["notification_history_insert"], attempt_history_params(attempt))
    return bool(updated)


def history(
    conn: sqlite3.Connection, message_id: str | None, integration: str | None, limit: int | None
) -> list[DeliveryRecord]:
    params = {
        "message_id": message_id,
        "integration": integration,
        "limit": -1 if limit is None else limit,
    }
    return [delivery_record(row) for row in conn.execute(_Q["notification_history_list"], params)]


def list_messages(
    conn: sqlite3.Connection, state: OutboxState | None, limit: int | None
) -> list[OutboxMessage]:
    params = {"state": None if state is None else state.value, "limit": -1 if limit is None else limit}
    return [outbox_message(row) for row in conn.execute(_Q["outbox_list"], params)]


def prune(conn: sqlite3.Connection, cutoff: datetime) -> int:
    """Delete settled messages created before ``cutoff`` and their attempts; returns how many messages."""
    params = {"cutoff": db_time(cutoff)}
    conn.execute(_Q["notification_history_prune"], params)
    return conn.execute(_Q["outbox_prune"], params).rowcount
