"""Conversions between catalog rows and model values.

A row is anything indexable by column name (``sqlite3.Row``, a ``dict``); column names are those of
``sql/<dialect>/schema.sql``, the same for every backend. Instants are stored as UTC ISO-8601 text
with microseconds and a ``Z`` suffix (``2026-01-01T00:00:00.000000Z``): fixed width, so comparing
the text compares the instants.
"""

from __future__ import annotations

import sys
import threading
import zlib
from datetime import UTC, datetime
from typing import Any, Protocol

from tasksql.catalog.base import IntegrationRecord, TaskStub, TaskVersion, WarehouseRecord
from tasksql.clock import utc
from tasksql.errors import CatalogError
from tasksql.model import (
    IntegrationDef,
    QualifiedName,
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


class Row(Protocol):
    def __getitem__(self, key: str, /) -> Any: ...


# --- instants ------------------------------------------------------------------------------------


def db_time(dt: datetime) -> str:
    """``dt`` as stored: UTC, microseconds, ``Z``. A naive ``dt`` is taken to be UTC."""
    return utc(dt).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def reason_value(reason: SuspendReason | None) -> str | None:
    """A suspend reason as stored (``None`` stays ``None``)."""
    return None if reason is None else reason.value


def db_time_opt(dt: datetime | None) -> str | None:
    return None if dt is None else db_time(dt)


def from_db_time(text: str) -> datetime:
    """Inverse of :func:`db_time`: an aware UTC datetime (the ``Z`` suffix gives ``tzinfo=UTC``; text
    without an offset is read as UTC)."""
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def from_db_time_opt(text: str | None) -> datetime | None:
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
        "enabled": int(definition.enabled),
        "webhook_url": hook.url if hook else None,
        "webhook_method": hook.method if hook else None,
        "webhook_authorization_header": hook.authorization_header if hook else None,
        "webhook_signing_secret": hook.signing_secret if hook else None,
        "comment": definition.comment,
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
        )
    return IntegrationDef(
        name=row["name"], type=row["type"], enabled=bool(row["enabled"]), webhook=hook, comment=row["comment"]
    )


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
    }


def warehouse_def(row: Row) -> WarehouseDef:
    """The :class:`WarehouseDef` of a ``warehouses`` row."""
    return WarehouseDef(
        name=row["name"],
        type=WarehouseType(row["type"]),
        url=row["url"],
        max_concurrency=row["max_concurrency"],
        comment=row["comment"],
    )


def warehouse_record(row: Row) -> WarehouseRecord:
    return WarehouseRecord(
        definition=warehouse_def(row),
        created_on=from_db_time(row["created_on"]),
        last_altered_on=from_db_time(row["last_altered_on"]),
    )
