"""Concurrent task bodies on one SQLite warehouse: latency and time spent waiting for the write lock
(not a test: run it by hand).

    python bench/sqlite_writers.py [--rate 1000] [--seconds 2] [--rounds 3] [--concurrency 4]

One-row INSERT bodies through ``Warehouse.run_body`` as the scheduler calls them (timeout, cancel
token, with or without the run's completion marker), started at a steady rate from the event loop
on a SQLite file with ``synchronous=normal`` and ``MAX_CONCURRENCY`` 4 (as in the benchmarks). The
variants (markers off / on) alternate round by round, so that a machine busy with something else
slows both alike. Prints, per variant, the medians over rounds of the p50 / p99 / max latency of a
body (from the call to its return) and of the time its session spent before the body's first
statement could run (waiting for the write lock: BEGIN IMMEDIATE, or the first write in autocommit).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tasksql.clock import SystemClock
from tasksql.warehouses import sqlite as sqlite_wh
from tasksql.warehouses.base import CancelToken, Marker
from tasksql.warehouses.sqlite import SQLiteWarehouse

BODY = ["INSERT INTO t VALUES (1, 'x')"]

#: Seconds each session spent in start() (BEGIN IMMEDIATE and whatever the backend waits for there)
#: and in its first statement, per body: appended by the wrappers below.
_waits: list[float] = []
#: Seconds spent committing (the marker's INSERT and COMMIT, or COMMIT): checkpoints show here.
_commits: list[float] = []


def _instrument() -> None:
    """Time the session's start() (the lock wait of a transactional body) and the first run() of a
    body in autocommit (its lock wait). Wraps the methods; the database is real."""
    cls: Any = sqlite_wh._SQLiteSession
    start, run, finish, marked = cls.start, cls.run, cls.finish, cls.commit_marked

    def timed_start(self: Any, params: Any, *, transactional: bool) -> None:
        t0 = time.perf_counter()
        try:
            start(self, params, transactional=transactional)
        finally:
            if transactional:
                _waits.append(time.perf_counter() - t0)

    def timed_run(self: Any, sql: str) -> Any:
        if self._con.in_transaction or not sql.startswith("INSERT INTO t "):
            return run(self, sql)
        t0 = time.perf_counter()
        try:
            return run(self, sql)
        finally:
            _waits.append(time.perf_counter() - t0)

    def timed_finish(self: Any, *, commit: bool) -> None:
        t0 = time.perf_counter()
        try:
            finish(self, commit=commit)
        finally:
            if commit and not self._in_commit_marked:
                _commits.append(time.perf_counter() - t0)

    def timed_marked(self: Any, marker: Any) -> None:
        t0 = time.perf_counter()
        self._in_commit_marked = True
        try:
            marked(self, marker)
        finally:
            self._in_commit_marked = False
            _commits.append(time.perf_counter() - t0)

    cls._in_commit_marked = False
    cls.start, cls.run, cls.finish, cls.commit_marked = timed_start, timed_run, timed_finish, timed_marked


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] * 1000 if s else float("nan")


async def _round(
    w: SQLiteWarehouse, rate: int, seconds: float, marked: bool, first_id: int
) -> dict[str, float]:
    clock = SystemClock()
    lat: list[float] = []
    _waits.clear()
    _commits.clear()

    async def one(run_id: int) -> None:
        marker = Marker(scope="bench", run_id=run_id, clock=clock) if marked else None
        t0 = time.perf_counter()
        await w.run_body(BODY, transactional=True, timeout=60, token=CancelToken(), marker=marker)
        lat.append(time.perf_counter() - t0)

    loop = asyncio.get_running_loop()
    pending: list[asyncio.Task[None]] = []
    start = loop.time()
    n = int(rate * seconds)
    for i in range(n):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        pending.append(asyncio.create_task(one(first_id + i)))
    await asyncio.gather(*pending)
    return {
        "p50": _pct(lat, 0.5),
        "p99": _pct(lat, 0.99),
        "max": _pct(lat, 1.0),
        "wait_p99": _pct(_waits, 0.99),
        "wait_max": _pct(_waits, 1.0),
        "commit_p99": _pct(_commits, 0.99),
        "commit_max": _pct(_commits, 1.0),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=1000, help="bodies started per second")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of a round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per variant")
    parser.add_argument("--concurrency", type=int, default=4, help="the warehouse's MAX_CONCURRENCY")
    args = parser.parse_args()
    _instrument()
    results: dict[str, list[dict[str, float]]] = {"markers off": [], "markers on": []}
    with tempfile.TemporaryDirectory() as tmp:
        w = SQLiteWarehouse("s", Path(tmp) / "w.db", max_concurrency=args.concurrency, synchronous="normal")
        await w.open()
        try:
            await w.execute("CREATE TABLE t (i INTEGER, s TEXT)")
            next_id = 1
            for r in range(2 * args.rounds):
                label = "markers on" if r % 2 else "markers off"
                res = await _round(w, args.rate, args.seconds, r % 2 == 1, next_id)
                next_id += int(args.rate * args.seconds)
                results[label].append(res)
        finally:
            await w.close()
    print(
        f"{args.rate} bodies/s for {args.seconds} s, MAX_CONCURRENCY {args.concurrency},"
        f" {args.rounds} rounds each"
    )
    for label, rounds in results.items():
        med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
        print(
            f"{label:<12} body p50 {med['p50']:6.2f} p99 {med['p99']:7.2f} max {med['max']:7.2f} ms;"
            f" lock wait p99 {med['wait_p99']:7.2f} max {med['wait_max']:7.2f} ms;"
            f" commit p99 {med['commit_p99']:7.2f} max {med['commit_max']:7.2f} ms"
        )


if __name__ == "__main__":
    asyncio.run(main())
