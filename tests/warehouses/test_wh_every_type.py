"""Tasks on every warehouse type, through the engine and a scheduler driven tick by tick: single
statements and ``BEGIN ... END`` scripts (all or nothing where the database has transactions),
procedure calls (``CALL`` on PostgreSQL and MySQL, a table macro on DuckDB, a clear refusal where
the database has none), ``WHEN`` conditions, timeouts and ``CANCEL TASK`` that stop the query in
the database, session parameters, and tasksql's relations (``system.cluster``, ``task_history()``)
read from a body. Each type runs against a real instance: DuckDB and SQLite files, the private
PostgreSQL, MariaDB and ClickHouse servers the tests start, and chdb in-process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.errors import NotSupportedError, ValidationError
from tasksql.scheduler.service import Scheduler
from tasksql.settings import Settings
from tasksql.testing import FakeClock
from tasksql.warehouses.base import Warehouse

#: "clickhouse-http": the clickhouse type over the HTTP interface (an http:// URL).
TYPES = ["duckdb", "sqlite", "postgres", "mysql", "clickhouse", "clickhouse-http", "chdb"]

#: A statement per type that would run for hours unless stopped.
SLOW = {
    "duckdb": "SELECT sum(hash(i)) FROM range(1000000000000) t(i)",
    "sqlite": "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT sum(i) FROM r",
    "postgres": "SELECT pg_sleep(3600)",
    "mysql": "SELECT SLEEP(3600)",
    "clickhouse": "SELECT count() FROM system.numbers WHERE number % 7 = 8",
    "chdb": "SELECT count() FROM system.numbers WHERE number % 7 = 8",
}

#: A misspelt session parameter per type, and the setting suggested instead.
MISSPELT = {
    "duckdb": ("threds", "THREADS"),
    "postgres": ("work_mme", "WORK_MEM"),
    "sqlite": ("foreign_key", "FOREIGN_KEYS"),
    "mysql": ("time_zon", "TIME_ZONE"),
    "clickhouse": ("max_thread", "MAX_THREADS"),
    "chdb": ("max_thread", "MAX_THREADS"),
}

#: How each type shows that the slow statement still runs in the database (None: in-process, where
#: the warehouse's running count going back to zero means the driver call returned).
STILL_RUNNING = {
    "postgres": "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(3600)' AND state = 'active'",
    "mysql": "SELECT count(*) FROM information_schema.processlist WHERE info = 'SELECT SLEEP(3600)'",
    "clickhouse": "SELECT count() FROM system.processes WHERE query LIKE '%number % 7 = 8%' AND query NOT LIKE '%system.processes%'",
}

#: (session parameter, value, query that shows it, what it shows)
PARAMS = {
    "duckdb": ("TimeZone", "'Asia/Tokyo'", "SELECT current_setting('TimeZone')", "Asia/Tokyo"),
    "postgres": ("TimeZone", "'Asia/Tokyo'", "SELECT current_setting('TimeZone')", "Asia/Tokyo"),
    "sqlite": ("foreign_keys", "ON", "SELECT foreign_keys FROM pragma_foreign_keys", "1"),
    "mysql": ("time_zone", "'+09:00'", "SELECT @@session.time_zone", "+09:00"),
    "clickhouse": ("max_threads", "3", "SELECT value FROM system.settings WHERE name = 'max_threads'", "3"),
    "chdb": ("max_threads", "3", "SELECT value FROM system.settings WHERE name = 'max_threads'", "3"),
}

#: How a procedure that inserts its argument into t is made (None: the type has no procedures).
PROCEDURES = {
    "duckdb": "CREATE MACRO add_row(n) AS TABLE SELECT n AS a",  # a table macro: its rows go INTO t
    "postgres": "CREATE PROCEDURE add_row(n integer) LANGUAGE SQL AS $$ INSERT INTO t VALUES (n) $$",
    "mysql": "CREATE PROCEDURE add_row(n INT) INSERT INTO t VALUES (n)",
    "sqlite": None,
    "clickhouse": None,
    "chdb": None,
}


@dataclass
class Kit:
    kind: str
    engine: Engine
    clock: FakeClock
    scheduler: Scheduler

    @property
    def transactional(self) -> bool:
        return self.kind not in ("clickhouse", "chdb")

    async def wh(self) -> Warehouse:
        return await self.engine.warehouse("w")

    async def native(self, sql: str) -> list[tuple[object, ...]]:
        return (await (await self.wh()).execute(sql)).rows

    async def table(self, name: str, columns: str) -> None:
        if self.kind in ("clickhouse", "chdb"):
            cols = columns.replace("INTEGER", "Int64").replace("TEXT", "String")
            await self.native(f"CREATE TABLE {name} ({cols}) ENGINE = Memory")
        else:
            await self.native(f"CREATE TABLE {name} ({columns})")

    async def values(self, sql: str) -> list[object]:
        return sorted(row[0] for row in await self.native(sql))

    async def sql(self, text: str) -> list[dict[str, object]]:
        return (await self.engine.execute(text))[-1].as_dicts()

    async def history(self, task: str) -> list[tuple[object, ...]]:
        rows = await self.engine.execute(
            f"SELECT state, error_code, error_message FROM task_history(task_name => '{task}') ORDER BY scheduled_time"
        )
        return rows[-1].rows

    async def run(self, task: str) -> tuple[object, ...]:
        """EXECUTE TASK ``task`` and let the scheduler run it: (state, error_code, error_message)."""
        await self.sql(f"EXECUTE TASK {task}")
        await self.tick(0)
        return [row for row in await self.history(task) if row[0] != "SCHEDULED"][-1]

    async def tick(self, advance: float, *, drain: bool = True) -> None:
        self.clock.advance(advance)
        await self.scheduler.tick()
        await self.scheduler.bookkeeping_written()
        if drain:
            await self.scheduler.drain()


@pytest.fixture(params=TYPES)
async def kit(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Kit]:
    kind, _, transport = str(request.param).partition("-")
    url = {
        "duckdb": f"duckdb:{tmp_path / 'w.duckdb'}",
        "sqlite": f"sqlite:///{tmp_path / 'w.db'}",
    }.get(kind)
    if kind in ("postgres", "mysql", "clickhouse"):
        fixture = {
            "postgres": "pg_database",
            "mysql": "mariadb_database",
            "clickhouse": "ch_http_database" if transport == "http" else "ch_native_database",
        }[kind]
        url = request.getfixturevalue(fixture).url
    clause = f"URL = '{url}'"
    if kind == "chdb":
        clause = f"PATH = '{request.getfixturevalue('chdb_path')}'"
    clock = FakeClock("2026-03-01T12:00:00+00:00")
    engine = Engine(Settings.load(data_dir=tmp_path / "data", grace_period_s=2.0), clock=clock)
    await engine.open()
    scheduler = engine.new_scheduler(node_id="test-node")
    await scheduler.start(background=False)
    engine.scheduler = scheduler
    k = Kit(kind, engine, clock, scheduler)
    try:
        await engine.execute(f"CREATE WAREHOUSE w TYPE = {kind} {clause}")
        await k.table("t", "a INTEGER")
        yield k
    finally:
        if kind == "chdb":
            from .conftest import _empty_chdb

            await engine.close()
            await _empty_chdb(request.getfixturevalue("chdb_path"))
        else:
            await engine.close()


async def test_a_single_statement_and_a_script(kit: Kit) -> None:
    await kit.sql("CREATE TASK one WAREHOUSE = w AS INSERT INTO t VALUES (1)")
    await kit.sql(
        "CREATE TASK two WAREHOUSE = w AS BEGIN INSERT INTO t VALUES (2); INSERT INTO t VALUES (3); END"
    )
    for name in ("one", "two"):
        assert (await kit.run(name))[0] == "SUCCEEDED"
    assert await kit.values("SELECT a FROM t") == [1, 2, 3]


async def test_a_failing_script_is_all_or_nothing_where_the_database_has_transactions(kit: Kit) -> None:
    await kit.sql(
        "CREATE TASK half WAREHOUSE = w AS BEGIN INSERT INTO t VALUES (4); INSERT INTO no_such_table VALUES (5); END"
    )
    assert (await kit.run("half"))[0] == "FAILED"
    # ClickHouse and chdb have no transactions: what ran before the failing statement stays
    assert await kit.values("SELECT a FROM t") == ([] if kit.transactional else [4])


async def test_a_procedure_call_or_a_clear_refusal(kit: Kit) -> None:
    make = PROCEDURES[kit.kind]
    if make is None:
        # Refused at CREATE and at ALTER (the warehouse's type is known then), as a run would be.
        name = "SQLite" if kit.kind == "sqlite" else "ClickHouse"  # chdb is ClickHouse
        refusal = f"PROCEDURE add_row calls a stored procedure, and {name} has no stored procedures"
        with pytest.raises(NotSupportedError) as info:
            await kit.sql("CREATE TASK p WAREHOUSE = w PROCEDURE add_row WITH (7)")
        assert refusal in info.value.message and "\n" not in info.value.message
        await kit.sql("CREATE TASK p PROCEDURE add_row WITH (7)")  # on the default DuckDB warehouse
        with pytest.raises(NotSupportedError) as info:
            await kit.sql("ALTER TASK p SET WAREHOUSE = w")
        assert refusal in info.value.message
        # unchanged: still on the default warehouse (SHOW TASKS names none)
        assert [(r["name"], r["warehouse"]) for r in await kit.sql("SHOW TASKS")] == [("p", None)]
        return
    await kit.native(make)
    into = " INTO t" if kit.kind == "duckdb" else ""
    await kit.sql(f"CREATE TASK p WAREHOUSE = w{into} PROCEDURE add_row WITH (7)")
    assert (await kit.run("p"))[0] == "SUCCEEDED"
    assert await kit.values("SELECT a FROM t") == [7]


async def test_a_when_condition_is_evaluated_in_the_warehouse(kit: Kit) -> None:
    await kit.sql(
        "CREATE TASK gated WAREHOUSE = w SCHEDULE = '1 MINUTE' WHEN (SELECT count(*) FROM t) > 0"
        " AS INSERT INTO t VALUES (10)"
    )
    await kit.sql("ALTER TASK gated RESUME")
    await kit.tick(60)
    assert await kit.values("SELECT a FROM t") == []
    await kit.native("INSERT INTO t VALUES (1)")
    await kit.tick(60)
    assert await kit.values("SELECT a FROM t") == [1, 10]
    states = [row[0] for row in await kit.history("gated") if row[0] != "SCHEDULED"]
    assert states == ["SKIPPED", "SUCCEEDED"]


async def test_a_timeout_stops_the_query_in_the_database(kit: Kit) -> None:
    await kit.sql(f"CREATE TASK slow WAREHOUSE = w USER_TASK_TIMEOUT_MS = 300 AS {SLOW[kit.kind]}")
    started = time.monotonic()
    state, code, _ = await kit.run("slow")
    assert time.monotonic() - started < 3.0
    assert (state, code) == ("FAILED", "TIMEOUT_EXCEEDED")
    await stopped(kit)


async def test_cancel_task_stops_the_query_in_the_database(kit: Kit) -> None:
    await kit.sql(f"CREATE TASK slow WAREHOUSE = w SCHEDULE = '1 MINUTE' AS {SLOW[kit.kind]}")
    await kit.sql("ALTER TASK slow RESUME")
    await kit.tick(60, drain=False)
    wh = await kit.wh()
    await until(lambda: wh.running == 1)
    await asyncio.sleep(0.1)  # well inside the statement
    started = time.monotonic()
    [done] = await kit.sql("CANCEL TASK slow")
    assert "1 run(s) cancelled" in str(done["status"])
    await kit.scheduler.drain()
    assert time.monotonic() - started < 3.0
    await stopped(kit)
    assert [row[0] for row in await kit.history("slow") if row[0] != "SCHEDULED"] == ["CANCELLED"]


async def test_session_parameters_apply_to_the_run_only(kit: Kit) -> None:
    name, value, show, shown = PARAMS[kit.kind]
    await kit.table("seen", "v TEXT")
    before = await kit.native(show)
    await kit.sql(f"CREATE TASK sp WAREHOUSE = w {name.upper()} = {value} AS INSERT INTO seen {show}")
    assert (await kit.run("sp"))[0] == "SUCCEEDED"
    assert [str(v) for v in await kit.values("SELECT v FROM seen")] == [shown]
    assert await kit.native(show) == before


async def test_a_session_parameter_the_warehouse_has_no_setting_for_is_refused_at_create(kit: Kit) -> None:
    # Asked of the warehouse itself (duckdb_settings(), pg_settings, pragma_pragma_list, MariaDB's
    # SYSTEM_VARIABLES, ClickHouse's system.settings), not at the first run.
    name, suggested = MISSPELT[kit.kind]
    with pytest.raises(ValidationError) as info:
        await kit.sql(f"CREATE TASK sp WAREHOUSE = w {name} = 1 AS SELECT 1")
    err = info.value
    assert (err.code, err.line, err.column) == ("UNKNOWN_PARAMETER", 1, 30), err.render()
    assert f"did you mean {suggested}" in err.message and "warehouse w (" in err.message
    assert await kit.sql("SHOW TASKS") == []
    # on ALTER too; the task keeps what it had
    await kit.sql("CREATE TASK sp WAREHOUSE = w AS SELECT 1")
    shown = await kit.sql("SHOW CREATE TASK sp")
    with pytest.raises(ValidationError) as info:
        await kit.sql(f"ALTER TASK sp SET {name} = 1")
    assert info.value.code == "UNKNOWN_PARAMETER"
    assert await kit.sql("SHOW CREATE TASK sp") == shown


async def test_system_cluster_and_task_history_are_readable_from_a_body(kit: Kit) -> None:
    await kit.table("seen", "what TEXT, n INTEGER")
    await kit.sql("CREATE TASK first_one WAREHOUSE = w AS SELECT 1")
    assert (await kit.run("first_one"))[0] == "SUCCEEDED"
    await kit.sql(
        "CREATE TASK look WAREHOUSE = w AS BEGIN"
        " INSERT INTO seen SELECT 'nodes', count(*) FROM system.cluster WHERE node_id = 'test-node';"
        " INSERT INTO seen SELECT 'runs', count(*) FROM task_history() WHERE name = 'first_one';"
        " INSERT INTO seen SELECT 'tasks', count(*) FROM system.tasks;"
        " END"
    )
    assert await kit.run("look") == ("SUCCEEDED", None, None)
    assert sorted(await kit.native("SELECT what, n FROM seen")) == [("nodes", 1), ("runs", 1), ("tasks", 2)]


async def stopped(kit: Kit) -> None:
    """The slow statement is no longer running: the warehouse's call returned, and the server (where
    there is one) runs it no more."""
    wh = await kit.wh()
    assert await until(lambda: wh.running == 0), "the warehouse still runs the statement"
    probe = STILL_RUNNING.get(kit.kind)
    if probe is not None:
        deadline = time.monotonic() + 5
        while (await kit.native(probe))[0][0] != 0:
            assert time.monotonic() < deadline, "the statement still runs in the server"
            await asyncio.sleep(0.02)


async def until(check: object, within: float = 30.0) -> bool:
    assert callable(check)
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True
