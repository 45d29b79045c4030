"""What is particular to the PostgreSQL catalog: its own schema, migrations, errors that name their
cause without the password, LISTEN/NOTIFY, and a writer that survives a terminated connection.

Everything else is the contract, tested on both backends by ``test_catalog_contract*.py``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from catalog_support import NOW, create, qname
from psycopg import sql

from pgserver import PgServer, free_port
from tasksql.catalog import PostgresCatalog, open_catalog
from tasksql.catalog.migrate import Migration, load_migrations, load_schema
from tasksql.catalog.postgres.catalog import _Q
from tasksql.catalog.postgres.connect import parse_target
from tasksql.catalog.postgres.schema import apply_schema
from tasksql.errors import CatalogError, ConfigError, SchemaVersionError
from tasksql.model import TaskState
from tasksql.testing import FakeClock

pytestmark = pytest.mark.postgres

STAMP = "2026-01-01T00:00:00.000000Z"


@pytest.fixture
def admin(pg_server: PgServer) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        yield conn


def catalog_at(url: str, schema: str, **kwargs: object) -> PostgresCatalog:
    return PostgresCatalog(url, schema=schema, clock=FakeClock(NOW), **kwargs)  # type: ignore[arg-type]


# --- where it lives ------------------------------------------------------------------------------


def test_open_catalog_dispatches_postgresql_urls() -> None:
    for url in ("postgresql://tasks@db.internal:5432/ops", "postgres://db.internal/ops"):
        catalog = open_catalog(url, schema="ops_catalog")
        assert isinstance(catalog, PostgresCatalog) and catalog.schema == "ops_catalog"
    assert isinstance(open_catalog("postgresql://db/ops"), PostgresCatalog)
    assert open_catalog("postgresql://db/ops").schema == "tasksql"  # type: ignore[attr-defined]


async def test_the_catalog_lives_in_its_own_schema_readable_with_plain_sql(
    pg_server: PgServer, schema: str, admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    async with catalog_at(pg_server.url, schema) as catalog:
        record = await create(catalog, "hourly", state=TaskState.STARTED)

    tables = admin.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1", [schema]
    ).fetchall()
    assert ("tasks",) in tables and ("runs",) in tables and ("schema_version",) in tables
    row = admin.execute(
        sql.SQL("SELECT name, state, created_on, definition::jsonb ->> 'name' FROM {}.tasks").format(
            sql.Identifier(schema)
        )
    ).fetchone()
    assert row is not None and row[:3] == ("hourly", "started", record.created_on)
    public = admin.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
    ).fetchone()
    assert public == (0,)  # nothing outside the catalog's schema


async def test_two_schemas_are_two_catalogs(pg_server: PgServer, schema: str) -> None:
    async with catalog_at(pg_server.url, schema) as one, catalog_at(pg_server.url, schema + "_b") as two:
        await create(one, "t")
        assert await two.get_task(qname("t")) is None


# --- migrations ----------------------------------------------------------------------------------


def _columns(conn: psycopg.Connection[tuple[object, ...]], schema: str) -> list[tuple[object, ...]]:
    """Tables, columns, types, defaults and nullability, plus indexes, constraints and storage
    options (a table's fillfactor), of a schema."""
    columns = conn.execute(
        "SELECT table_name, column_name, data_type, column_default IS NOT NULL, is_nullable, is_identity "
        "FROM information_schema.columns WHERE table_schema = %s ORDER BY 1, 2",
        [schema],
    ).fetchall()
    indexes = conn.execute(
        "SELECT indexname, replace(indexdef, %s, 'S') FROM pg_indexes WHERE schemaname = %s ORDER BY 1",
        [schema, schema],
    ).fetchall()
    checks = conn.execute(
        "SELECT conrelid::regclass::text, replace(pg_get_constraintdef(oid), %s, '') FROM pg_constraint "
        "WHERE connamespace = %s::regnamespace ORDER BY 1, 2",
        [schema + ".", schema],
    ).fetchall()
    options = conn.execute(
        "SELECT relname, reloptions FROM pg_class WHERE relnamespace = %s::regnamespace "
        "AND reloptions IS NOT NULL ORDER BY 1",
        [schema],
    ).fetchall()
    return [*columns, *indexes, *[(t.removeprefix(schema + "."), d) for t, d in checks], *options]


def _build(
    dsn: str, schema: str, text: str, migrations: tuple[Migration, ...] | list[Migration]
) -> list[int]:
    target = parse_target(f"{dsn}", schema)
    with psycopg.connect(target.url, **target.kwargs) as conn, conn.transaction(), conn.cursor() as cur:
        return apply_schema(
            cur, schema_name=schema, schema=text, migrations=migrations, queries=_Q, now=STAMP
        )


def test_schema_equals_all_migrations(
    pg_server: PgServer, schema: str, admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    migrations = load_migrations("postgres")
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))

    assert _build(pg_server.url, schema, load_schema("postgres"), migrations) == [
        m.version for m in migrations
    ]
    _build(pg_server.url, schema + "_m", migrations[0].sql, migrations[:1])
    _build(pg_server.url, schema + "_m", "", migrations)

    from_schema, from_migrations = _columns(admin, schema), _columns(admin, schema + "_m")
    assert from_schema and from_schema == from_migrations
    # runs and tasks leave room on each page for their updates (heap-only updates)
    assert ("runs", ["fillfactor=50"]) in from_schema
    assert ("tasks", ["fillfactor=50"]) in from_schema
    assert (
        _build(pg_server.url, schema, load_schema("postgres"), migrations) == []
    )  # reopening applies nothing


