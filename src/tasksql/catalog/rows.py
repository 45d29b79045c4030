"""Conversions between catalog rows and model values, shared by every backend.

A row is anything indexable by column name (``sqlite3.Row``, a ``dict`` from psycopg); column names
are those of ``sql/<dialect>/schema.sql``, the same for every backend. Parameters built here are
dicts keyed by the same names. Instants are passed as UTC ISO-8601 text with microseconds and a
``Z`` suffix (``2026-01-01T00:00:00.000000Z``): SQLite stores that text (fixed width, so comparing
the text compares the instants), PostgreSQL reads it into ``timestamptz``. Read back, an instant is
that text or a ``datetime``; :func:`from_db_time` takes either.
"""

from __future__ import annotations

import json
import sys
import threading
import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from tasksql.catalog.records import IntegrationRecord, TaskStub, TaskVersion, WarehouseRecord
from tasksql.clock import utc
from tasksql.errors import CatalogError
from tasksql.model import (
    IntegrationDef,
    QualifiedName,
    RunState,
    ScheduledFrom,
    Spelling,
    SuspendReason,
    TaskDef,
    TaskRecord,
    TaskState,
    WarehouseDef,
    WarehouseType,
    Webhook,
    task_from_json,
    task_to_json,
)
from tasksql.model.outbox import (
    AttemptResult,
    DeliveryAttempt,
    DeliveryRecord,
    OutboxItem,
    OutboxMessage,
    OutboxState,
)
from tasksql.model.run import (
    GraphRunEnd,
    GraphRunRecord,
    NewGraphRun,
    NewRun,
    NodeRecord,
    RunOutcome,
    RunRecord,
    TaskRuntime,
    settling,
    transition,
)


class Row(Protocol):
    def __getitem__(self, key: str, /) -> Any: ...
    def keys(self) -> Iterable[str]: ...


# --- instants ------------------------------------------------------------------------------------


def db_time(dt: datetime) -> str:
    """``dt`` as stored: UTC, microseconds, ``Z``. A naive ``dt`` is taken to be UTC."""
    tz = dt.tzinfo
    if tz is UTC:  # the usual case (the scheduler's times), without two intermediate datetimes
        return dt.isoformat(timespec="microseconds")[:-6] + "Z"
    if tz is None:
        return dt.isoformat(timespec="microseconds") + "Z"
    return utc(dt).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def reason_value(reason: SuspendReason | None) -> str | None:
    """A suspend reason as stored (``None`` stays ``None``)."""
    return None if reason is None else reason.value


def db_time_opt(dt: datetime | None) -> str | None:
    return None if dt is None else db_time(dt)


def from_db_time(value: str | datetime) -> datetime:
    """Inverse of :func:`db_time`: an aware UTC datetime (the ``Z`` suffix gives ``tzinfo=UTC``; text
    without an offset is read as UTC). A ``datetime`` (a ``timestamptz`` column) is returned in UTC."""
    if isinstance(value, str):
        dt = datetime.fromisoformat(value)
        return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def from_db_time_opt(text: str | datetime | None) -> datetime | None:
    return None if text is None else from_db_time(text)


# --- tasks ---------------------------------------------------------------------------------------


def name_columns(name: QualifiedName) -> dict[str, str]:
    """The ``database_name``, ``schema_name`` and ``name`` columns of a resolved name.

    :raises CatalogError: (code ``NAME_NOT_RESOLVED``) database or schema is missing.
    """
    database, schema = name.database, name.schema
    if database is None or schema is None or not name.name:
        raise CatalogError(
            f"task name {name} must be resolved to database.schema.name before it reaches the catalog",
            code="NAME_NOT_RESOLVED",
        )
    return {"database_name": database, "schema_name": schema, "name": name.name}


def parse_definition(text: str) -> TaskDef:
    """:func:`task_from_json`, memoised: a stored definition text is parsed once per process (the
    result is a frozen value, safe to share), so listing many tasks costs a fetch, not a parse each.

    The memo is keyed by a fingerprint of the text (its length, Python's 64-bit string hash and a
    CRC-32), not by the text itself: a definition text is a few hundred bytes, and keeping one per
    task alive as a key would cost more memory than the scheduler's whole entry for that task.
    Any thread; the oldest entry goes first when the memo is full.
    """
    key = (len(text), hash(text), zlib.crc32(text.encode()))
    found = _DEFINITIONS.get(key)
    if found is None:
        found = task_from_json(text)
        with _DEFINITIONS_LOCK:
            while len(_DEFINITIONS) >= DEFINITION_MEMO_SIZE:
                del _DEFINITIONS[next(iter(_DEFINITIONS))]  # insertion order: the oldest first
            _DEFINITIONS[key] = found
    return found


