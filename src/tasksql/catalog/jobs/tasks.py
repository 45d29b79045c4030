"""Job bodies for task definitions: create, update, and their version rows.

Rows about to change are read with the ``*_for_update`` queries: under PostgreSQL's READ COMMITTED
that lock is what makes the optimistic version check hold when two nodes change one task at once
(the second waits, then reads the first one's version); SQLite's write lock, taken when the group
began, already does. Two nodes creating one name are fenced by the unique index on live names; its
violation is reported as the name being taken.
"""

from __future__ import annotations

from typing import Any

from tasksql.catalog.dialect import CatalogDialect
from tasksql.catalog.records import UNCHANGED, TaskUpdate
from tasksql.catalog.rows import db_time_opt, definition_json, name_columns, reason_value, task_record
from tasksql.catalog.writer import D
from tasksql.errors import ConcurrentModification, ObjectExists, TaskNotFound
from tasksql.model import TaskDef, TaskRecord, TaskState

_SUSPENDED = TaskState.SUSPENDED.value


def create(
    sql: CatalogDialect[D],
    db: D,
    definition: TaskDef,
    fields: dict[str, Any],
    *,
    stamp: str,
    replace: bool,
    actor: str | None,
) -> TaskRecord:
    existing = sql.first(db, "task_by_name_for_update", fields)
    if existing is None:
        row: dict[str, Any] = {
            **fields,
            "version": 1,
            "created_on": stamp,
            "last_committed_on": stamp,
            "last_suspended_on": None,
            "resumed_on": None,
            "dropped_on": None,
        }
        try:
            [inserted] = sql.rows(db, "task_insert", row)
        except sql.unique_violation:
            raise ObjectExists(f"task {definition.name} already exists", code="TASK_EXISTS") from None
        row["id"] = int(inserted["id"])
    elif not replace:
        raise ObjectExists(f"task {definition.name} already exists", code="TASK_EXISTS")
    else:
        row = dict(existing)
        if fields["state"] == _SUSPENDED and row["state"] != _SUSPENDED:
            row["last_suspended_on"] = stamp
        row.update(fields, version=row["version"] + 1, last_committed_on=stamp)
        sql.execute(db, "task_write", row)
    _insert_version(sql, db, row, stamp, actor)
    return task_record(row, definition)


def update(sql: CatalogDialect[D], db: D, update: TaskUpdate, stamp: str, actor: str | None) -> TaskRecord:
    found = sql.first(db, "task_by_id_for_update", {"id": update.task_id})
    if found is None:
        raise TaskNotFound(f"no task has id {update.task_id}")
    row = dict(found)
    if row["version"] != update.expected_version:
        raise ConcurrentModification(
            f"task {row['name']} is at version {row['version']}, not {update.expected_version}: "
            "another writer changed it; read it again and retry"
        )
    if update.definition is not None:
        _apply_definition(sql, db, row, update, stamp, actor)
    if update.state is not UNCHANGED:
        if update.state is TaskState.SUSPENDED and row["state"] != _SUSPENDED:
            row["last_suspended_on"] = stamp
        row["state"] = update.state.value
    if update.suspend_reason is not UNCHANGED:
        row["suspend_reason"] = reason_value(update.suspend_reason)
    if update.next_fire_at is not UNCHANGED:
        row["next_fire_at"] = db_time_opt(update.next_fire_at)
    if update.resumed_on is not UNCHANGED:
        row["resumed_on"] = db_time_opt(update.resumed_on)
    if update.consecutive_failures is not UNCHANGED:
        row["consecutive_failures"] = update.consecutive_failures
    if update.owner is not UNCHANGED:
        row["owner"] = update.owner
    if update.drop:
        row["dropped_on"] = stamp
    try:
        sql.execute(db, "task_write", row)
    except sql.unique_violation:
        name = update.definition.name if update.definition is not None else row["name"]
        raise ObjectExists(f"task {name} already exists", code="TASK_EXISTS") from None
    return task_record(row)


def _apply_definition(
    sql: CatalogDialect[D], db: D, row: dict[str, Any], update: TaskUpdate, stamp: str, actor: str | None
) -> None:
    """Merge a new definition into ``row``: a new version unless it equals the stored one."""
    assert update.definition is not None
    text = definition_json(update.definition)
    if text == row["definition"]:
        return
    names = name_columns(update.definition.name)
    taken = sql.first(db, "task_by_name", names)
    if taken is not None and taken["id"] != row["id"]:
        raise ObjectExists(f"task {update.definition.name} already exists", code="TASK_EXISTS")
    row.update(
        names,
        definition=text,
        canonical_sql=update.canonical_sql,
        version=row["version"] + 1,
        last_committed_on=stamp,
    )
    _insert_version(sql, db, row, stamp, actor)


def _insert_version(
    sql: CatalogDialect[D], db: D, row: dict[str, Any], stamp: str, actor: str | None
) -> None:
    sql.execute(
        db,
        "task_version_insert",
        {
            "task_id": row["id"],
            "version": row["version"],
            "definition": row["definition"],
            "canonical_sql": row["canonical_sql"],
            "created_on": stamp,
            "actor": actor,
        },
    )
