"""schema.sql and the numbered migrations describe the same catalog, and versions are enforced."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasksql.catalog import SQLiteCatalog
from tasksql.catalog.migrate import Migration, load_migrations, load_schema
from tasksql.catalog.queries import load_queries
from tasksql.catalog.sqlite.schema import apply_schema, split_sqlite_script
from tasksql.errors import CatalogError, SchemaVersionError

QUERIES = {name: query.sql for name, query in load_queries("sqlite").items()}
STAMP = "2026-01-01T00:00:00.000000Z"


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    yield connection
    connection.close()


def build(path: Path, *, schema: str, migrations: tuple[Migration, ...] | list[Migration]) -> list[int]:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        applied = apply_schema(connection, schema=schema, migrations=migrations, queries=QUERIES, now=STAMP)
        connection.execute("COMMIT")
        return applied
    finally:
        connection.close()


def normalised_master(path: Path) -> list[tuple[str, str, str, str]]:
    """sqlite_master with each statement's comments and white space normalised."""
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute(
            "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master"
        ).fetchall()
    finally:
        connection.close()

    def norm(sql: str) -> str:
        sql = re.sub(r"--[^\n]*", " ", sql)
        sql = re.sub(r"\s+", " ", sql)
        return re.sub(r"\s*([(),])\s*", r"\1", sql).strip()

    return sorted((kind, name, table, norm(sql)) for kind, name, table, sql in rows)


def dump(path: Path, table: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
    finally:
        connection.close()


def test_schema_equals_all_migrations(tmp_path: Path) -> None:
    migrations = load_migrations("sqlite")
    from_schema = tmp_path / "schema.db"
    from_migrations = tmp_path / "migrations.db"

    # a schema the migrations never ran against records them all
    assert build(from_schema, schema=load_schema("sqlite"), migrations=migrations) == [
        m.version for m in migrations
    ]
    # run every migration in order on an empty catalog: start from the first alone
    build(from_migrations, schema=migrations[0].sql, migrations=migrations[:1])
    build(from_migrations, schema="", migrations=migrations)

    assert normalised_master(from_schema) == normalised_master(from_migrations)
    assert normalised_master(from_schema)  # not trivially equal
    for table in ("schema_version", "catalog_meta"):
        assert dump(from_schema, table) == dump(from_migrations, table)


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    migrations = load_migrations("sqlite")

    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "initial"


def test_a_later_migration_runs_once_and_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    base = load_migrations("sqlite")
    extra = Migration(version=len(base) + 1, name="later", sql="CREATE TABLE later (id INTEGER PRIMARY KEY);")

    build(path, schema=load_schema("sqlite"), migrations=base)
    assert build(path, schema="", migrations=(*base, extra)) == [extra.version]
    assert build(path, schema="", migrations=(*base, extra)) == []

    assert [row[0] for row in dump(path, "schema_version")] == [*range(1, len(base) + 1), extra.version]
    assert ("table", "later") in {(kind, name) for kind, name, _, _ in normalised_master(path)}


def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    base = load_migrations("sqlite")
    build(path, schema=load_schema("sqlite"), migrations=base)
    before = normalised_master(path)
    broken = Migration(
        version=len(base) + 1,
        name="broken",
        sql="CREATE TABLE fine (x INTEGER);\nCREATE TABLE tasks (x INTEGER);",
    )

    with pytest.raises(sqlite3.OperationalError):
        build(path, schema="", migrations=(*base, broken))

    assert normalised_master(path) == before


async def test_a_catalog_built_by_migrations_opens(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    migrations = load_migrations("sqlite")
    build(path, schema=migrations[0].sql, migrations=migrations[:1])
    build(path, schema="", migrations=migrations)

    async with SQLiteCatalog(path) as catalog:
        assert [r.definition.name for r in await catalog.list_warehouses()] == ["default"]


async def test_a_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    async with SQLiteCatalog(path):
        pass
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute(
        "INSERT INTO schema_version VALUES (9999, 'from_the_future', '2030-01-01T00:00:00.000000Z')"
    )
    connection.close()
    before = normalised_master(path)

    catalog = SQLiteCatalog(path)
    with pytest.raises(SchemaVersionError) as info:
        await catalog.open()

    assert "9999" in str(info.value) and "upgrade tasksql" in str(info.value)
    assert normalised_master(path) == before
    with pytest.raises(CatalogError) as closed:
        await catalog.list_tasks()
    assert closed.value.code == "CATALOG_CLOSED"


def test_reopening_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    migrations = load_migrations("sqlite")
    build(path, schema=load_schema("sqlite"), migrations=migrations)

    assert build(path, schema=load_schema("sqlite"), migrations=migrations) == []
    assert len(dump(path, "schema_version")) == len(migrations)


def test_script_splitting_respects_strings_comments_and_triggers() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE t (x TEXT DEFAULT 'a;b');  -- trailing comment
    CREATE TRIGGER tr AFTER INSERT ON t BEGIN
        UPDATE t SET x = 'c;d';
        DELETE FROM t WHERE x = ';';
    END;
    INSERT INTO t VALUES ('e;f')
    """

    statements = split_sqlite_script(script)

    assert len(statements) == 3
    assert statements[0].endswith("DEFAULT 'a;b')")
    assert "CREATE TRIGGER tr" in statements[1] and statements[1].endswith("END")
    assert statements[2] == "INSERT INTO t VALUES ('e;f')"
    assert split_sqlite_script("-- only a comment\n") == []


def test_an_unfinished_script_is_refused() -> None:
    with pytest.raises(CatalogError) as info:
        split_sqlite_script("CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM t;")
    assert info.value.code == "BAD_SCRIPT"
