"""Creating and migrating the schema of a SQLite catalog.

Runs inside one writer job (so inside one ``BEGIN IMMEDIATE`` transaction: SQLite DDL is
transactional). Two processes opening a new catalog at once are therefore safe: the second waits
for the first's transaction, then finds every migration recorded and does nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

from tasksql.catalog.migrate import Migration
from tasksql.errors import CatalogError, SchemaVersionError


def apply_schema(
    conn: sqlite3.Connection,
    *,
    schema: str,
    migrations: Sequence[Migration],
    queries: Mapping[str, str],
    now: str,
) -> list[int]:
    """Bring the catalog to the newest of ``migrations``; return the versions applied now.

    An empty database gets ``schema`` and records every migration; a catalog runs the migrations
    it has not recorded, in order.

    :raises SchemaVersionError: the catalog records a version newer than the newest migration.
    :raises CatalogError: (code ``NOT_A_CATALOG``) the database holds other tables but no catalog.
    """
    objects = [row[0] for row in conn.execute(queries["schema_objects"])]
    if "schema_version" not in objects:
        if objects:
            raise CatalogError(
                "this SQLite file is not a tasksql catalog (it has tables but no schema_version)",
                code="NOT_A_CATALOG",
            )
        for statement in split_sqlite_script(schema):
            conn.execute(statement)
        return _record(conn, migrations, queries, now)
    applied = {row[0] for row in conn.execute(queries["schema_versions"])}
    known = max((m.version for m in migrations), default=0)
    newest = max(applied, default=0)
    if newest > known:
        raise SchemaVersionError(
            f"the catalog has schema version {newest}, but this tasksql knows versions up to {known}: "
            "upgrade tasksql to open it"
        )
    pending = [m for m in migrations if m.version not in applied]
    for migration in pending:
        for statement in split_sqlite_script(migration.sql):
            conn.execute(statement)
    return _record(conn, pending, queries, now)


def _record(
    conn: sqlite3.Connection, migrations: Sequence[Migration], queries: Mapping[str, str], now: str
) -> list[int]:
    for migration in migrations:
        conn.execute(
            queries["schema_version_insert"],
            {"version": migration.version, "name": migration.name, "applied_on": now},
        )
    return [m.version for m in migrations]


def split_sqlite_script(script: str) -> list[str]:
    """Split a SQLite script into its statements (without trailing semicolons).

    Uses SQLite's own notion of a complete statement, so semicolons inside strings, comments and
    trigger bodies do not split. Comment-only text between statements is dropped.

    :raises CatalogError: (code ``BAD_SCRIPT``) the script ends inside a statement.
    """
    statements: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            statement = pending.strip().removesuffix(";").strip()
            if _has_code(statement):
                statements.append(statement)
            pending = ""
    # The split adds a ";" after the last piece, so only comments or blanks can remain here.
    if _has_code(pending.removesuffix(";")):
        raise CatalogError("the SQL script ends inside a statement", code="BAD_SCRIPT")
    return statements


def _has_code(text: str) -> bool:
    """True when ``text`` holds something besides blanks, ``--`` line comments and ``;``."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("--") and stripped != ";":
            return True
    return False
