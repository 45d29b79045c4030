"""Timeouts, cancellation and concurrency, against the real warehouses.

Each slow statement would run for an hour or forever; a call that returns within seconds with the
right error, with the warehouse's running count back to zero (a slot is freed only when the driver
call has returned), shows that the query was stopped in the warehouse, not merely abandoned.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from tasksql.errors import QueryCancelled, QueryTimeout, WarehouseError
from tasksql.warehouses.base import CancelToken, Warehouse

from .conftest import MakeWarehouse
from .support import SLOW, until

#: Far below how long SLOW statements run, far above how long an interrupt takes.
BOUND = 30.0


async def stopped(w: Warehouse) -> bool:
    """True once no call runs in ``w`` and, for PostgreSQL, the server runs no slow query either."""
    if not await until(lambda: w.running == 0):
        return False
    if w.dialect == "postgres":
        probe = "SELECT count(*) FROM pg_stat_activity WHERE query = %s AND state = 'active'"
        rs = await w.execute(probe.replace("%s", "'" + SLOW["postgres"] + "'"))
        return rs.rows == [(0,)]
    return True


async def test_timeout_stops_the_query(warehouse: Warehouse) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(QueryTimeout) as info:
        await warehouse.execute(SLOW[warehouse.dialect], timeout=0.5)
    assert loop.time() - started < BOUND
    assert info.value.code == "TIMEOUT_EXCEEDED"
    assert "0.5 s" in info.value.message
    assert await stopped(warehouse)
    assert (await warehouse.execute("SELECT 1")).rows == [(1,)]


async def test_timeout_rolls_back_a_transactional_body(warehouse: Warehouse) -> None:
    await warehouse.execute("CREATE TABLE t (a INTEGER)")
    with pytest.raises(QueryTimeout):
        await warehouse.run_body(
            ["INSERT INTO t VALUES (1)", SLOW[warehouse.dialect]], transactional=True, timeout=0.5
        )
    assert await stopped(warehouse)
    assert (await warehouse.execute("SELECT count(*) FROM t")).rows == [(0,)]


async def test_timeout_of_a_condition(warehouse: Warehouse) -> None:
    with pytest.raises(QueryTimeout):
        await warehouse.evaluate(f"({SLOW[warehouse.dialect]}) IS NOT NULL", timeout=0.5)
    assert await stopped(warehouse)


async def test_cancel_token_from_another_thread_stops_the_query(warehouse: Warehouse) -> None:
    token = CancelToken()
    task = asyncio.create_task(warehouse.execute(SLOW[warehouse.dialect], token=token))
    assert await until(lambda: warehouse.running == 1)
    threading.Timer(0.2, token.cancel, args=("CANCEL TASK by admin",)).start()
    with pytest.raises(QueryCancelled) as info:
        await task
    assert info.value.code == "CANCELLED"
    assert "CANCEL TASK by admin" in info.value.message
    assert await stopped(warehouse)
    assert (await warehouse.execute("SELECT 2")).rows == [(2,)]


async def test_cancel_token_rolls_back_the_body(warehouse: Warehouse) -> None:
    await warehouse.execute("CREATE TABLE t (a INTEGER)")
    token = CancelToken()
    task = asyncio.create_task(
        warehouse.run_body(
            ["INSERT INTO t VALUES (1)", SLOW[warehouse.dialect]], transactional=True, token=token
        )
    )
    assert await until(lambda: warehouse.running == 1)
    token.cancel()
    with pytest.raises(QueryCancelled):
        await task
    assert await stopped(warehouse)
    assert (await warehouse.execute("SELECT count(*) FROM t")).rows == [(0,)]


async def test_cancelling_the_awaiting_task_stops_the_query(warehouse: Warehouse) -> None:
    task = asyncio.create_task(warehouse.execute(SLOW[warehouse.dialect]))
    assert await until(lambda: warehouse.running == 1)
    await asyncio.sleep(0.1)  # well inside the statement
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await stopped(warehouse)
    assert (await warehouse.execute("SELECT 3")).rows == [(3,)]


async def test_runs_execute_in_parallel_up_to_max_concurrency(make_warehouse: MakeWarehouse) -> None:
    w = await make_warehouse(max_concurrency=2)
    token = CancelToken()
    slow = [asyncio.create_task(w.execute(SLOW[w.dialect], token=token)) for _ in range(2)]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    tick_task = asyncio.create_task(ticker())
    try:
        assert await until(lambda: w.running == 2)  # both execute at once
        extra = asyncio.create_task(w.execute("SELECT 42"))
        before = ticks
        await asyncio.sleep(0.3)
        assert ticks > before  # the event loop kept running while both queries ran
        assert not extra.done()  # a third call waits for a slot
        assert w.running == 2
        token.cancel()
        for t in slow:
            with pytest.raises(QueryCancelled):
                await t
        assert (await extra).rows == [(42,)]
    finally:
        tick_task.cancel()
    assert await stopped(w)


async def test_timeout_counts_the_wait_for_a_slot(make_warehouse: MakeWarehouse) -> None:
    w = await make_warehouse(max_concurrency=1)
    token = CancelToken()
    blocker = asyncio.create_task(w.execute(SLOW[w.dialect], token=token))
    assert await until(lambda: w.running == 1)
    with pytest.raises(QueryTimeout) as info:
        await w.execute("SELECT 1", timeout=0.2)
    assert "waiting for a free slot" in info.value.message
    waiting = CancelToken()
    queued = asyncio.create_task(w.execute("SELECT 1", token=waiting))
    await asyncio.sleep(0.05)
    waiting.cancel("not needed")
    with pytest.raises(QueryCancelled):
        await queued
    token.cancel()
    with pytest.raises(QueryCancelled):
        await blocker
    assert await stopped(w)
    assert (await w.execute("SELECT 1")).rows == [(1,)]  # no slot was lost on the way


async def test_close_interrupts_running_calls(warehouse: Warehouse) -> None:
    task = asyncio.create_task(warehouse.execute(SLOW[warehouse.dialect]))
    assert await until(lambda: warehouse.running == 1)
    await warehouse.close()
    with pytest.raises(WarehouseError) as info:
        await task
    assert info.value.code == "WAREHOUSE_CLOSED"
    assert warehouse.running == 0


async def test_close_refuses_calls_still_waiting_for_a_slot(make_warehouse: MakeWarehouse) -> None:
    w = await make_warehouse(max_concurrency=1)
    running = asyncio.create_task(w.execute(SLOW[w.dialect]))
    assert await until(lambda: w.running == 1)
    queued = [asyncio.create_task(w.execute("SELECT 1")) for _ in range(3)]
    await asyncio.sleep(0.05)
    await w.close()
    for t in [running, *queued]:
        with pytest.raises(WarehouseError) as info:
            await t
        assert info.value.code == "WAREHOUSE_CLOSED"


async def test_many_short_concurrent_calls(make_warehouse: MakeWarehouse) -> None:
    w = await make_warehouse(max_concurrency=3)
    await w.execute("CREATE TABLE t (a INTEGER)")
    results = await asyncio.gather(
        *(w.run_body([f"INSERT INTO t VALUES ({i})"], transactional=True) for i in range(60))
    )
    assert all(r.rows_inserted == 1 for r in results)
    assert (await w.execute("SELECT count(*), sum(a) FROM t")).rows == [(60, sum(range(60)))]
    assert w.running == 0
