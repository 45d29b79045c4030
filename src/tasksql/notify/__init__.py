"""Notifications: events built when runs settle, an outbox in the catalog, and webhook delivery.

* :mod:`tasksql.notify.events`: which messages a settled run produces, and their JSON payloads;
* :mod:`tasksql.notify.webhook`: one HTTP delivery attempt, and the HMAC signature;
* :mod:`tasksql.notify.backoff`: when a failed delivery is retried or given up;
* :mod:`tasksql.notify.dispatcher`: the background task that delivers the outbox.
"""

from __future__ import annotations

from tasksql.model.outbox import OutboxItem
from tasksql.notify.backoff import RetryPolicy
from tasksql.notify.dispatcher import NotificationDispatcher, start_dispatcher
from tasksql.notify.events import PAYLOAD_VERSION, EventType, build_payload, events_for, read_payload
from tasksql.notify.webhook import WebhookFailed, sign, verify_signature

__all__ = [
    "PAYLOAD_VERSION",
    "EventType",
    "NotificationDispatcher",
    "OutboxItem",
    "RetryPolicy",
    "WebhookFailed",
    "build_payload",
    "events_for",
    "read_payload",
    "sign",
    "start_dispatcher",
    "verify_signature",
]
