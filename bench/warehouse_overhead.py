"""Per-statement overhead of the embedded DuckDB warehouse (not a test: run it by hand).

    python bench/warehouse_overhead.py [-n 2000] [--concurrency 8]

Trivial one-row INSERTs into a DuckDB file, measured several ways so that the cost of the warehouse
layer (thread hop, supervision, session pool) can be told apart from DuckDB's own cost:

* ``duckdb, same cursor``   - the driver alone, one cursor, no threads: the floor;
* ``duckdb, new cursor``    - the driver alone, a new cursor per statement;
* ``run_body``              - one call at a time through ``DuckDBWarehouse.run_body``;
* ``run_body, txn``         - the same, ``transactional=True`` (BEGIN/COMMIT around it);
* ``run_body, no reuse``    - cursors not kept between calls (a new one per call);
* ``run_body, timeout``     - with a timeout and a cancel token (the scheduler's usual call);
* ``run_body xN``           - N callers at once (throughput; latency includes waiting for a slot).

Prints p50/p99 latency per statement and statements per second.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import duckdb

from tasksql.warehouses.base import CancelToken
from tasksql.warehouses.duckdb import DuckDBDatabase, DuckDBWarehouse

INSERT = "INSERT INTO t VALUES (1, 'x')"


def report(label: str, latencies: list[float], wall: float) -> None:
    lat = sorted(latencies)
    p50 = statistics.median(lat) * 1e6
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e6
    print(f"{label:<24} p50 {p50:8.0f} us   p99 {p99:8.0f} us   {len(lat) / wall:8.0f} statements/s")


def raw(path: Path, n: int, new_cursor: bool) -> None:
    con = duckdb.connect(str(path))
    cur = con.cursor()
    lat: list[float] = []
    start = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        if new_cursor:
            c = con.cursor()
            c.execute(INSERT)
            c.close()
        else:
            cur.execute(INSERT)
        lat.append(time.perf_counter() - t0)
    report("duckdb, new cursor" if new_cursor else "duckdb, same cursor", lat, time.perf_counter() - start)
    cur.close()
    con.close()


async def sequential(label: str, n: int, call: Callable[[], Awaitable[object]]) -> None:
    lat: list[float] = []
    start = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        await call()
        lat.append(time.perf_counter() - t0)
    report(label, lat, time.perf_counter() - start)


async def concurrent(w: DuckDBWarehouse, n: int, callers: int) -> None:
    lat: list[float] = []

    async def caller(count: int) -> None:
        for _ in range(count):
            t0 = time.perf_counter()
            await w.run_body([INSERT], transactional=False)
            lat.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(caller(n // callers) for _ in range(callers)))
    report(f"run_body x{callers}", lat, time.perf_counter() - start)


async def through_warehouse(path: Path, n: int, callers: int) -> None:
    db = DuckDBDatabase(path)
    w = db.pool("bench", max_concurrency=callers)
    await w.open()
    await sequential("run_body", n, lambda: w.run_body([INSERT], transactional=False))
    await sequential("run_body, txn", n, lambda: w.run_body([INSERT], transactional=True))
    await sequential(
        "run_body, timeout",
        n,
        lambda: w.run_body([INSERT], transactional=False, timeout=60, token=CancelToken()),
    )
    await concurrent(w, n, callers)
    await w.close()

    fresh = db.pool("fresh", max_concurrency=callers)
    fresh._sessions._keep = 0  # measure without cursor reuse
    await fresh.open()
    await sequential("run_body, no reuse", n, lambda: fresh.run_body([INSERT], transactional=False))
    await fresh.close()
    await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="statements per measurement")
    parser.add_argument("--concurrency", type=int, default=8, help="callers at once in the last measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "warehouse.duckdb"
        con = duckdb.connect(str(path))
        con.execute("CREATE TABLE t (a INTEGER, b TEXT)")
        con.close()
        raw(path, args.n, new_cursor=False)
        raw(path, args.n, new_cursor=True)
        asyncio.run(through_warehouse(path, args.n, args.concurrency))


if __name__ == "__main__":
    main()
