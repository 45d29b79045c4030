"""Streams through the engine: the ELT pattern of Snowflake and Databend (a task consuming a stream,
skipped while it has no data), SHOW / DESCRIBE / DROP, and errors at their line and column."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tasksql.engine import Engine
from tasksql.errors import QueryFailed, RunFailed, TasksqlError, ValidationError
from tasksql.settings import Settings


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


async def rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    return (await engine.execute(sql))[-1].rows


async def run(engine: Engine, task: str) -> dict[str, Any]:
    return (await engine.execute(f"EXECUTE TASK {task}"))[-1].as_dicts()[0]


async def test_elt_on_the_default_warehouse(engine: Engine) -> None:
    await engine.execute(
        """
        CREATE TABLE orders (id INT, amount DECIMAL(10,2), status TEXT);
        CREATE STREAM orders_changes ON TABLE orders;
        CREATE TABLE order_facts (id INT, amount DECIMAL(10,2), action TEXT);
        CREATE TASK load_facts
          WAREHOUSE = 'default'
          SCHEDULE = '10 SECONDS'
          WHEN SYSTEM$STREAM_HAS_DATA('orders_changes')
        AS INSERT INTO order_facts SELECT id, amount, METADATA$ACTION FROM orders_changes;
        """
    )
    assert (await run(engine, "load_facts"))["state"] == "SKIPPED"  # nothing changed yet
    await engine.execute("INSERT INTO orders VALUES (1, 9.50, 'new')")
    assert await rows(engine, "SELECT count(*) FROM orders_changes") == [(1,)]  # a peek
    assert await rows(engine, "SELECT STREAM_STATUS('orders_changes')") == [(True,)]
    ran = await run(engine, "load_facts")
    assert ran["state"] == "SUCCEEDED"
    assert (await run(engine, "load_facts"))["state"] == "SKIPPED"  # consumed once
    await engine.execute("INSERT INTO orders VALUES (2, 1.00, 'new')")
    assert (await run(engine, "load_facts"))["state"] == "SUCCEEDED"
    facts = await rows(engine, "SELECT id, action FROM order_facts ORDER BY id")
    assert facts == [(1, "INSERT"), (2, "INSERT")]
    [shown] = (await engine.execute("SHOW STREAMS"))[-1].as_dicts()
    assert (shown["name"], shown["table_name"], shown["type"], shown["mode"], shown["stale"]) == (
        "orders_changes",
        "orders",
        "DELTA",
        "SNAPSHOT_DIFF",
        False,
    )


async def test_a_task_on_a_sqlite_warehouse_sees_changes_made_by_anyone(
    engine: Engine, tmp_path: Path
) -> None:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE orders (id INTEGER, amount REAL)")
        con.execute("CREATE TABLE facts (id INTEGER, action TEXT, upd INTEGER)")
    await engine.execute(
        f"""
        CREATE WAREHOUSE shop TYPE = sqlite URL = '{db}';
        CREATE STREAM oc ON TABLE orders WAREHOUSE = shop COMMENT = 'orders';
        CREATE TASK t WAREHOUSE = shop SCHEDULE = '1 HOURS' WHEN STREAM_STATUS('oc') = TRUE
        AS INSERT INTO facts SELECT id, METADATA$ACTION, METADATA$ISUPDATE FROM oc;
        """
    )
    with sqlite3.connect(db) as con:  # another program writes
        con.execute("INSERT INTO orders VALUES (1, 1.5), (2, 2.5)")
        con.execute("UPDATE orders SET amount = 3 WHERE id = 2")
    assert (await run(engine, "t"))["state"] == "SUCCEEDED"
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM orders WHERE id = 1")
    assert (await run(engine, "t"))["state"] == "SUCCEEDED"
    assert (await run(engine, "t"))["state"] == "SKIPPED"
    with sqlite3.connect(db) as con:
        got = con.execute("SELECT id, action, upd FROM facts ORDER BY rowid").fetchall()
    assert sorted(got[:2]) == [(1, "INSERT", 0), (2, "INSERT", 0)] and got[2:] == [(1, "DELETE", 0)]
    [described] = (await engine.execute("DESCRIBE STREAM oc IN WAREHOUSE shop"))[-1].as_dicts()
    assert (described["mode"], described["comment"], described["columns"]) == (
        "TRIGGERS",
        "orders",
        "id, amount",
    )
    assert await rows(engine, "SHOW STREAMS") == []  # the default warehouse has none
    await engine.execute("DROP STREAM oc IN WAREHOUSE shop")
    assert await rows(engine, "SHOW STREAMS IN WAREHOUSE shop") == []


async def test_errors_point_at_the_statement(engine: Engine) -> None:
    await engine.execute("CREATE TABLE t (a INT); CREATE STREAM s ON TABLE t")
    with pytest.raises(ValidationError) as err:
        await engine.execute("SELECT 1;\nCREATE STREAM s ON TABLE t")
    assert err.value.code == "STREAM_EXISTS" and err.value.span is not None
    assert (err.value.span.line, err.value.span.column) == (2, 15)
    with pytest.raises(ValidationError) as err:
        await engine.execute("CREATE STREAM s2 ON TABLE nope")
    assert err.value.code == "TABLE_NOT_FOUND" and err.value.span is not None
    assert err.value.span.column == 27
    with pytest.raises(TasksqlError) as syntax:
        await engine.execute("CREATE STREAM s2 ON TABLE t APPEND_ONLY = maybe")
    assert syntax.value.span is not None and syntax.value.span.column == 43
    assert [r[1] for r in await rows(engine, "SHOW STREAMS")] == ["s"]  # nothing changed
    assert await rows(engine, "CREATE STREAM IF NOT EXISTS s ON TABLE t") == [
        ("s already exists, statement succeeded.",)
    ]
    await engine.execute("CREATE OR REPLACE STREAM s ON TABLE t APPEND_ONLY = TRUE")
    assert [r[4] for r in await rows(engine, "SHOW STREAMS LIKE 's%'")] == ["APPEND_ONLY"]
    with pytest.raises(ValidationError) as err:
        await engine.execute("DROP STREAM nope")
    assert err.value.code == "STREAM_NOT_FOUND"
    assert await rows(engine, "DROP STREAM IF EXISTS nope")
    await engine.execute("CREATE OR REPLACE TABLE t (a INT)")
    assert [r[6] for r in await rows(engine, "SHOW STREAMS")] == [True]  # stale
    with pytest.raises(QueryFailed) as failed:
        await engine.execute("SELECT * FROM s")
    assert failed.value.code == "STREAM_STALE"


async def test_elt_on_a_mysql_warehouse_and_staleness(engine: Engine, mariadb_database: Any) -> None:
    """The ELT pattern on MariaDB (triggers into a change table), then the table dropped and made
    again: the stream is STALE in SHOW STREAMS and reading it is a clear error."""
    con = mariadb_database.connect()
    try:
        with con.cursor() as cur:
            cur.execute("CREATE TABLE orders (id INT PRIMARY KEY, amount DECIMAL(10,2), status TEXT)")
            cur.execute("CREATE TABLE order_facts (id INT, amount DECIMAL(10,2), action TEXT, upd INT)")
        await engine.execute(
            f"""
            CREATE WAREHOUSE shop TYPE = mysql URL = '{mariadb_database.url}';
            CREATE STREAM orders_changes ON TABLE orders WAREHOUSE = shop;
            CREATE TASK load_facts WAREHOUSE = shop SCHEDULE = '10 SECONDS'
              WHEN SYSTEM$STREAM_HAS_DATA('orders_changes')
            AS INSERT INTO order_facts SELECT id, amount, METADATA$ACTION, METADATA$ISUPDATE
               FROM orders_changes;
            """
        )
        assert (await run(engine, "load_facts"))["state"] == "SKIPPED"
        with con.cursor() as cur:  # another program writes
            cur.execute("INSERT INTO orders VALUES (1, 9.50, 'new'), (2, 1.00, 'new')")
        assert (await run(engine, "load_facts"))["state"] == "SUCCEEDED"
        assert (await run(engine, "load_facts"))["state"] == "SKIPPED"  # consumed once
        with con.cursor() as cur:
            cur.execute("UPDATE orders SET status = 'paid' WHERE id = 2")
        assert (await run(engine, "load_facts"))["state"] == "SUCCEEDED"
        with con.cursor() as cur:
            cur.execute("SELECT id, action, upd FROM order_facts ORDER BY id, action")
            facts = cur.fetchall()
        assert list(facts) == [(1, "INSERT", 0), (2, "DELETE", 1), (2, "INSERT", 0), (2, "INSERT", 1)]
        [shown] = (await engine.execute("SHOW STREAMS IN WAREHOUSE shop"))[-1].as_dicts()
        assert (shown["mode"], shown["type"], shown["stale"]) == ("TRIGGERS", "DELTA", False)
        with con.cursor() as cur:
            cur.execute("DROP TABLE orders")
            cur.execute("CREATE TABLE orders (id INT PRIMARY KEY, amount DECIMAL(10,2), status TEXT)")
        [shown] = (await engine.execute("SHOW STREAMS IN WAREHOUSE shop"))[-1].as_dicts()
        assert shown["stale"] is True or shown["stale"] == 1
        with pytest.raises(RunFailed) as failed:  # reading it (its WHEN here) is a clear error
            await run(engine, "load_facts")
        assert "STREAM_STALE" in str(failed.value) and "CREATE OR REPLACE STREAM" in str(failed.value)
        await engine.execute("CREATE OR REPLACE STREAM orders_changes ON TABLE orders WAREHOUSE = shop")
        [shown] = (await engine.execute("SHOW STREAMS IN WAREHOUSE shop"))[-1].as_dicts()
        assert not shown["stale"]
    finally:
        con.close()


async def test_two_tasks_reading_one_stream_share_its_changes(engine: Engine, tmp_path: Path) -> None:
    """Two tasks consume one stream, run at the same moments, while rows arrive: each change lands
    in exactly one of their targets, once."""
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE orders (id INTEGER)")
        con.execute("CREATE TABLE facts (id INTEGER, task TEXT)")
    await engine.execute(
        f"""
        CREATE WAREHOUSE shop TYPE = sqlite URL = '{db}' MAX_CONCURRENCY = 4;
        CREATE STREAM oc ON TABLE orders WAREHOUSE = shop;
        CREATE TASK a WAREHOUSE = shop SCHEDULE = '1 HOURS'
        AS INSERT INTO facts SELECT id, 'a' FROM oc;
        CREATE TASK b WAREHOUSE = shop SCHEDULE = '1 HOURS'
        AS INSERT INTO facts SELECT id, 'b' FROM oc;
        """
    )
    for i in range(8):
        with sqlite3.connect(db) as con:
            con.execute(f"INSERT INTO orders VALUES ({2 * i}), ({2 * i + 1})")
        ran = await asyncio.gather(run(engine, "a"), run(engine, "b"))
        assert {r["state"] for r in ran} == {"SUCCEEDED"}
    with sqlite3.connect(db) as con:
        got = con.execute("SELECT id, task FROM facts").fetchall()
    ids = sorted(i for i, _ in got)
    assert ids == list(range(16))  # none twice, none lost
    assert {t for _, t in got} <= {"a", "b"}