def forget_definitions() -> None:
    """Empty the memo of :func:`parse_definition` (a process that starts afresh has none)."""
    with _DEFINITIONS_LOCK:
        _DEFINITIONS.clear()


#: Definitions remembered by :func:`parse_definition`: the recently read ones (a scheduler keeps the
#: records of the tasks it runs often itself; see scheduler.cache).
DEFINITION_MEMO_SIZE = 8_192
_DEFINITIONS: dict[tuple[int, int, int], TaskDef] = {}
_DEFINITIONS_LOCK = threading.Lock()


def definition_json(definition: TaskDef) -> str:
    """The stored form of a definition (``task_to_json``), after checking its name is resolved."""
    name_columns(definition.name)
    return task_to_json(definition)


def task_record(row: Row, definition: TaskDef | None = None) -> TaskRecord:
    """The :class:`TaskRecord` of a ``tasks`` row; ``definition``: the one its text was written
    from, when the caller has it (no need to parse what was just serialised)."""
    reason = row["suspend_reason"]
    return TaskRecord(
        id=row["id"],
        definition=parse_definition(row["definition"]) if definition is None else definition,
        version=row["version"],
        state=TaskState(row["state"]),
        spelling=Spelling(row["spelling"]),
        owner=sys.intern(row["owner"]),  # a few owners, many tasks: one string each
        created_on=from_db_time(row["created_on"]),
        last_committed_on=from_db_time(row["last_committed_on"]),
        suspend_reason=None if reason is None else SuspendReason(reason),
        last_suspended_on=from_db_time_opt(row["last_suspended_on"]),
        resumed_on=from_db_time_opt(row["resumed_on"]),
        next_fire_at=from_db_time_opt(row["next_fire_at"]),
        consecutive_failures=row["consecutive_failures"],
    )


def task_stub(row: Row) -> TaskStub:
    """The :class:`TaskStub` of a ``task_stubs`` row."""
    reason = row["suspend_reason"]
    return TaskStub(
        id=row["id"],
        version=row["version"],
        state=TaskState(row["state"]),
        suspend_reason=None if reason is None else SuspendReason(reason),
        resumed_on=from_db_time_opt(row["resumed_on"]),
        last_committed_on=from_db_time(row["last_committed_on"]),
        next_fire_at=from_db_time_opt(row["next_fire_at"]),
        consecutive_failures=row["consecutive_failures"],
        in_graph=bool(row["in_graph"]),
    )


def task_version(row: Row) -> TaskVersion:
    """The :class:`TaskVersion` of a ``task_versions`` row."""
    return TaskVersion(
        task_id=row["task_id"],
        version=row["version"],
        definition=parse_definition(row["definition"]),
        created_on=from_db_time(row["created_on"]),
        actor=row["actor"],
        canonical_sql=row["canonical_sql"],
    )


# --- integrations --------------------------------------------------------------------------------


def integration_columns(definition: IntegrationDef) -> dict[str, Any]:
    """The ``integrations`` columns of a definition (without the timestamps)."""
    hook = definition.webhook
    return {
        "name": definition.name,
        "type": definition.type,
        "enabled": definition.enabled,  # SQLite stores 1/0, PostgreSQL a boolean
        "webhook_url": hook.url if hook else None,
        "webhook_method": hook.method if hook else None,
        "webhook_authorization_header": hook.authorization_header if hook else None,
        "webhook_signing_secret": hook.signing_secret if hook else None,
        "webhook_body_template": hook.body_template if hook else None,
        "comment": definition.comment,
        "webhook_secret": secret_key(definition.webhook_secret) if definition.webhook_secret else None,
    }


