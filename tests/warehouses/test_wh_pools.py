"""DuckDB compute pools: named warehouses over one database file, each with its own concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.errors import QueryCancelled
from tasksql.warehouses.base import CancelToken
from tasksql.warehouses.duckdb import DuckDBDatabase, DuckDBWarehouse

from .support import SLOW, until


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[DuckDBDatabase]:
    db = DuckDBDatabase(tmp_path / "warehouse.duckdb")
    yield db
    await db.close()


@pytest.fixture
async def pools(database: DuckDBDatabase) -> AsyncIterator[tuple[DuckDBWarehouse, DuckDBWarehouse]]:
    small, big = database.pool("small", 1), database.pool("big", 2)
    await small.open()
    await big.open()
    yield small, big
    await small.close()
    await big.close()


async def test_pools_share_the_data(pools: tuple[DuckDBWarehouse, DuckDBWarehouse]) -> None:
    small, big = pools
    await small.execute("CREATE TABLE shared (a INTEGER)")
    await big.run_body(["INSERT INTO shared VALUES (1)", "INSERT INTO shared VALUES (2)"], transactional=True)
    await small.execute("INSERT INTO shared VALUES (3)")
    assert (await big.execute("SELECT sum(a) FROM shared")).rows == [(6,)]
    assert await small.table_columns("shared") == ["a"]


async def test_each_pool_respects_its_own_limit(pools: tuple[DuckDBWarehouse, DuckDBWarehouse]) -> None:
    small, big = pools
    token = CancelToken()
    slow = SLOW["duckdb"]
    running = [asyncio.create_task(small.execute(slow, token=token))]
    assert await until(lambda: small.running == 1)
    queued_small = asyncio.create_task(small.execute("SELECT 'small'"))
    # the big pool is not held up by the full small one: it runs two at once
    running += [asyncio.create_task(big.execute(slow, token=token)) for _ in range(2)]
    assert await until(lambda: big.running == 2)
    queued_big = asyncio.create_task(big.execute("SELECT 'big'"))
    await asyncio.sleep(0.2)
    assert not queued_small.done() and not queued_big.done()
    assert (small.running, big.running) == (1, 2)
    token.cancel()
    for t in running:
        with pytest.raises(QueryCancelled):
            await t
    assert (await queued_small).rows == [("small",)]
    assert (await queued_big).rows == [("big",)]


async def test_closing_a_pool_leaves_the_database_and_other_pools_open(
    database: DuckDBDatabase, pools: tuple[DuckDBWarehouse, DuckDBWarehouse]
) -> None:
    small, big = pools
    await small.execute("CREATE TABLE t AS SELECT 1 AS a")
    await small.close()
    assert database.is_open
    assert (await big.execute("SELECT a FROM t")).rows == [(1,)]


async def test_data_survives_reopening_the_file(tmp_path: Path) -> None:
    db = DuckDBDatabase(tmp_path / "warehouse.duckdb")
    w = db.pool("default")
    await w.open()
    await w.run_body(["CREATE TABLE kept (a INTEGER)", "INSERT INTO kept VALUES (42)"], transactional=True)
    await w.close()
    await db.close()
    again = DuckDBDatabase(tmp_path / "warehouse.duckdb")
    w2 = again.pool("default")
    await w2.open()
    try:
        assert (await w2.execute("SELECT a FROM kept")).rows == [(42,)]
    finally:
        await w2.close()
        await again.close()


async def test_extensions_are_not_fetched_from_the_network(
    pools: tuple[DuckDBWarehouse, DuckDBWarehouse],
) -> None:
    small, _ = pools
    rs = await small.execute(
        "SELECT current_setting('autoinstall_known_extensions'), current_setting('autoload_known_extensions')"
    )
    assert rs.rows == [(False, False)]


async def test_checkpoint_after_a_write(pools: tuple[DuckDBWarehouse, DuckDBWarehouse]) -> None:
    """Nothing of ours holds a transaction open: CHECKPOINT (an Ocient rebuild) runs after writes."""
    small, big = pools
    await small.execute("CREATE TABLE written (a INTEGER)")
    await big.execute("INSERT INTO written VALUES (1)")
    await small.execute("CHECKPOINT")
    await big.run_body(["CHECKPOINT"], transactional=False)
