"""Job bodies of the SQLite catalog for the notification outbox and its delivery history.

Plain functions of a ``sqlite3.Connection``, run by the writer thread (inside the group
transaction) or a reader thread; see :mod:`tasksql.catalog.sqlite` for the rules they follow.
Payloads are stored and returned as given; nothing here logs them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from tasksql.catalog.outbox import (
    AttemptResult,
    DeliveryAttempt,
    DeliveryRecord,
    OutboxItem,
    OutboxMessage,
    OutboxState,
)
from tasksql.catalog.queries import load_queries
from tasksql.catalog.rows import Row, db_time, db_time_opt, from_db_time, from_db_time_opt

_Q: dict[str, str] = {name: query.sql for name, query in load_queries("sqlite").items()}

_STATE_AFTER = {
    AttemptResult.DELIVERED: OutboxState.DELIVERED,
    AttemptResult.RETRY: OutboxState.PENDING,
    AttemptResult.GIVE_UP: OutboxState.FAILED,
}


def enqueue(conn: sqlite3.Connection, items: Sequence[OutboxItem]) -> None:
    """Queue messages, due at their ``created_at``; an id already stored is left as it is."""
    if items:
        conn.executemany(_Q["outbox_insert"], [_item_params(item) for item in items])


def _item_params(item: OutboxItem) -> dict[str, Any]:
    return {
        "message_id": item.message_id,
        "integration": item.integration,
        "event_type": str(item.event_type),
        "payload": item.payload,
        "created_at": db_time(item.created_at),
    }


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
    messages = [message(row) for row in conn.execute(_Q["outbox_claim"], params).fetchall()]
    # RETURNING gives no order; hand them out earliest due first, as they were chosen.
    messages.sort(key=lambda m: (m.next_attempt_at, m.created_at, m.message_id))
    return messages


def next_due(conn: sqlite3.Connection) -> datetime | None:
    row = conn.execute(_Q["outbox_next_due"]).fetchone()
    return None if row is None else from_db_time_opt(row[0])


def record(conn: sqlite3.Connection, attempt: DeliveryAttempt) -> bool:
    """Insert the history row of ``attempt`` and settle the message if its holder may still do so."""
    delivered = attempt.result is AttemptResult.DELIVERED
    updated = conn.execute(
        _Q["outbox_record"],
        {
            "message_id": attempt.message_id,
            "node_id": attempt.node_id,
            "state": _STATE_AFTER[attempt.result].value,
            "attempt": attempt.attempt,
            "retry_at": db_time_opt(attempt.retry_at) if attempt.result is AttemptResult.RETRY else None,
            "error": None if delivered else attempt.error,
            "delivered_at": db_time(attempt.sent_at) if delivered else None,
        },
    ).fetchall()
    conn.execute(
        _Q["notification_history_insert"],
        {
            "message_id": attempt.message_id,
            "attempt": attempt.attempt,
            "status_code": attempt.status_code,
            "error": attempt.error,
            "sent_at": db_time(attempt.sent_at),
            "duration_ms": attempt.duration_ms,
        },
    )
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
    return [message(row) for row in conn.execute(_Q["outbox_list"], params)]


def prune(conn: sqlite3.Connection, cutoff: datetime) -> int:
    """Delete settled messages created before ``cutoff`` and their attempts; returns how many messages."""
    params = {"cutoff": db_time(cutoff)}
    conn.execute(_Q["notification_history_prune"], params)
    return conn.execute(_Q["outbox_prune"], params).rowcount


def message(row: Row) -> OutboxMessage:
    return OutboxMessage(
        message_id=row["message_id"],
        integration=row["integration"],
        event_type=row["event_type"],
        payload=row["payload"],
        created_at=from_db_time(row["created_at"]),
        state=OutboxState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=from_db_time(row["next_attempt_at"]),
        leased_by=row["leased_by"],
        lease_until=from_db_time_opt(row["lease_until"]),
        last_error=row["last_error"],
        delivered_at=from_db_time_opt(row["delivered_at"]),
    )


def delivery_record(row: Row) -> DeliveryRecord:
    return DeliveryRecord(
        message_id=row["message_id"],
        integration=row["integration"],
        event_type=row["event_type"],
        attempt=row["attempt"],
        status_code=row["status_code"],
        error=row["error"],
        sent_at=from_db_time(row["sent_at"]),
        duration_ms=row["duration_ms"],
        state=None if row["state"] is None else OutboxState(row["state"]),
    )