def integration_def(row: Row) -> IntegrationDef:
    """The :class:`IntegrationDef` of an ``integrations`` row."""
    hook = None
    if row["webhook_url"] is not None:
        hook = Webhook(
            url=row["webhook_url"],
            method=row["webhook_method"] or "POST",
            authorization_header=row["webhook_authorization_header"],
            signing_secret=row["webhook_signing_secret"],
            body_template=row["webhook_body_template"],
        )
    secret = row["webhook_secret"]
    return IntegrationDef(
        name=row["name"],
        type=row["type"],
        enabled=bool(row["enabled"]),
        webhook=hook,
        comment=row["comment"],
        webhook_secret=QualifiedName.from_key(secret) if secret else None,
    )


def secret_key(name: QualifiedName) -> str:
    """The catalog key of a resolved secret name (:attr:`QualifiedName.key`).

    :raises CatalogError: (code ``NAME_NOT_RESOLVED``) database or schema is missing.
    """
    if name.database is None or name.schema is None or not name.name:
        raise CatalogError(
            f"secret name {name} must be resolved to database.schema.name before it reaches the catalog",
            code="NAME_NOT_RESOLVED",
        )
    return name.key


def integration_record(row: Row) -> IntegrationRecord:
    return IntegrationRecord(
        definition=integration_def(row),
        created_on=from_db_time(row["created_on"]),
        last_altered_on=from_db_time(row["last_altered_on"]),
    )


# --- warehouses ----------------------------------------------------------------------------------


def warehouse_columns(definition: WarehouseDef) -> dict[str, Any]:
    """The ``warehouses`` columns of a definition (without the timestamps)."""
    return {
        "name": definition.name,
        "type": definition.type.value,
        "url": definition.url,
        "max_concurrency": definition.max_concurrency,
        "comment": definition.comment,
        "role_mapping": json.dumps(dict(definition.role_mapping)) if definition.role_mapping else None,
    }


def warehouse_def(row: Row) -> WarehouseDef:
    """The :class:`WarehouseDef` of a ``warehouses`` row."""
    return WarehouseDef(
        name=row["name"],
        type=WarehouseType(row["type"]),
        url=row["url"],
        max_concurrency=row["max_concurrency"],
        comment=row["comment"],
        role_mapping=tuple(json.loads(row["role_mapping"]).items()) if row["role_mapping"] else (),
    )


def warehouse_record(row: Row) -> WarehouseRecord:
    return WarehouseRecord(
        definition=warehouse_def(row),
        created_on=from_db_time(row["created_on"]),
        last_altered_on=from_db_time(row["last_altered_on"]),
    )


# --- runs ----------------------------------------------------------------------------------------


def new_run_params(run: NewRun) -> dict[str, Any]:
    """The ``run_insert`` parameters of a run to insert.

    :raises InvalidTransition: no run may be inserted in ``run.state`` (checked here, before the
        write, for every backend)."""
    transition(None, run.state)
    return {
        "task_id": run.task_id,
        "task_version": run.task_version,
        "name": run.name,
        "database_name": run.database_name,
        "schema_name": run.schema_name,
        "scheduled_time": db_time(run.scheduled_time),
        "state": run.state.value,
        "scheduled_from": run.scheduled_from.value,
        "attempt_number": run.attempt_number,
        "query_start_time": db_time_opt(run.query_start_time),
        "completed_time": db_time_opt(run.completed_time),
        "error_code": run.error_code,
        "error_message": run.error_message,
        "query_text": run.query_text,
        "condition_text": run.condition_text,
        "warehouse": run.warehouse,
        "node_id": run.node_id,
        "graph_run_group_id": run.graph_run_group_id,
        "root_task_id": run.root_task_id,
        "graph_version": run.graph_version,
        "config": run.config,
    }


def run_record(row: Row) -> RunRecord:
    """The :class:`RunRecord` of a ``runs`` row."""
    return RunRecord(
        run_id=row["run_id"],
        task_id=row["task_id"],
        task_version=row["task_version"],
        name=row["name"],
        database_name=row["database_name"],
        schema_name=row["schema_name"],
        scheduled_time=from_db_time(row["scheduled_time"]),
        state=RunState(row["state"]),
        scheduled_from=ScheduledFrom(row["scheduled_from"]),
        attempt_number=row["attempt_number"],
        query_start_time=from_db_time_opt(row["query_start_time"]),
        completed_time=from_db_time_opt(row["completed_time"]),
        error_code=row["error_code"],
        error_message=row["error_message"],
        query_text=row["query_text"],
        condition_text=row["condition_text"],
        warehouse=row["warehouse"],
        node_id=row["node_id"],
        graph_run_group_id=row["graph_run_group_id"],
        root_task_id=row["root_task_id"],
        graph_version=row["graph_version"],
        config=row["config"],
        rows_produced=row["rows_produced"],
        rows_inserted=row["rows_inserted"],
        return_value=row["return_value"],
        query_id=row["query_id"],
    )


