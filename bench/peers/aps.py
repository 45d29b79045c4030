"""APScheduler 3.x in a child process: AsyncIOScheduler and BackgroundScheduler.

The jobs do the same trivial INSERT as tasksql's tasks, into a table of an embedded DuckDB file in
the same process: ``INSERT INTO bench_log VALUES (<id>, now())``. DuckDB rather than SQLite because
it is the database tasksql's tasks write to in the same workloads, so both sides pay the same body
cost and the difference is the scheduler's. ``now()`` is the start of the INSERT's transaction (as
in tasksql's body).

APScheduler does not hand the scheduled instant to the job, but every ``EVENT_JOB_EXECUTED`` carries
it (``scheduled_run_time``); runs of one job never overlap (``max_instances=1``), so the k-th row a
job inserted belongs to its k-th executed event. Lag = row's ``now()`` - that instant.

Settings (from the APScheduler 3 user guide, chosen to favour throughput and completeness):
``misfire_grace_time=1`` (the default: a run more than a second late is dropped; it would count as
missed here anyway, see :data:`bench.measure.GRACE`, and dropping it lets an overloaded scheduler
catch up instead of working through an ever longer backlog), ``coalesce=False`` (every instant
runs), ``max_instances=1`` (the default; as tasksql's default overlap policy), the in-memory job
store. BackgroundScheduler: a ThreadPoolExecutor of :data:`THREADS` workers, one DuckDB cursor per
thread. AsyncIOScheduler: AsyncIOExecutor runs the (plain) job function in the event loop's default
thread pool; that measured faster than a coroutine job doing the INSERT on the loop itself.
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stats import rss_mb

from bench.measure import GRACE, grid_count, last_start_by_instant, summarize

REQUIREMENT = "APScheduler>=3.10,<4"
#: Worker threads of BackgroundScheduler's ThreadPoolExecutor.
THREADS = 10
JOB_DEFAULTS = {"misfire_grace_time": 1, "coalesce": False, "max_instances": 1}
KINDS = ("asyncio", "background")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def settings(kind: str) -> dict[str, str]:
    """What the report lists for one scheduler kind."""
    common = {k: str(v) for k, v in JOB_DEFAULTS.items()}
    common["job store"] = "memory"
    common["database"] = "DuckDB file, same process"
    if kind == "background":
        return {"scheduler": "BackgroundScheduler", "executor": f"ThreadPoolExecutor({THREADS})", **common}
    return {
        "scheduler": "AsyncIOScheduler",
        "executor": "AsyncIOExecutor (plain job function: the loop's thread pool)",
        **common,
    }


class _Log:
    """The DuckDB log table plus the scheduled instants reported by EVENT_JOB_EXECUTED."""

    def __init__(self, directory: Path) -> None:
        import duckdb

        self.con = duckdb.connect(str(directory / "aps.duckdb"))
        self.con.execute("CREATE TABLE bench_log (task_id INTEGER, started TIMESTAMPTZ)")
        self._local = threading.local()
        self.executed: dict[str, list[datetime]] = defaultdict(list)

    def cursor(self) -> Any:
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._local.cur = self.con.cursor()
        return cur

    def on_executed(self, event: Any) -> None:
        self.executed[event.job_id].append(event.scheduled_run_time)

    def rows(self) -> dict[int, list[datetime]]:
        """Each task's start instants in order (as epoch microseconds: no time zone library needed)."""
        out: dict[int, list[datetime]] = defaultdict(list)
        query = "SELECT task_id, epoch_us(started) FROM bench_log ORDER BY task_id, started"
        for task, micros in self.con.execute(query).fetchall():
            out[int(task)].append(EPOCH + timedelta(microseconds=int(micros)))
        return out


def _scheduler(kind: str, threads: int = THREADS) -> Any:
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.schedulers.background import BackgroundScheduler

    if kind == "background":
        return BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(threads)}, job_defaults=JOB_DEFAULTS, timezone=UTC
        )
    return AsyncIOScheduler(job_defaults=JOB_DEFAULTS, timezone=UTC)


