"""chdb (embedded ClickHouse) as a warehouse, beyond the shared contract (``test_wh_contract.py``):
a timeout stops the statement in chdb (``max_execution_time``), one data directory per process,
``CREATE WAREHOUSE ... TYPE = chdb PATH = '...'`` through the engine, INTO a chdb table from DuckDB,
and a clear error for a bad PATH."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.errors import QueryTimeout, TasksqlError, WarehouseError
from tasksql.settings import Settings

pytest.importorskip("chdb", reason="chdb is not installed (pip install 'tasksql[chdb]')")

from tasksql.warehouses.chdb_local import ChdbWarehouse

SLOW = "SELECT count() FROM system.numbers WHERE number % 7 = 8"


@pytest.fixture
async def warehouse(chdb_path: Path) -> AsyncIterator[ChdbWarehouse]:
    w = ChdbWarehouse("local_ch", chdb_path)
    await w.open()
    yield w
    await w.execute("DROP TABLE IF EXISTS moved")
    await w.close()


async def test_a_timeout_stops_the_statement_in_chdb(warehouse: ChdbWarehouse) -> None:
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        await warehouse.execute(SLOW, timeout=0.3)
    # chdb stopped it itself: the session is free again well before any grace period
    deadline = time.monotonic() + 5
    while warehouse.running and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert warehouse.running == 0
    assert time.monotonic() - started < 2.0
    assert (await warehouse.execute("SELECT 1")).rows == [(1,)]
    # the time limit was the call's only
    rs = await warehouse.execute("SELECT value FROM system.settings WHERE name = 'max_execution_time'")
    assert rs.rows[0][0] in ("0", "0s")


async def test_a_cancel_stops_the_statement_in_chdb(warehouse: ChdbWarehouse) -> None:
    from tasksql.errors import QueryCancelled
    from tasksql.warehouses.base import CancelToken

    token = CancelToken()
    call = asyncio.ensure_future(warehouse.execute(SLOW, token=token))  # no time limit of its own
    assert await _until(lambda: warehouse.running == 1)
    await asyncio.sleep(0.1)  # well inside the statement
    token.cancel("CANCEL TASK")
    with pytest.raises(QueryCancelled):
        await call
    # KILL QUERY stopped it: the session is free again at once, not after an hour
    # (the bounds are generous for a loaded machine)
    assert await _until(lambda: warehouse.running == 0, within=30)
    started = time.monotonic()
    assert (await warehouse.execute("SELECT 1")).rows == [(1,)]
    assert time.monotonic() - started < 10


async def _until(check: Callable[[], bool], within: float = 30.0) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


async def test_one_data_directory_per_process(warehouse: ChdbWarehouse, tmp_path: Path) -> None:
    other = ChdbWarehouse("elsewhere", tmp_path / "other-ch")
    with pytest.raises(WarehouseError) as info:
        await other.open()
    assert info.value.code == "CHDB_ONE_PATH"
    assert str(warehouse.path) in info.value.message


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


async def test_create_warehouse_with_a_path_and_into_it_from_duckdb(
    engine: Engine, warehouse: ChdbWarehouse, chdb_path: Path
) -> None:
    await warehouse.execute(
        "CREATE TABLE moved (id Int64, amount Nullable(Decimal(10, 2)), note String) ENGINE = MergeTree ORDER BY id"
    )
    await engine.execute(f"CREATE WAREHOUSE local_ch TYPE = chdb PATH = '{chdb_path}'")
    shown = (await engine.execute("SHOW WAREHOUSES LIKE 'local_ch'"))[-1].as_dicts()[0]
    assert shown["type"] == "chdb"
    await engine.execute(
        "CREATE TASK copy INTO local_ch.moved AS SELECT i AS id, i * 1.5 AS amount, 'n' || i AS note FROM range(3) t(i)"
    )
    [ran] = await engine.execute("EXECUTE TASK copy")
    assert ran.as_dicts()[0]["status"] == "Task copy ran: SUCCEEDED."
    rows = (await warehouse.execute("SELECT id, toString(amount), note FROM moved ORDER BY id")).rows
    assert rows == [(0, "0", "n0"), (1, "1.5", "n1"), (2, "3", "n2")]


async def test_path_and_url_together_are_refused(engine: Engine) -> None:
    with pytest.raises(TasksqlError) as info:
        await engine.execute("CREATE WAREHOUSE w TYPE = chdb PATH = 'a' URL = 'b'")
    assert "URL or PATH" in info.value.message
    assert (await engine.execute("SHOW WAREHOUSES LIKE 'w'"))[-1].rows == []


async def test_a_relative_path_is_in_the_data_directory(engine: Engine, tmp_path: Path) -> None:
    from tasksql.model import WarehouseDef, WarehouseType
    from tasksql.warehouses.registry import WarehouseRegistry, _chdb_path

    reg = WarehouseRegistry(tmp_path / "data")
    d = WarehouseDef(name="local_ch", type=WarehouseType.CHDB, url="ch-data")
    assert _chdb_path(reg=reg, d=d) == tmp_path / "data" / "ch-data"
    reg.check(d)  # chdb is installed: accepted
    with pytest.raises(WarehouseError) as info:
        reg.check(WarehouseDef(name="x", type=WarehouseType.CHDB, url="chdb:"))
    assert info.value.code == "INVALID_URL"
