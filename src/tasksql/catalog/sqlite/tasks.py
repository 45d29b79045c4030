"""Job bodies of the SQLite catalog for task definitions: create, update, and their version rows.

Plain functions of a ``sqlite3.Connection``, run by the writer thread inside the group transaction;
see :mod:`tasksql.catalog.sqlite` for the rules they follow.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from tasksql.catalog.base import UNCHANGED, TaskUpdate
from tasksql.catalog.queries import load_queries
from tasksql.catalog.rows import db_time_opt, definition_json, name_columns, reason_value, task_record
from tasksql.errors import ConcurrentModification, ObjectExists, TaskNotFound
from tasksql.model import TaskDef, TaskRecord, TaskState

_Q: dict[str, str] = {name: query.sql for name, query in load_queries("sqlite").items()}
_SUSPENDED = TaskState.SUSPENDED.value


def create(
    conn: sqlite3.Connection,
    definition: TaskDef,
    fields: dict[str, Any],
    *,
    stamp: str,
    replace: bool,
    actor: str | None,
) -> TaskRecord:
    existing = conn.execute(_Q["task_by_name"], fields).fetchone()
    if existing is None:
        row = {
            **fields,
            "version": 1,
            "created_on": stamp,
            "last_committed_on": stamp,
            "last_suspended_on": None,
            "resumed_on": None,
            "dropped_on": None,
        }
        row["id"] = conn.execute(_Q["task_insert"], row).fetchall()[0][0]  # RETURNING id, run to the end
    elif not replace:
        raise ObjectExists(f"task {definition.name} already exists", code="TASK_EXISTS")
    else:
        row = dict(existing)
        if fields["state"] == _SUSPENDED and row["state"] != _SUSPENDED:
            row["last_suspended_on"] = stamp
        row.update(fields, version=row["version"] + 1, last_committed_on=stamp)
        conn.execute(_Q["task_write"], row)
    _insert_version(conn, row, stamp, actor)
    return task_record(row, definition)


def update(conn: sqlite3.Connection, update: TaskUpdate, stamp: str, actor: str | None) -> TaskRecord:
    found = conn.execute(_Q["task_by_id"], {"id": update.task_id}).fetchone()
    if found is None:
        raise TaskNotFound(f"no task has id {update.task_id}")
    row = dict(found)
    if row["version"] != update.expected_version:
        raise ConcurrentModification(
            f"task {row['name']} is at version {row['version']}, not {update.expected_version}: "
            "another writer changed it; read it again and retry"
        )
    if update.definition is not None:
        _apply_definition(conn, row, update, stamp, actor)
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
    conn.execute(_Q["task_write"], row)
    return task_record(row)


def _apply_definition(
    conn: sqlite3.Connection, row: dict[str, Any], update: TaskUpdate, stamp: str, actor: str | None
) -> None:
    """Merge a new definition into ``row``: a new version unless it equals the stored one."""
    assert update.definition is not None
    text = definition_json(update.definition)
    if text == row["definition"]:
        return
    names = name_columns(update.definition.name)
    taken = conn.execute(_Q["task_by_name"], names).fetchone()
    if taken is not None and taken["id"] != row["id"]:
        raise ObjectExists(f"task {update.definition.name} already exists", code="TASK_EXISTS")
    row.update(
        names,
        definition=text,
        canonical_sql=update.canonical_sql,
        version=row["version"] + 1,
        last_committed_on=stamp,
    )
    _insert_version(conn, row, stamp, actor)


def _insert_version(conn: sqlite3.Connection, row: dict[str, Any], stamp: str, actor: str | None) -> None:
    conn.execute(
        _Q["task_version_insert"],
        {
            "task_id": row["id"],
            "version": row["version"],
            "definition": row["definition"],
            "canonical_sql": row["canonical_sql"],
            "created_on": stamp,
            "actor": actor,
        },
    )
