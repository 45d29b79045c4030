"""INTO a table of another warehouse (``INTO <warehouse>.[<schema>.]<table>``), on real databases:
DuckDB -> PostgreSQL, PostgreSQL -> DuckDB, SQLite -> MariaDB, DuckDB -> ClickHouse; columns matched
by name, a failure while writing leaves a transactional target as it was, and the CREATE-time
notice for a table missing in the other warehouse."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from clickhouseserver import ClickHouseDatabase
from mariadbserver import MariaDBDatabase
from pgserver import PgDatabase
from tasksql.engine import Engine, Result
from tasksql.errors import RunFailed
from tasksql.scheduler import cross_into
from tasksql.settings import Settings


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


async def one(engine: Engine, sql: str) -> Result:
    return (await engine.execute(sql))[-1]


def pg(db: PgDatabase, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(db.url, autocommit=True) as conn:
        cur = conn.execute(sql)
        return list(cur.fetchall()) if cur.description else []


async def test_duckdb_to_postgres_matches_columns_by_name(engine: Engine, pg_database: PgDatabase) -> None:
    pg(pg_database, "CREATE TABLE totals (id integer, amount numeric(10,2), note text DEFAULT 'none')")
    await engine.execute(f"CREATE WAREHOUSE pgw TYPE = postgres URL = '{pg_database.url}'")
    created = await one(
        engine,
        "CREATE TASK copy INTO pgw.public.totals AS"
        " SELECT i AS ID, i * 1.5 AS amount, 'dropped' AS extra FROM range(3) t(i)",
    )
    assert all("INTO" not in n for n in created.notices)
    [ran] = await engine.execute("EXECUTE TASK copy")
    assert ran.as_dicts()[0]["status"] == "Task copy ran: SUCCEEDED."
    assert pg(pg_database, "SELECT id, amount, note FROM totals ORDER BY id") == [
        (0, Decimal("0.00"), "none"),
        (1, Decimal("1.50"), "none"),
        (2, Decimal("3.00"), "none"),
    ]
    [run] = [r for r in await engine.catalog.list_runs() if r.name == "copy"]
    assert run.rows_produced == 3 and run.rows_inserted == 3


async def test_postgres_to_duckdb(engine: Engine, pg_database: PgDatabase) -> None:
    pg(pg_database, "CREATE TABLE orders (id integer, created date)")
    pg(pg_database, "INSERT INTO orders VALUES (1, '2026-01-02'), (2, NULL)")
    await engine.execute(f"CREATE WAREHOUSE pgw TYPE = postgres URL = '{pg_database.url}'")
    await engine.execute("CREATE TABLE copied (id BIGINT, created DATE)")
    await engine.execute(
        'CREATE TASK back WAREHOUSE = pgw INTO "default".copied AS SELECT id, created FROM orders'
    )
    await engine.execute("EXECUTE TASK back")
    rows = (await one(engine, "SELECT id, CAST(created AS VARCHAR) FROM copied ORDER BY id")).rows
    assert rows == [(1, "2026-01-02"), (2, None)]


async def test_sqlite_to_mariadb(engine: Engine, tmp_path: Path, mariadb_database: MariaDBDatabase) -> None:
    path = tmp_path / "lite.db"
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE src (id INTEGER, name TEXT)")
        conn.executemany("INSERT INTO src VALUES (?, ?)", [(i, f"n{i}") for i in range(5)])
    await engine.execute(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{path}'")
    await engine.execute(f"CREATE WAREHOUSE shop TYPE = mysql URL = '{mariadb_database.url}'")
    with contextlib.closing(mariadb_database.connect()) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE `Dest` (id INT, name VARCHAR(20))")
    await engine.execute("CREATE TASK ship WAREHOUSE = lite INTO shop.`Dest` AS SELECT id, name FROM src")
    await engine.execute("EXECUTE TASK ship")
    with contextlib.closing(mariadb_database.connect()) as conn, conn.cursor() as cur:
        cur.execute("SELECT id, name FROM `Dest` ORDER BY id")
        assert list(cur.fetchall()) == [(i, f"n{i}") for i in range(5)]


async def test_a_failure_while_writing_leaves_the_target_as_it_was(
    engine: Engine, pg_database: PgDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cross_into, "BATCH_ROWS", 2)  # several batches, the last one fails
    pg(pg_database, "CREATE TABLE t (id integer PRIMARY KEY)")
    pg(pg_database, "INSERT INTO t VALUES (100)")
    await engine.execute(f"CREATE WAREHOUSE pgw TYPE = postgres URL = '{pg_database.url}'")
    await engine.execute(
        "CREATE TASK dup INTO pgw.t AS SELECT * FROM (VALUES (1), (2), (3), (4), (100)) v(id)"
    )
    with pytest.raises(RunFailed) as info:
        await engine.execute("EXECUTE TASK dup")
    assert "23505" in info.value.message or "duplicate" in info.value.message
    assert pg(pg_database, "SELECT id FROM t") == [(100,)]


async def test_duckdb_to_clickhouse(engine: Engine, ch_database: ClickHouseDatabase) -> None:
    ch_database.client().execute("CREATE TABLE hits (id UInt32, page String) ENGINE = MergeTree ORDER BY id")
    await engine.execute(f"CREATE WAREHOUSE events TYPE = clickhouse URL = '{ch_database.url}'")
    await engine.execute(
        f"CREATE TASK push INTO events.{ch_database.name}.hits AS SELECT i AS id, 'p' || i AS page FROM range(4) t(i)"
    )
    await engine.execute("EXECUTE TASK push")
    assert ch_database.client().execute("SELECT id, page FROM hits ORDER BY id") == [
        (i, f"p{i}") for i in range(4)
    ]


async def test_a_missing_table_in_the_other_warehouse_is_a_notice_then_a_run_error(
    engine: Engine, pg_database: PgDatabase
) -> None:
    await engine.execute(f"CREATE WAREHOUSE pgw TYPE = postgres URL = '{pg_database.url}'")
    created = await one(engine, "CREATE TASK later INTO pgw.public.nope AS SELECT 1 AS a")
    assert created.notices[0] == (
        "task later: INTO table public.nope does not exist in warehouse pgw yet; its runs fail"
        " (INTO_TABLE_NOT_FOUND) until it is created there"
    )
    with pytest.raises(RunFailed) as info:
        await engine.execute("EXECUTE TASK later")
    assert "INTO table public.nope in warehouse pgw does not exist" in info.value.message