def test_a_failing_migration_changes_nothing(
    pg_server: PgServer, schema: str, admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    base = load_migrations("postgres")
    _build(pg_server.url, schema, load_schema("postgres"), base)
    before = _columns(admin, schema)
    broken = Migration(
        version=len(base) + 1, name="broken", sql="CREATE TABLE fine (x int); CREATE TABLE tasks (x int);"
    )

    with pytest.raises(psycopg.errors.DuplicateTable):
        _build(pg_server.url, schema, "", (*base, broken))

    assert _columns(admin, schema) == before


async def test_a_newer_schema_version_is_refused(
    pg_server: PgServer, schema: str, admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    async with catalog_at(pg_server.url, schema):
        pass
    admin.execute(
        sql.SQL("INSERT INTO {}.schema_version VALUES (9999, 'from_the_future', now())").format(
            sql.Identifier(schema)
        )
    )

    catalog = catalog_at(pg_server.url, schema)
    with pytest.raises(SchemaVersionError) as info:
        await catalog.open()

    assert "9999" in str(info.value) and "upgrade tasksql" in str(info.value)
    with pytest.raises(CatalogError) as closed:
        await catalog.list_tasks()
    assert closed.value.code == "CATALOG_CLOSED"


async def test_a_schema_with_other_tables_is_not_a_catalog(
    pg_server: PgServer, schema: str, admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    admin.execute(sql.SQL("CREATE TABLE {}.orders (id int)").format(sql.Identifier(schema)))

    with pytest.raises(CatalogError) as info:
        await catalog_at(pg_server.url, schema).open()

    assert info.value.code == "NOT_A_CATALOG" and schema in str(info.value)


async def test_nodes_opening_a_new_catalog_at_once_create_it_once(pg_server: PgServer, schema: str) -> None:
    catalogs = [catalog_at(pg_server.url, schema) for _ in range(3)]
    await asyncio.gather(*(c.open() for c in catalogs))
    try:
        assert [len(await c.list_warehouses()) for c in catalogs] == [1, 1, 1]
    finally:
        for c in catalogs:
            await c.close()


# --- bad input: one line, the cause, never the password ---------------------------------------------


async def test_an_unreachable_server_is_named_without_the_password() -> None:
    catalog = PostgresCatalog(f"postgresql://bob:Sup3rS3cret@127.0.0.1:{free_port()}/ops")

    with pytest.raises(CatalogError) as info:
        await catalog.open()

    text = str(info.value)
    assert info.value.code == "CATALOG_UNAVAILABLE"
    assert "Sup3rS3cret" not in text and "postgresql://bob:***@127.0.0.1" in text
    assert "\n" not in text and "refused" in text


async def test_a_refused_login_and_a_missing_database_are_login_errors(pg_server: PgServer) -> None:
    for url, needle in (
        (f"postgresql://nobody:Sup3rS3cret@127.0.0.1:{pg_server.port}/postgres", "nobody"),
        (f"postgresql://postgres:Sup3rS3cret@127.0.0.1:{pg_server.port}/nope", "nope"),
    ):
        with pytest.raises(CatalogError) as info:
            await PostgresCatalog(url).open()
        assert info.value.code == "CATALOG_LOGIN"
        assert needle in str(info.value) and "Sup3rS3cret" not in str(info.value)


async def test_missing_privileges_are_named(
    pg_server: PgServer, schema: str, admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    role = f"r_{uuid.uuid4().hex[:8]}"
    admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))

    with pytest.raises(CatalogError) as info:
        await PostgresCatalog(
            f"postgresql://{role}@127.0.0.1:{pg_server.port}/postgres", schema=schema
        ).open()

    assert info.value.code == "CATALOG_PRIVILEGES"
    assert "permission denied" in str(info.value) and schema in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://bob:Sup3rS3cret@db:notaport/ops",
        "postgresql://bob:Sup3rS3cret@db/ops?no_such_option=1",
    ],
)
def test_a_url_typo_is_a_config_error_without_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        open_catalog(url)
    assert "Sup3rS3cret" not in str(info.value) and "bob:***@db" in str(info.value)


@pytest.mark.parametrize("schema", ["Tasks", "tasks-sql", "", "x" * 64, "a;drop"])
def test_a_schema_must_be_a_plain_identifier(schema: str) -> None:
    with pytest.raises(ConfigError):
        PostgresCatalog("postgresql://db/ops", schema=schema)


# --- change signals and lost connections ---------------------------------------------------------


async def test_notify_wakes_another_node_well_before_its_poll(pg_server: PgServer, schema: str) -> None:
    async with (
        catalog_at(pg_server.url, schema) as writer,
        catalog_at(pg_server.url, schema, poll_interval=30.0) as other,
    ):
        seq = await other.change_seq()
        waiter = asyncio.ensure_future(other.wait_for_change(seq, timeout=60))
        await asyncio.sleep(0.05)
        started = time.monotonic()

        await create(writer, "t")

        # woken by NOTIFY, not by the 30 s poll (the bound is generous for a loaded machine)
        assert await asyncio.wait_for(waiter, 20) > seq
        assert time.monotonic() - started < 20


async def test_the_catalog_goes_on_after_its_connections_are_terminated(
    pg_server: PgServer, schema: str, admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    async with catalog_at(pg_server.url, schema) as catalog:
        await create(catalog, "before")
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'tasksql-catalog' AND pid <> pg_backend_pid()"
        )

        # the first write on the dead connection may fail (its outcome is unknown); the next works
        try:
            await create(catalog, "during")
        except CatalogError as exc:
            assert exc.code == "CATALOG_UNAVAILABLE"
        await create(catalog, "after")

        names = {r.name.name for r in await catalog.list_tasks()}
        assert {"before", "after"} <= names
