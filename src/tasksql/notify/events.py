"""Notification events: which messages a settled run produces, and their versioned JSON payloads.

Pure: no I/O, no clock (``now`` is a parameter). :func:`events_for` is called when a run is
settled; the messages it returns are queued with the run outcome in one catalog transaction.

Events and where they go:

* ``TASK_FAILED``: a run failed. To the task's ERROR_INTEGRATION. Not sent under ``ON ERROR
  IGNORE`` (VoltDB: the error is ignored and not logged).
* ``TASK_AUTO_SUSPENDED``: the failed run made the task suspend (SUSPEND_TASK_AFTER_NUM_FAILURES
  reached, or ``ON ERROR STOP``). To ERROR_INTEGRATION, after the run's ``TASK_FAILED``.
* ``TASK_RECOVERED``: the first success after one or more consecutive failures. To
  ERROR_INTEGRATION, so whoever heard of the failures hears of the recovery. Not sent under
  ``ON ERROR IGNORE``, whose failures were never announced.
* ``TASK_SUCCEEDED``: a run succeeded. To the task's SUCCESS_INTEGRATION.

Cancelled and skipped runs produce nothing. An integration that does not exist, is disabled
(``ENABLED = FALSE``) or has no webhook gets no messages: a disabled integration creates none,
while messages queued before it was disabled wait in the outbox until it is enabled again.

Every payload has the fields of the Databend task error payload (``version`` ... ``messages``);
success events carry ``null`` error fields. ``TASK_AUTO_SUSPENDED`` adds ``consecutiveFailures``
and ``TASK_RECOVERED`` adds ``previousFailures``. The payload format is versioned
(:data:`PAYLOAD_VERSION`); :func:`read_payload` refuses a newer major version.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from tasksql.clock import utc
from tasksql.errors import SchemaVersionError, ValidationError
from tasksql.jsontext import MAX_JSON_DEPTH, nesting_beyond
from tasksql.model import IntegrationDef, OnError, RunState, TaskDef
from tasksql.model.outbox import OutboxItem
from tasksql.model.run import RunOutcome, RunRecord

__all__ = [
    "PAYLOAD_VERSION",
    "EventType",
    "OutboxItem",
    "build_payload",
    "error_kind",
    "events_for",
    "read_payload",
]

#: Version of the payload format ("major.minor"); a new minor version only adds fields.
PAYLOAD_VERSION = "1.0"

_FAILED_STATES = (RunState.FAILED, RunState.FAILED_AND_AUTO_SUSPENDED)
_SQLSTATE = re.compile(r"^[0-9A-Z]{5}$")
_ERROR_KINDS = {
    "TIMEOUT_EXCEEDED": "Timeout",
    "NODE_LOST": "NodeLost",
    "INTERNAL_ERROR": "UnexpectedError",
    "WAREHOUSE_ERROR": "WarehouseError",
    "WAREHOUSE_NOT_FOUND": "WarehouseError",
    "QUERY_FAILED": "QueryError",
}


class EventType(StrEnum):
    """The ``messageType`` of a notification."""

    TASK_FAILED = "TASK_FAILED"
    TASK_SUCCEEDED = "TASK_SUCCEEDED"
    TASK_AUTO_SUSPENDED = "TASK_AUTO_SUSPENDED"
    TASK_RECOVERED = "TASK_RECOVERED"


def events_for(
    *,
    task: TaskDef,
    task_id: int,
    root: tuple[str, int] | None,
    run: RunRecord,
    outcome: RunOutcome,
    previous_failures: int,
    auto_suspended: bool,
    now: datetime,
    cluster_id: str,
    integrations: Mapping[str, IntegrationDef],
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> list[OutboxItem]:
    """The messages to queue for a run settled with ``outcome`` (possibly none).

    ``root`` is (name, id) of the task graph's root, ``None`` when the task is its own root.
    ``previous_failures`` is the task's count of consecutive failures before this run;
    ``auto_suspended`` says whether this run made the task suspend. ``integrations`` maps the
    lower-case names of (at least) the task's integrations to their definitions. Each message gets
    a fresh id from ``new_id`` (a uuid4), stable across its delivery attempts, and ``created_at`` =
    ``now``. The module documentation says which events go where.
    """
    items: list[OutboxItem] = []
    for event, integration_name in _wanted(task, outcome.state, previous_failures, auto_suspended):
        integration = _target(integration_name, integrations)
        if integration is None:
            continue
        message_id = new_id()
        payload = build_payload(
            event,
            message_id=message_id,
            task=task,
            task_id=task_id,
            root=root,
            run=run,
            outcome=outcome,
            now=now,
            cluster_id=cluster_id,
            failures=previous_failures + 1 if event is EventType.TASK_AUTO_SUSPENDED else previous_failures,
        )
        items.append(
            OutboxItem(
                message_id=message_id,
                integration=integration.name,
                event_type=event.value,
                payload=payload,
                created_at=utc(now),
            )
        )
    return items


def _wanted(
    task: TaskDef, state: RunState, previous_failures: int, auto_suspended: bool
) -> list[tuple[EventType, str | None]]:
    """The events a run settled in ``state`` produces, each with the integration it goes to."""
    ignored = task.on_error is OnError.IGNORE  # its failures are never announced
    wanted: list[tuple[EventType, str | None]] = []
    if state is RunState.SUCCEEDED:
        wanted.append((EventType.TASK_SUCCEEDED, task.success_integration))
        if previous_failures > 0 and not ignored:
            wanted.append((EventType.TASK_RECOVERED, task.error_integration))
    elif state in _FAILED_STATES:
        if not ignored:
            wanted.append((EventType.TASK_FAILED, task.error_integration))
        if auto_suspended:
            wanted.append((EventType.TASK_AUTO_SUSPENDED, task.error_integration))
    return wanted


def _target(name: str | None, integrations: Mapping[str, IntegrationDef]) -> IntegrationDef | None:
    """The integration a message goes to, or None when it would go nowhere."""
    if not name:
        return None
    integration = integrations.get(name) or integrations.get(name.lower())
    if integration is None or not integration.enabled or integration.webhook is None:
        return None
    return integration


def build_payload(
    event: EventType,
    *,
    message_id: str,
    task: TaskDef,
    task_id: int,
    root: tuple[str, int] | None,
    run: RunRecord,
    outcome: RunOutcome,
    now: datetime,
    cluster_id: str,
    failures: int = 0,
) -> str:
    """The JSON text of one event (compact, keys in the documented order).

    ``failures`` fills ``consecutiveFailures`` (TASK_AUTO_SUSPENDED) or ``previousFailures``
    (TASK_RECOVERED); other events ignore it.
    """
    task_name = str(task.name)
    root_name, root_id = root if root is not None else (task_name, task_id)
    body: dict[str, Any] = {
        "version": PAYLOAD_VERSION,
        "messageId": message_id,
        "messageType": event.value,
        "timestamp": _instant(now),
        "tenantId": cluster_id,
        "taskName": task_name,
        "taskId": str(task_id),
        "rootTaskName": root_name,
        "rootTaskId": str(root_id),
        "messages": [_message(event, run, outcome)],
    }
    if event is EventType.TASK_AUTO_SUSPENDED:
        body["consecutiveFailures"] = failures
    elif event is EventType.TASK_RECOVERED:
        body["previousFailures"] = failures
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _message(event: EventType, run: RunRecord, outcome: RunOutcome) -> dict[str, Any]:
    failed = event in (EventType.TASK_FAILED, EventType.TASK_AUTO_SUSPENDED)
    code = outcome.error_code or run.error_code
    return {
        "runId": str(run.run_id),
        "scheduledTime": _instant(run.scheduled_time),
        "queryStartTime": _instant_opt(outcome.query_start_time or run.query_start_time),
        "completedTime": _instant_opt(outcome.completed_time or run.completed_time),
        "queryId": outcome.query_id or run.query_id,
        "errorKind": error_kind(code) if failed else None,
        "errorCode": code if failed else None,
        "errorMessage": (outcome.error_message or run.error_message) if failed else None,
    }


def error_kind(code: str | None) -> str:
    """The coarse class of a run's error code, for ``errorKind``.

    ``Timeout``, ``NodeLost`` (the node running it stopped), ``WarehouseError``, ``QueryError``
    (the warehouse rejected the statement: a SQLSTATE or ``QUERY_FAILED``), ``UnexpectedError``
    (a bug or an unknown code), and ``TaskError`` for tasksql's own codes.
    """
    if code is None:
        return "UnexpectedError"
    if code in _ERROR_KINDS:
        return _ERROR_KINDS[code]
    if _SQLSTATE.match(code):
        return "QueryError"
    return "TaskError"


def _instant(dt: datetime) -> str:
    """RFC 3339 in UTC with microseconds and ``Z``, like ``2024-03-19T02:37:21.160705Z``."""
    return utc(dt).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _instant_opt(dt: datetime | None) -> str | None:
    return None if dt is None else _instant(dt)


def read_payload(text: str) -> dict[str, Any]:
    """Parse a payload written by :func:`build_payload` (or a receiver's copy of one).

    :raises SchemaVersionError: its major version is newer than :data:`PAYLOAD_VERSION`'s.
    :raises ValidationError: (code ``INVALID_PAYLOAD``) it is not a JSON object with a version.
    """
    if nesting_beyond(text) is not None:  # a receiver reads what anyone may send: no deep recursion
        raise ValidationError(
            f"the payload nests arrays and objects deeper than {MAX_JSON_DEPTH} levels",
            code="INVALID_PAYLOAD",
        )
    try:
        data = json.loads(text)
    except ValueError:
        raise ValidationError("the payload is not JSON", code="INVALID_PAYLOAD") from None
    if not isinstance(data, dict) or not isinstance(data.get("version"), str):
        raise ValidationError("the payload is not an object with a version", code="INVALID_PAYLOAD")
    major = data["version"].partition(".")[0]
    if not major.isdigit():
        raise ValidationError(f"bad payload version {data['version']!r}", code="INVALID_PAYLOAD")
    if int(major) > int(PAYLOAD_VERSION.partition(".")[0]):
        raise SchemaVersionError(
            f"this notification payload has version {data['version']}; this tasksql reads versions "
            f"up to {PAYLOAD_VERSION}: upgrade tasksql"
        )
    return data
