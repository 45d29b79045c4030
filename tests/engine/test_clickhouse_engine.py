"""ClickHouse warehouses through the engine, on a real ClickHouse server the tests start: CREATE
WAREHOUSE (the password never shown), tasks that run there (a body, INTO, a system table read from
the body, a timeout that stops the query in the server), and one that cannot be reached."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from clickhouseserver import ClickHouseDatabase, ClickHouseServer
from tasksql.engine import Engine, Result
from tasksql.errors import RunFailed
from tasksql.model import RunState
from tasksql.settings import Settings


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


async def one(engine: Engine, sql: str) -> Result:
    return (await engine.execute(sql))[-1]


@pytest.fixture
async def events(engine: Engine, ch_database: ClickHouseDatabase) -> ClickHouseDatabase:
    client = ch_database.client()
    client.execute("CREATE TABLE hits (id UInt32, page String) ENGINE = MergeTree ORDER BY id")
    client.execute("CREATE TABLE totals (n UInt64, pages UInt64, note String) ENGINE = Memory")
    await engine.execute(f"CREATE WAREHOUSE events TYPE = clickhouse URL = '{ch_database.url}'")
    return ch_database


async def test_the_warehouse_is_listed_without_its_password(
    engine: Engine, events: ClickHouseDatabase
) -> None:
    rows = {r[0]: r for r in (await one(engine, "SHOW WAREHOUSES")).rows}
    assert rows["events"][1] == "clickhouse"
    assert rows["events"][2] == events.url.replace(events.password, "***")
    assert rows["events"][2].startswith(f"{events.scheme}://tasksql:***@127.0.0.1:")
    assert events.password not in repr((await one(engine, "SELECT * FROM system.warehouses")).rows)


async def test_a_task_runs_its_body_and_into_on_the_server(
    engine: Engine, events: ClickHouseDatabase
) -> None:
    await engine.execute(
        "CREATE TASK fill WAREHOUSE = events AS BEGIN"
        " INSERT INTO hits VALUES (1, '/a'), (2, '/b');"
        " INSERT INTO hits SELECT 3, '/a';"
        " END"
    )
    await engine.execute(
        "CREATE TASK sum_up WAREHOUSE = events SCHEDULE = '1 MINUTE' INTO totals"
        " AS SELECT count() AS n, uniqExact(page) AS pages, 'done' AS note FROM hits"
    )
    [ran] = await engine.execute("EXECUTE TASK fill")
    assert ran.as_dicts()[0]["status"] == "Task fill ran: SUCCEEDED."
    await engine.execute("EXECUTE TASK sum_up")
    assert events.client().execute("SELECT n, pages, note FROM totals") == [(3, 2, "done")]
    runs = {r.name: r for r in await engine.catalog.list_runs()}
    assert runs["fill"].state is RunState.SUCCEEDED and runs["sum_up"].state is RunState.SUCCEEDED


async def test_a_body_reads_a_system_table(engine: Engine, events: ClickHouseDatabase) -> None:
    events.client().execute("CREATE TABLE seen (name String) ENGINE = Memory")
    await engine.execute(
        "CREATE TASK look WAREHOUSE = events AS INSERT INTO seen SELECT name FROM system.tasks"
    )
    await engine.execute("EXECUTE TASK look")
    assert events.client().execute("SELECT name FROM seen") == [("look",)]


async def test_a_timeout_stops_the_query_in_the_server(
    engine: Engine, events: ClickHouseDatabase, ch_server: ClickHouseServer
) -> None:
    await engine.execute(
        "CREATE TASK slow WAREHOUSE = events USER_TASK_TIMEOUT_MS = 300"
        " AS SELECT count() FROM system.numbers WHERE number % 11 = 12"
    )
    started = time.monotonic()
    with pytest.raises(RunFailed) as info:
        await engine.execute("EXECUTE TASK slow")
    assert time.monotonic() - started < 3.0
    assert "timeout" in info.value.message
    deadline = time.monotonic() + 5
    while ch_server.run("SELECT count() FROM system.processes WHERE query LIKE '%number % 11 = 12%'") != [
        (1,)
    ]:
        assert time.monotonic() < deadline, "the query still runs in the server"
        time.sleep(0.02)  # (only the probe itself is left)


async def test_an_unreachable_server_fails_the_run_in_one_line(
    engine: Engine, events: ClickHouseDatabase
) -> None:
    await engine.execute(
        "CREATE WAREHOUSE gone TYPE = clickhouse URL = 'clickhouse://etl:hunter2@127.0.0.1:1/x'"
    )
    await engine.execute("CREATE TASK t WAREHOUSE = gone AS SELECT 1")
    with pytest.raises(RunFailed) as info:
        await engine.execute("EXECUTE TASK t")
    message = info.value.message
    assert "cannot connect to clickhouse://etl:***@127.0.0.1:1/x" in message
    assert "hunter2" not in message and "\n" not in message


async def test_a_native_option_on_an_http_url_is_refused_at_create(engine: Engine) -> None:
    with pytest.raises(Exception) as info:
        await engine.execute(
            "CREATE WAREHOUSE h TYPE = clickhouse URL = 'http://etl:pw@127.0.0.1:8123/default?compression=lz4'"
        )
    assert "compression is an option of the native protocol" in str(info.value)
    assert "pw@" not in str(info.value)
    assert "h" not in {r[0] for r in (await one(engine, "SHOW WAREHOUSES")).rows}