def record_from_new(run_id: int, run: NewRun) -> RunRecord:
    """The stored record of ``run``, just inserted as ``run_id`` (no need to read it back)."""
    return RunRecord(
        run_id=run_id,
        task_id=run.task_id,
        task_version=run.task_version,
        name=run.name,
        database_name=run.database_name,
        schema_name=run.schema_name,
        scheduled_time=run.scheduled_time,
        state=run.state,
        scheduled_from=run.scheduled_from,
        attempt_number=run.attempt_number,
        query_start_time=run.query_start_time,
        completed_time=run.completed_time,
        error_code=run.error_code,
        error_message=run.error_message,
        query_text=run.query_text,
        condition_text=run.condition_text,
        warehouse=run.warehouse,
        node_id=run.node_id,
        graph_run_group_id=run.graph_run_group_id,
        root_task_id=run.root_task_id,
        graph_version=run.graph_version,
        config=run.config,
    )


def outcome_params(outcome: RunOutcome) -> dict[str, Any]:
    """The ``run_settle`` parameters of an outcome (the query changes only open runs).

    :raises InvalidTransition: no open run may move to ``outcome.state`` (checked before the write,
        for every backend)."""
    return {
        "run_id": outcome.run_id,
        "state": settling(outcome.state).value,
        "query_start_time": db_time_opt(outcome.query_start_time),
        "completed_time": db_time_opt(outcome.completed_time),
        "error_code": outcome.error_code,
        "error_message": outcome.error_message,
        "rows_produced": outcome.rows_produced,
        "rows_inserted": outcome.rows_inserted,
        "return_value": outcome.return_value,
        "query_id": outcome.query_id,
    }


def runtime_params(update: TaskRuntime, now: str) -> dict[str, Any]:
    """The ``task_runtime`` parameters of a runtime update (flags are 1/0)."""
    return {
        "task_id": update.task_id,
        "next_fire_at": db_time_opt(update.next_fire_at),
        "clear_next_fire": 1 if update.clear_next_fire else 0,
        "consecutive_failures": update.consecutive_failures,
        "resumed_on": db_time_opt(update.schedule_anchor),
        "state": update.state.value if update.state is not None else None,
        "suspend_reason": update.suspend_reason.value if update.suspend_reason is not None else None,
        "now": now,
        "guarded": 0 if update.guard is None else 1,
        "guard_version": None if update.guard is None else update.guard[0],
        "guard_anchor": None if update.guard is None else db_time_opt(update.guard[1]),
    }


# --- nodes ---------------------------------------------------------------------------------------


def node_params(node: NodeRecord) -> dict[str, Any]:
    """The ``node_upsert`` parameters of a node."""
    return {
        "node_id": node.node_id,
        "host": node.host,
        "pid": node.pid,
        "role": node.role,
        "version": node.version,
        "started_at": db_time(node.started_at),
        "heartbeat_at": db_time(node.heartbeat_at),
    }


def node_record(row: Row) -> NodeRecord:
    """The :class:`NodeRecord` of a ``nodes`` row."""
    return NodeRecord(
        node_id=row["node_id"],
        host=row["host"],
        pid=row["pid"],
        role=row["role"],
        version=row["version"],
        started_at=from_db_time(row["started_at"]),
        heartbeat_at=from_db_time(row["heartbeat_at"]),
        stopped_at=from_db_time_opt(row["stopped_at"]),
    )


# --- graphs --------------------------------------------------------------------------------------


def members_json(members: Mapping[int, int]) -> str:
    """The canonical text of a graph's members: ``{"<task id>": <version>, ...}`` sorted by id."""
    return json.dumps({str(k): members[k] for k in sorted(members)}, separators=(",", ":"))