def _job(log: _Log) -> Callable[[str], None]:
    """The job function: a plain function (AsyncIOExecutor runs it in the loop's default thread pool,
    which measured faster than a coroutine doing the INSERT on the loop itself)."""

    def insert(sql: str) -> None:
        log.cursor().execute(sql)

    return insert


async def periodic(
    kind: str,
    n: int,
    seconds: float,
    *,
    burst: bool,
    warmup: float = 3.0,
    interval_ms: int = 1000,
    threads: int = THREADS,
) -> dict[str, Any]:
    """N interval jobs; phases spread across the interval (steady) or all equal (burst)."""
    from apscheduler.events import EVENT_JOB_EXECUTED
    from apscheduler.triggers.interval import IntervalTrigger

    interval = timedelta(milliseconds=interval_ms)
    with tempfile.TemporaryDirectory(prefix="tasksql-bench-aps-") as tmp:
        log = _Log(Path(tmp))
        sched = _scheduler(kind, threads)
        sched.add_listener(log.on_executed, EVENT_JOB_EXECUTED)
        job = _job(log)
        base = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2 + n // 2000)
        starts = [base + (timedelta(0) if burst else interval * k / n) for k in range(n)]
        for k, start in enumerate(starts):
            trigger = IntervalTrigger(seconds=interval_ms / 1000, start_date=start, timezone=UTC)
            sched.add_job(job, trigger, args=[f"INSERT INTO bench_log VALUES ({k}, now())"], id=f"b{k}")
        sched.start()
        lo = base + timedelta(seconds=warmup)
        hi = lo + timedelta(seconds=seconds)
        await asyncio.sleep((hi - datetime.now(UTC)).total_seconds() + 1.0)
        # Stop scheduling; let started runs finish (their rows and events are complete after this).
        sched.shutdown(wait=kind == "background")
        await asyncio.sleep(0.2)
        rows = log.rows()
        pairs: list[tuple[datetime, float]] = []
        for k in range(n):
            for scheduled, started in zip(log.executed.get(f"b{k}", []), rows.get(k, []), strict=False):
                if lo <= scheduled < hi and started <= hi + GRACE:
                    pairs.append((scheduled, (started - scheduled).total_seconds() * 1000))
        expected = sum(grid_count(s - interval, interval, lo, hi) for s in starts)
        log.con.close()
    return summarize(
        tasks=n,
        seconds=seconds,
        expected=expected,
        lags_ms=[lag for _, lag in pairs],
        last_start_by_instant=last_start_by_instant(pairs) if burst else None,
    )


async def ramp(kind: str, rates: list[int], seconds: float) -> dict[str, Any]:
    """R/10 jobs every 100 ms (phases spread) for each rate R until more than 1% of instants are missed."""
    steps = []
    for rate in rates:
        step = await periodic(kind, max(1, rate // 10), seconds, burst=False, warmup=2.0, interval_ms=100)
        step["target_rate"] = rate
        step["achieved_rate"] = step["ran"] / seconds
        steps.append(step)
        if not step["ran_share"] >= 0.99:
            break
    return {"steps": steps}


async def scale(kind: str, n: int) -> dict[str, Any]:
    """N hourly jobs added before start (register) and loaded into the job store by start (load)."""
    from apscheduler.triggers.interval import IntervalTrigger

    async def noop() -> None:
        return None

    gc.collect()
    before = rss_mb()
    sched = _scheduler(kind)
    base = datetime.now(UTC) + timedelta(hours=1)
    t0 = time.perf_counter()
    for k in range(n):
        start = base + timedelta(seconds=3600 * k / n)
        sched.add_job(noop, IntervalTrigger(hours=1, start_date=start, timezone=UTC), id=f"s{k}")
    register_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sched.start()
    load_s = time.perf_counter() - t0
    gc.collect()
    after = rss_mb()
    sched.shutdown(wait=False)
    return {
        "tasks": n,
        "register_s": register_s,
        "load_s": load_s,
        "rss_mb": after,
        "rss_growth_mb": after - before,
    }


def version() -> str:
    import apscheduler

    return f"APScheduler {apscheduler.__version__}"
