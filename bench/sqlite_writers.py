"""Concurrent task bodies on one SQLite warehouse: latency and time spent waiting for the write lock
(not a test: run it by hand).

    python -m bench.sqlite_writers [--rate 1000] [--seconds 2] [--rounds 3] [--concurrency 4]
                                   [--loop-cpu-us 300]

One-row INSERT bodies through ``Warehouse.run_body`` as the scheduler calls them (timeout, cancel
token, with or without the run's completion marker), started at a steady rate from the event loop
on a SQLite file with ``synchronous=normal`` and ``MAX_CONCURRENCY`` 4 (as in the benchmarks). The event
loop burns some CPU per body started (``--loop-cpu-us``), as the scheduler's own work does. Three
variants, each on a file of its own, alternate round by round so that a machine busy with
something else slows them alike: no markers (one-statement bodies without a marker), markers with
the lock waits of sqlite3's busy handler (the write gate left out), and markers with the write
gate. Prints, per variant, the medians over rounds of the p50 / p99 / max latency of a body (from
the call to its return), of the time spent waiting for the write lock and of the mean number of
bodies per committed group. A lock wait is counted once per acquisition: in ``start()`` (the gate
and BEGIN IMMEDIATE of a transactional body); for a group of one-statement bodies
(:mod:`tasksql.warehouses._group_commit`: the bodies a worker takes together share one
transaction), at its first ``group_run()`` (the gate; without it the wait is in the busy
handler, within the commit figure), once for the whole group; in autocommit, the whole INSERT. The
commit figure of a group runs from the gate taken to the end of ``group_commit()`` (its
statements, markers and COMMIT).
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
#: Seconds spent committing (the marker's INSERT and COMMIT, or COMMIT; for a marked one-statement
#: body, from the gate taken to the COMMIT's end, the statement included): checkpoints show here.
_commits: list[float] = []


def _instrument() -> None:
    """Time the session's start() (the lock wait of a transactional body), the first run() of a
    body in autocommit (its lock wait) and a group's gate wait and commit (group_begin() to
    group_commit()). Wraps the methods; the database is real."""
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

    take, begin, commit, abort = cls._take_gate, cls.group_begin, cls.group_commit, cls.group_abort

    def timed_take(self: Any) -> None:
        # a group's first statement takes the gate (held to its COMMIT); later ones find it held
        if not self._in_group or self._gate_taken is not None:
            take(self)
            return
        t0 = time.perf_counter()
        take(self)
        self._gate_taken = time.perf_counter()
        _waits.append(self._gate_taken - t0)

    def timed_begin(self: Any) -> None:
        self._in_group = True
        self._gate_taken = None
        begin(self)

    def timed_commit(self: Any, *args: Any) -> None:
        try:
            commit(self, *args)
        finally:
            self._in_group = False
            if self._gate_taken is not None:
                _commits.append(time.perf_counter() - self._gate_taken)

    def timed_abort(self: Any) -> None:
        self._in_group = False
        abort(self)

    cls._in_commit_marked = cls._in_group = False
    cls.start, cls.run, cls.finish, cls.commit_marked = timed_start, timed_run, timed_finish, timed_marked
    cls._take_gate, cls.group_begin, cls.group_commit, cls.group_abort = (
        timed_take,
        timed_begin,
        timed_commit,
        timed_abort,
    )


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] * 1000 if s else float("nan")


async def _round(
    w: SQLiteWarehouse, rate: int, seconds: float, marked: bool, first_id: int, loop_cpu: float
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

    groups_before, bodies_before = w.grouped
    loop = asyncio.get_running_loop()
    pending: list[asyncio.Task[None]] = []
    start = loop.time()
    n = int(rate * seconds)
    for i in range(n):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        pending.append(asyncio.create_task(one(first_id + i)))
        busy_until = time.perf_counter() + loop_cpu  # the scheduler's own work per run, on the loop
        while time.perf_counter() < busy_until:
            pass
    await asyncio.gather(*pending)
    groups, bodies = (n - before for n, before in zip(w.grouped, (groups_before, bodies_before), strict=True))
    return {
        "per_group": bodies / groups if groups else float("nan"),
        "p50": _pct(lat, 0.5),
        "p99": _pct(lat, 0.99),
        "max": _pct(lat, 1.0),
        "wait_p99": _pct(_waits, 0.99),
        "wait_max": _pct(_waits, 1.0),
        "waits_over_5ms": float(sum(1 for x in _waits if x > 0.005)),
        "commit_p99": _pct(_commits, 0.99),
    }


#: (label, with markers, with the write gate)
VARIANTS = (
    ("markers off", False, True),
    ("markers, no gate", True, False),
    ("markers, gate", True, True),
)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=1000, help="bodies started per second")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of a round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per variant")
    parser.add_argument("--concurrency", type=int, default=4, help="the warehouse's MAX_CONCURRENCY")
    parser.add_argument(
        "--loop-cpu-us", type=float, default=300.0, help="CPU the event loop burns per body started"
    )
    args = parser.parse_args()
    _instrument()
    results: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        warehouses: list[SQLiteWarehouse] = []
        for k, (_, _, gated) in enumerate(VARIANTS):
            w = SQLiteWarehouse(
                f"s{k}", Path(tmp) / f"w{k}.db", max_concurrency=args.concurrency, synchronous="normal"
            )
            if not gated:
                w._gate = None  # type: ignore[assignment]  # as before the gate: sqlite3's busy handler
            await w.open()
            await w.execute("CREATE TABLE t (i INTEGER, s TEXT)")
            warehouses.append(w)
        try:
            next_id = 1
            for _ in range(args.rounds):
                for (label, marked, _), w in zip(VARIANTS, warehouses, strict=True):
                    res = await _round(w, args.rate, args.seconds, marked, next_id, args.loop_cpu_us / 1e6)
                    next_id += int(args.rate * args.seconds)
                    results[label].append(res)
        finally:
            for w in warehouses:
                await w.close()
    print(
        f"{args.rate} bodies/s for {args.seconds} s, MAX_CONCURRENCY {args.concurrency},"
        f" loop CPU {args.loop_cpu_us:g} us per body, medians of {args.rounds} rounds"
    )
    for label, rounds in results.items():
        med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
        print(
            f"{label:<17} body p50 {med['p50']:6.2f} p99 {med['p99']:7.2f} max {med['max']:7.2f} ms;"
            f" lock wait p99 {med['wait_p99']:6.2f} max {med['wait_max']:7.2f} ms,"
            f" {med['waits_over_5ms']:4.0f} over 5 ms; commit p99 {med['commit_p99']:5.2f} ms;"
            f" bodies per group {med['per_group']:5.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
