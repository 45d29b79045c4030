"""Helpers shared by the group-commit tests (test_wh_group_commit*.py).

Each test gets a warehouse with one worker and tables ``t`` and ``u``; bodies are queued behind a
statement that holds that worker, then let go together, so that the worker takes them as one group.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

import pytest

from tasksql.errors import QueryCancelled
from tasksql.testing import FakeClock
from tasksql.warehouses._threaded import ThreadedWarehouse
from tasksql.warehouses.base import BodyResult, CancelToken, Marker, Warehouse

from .conftest import MakeWarehouse
from .support import SLOW, until

CLOCK = FakeClock("2026-03-01T12:00:00+00:00")

#: A grouped body (one INSERT) that runs until it is interrupted.
SLOW_INSERT = {
    "duckdb": "INSERT INTO t SELECT count(*) FROM range(1000000000000) r(i) WHERE hash(i) = 7",
    "sqlite": "INSERT INTO t WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT sum(i) FROM r",
}


@pytest.fixture(params=["duckdb", "sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def marker(run_id: int) -> Marker:
    return Marker(scope="cat1", run_id=run_id, clock=CLOCK)


def stats(wh: Warehouse) -> tuple[int, int]:
    """(groups committed, bodies in them) so far."""
    assert isinstance(wh, ThreadedWarehouse)
    return wh.grouped


async def table(wh: Warehouse, sql: str = "SELECT x FROM t ORDER BY x") -> list[tuple[object, ...]]:
    return (await wh.execute(sql)).rows


async def one_worker_with_tables(make_warehouse: MakeWarehouse) -> Warehouse:
    """A warehouse with one worker and the empty tables ``t (x)`` and ``u (x PRIMARY KEY)``."""
    wh = await make_warehouse(max_concurrency=1)
    await wh.execute("CREATE TABLE t (x INTEGER)")
    await wh.execute("CREATE TABLE u (x INTEGER PRIMARY KEY)")
    return wh


async def group_going(
    wh: Warehouse,
    backend: str,
    bodies: Sequence[tuple[str, Marker | None, float | None]],
    tokens: Sequence[CancelToken | None] = (),
    within: float = 30.0,
) -> list[asyncio.Future[BodyResult]]:
    """Queue ``bodies`` (statement, marker or None, timeout; with ``tokens``, each one's cancel
    token) behind a statement that holds the one worker, then let the worker go: it takes them all
    at once. Their calls, in order. (Fails when the bodies are not all queued for group commit
    within ``within`` seconds.)"""
    holder = CancelToken()
    held = asyncio.create_task(wh.execute(SLOW[backend], token=holder))
    assert await until(lambda: wh.running == 1)
    given = list(tokens) or [None] * len(bodies)
    calls: list[Awaitable[BodyResult]] = [
        wh.run_body([sql], transactional=False, marker=m, timeout=timeout, token=token)
        for (sql, m, timeout), token in zip(bodies, given, strict=True)
    ]
    runs = [asyncio.ensure_future(c) for c in calls]
    queue = wh._groups._queue  # type: ignore[attr-defined]
    assert await until(lambda: len(queue) == len(bodies), within=within)
    holder.cancel("let the bodies go")
    with pytest.raises(QueryCancelled):
        await held
    return runs


async def in_one_group(
    wh: Warehouse,
    backend: str,
    bodies: Sequence[tuple[str, Marker | None, float | None]],
    within: float = 30.0,
) -> list[BodyResult | BaseException]:
    """As :func:`group_going`: the bodies' outcomes, in order."""
    runs = await group_going(wh, backend, bodies, within=within)
    return list(await asyncio.gather(*runs, return_exceptions=True))
