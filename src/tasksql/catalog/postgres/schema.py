"""Creating and migrating the schema of a PostgreSQL catalog.

Runs as the first job of the writer, so inside one transaction (PostgreSQL DDL is transactional: a
failed migration changes nothing). An advisory lock on the schema's name serialises nodes that open
a new catalog at once: the second waits for the first's commit, then finds every migration recorded
and does nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from psycopg import sql

from tasksql.catalog.migrate import Migration
from tasksql.catalog.postgres.connect import Cursor
from tasksql.errors import CatalogError, SchemaVersionError


def apply_schema(
    cur: Cursor,
    *,
    schema_name: str,
    schema: str,
    migrations: Sequence[Migration],
    queries: Mapping[str, str],
    now: str,
) -> list[int]:
    """Bring the catalog schema ``schema_name`` to the newest of ``migrations``; return the versions
    applied now. A missing schema is created; an empty one gets ``schema`` (the text of
    ``schema.sql``) and records every migration; a catalog runs the migrations it has not recorded.

    :raises SchemaVersionError: the catalog records a version newer than the newest migration.
    :raises CatalogError: (code ``NOT_A_CATALOG``) the schema holds other tables but no catalog.
    """
    cur.execute(queries["migrate_lock"], {"schema": schema_name})
    cur.execute(queries["schema_exists"], {"schema": schema_name})
    if cur.fetchone() is None:
        cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema_name)))
    cur.execute(queries["schema_objects"])
    objects = [row["name"] for row in cur.fetchall()]
    if "schema_version" not in objects:
        if objects:
            raise CatalogError(
                f"schema {schema_name} is not a tasksql catalog (it has tables but no schema_version): "
                "choose another catalog_schema",
                code="NOT_A_CATALOG",
            )
        cur.execute(schema)  # no parameters: the whole script goes as one simple query
        return _record(cur, migrations, queries, now)
    cur.execute(queries["schema_versions"])
    applied = {row["version"] for row in cur.fetchall()}
    known = max((m.version for m in migrations), default=0)
    newest = max(applied, default=0)
    if newest > known:
        raise SchemaVersionError(
            f"the catalog in schema {schema_name} has schema version {newest}, but this tasksql knows "
            f"versions up to {known}: upgrade tasksql to open it"
        )
    pending = [m for m in migrations if m.version not in applied]
    for migration in pending:
        cur.execute(migration.sql)
    return _record(cur, pending, queries, now)


def _record(cur: Cursor, migrations: Sequence[Migration], queries: Mapping[str, str], now: str) -> list[int]:
    for migration in migrations:
        cur.execute(
            queries["schema_version_insert"],
            {"version": migration.version, "name": migration.name, "applied_on": now},
        )
    return [m.version for m in migrations]
