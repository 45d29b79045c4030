"""Warehouse.transaction(): statements one at a time on one connection, all or nothing, every backend."""

from __future__ import annotations

import asyncio
import time

import pyarrow as pa
import pytest

from tasksql.errors import QueryCancelled, QueryFailed
from tasksql.warehouses.base import CancelToken, Warehouse

from .support import SLOW, until


async def test_commits_at_the_end(warehouse: Warehouse) -> None:
    async with warehouse.transaction() as txn:
        await txn.execute("CREATE TABLE t (x INTEGER)")
        rs = await txn.execute("INSERT INTO t VALUES (1), (2)")
        assert rs.rowcount == 2
        # the statements see each other's work before the commit
        assert (await txn.execute("SELECT count(*) FROM t")).rows == [(2,)]
    assert (await warehouse.execute("SELECT count(*) FROM t")).rows == [(2,)]


async def test_an_error_rolls_everything_back(warehouse: Warehouse) -> None:
    await warehouse.execute("CREATE TABLE t (x INTEGER)")
    with pytest.raises(QueryFailed):
        async with warehouse.transaction() as txn:
            await txn.execute("INSERT INTO t VALUES (1)")
            await txn.execute("CREATE TABLE u (y INTEGER)")
            await txn.execute("SELECT * FROM no_such_table")
    assert (await warehouse.execute("SELECT count(*) FROM t")).rows == [(0,)]
    assert await warehouse.table_columns("u") is None


async def test_extra_relations_are_visible_to_one_statement(warehouse: Warehouse) -> None:
    extra = pa.table({"v": [5, 6]})
    async with warehouse.transaction() as txn:
        await txn.execute("CREATE TABLE t (v INTEGER)")
        await txn.execute("INSERT INTO t SELECT v FROM extra_rel", tables={"extra_rel": extra})
    assert (await warehouse.execute("SELECT sum(v) FROM t")).rows == [(11,)]


async def test_cancel_interrupts_the_statement_and_rolls_back(warehouse: Warehouse) -> None:
    await warehouse.execute("CREATE TABLE t (x INTEGER)")
    token = CancelToken()

    async def script() -> None:
        async with warehouse.transaction() as txn:
            await txn.execute("INSERT INTO t VALUES (1)")
            await txn.execute(SLOW[warehouse.dialect], token=token)

    task = asyncio.create_task(script())
    assert await until(lambda: warehouse.running == 1)
    started = time.monotonic()
    token.cancel("test")
    with pytest.raises(QueryCancelled):
        await task
    assert time.monotonic() - started < 5
    assert await until(lambda: warehouse.running == 0)
    assert (await warehouse.execute("SELECT count(*) FROM t")).rows == [(0,)]


async def test_the_connection_goes_back_clean(make_warehouse: object) -> None:
    # one slot: the next call must get a usable connection, outside any transaction
    w = await make_warehouse(max_concurrency=1)  # type: ignore[operator]
    with pytest.raises(QueryFailed):
        async with w.transaction() as txn:
            await txn.execute("CREATE TABLE t (x INTEGER)")
            await txn.execute("SELECT * FROM no_such_table")
    await w.execute("CREATE TABLE t (x INTEGER)")
    async with w.transaction() as txn:
        await txn.execute("INSERT INTO t VALUES (7)")
    assert (await w.execute("SELECT x FROM t")).rows == [(7,)]
