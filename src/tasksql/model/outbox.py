"""The notification outbox as the catalog stores it: values only, no I/O.

A notification is written to the outbox in the same transaction as the run outcome that caused it
(:meth:`~tasksql.catalog.base.Catalog.finish_run`), so a run is never recorded without its
notifications, nor a notification sent for a run that was not recorded. A dispatcher then claims
due messages with a lease, delivers them, and records every attempt.

These types live beside the catalog contract (not in :mod:`tasksql.notify`) because the catalog,
which sits below the notifier, must name them; :mod:`tasksql.notify.events` builds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tasksql.errors import CatalogError


class OutboxState(StrEnum):
    """Where a message is in its life: waiting (or being retried), delivered, or given up."""

    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class AttemptResult(StrEnum):
    """What one delivery attempt decided: the message is done, is tried again later, or never."""

    DELIVERED = "DELIVERED"
    RETRY = "RETRY"
    GIVE_UP = "GIVE_UP"


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxItem:
    """A message to queue.

    ``message_id`` (uuid4 text) identifies the message for life: every delivery attempt sends the
    same id, so a receiver can de-duplicate. ``payload`` is the JSON text sent as the request body;
    ``event_type`` is its ``messageType`` (``TASK_FAILED``, ...). The message is due at ``created_at``.
    """

    message_id: str
    integration: str
    event_type: str
    payload: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxMessage:
    """A stored message. ``attempts`` counts recorded attempts; ``next_attempt_at`` is when it is
    next due (while PENDING); ``leased_by``/``lease_until`` name the dispatcher holding it."""

    message_id: str
    integration: str
    event_type: str
    payload: str
    created_at: datetime
    state: OutboxState
    attempts: int
    next_attempt_at: datetime
    leased_by: str | None = None
    lease_until: datetime | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryAttempt:
    """One attempt to record, by the dispatcher ``node_id`` that claimed the message.

    ``attempt`` is the attempt's number (1 for the first). ``status_code`` is the receiver's HTTP
    status when it answered; ``error`` says why the attempt failed (``None`` when delivered).
    ``retry_at`` is required with :attr:`AttemptResult.RETRY` and ignored otherwise.
    """

    message_id: str
    node_id: str
    attempt: int
    result: AttemptResult
    sent_at: datetime
    duration_ms: float
    status_code: int | None = None
    error: str | None = None
    retry_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.result is AttemptResult.RETRY and self.retry_at is None:
            raise CatalogError("a RETRY attempt needs retry_at", code="INVALID_ATTEMPT")
        if self.attempt < 1:
            raise CatalogError(f"attempt numbers start at 1, not {self.attempt}", code="INVALID_ATTEMPT")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryRecord:
    """One row of the delivery history, with the message's event type and current state (``None``
    for both when the message itself is gone)."""

    message_id: str
    integration: str
    event_type: str | None
    attempt: int
    status_code: int | None
    error: str | None
    sent_at: datetime
    duration_ms: float | None
    state: OutboxState | None
