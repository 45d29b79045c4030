"""What a run's completion marker costs per body (not a test: run it by hand).

    python bench/marker_overhead.py [-n 3000] [--postgres URL]

A one-row INSERT body through ``Warehouse.run_body`` as the scheduler calls it (timeout and cancel
token), with and without the run's completion marker, on a DuckDB file (``fsync_mode = none`` and
one thread, as in the benchmarks), a SQLite file
(``synchronous=normal``, as in the benchmarks, and the default FULL) and optionally a PostgreSQL
database. The two variants alternate in blocks of 50 calls, so that a machine busy with something
else slows both alike. Prints p50/p99 per body for each and the difference of the means.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from tasksql.clock import SystemClock
from tasksql.warehouses.base import CancelToken, Marker, Warehouse
from tasksql.warehouses.duckdb import DuckDBDatabase
from tasksql.warehouses.sqlite import SQLiteWarehouse

BODY = ["INSERT INTO t VALUES (1, 'x')"]
BLOCK = 50


async def measure(w: Warehouse, n: int) -> tuple[list[float], list[float]]:
    await w.execute("CREATE TABLE t (i INTEGER, s VARCHAR(10))")
    clock = SystemClock()
    plain: list[float] = []
    marked: list[float] = []
    run_id = 0
    for block in range(2 * n // BLOCK):
        with_marker = block % 2 == 1
        for _ in range(BLOCK):
            run_id += 1
            marker = Marker(scope="bench", run_id=run_id, clock=clock) if with_marker else None
            t0 = time.process_time()
            await w.run_body(BODY, transactional=False, timeout=3600, token=CancelToken(), marker=marker)
            (marked if with_marker else plain).append(time.process_time() - t0)
    return plain, marked


def show(label: str, plain: list[float], marked: list[float]) -> None:
    without, with_ = statistics.fmean(plain) * 1e6, statistics.fmean(marked) * 1e6
    print(
        f"{label:<22} CPU per body: without a marker {without:6.0f} us, with one {with_:6.0f} us"
        f" ({with_ - without:+5.0f} us)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=3000, help="bodies per variant")
    parser.add_argument("--postgres", help="a PostgreSQL database URL to measure as well")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # as in the benchmarks: no fsync per commit, one thread
        db = DuckDBDatabase(root / "w.duckdb", {"fsync_mode": "NONE", "threads": 1})
        targets: list[tuple[str, Warehouse]] = [
            ("duckdb (fsync none)", db.pool("p", 1)),
            ("sqlite normal", SQLiteWarehouse("s", root / "n.db", max_concurrency=1, synchronous="normal")),
            ("sqlite full", SQLiteWarehouse("f", root / "f.db", max_concurrency=1)),
        ]
        if args.postgres:
            from tasksql.warehouses.postgres import PostgresWarehouse

            targets.append(("postgres", PostgresWarehouse("pg", args.postgres, max_concurrency=1)))
        for label, w in targets:
            await w.open()
            try:
                show(label, *await measure(w, args.n))
            finally:
                await w.close()
        await db.close()


if __name__ == "__main__":
    asyncio.run(main())