def members_from_json(text: str) -> dict[int, int]:
    """Inverse of :func:`members_json`."""
    return {int(k): int(v) for k, v in json.loads(text).items()}


def graph_run_params(g: NewGraphRun, root_run_id: int | None) -> dict[str, Any]:
    """The ``graph_run_insert`` parameters of a graph run whose root run is ``root_run_id``."""
    return {
        "graph_run_group_id": g.graph_run_group_id,
        "root_task_id": g.root_task_id,
        "root_task_name": g.root_task_name,
        "database_name": g.database_name,
        "schema_name": g.schema_name,
        "graph_version": g.graph_version,
        "state": g.state,
        "scheduled_from": g.scheduled_from.value,
        "scheduled_time": db_time(g.scheduled_time),
        "query_start_time": db_time_opt(g.query_start_time),
        "attempt_number": g.attempt_number,
        "root_run_id": root_run_id,
        "config": g.config,
        "node_id": g.node_id,
    }


def graph_end_params(end: GraphRunEnd) -> dict[str, Any]:
    """The ``graph_run_finish`` parameters of a graph run's end."""
    return {
        "graph_run_group_id": end.graph_run_group_id,
        "state": end.state,
        "completed_time": db_time(end.completed_time),
        "first_error_task_name": end.first_error_task_name,
        "first_error_code": end.first_error_code,
        "first_error_message": end.first_error_message,
    }


def graph_run_record(row: Row) -> GraphRunRecord:
    """The :class:`GraphRunRecord` of a ``graph_runs`` row."""
    return GraphRunRecord(
        graph_run_group_id=row["graph_run_group_id"],
        root_task_id=row["root_task_id"],
        root_task_name=row["root_task_name"],
        database_name=row["database_name"],
        schema_name=row["schema_name"],
        graph_version=row["graph_version"],
        state=row["state"],
        scheduled_from=ScheduledFrom(row["scheduled_from"]),
        scheduled_time=from_db_time(row["scheduled_time"]),
        query_start_time=from_db_time_opt(row["query_start_time"]),
        completed_time=from_db_time_opt(row["completed_time"]),
        attempt_number=row["attempt_number"],
        root_run_id=row["root_run_id"],
        first_error_task_name=row["first_error_task_name"],
        first_error_code=row["first_error_code"],
        first_error_message=row["first_error_message"],
        config=row["config"],
        node_id=row["node_id"],
    )


# --- notification outbox -------------------------------------------------------------------------

#: The state a message is left in by each attempt result.
STATE_AFTER = {
    AttemptResult.DELIVERED: OutboxState.DELIVERED,
    AttemptResult.RETRY: OutboxState.PENDING,
    AttemptResult.GIVE_UP: OutboxState.FAILED,
}


def outbox_item_params(item: OutboxItem) -> dict[str, Any]:
    """The ``outbox_insert`` parameters of a message to queue."""
    return {
        "message_id": item.message_id,
        "integration": item.integration,
        "event_type": str(item.event_type),
        "payload": item.payload,
        "created_at": db_time(item.created_at),
    }


def attempt_record_params(attempt: DeliveryAttempt) -> dict[str, Any]:
    """The ``outbox_record`` parameters of a delivery attempt (settling its message)."""
    delivered = attempt.result is AttemptResult.DELIVERED
    return {
        "message_id": attempt.message_id,
        "node_id": attempt.node_id,
        "state": STATE_AFTER[attempt.result].value,
        "attempt": attempt.attempt,
        "retry_at": db_time_opt(attempt.retry_at) if attempt.result is AttemptResult.RETRY else None,
        "error": None if delivered else attempt.error,
        "delivered_at": db_time(attempt.sent_at) if delivered else None,
    }


def attempt_history_params(attempt: DeliveryAttempt) -> dict[str, Any]:
    """The ``notification_history_insert`` parameters of a delivery attempt."""
    return {
        "message_id": attempt.message_id,
        "attempt": attempt.attempt,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "sent_at": db_time(attempt.sent_at),
        "duration_ms": attempt.duration_ms,
    }


def outbox_message(row: Row) -> OutboxMessage:
    """The :class:`OutboxMessage` of a ``notification_outbox`` row."""
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
    """The :class:`DeliveryRecord` of a ``notification_history_list`` row."""
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
