"""Process CPU per scheduled run at a fixed load (not a test: run it by hand).

    python -m bench.cpu_per_run [-n 500] [--seconds 30] [--warmup 3]

``n`` one-second tasks with their phases spread over the second (the steady workload's setup:
SQLite catalog, embedded DuckDB, completion markers on), in this process. After the warm-up, the
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
import gc
import json
import os
import re
import resource
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import tasksql_bench as tb  # on sys.path from bench/__init__.py (run as python -m bench.cpu_per_run)

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


async def measure(n: int, seconds: float, warmup: float) -> dict[str, Any]:
    async with tb.engine(completion_markers=True) as eng:
        await eng.execute(tb.LOG_TABLE)
        ids = await tb.register(eng, n, 1000)
        base = datetime.now(UTC) + timedelta(seconds=1)
        await tb.start_with_phases(eng, ids, base, 1000, 1000)
        scheduler = await tb.start_scheduler(eng)
        await asyncio.sleep((base - datetime.now(UTC)).total_seconds() + warmup)
        gc.callbacks.append(_on_gc)
        t0, u0, th0, w0 = datetime.now(UTC), _usage(), _thread_cpu(), time.perf_counter()
        await asyncio.sleep(seconds)
        t1, u1, th1, w1 = datetime.now(UTC), _usage(), _thread_cpu(), time.perf_counter()
        gc.callbacks.remove(_on_gc)
        await scheduler.stop(grace=5)
        eng.scheduler = None
        result = await eng.execute(
            "SELECT count(*), quantile_cont((epoch_us(started) - epoch_us(scheduled)) / 1000.0, 0.99) "
            f"FROM bench_log WHERE started >= TIMESTAMPTZ '{t0.isoformat()}' "
            f"AND started < TIMESTAMPTZ '{t1.isoformat()}'"
        )
        runs, p99 = result[-1].rows[0]
    per_run = 1000.0 / max(int(runs), 1)  # ms per run, per CPU second
    return {
        "tasks": n,
        "seconds": seconds,
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
        "p99_start_lag_ms": round(float(p99 or 0.0), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=500, help="one-second tasks")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before the window")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.n, args.seconds, args.warmup))))


if __name__ == "__main__":
    main()
