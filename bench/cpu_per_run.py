"""Process CPU per scheduled run at a fixed load (not a test: run it by hand).

    python -m bench.cpu_per_run [-n 500] [--seconds 30] [--warmup 3] [--catalog pg] [--warehouse sqlite]
                                [--markers off] [--stages] [--explain MS]

``n`` one-second tasks with their phases spread over the second (the steady workload's setup:
SQLite catalog, embedded DuckDB, completion markers on), in this process. ``--catalog pg``: the
catalog on a private PostgreSQL server started for the measurement (durable, as the benchmark's
``CatalogServer``), and the catalog's own figures per run added (:mod:`bench.pg_counts`: round
trips by thread, statements, transactions, the server's CPU). ``--warehouse sqlite``: bodies in a
SQLite file warehouse (the ``tasksql-sqlite*`` variants), whose per-statement cost is far lower
than DuckDB's, so that the scheduler's and the catalog's part stands out. ``--markers off``:
the setting ``completion_markers`` off (bodies run at least once). ``--stages``: once a second, the
queues runs wait in (event loop, warehouse workers, catalog writer) on stderr, to see which stage
falls behind when a backlog forms. ``--explain MS``: the analyzed plans of the catalog's statements
slower than ``MS`` ms, in the server's log (copied to ``cpu_per_run-explain.log``). After the warm-up, the
process's CPU time (user + system) over a window is divided by the runs whose body started in it
(rows of ``bench_log``). CPU, not wall time: on a machine shared with other work the wall-clock
figures (lags, share of instants run) say more about the neighbours than about tasksql, while the
CPU one run costs changes little. Prints one JSON line: CPU per run, split by thread (event loop,
catalog writer, warehouse workers), user and system time, context switches and the garbage
collector's collections in the window.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gc
import json
import os
import re
import resource
import shutil
import sqlite3
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import tasksql_bench as tb  # on sys.path from bench/__init__.py (run as python -m bench.cpu_per_run)

from bench import pg_counts
from bench.servers import PgServer

_GC: collections.Counter[str] = collections.Counter()
_gc_started: list[float] = [0.0]


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _gc_started[0] = time.thread_time()
        return
    gen = info["generation"]
    _GC[f"gen{gen}"] += 1
    _GC[f"gen{gen}_cpu_s"] += time.thread_time() - _gc_started[0]


def _thread_cpu() -> collections.Counter[str]:
    """CPU seconds per thread name (numbered workers of one pool summed)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out: collections.Counter[str] = collections.Counter()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        name = re.sub(r"_\d+$", "", names.get(int(tid), "other"))
        out[name] += (int(fields[11]) + int(fields[12])) / tick
    return out


def _usage() -> tuple[float, float, int, int]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime, r.ru_nvcsw, r.ru_nivcsw


def _sqlite_lags(path: Path, lo: datetime, hi: datetime) -> list[float]:
    """The start lags (ms) of the SQLite warehouse's runs whose body started in [lo, hi)."""
    lags = []
    with contextlib.closing(sqlite3.connect(path)) as con:
        for scheduled, started in con.execute("SELECT scheduled, started FROM bench_log"):
            begun = datetime.fromisoformat(started).replace(tzinfo=UTC)
            if lo <= begun < hi:
                lags.append((begun - datetime.fromisoformat(scheduled)).total_seconds() * 1000)
    return lags


async def measure(
    n: int,
    seconds: float,
    warmup: float,
    *,
    pg: PgServer | None = None,
    warehouse: str = "duckdb",
    markers: bool = True,
    stages: bool = False,
) -> dict[str, Any]:
    """``pg``: the server that holds the catalog (started with :data:`pg_counts.SETTINGS`);
    ``markers``: the setting ``completion_markers``."""
    catalog_url = None if pg is None else str(pg.url)
    counts = None if pg is None else pg_counts.ServerCounts(str(pg.url), pg.data)
    # (the setting left out when on, its default: a tree from before completion markers runs too)
    settings: dict[str, Any] = {} if markers else {"completion_markers": False}
    async with tb.engine(catalog_url=catalog_url, **settings) as eng:
        lite = await tb.create_log_table(eng, warehouse)  # as the steady workload sets it up
        ids = await tb.register(eng, n, 1000, warehouse=warehouse)
        base = datetime.now(UTC) + timedelta(seconds=1)
        await tb.start_with_phases(eng, ids, base, 1000, 1000)
        scheduler = await tb.start_scheduler(eng)
        watch = asyncio.create_task(_stages(eng, warehouse)) if stages else None
        await asyncio.sleep((base - datetime.now(UTC)).total_seconds() + warmup)
        gc.callbacks.append(_on_gc)
        if counts is not None:
            counts.begin()
        waits0 = pg_counts.waits()
        t0, u0, th0, w0 = datetime.now(UTC), _usage(), _thread_cpu(), time.perf_counter()
        await asyncio.sleep(seconds)
        t1, u1, th1, w1 = datetime.now(UTC), _usage(), _thread_cpu(), time.perf_counter()
        waits1 = pg_counts.waits()
        window = None if counts is None else counts.read()  # not the stop's hand-over below
        gc.callbacks.remove(_on_gc)
        if watch is not None:
            watch.cancel()
        await scheduler.stop(grace=5)
        eng.scheduler = None
        if warehouse == "sqlite":
            lags = _sqlite_lags(lite, t0, t1)
        else:
            result = await eng.execute(
                "SELECT (epoch_us(started) - epoch_us(scheduled)) / 1000.0 "
                f"FROM bench_log WHERE started >= TIMESTAMPTZ '{t0.isoformat()}' "
                f"AND started < TIMESTAMPTZ '{t1.isoformat()}'"
            )
            lags = [float(row[0]) for row in result[-1].rows]
        runs = len(lags)
        server = {} if counts is None else counts.end(runs, counts=window)
    lags.sort()
    per_run = 1000.0 / max(int(runs), 1)  # ms per run, per CPU second
    out = {
        "tasks": n,
        "seconds": seconds,
        "catalog": "pg" if catalog_url else "sqlite",
        "warehouse": warehouse,
        "markers": markers,
        "cluster_claims": getattr(eng.settings, "cluster_claims", False),
        "runs": runs,
        "instants": n * seconds,
        "cpu_ms_per_run": round((u1[0] + u1[1] - u0[0] - u0[1]) * per_run, 3),
        "user_sys_ms_per_run": [round((u1[i] - u0[i]) * per_run, 3) for i in (0, 1)],
        "threads_ms_per_run": {
            k: round((th1[k] - th0.get(k, 0.0)) * per_run, 3) for k in th1 if th1[k] > th0.get(k, 0.0)
        },
        "context_switches_per_run": [round((u1[i] - u0[i]) / max(int(runs), 1), 2) for i in (2, 3)],
        "gc": {k: round(v, 3) for k, v in _GC.items()},
        "cpu_share": round((u1[0] + u1[1] - u0[0] - u0[1]) / (w1 - w0), 3),
        "p50_p99_start_lag_ms": [round(_pct(lags, q), 1) for q in (0.5, 0.99)],
    }
    if catalog_url is not None:
        rt = {k: waits1[k] - waits0.get(k, 0) for k in waits1 if waits1[k] > waits0.get(k, 0)}
        out["round_trips_per_run"] = round(sum(rt.values()) / max(runs, 1), 3)
        out["round_trips_by_thread_per_run"] = {k: round(v / max(runs, 1), 3) for k, v in rt.items()}
        out.update(server)
    return out


async def _stages(eng: Any, warehouse: str) -> None:
    """Once a second, on stderr: where runs wait. The event loop's ready callbacks, its timers and
    asyncio tasks; the warehouse's jobs queued and its idle workers; the catalog writer's queued
    groups and held-back jobs; the collector's generation counts. (Private attributes: a
    measuring aid, not an interface.)"""
    loop = asyncio.get_running_loop()
    wh = await eng.warehouse(None if warehouse == "duckdb" else warehouse)
    pool = getattr(wh, "_executor", None)
    writer = getattr(eng.catalog, "_writer", None)
    t0 = time.perf_counter()
    while True:
        await asyncio.sleep(1.0)
        parts = [
            f"t={time.perf_counter() - t0:5.1f}s",
            f"loop ready={len(getattr(loop, '_ready', ()))} timers={len(getattr(loop, '_scheduled', ()))}"
            f" tasks={len(asyncio.all_tasks())}",
        ]
        if pool is not None:
            parts.append(f"warehouse queued={pool.queued} idle_workers={pool.waiting}")
        if writer is not None:
            parts.append(f"writer queued={writer._queue.qsize()} held={len(writer._held)}")
        parts.append(f"gc={gc.get_count()}")
        print(" ".join(parts), file=sys.stderr, flush=True)


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=500, help="one-second tasks")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before the window")
    parser.add_argument("--catalog", choices=("sqlite", "pg"), default="sqlite")
    parser.add_argument("--warehouse", choices=("duckdb", "sqlite"), default="duckdb")
    parser.add_argument("--markers", choices=("on", "off"), default="on", help="completion markers")
    parser.add_argument(
        "--stages", action="store_true", help="print the queues runs wait in, once a second (stderr)"
    )
    parser.add_argument(
        "--explain",
        metavar="MS",
        type=float,
        help="--catalog pg: log the plans (auto_explain, analyzed) of catalog statements slower than MS "
        "milliseconds, the server's log copied to ./cpu_per_run-explain.log at the end",
    )
    args = parser.parse_args()
    kwargs: dict[str, Any] = {
        "warehouse": args.warehouse,
        "markers": args.markers == "on",
        "stages": args.stages,
    }
    if args.catalog == "sqlite":
        print(json.dumps(asyncio.run(measure(args.n, args.seconds, args.warmup, **kwargs))))
        return
    pg_counts.count_waits()
    settings = dict(pg_counts.SETTINGS)
    if args.explain is not None:
        settings.update(pg_counts.explain_settings(args.explain))
    server = PgServer(settings, durable=True).start()  # as CatalogServer, counted
    try:
        result = measure(args.n, args.seconds, args.warmup, pg=server, **kwargs)
        print(json.dumps(asyncio.run(result)))
    finally:
        if args.explain is not None:
            shutil.copyfile(server.base / "server.log", "cpu_per_run-explain.log")
        server.stop()


if __name__ == "__main__":
    main()
