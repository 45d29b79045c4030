"""tasksql's side of the benchmarks: an engine and its scheduler in this process, real clock.

Every task body is the same trivial INSERT into a log table of the embedded DuckDB:
``(task id, scheduled instant, actual start)``; the actual start is DuckDB's ``now()`` (the start
of the body's transaction), the scheduled instant comes from
``SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_SCHEDULED_TIME')``. Start lag = actual start - instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stats import Lag, rss_mb

from tasksql.catalog.base import TaskUpdate
from tasksql.engine import Engine
from tasksql.errors import QueryTimeout
from tasksql.model import (
    IntervalSchedule,
    QualifiedName,
    Spelling,
    SqlBody,
    SuspendReason,
    TaskDef,
    TaskState,
)
from tasksql.scheduler.service import Scheduler
from tasksql.server import runtime
from tasksql.settings import Settings

LOG_TABLE = "CREATE TABLE bench_log (task_id INTEGER, scheduled TIMESTAMPTZ, started TIMESTAMPTZ)"


def body(i: int, warehouse: str = "duckdb") -> str:
    if warehouse == "sqlite":
        return (
            f"INSERT INTO bench_log VALUES ({i}, SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_SCHEDULED_TIME'), "
            "strftime('%Y-%m-%dT%H:%M:%f', 'now'))"
        )
    return (
        f"INSERT INTO bench_log SELECT {i}, "
        "SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_SCHEDULED_TIME')::TIMESTAMPTZ, now()"
    )


#: The embedded DuckDB as a scheduler of one-row statements is fastest: no fsync per commit (like
#: the peers' servers: fsync off, innodb_flush_log_at_trx_commit = 0, synchronous_commit off) and one
#: thread (a one-row INSERT gains nothing from DuckDB's worker threads but the hand-offs).
DUCKDB_SETTINGS: dict[str, Any] = {"duckdb_fsync": "none", "duckdb_threads": 1}


@contextlib.contextmanager
def catalog_schema(catalog_url: str | None, schema: str | None = None) -> Iterator[str | None]:
    """The PostgreSQL schema a measurement's catalog lives in: ``schema`` when given (its owner drops
    it), else a fresh one, dropped with everything in it at the end; ``None`` without a URL (the
    embedded SQLite catalog)."""
    if catalog_url is None or schema is not None:
        yield schema
        return
    fresh = f"bench_{uuid.uuid4().hex[:12]}"
    try:
        yield fresh
    finally:
        drop_schema(catalog_url, fresh)


def drop_schema(catalog_url: str, schema: str) -> None:
    """``DROP SCHEMA ... CASCADE`` (nothing when it does not exist)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(catalog_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@asynccontextmanager
async def engine(
    data_dir: Path | None = None,
    *,
    catalog_url: str | None = None,
    schema: str | None = None,
    **settings: Any,
) -> AsyncIterator[Engine]:
    """An engine in this process, with the interpreter settings ``tasksql serve`` applies and
    :data:`DUCKDB_SETTINGS` (unless overridden). ``catalog_url``: a PostgreSQL catalog, in
    ``schema`` or a fresh schema dropped at the end (see :func:`catalog_schema`)."""
    settings = {**DUCKDB_SETTINGS, **settings}
    logging.getLogger("tasksql").setLevel(logging.WARNING)
    with (
        tempfile.TemporaryDirectory(prefix="tasksql-bench-") as tmp,
        catalog_schema(catalog_url, schema) as in_schema,
    ):
        if catalog_url is not None:
            settings.update(catalog_url=catalog_url, catalog_schema=in_schema)
        eng = Engine(Settings.load(data_dir=data_dir or Path(tmp) / "data", **settings))
        runtime.tune_interpreter(eng.settings)
        await eng.open()
        try:
            yield eng
        finally:
            await eng.close()
            runtime.unfreeze()


async def create_log_table(eng: Engine, warehouse: str) -> Path:
    """Create ``bench_log``, the table the tasks' bodies insert into, in ``warehouse``: ``duckdb``
    (the default warehouse) or ``sqlite`` (first created as a SQLite file warehouse of that name).
    Returns the SQLite warehouse's file (not created for ``duckdb``)."""
    lite = eng.data_dir / "bench.sqlite"
    if warehouse == "sqlite":
        # synchronous=normal: no fsync per commit, like the peers' servers (fsync off,
        # innodb_flush_log_at_trx_commit = 0); an fsync costs ~0.1 ms of CPU here
        await eng.execute(
            f"CREATE WAREHOUSE sqlite TYPE = sqlite URL = 'sqlite:///{lite}?synchronous=normal' "
            "MAX_CONCURRENCY = 4"
        )
        wh = await eng.warehouse("sqlite")
        await wh.execute("CREATE TABLE bench_log (task_id INTEGER, scheduled TEXT, started TEXT)")
    else:
        await eng.execute(LOG_TABLE)
    return lite


async def start_scheduler(eng: Engine) -> Scheduler:
    """Start the scheduler as ``tasksql serve`` does (then freeze the start-up heap)."""
    scheduler = await eng.start_scheduler()
    runtime.freeze_startup_heap(eng.settings)
    return scheduler


async def register(
    eng: Engine, n: int, interval_ms: int = 1000, batch: int = 500, warehouse: str = "duckdb"
) -> list[int]:
    """Create ``n`` suspended interval tasks through the catalog (group-committed batches)."""
    now = datetime.now(UTC)
    ids: list[int] = []
    for lo in range(0, n, batch):
        records = await asyncio.gather(
            *(
                eng.catalog.create_task(
                    TaskDef(
                        name=QualifiedName(f"b{i}", "public", "tasksql"),
                        body=SqlBody(body(i, warehouse)),
                        schedule=IntervalSchedule(interval_ms),
                        warehouse=None if warehouse == "duckdb" else warehouse,
                    ),
                    spelling=Spelling.SNOWFLAKE,
                    state=TaskState.SUSPENDED,
                    suspend_reason=SuspendReason.CREATED,
                    owner="bench",
                    now=now,
                    next_fire_at=None,
                )
                for i in range(lo, min(n, lo + batch))
            )
        )
        ids.extend(r.id for r in records)
    return ids


async def start_with_phases(
    eng: Engine, ids: list[int], base: datetime, spread_ms: float, interval_ms: int
) -> None:
    """Start every task, task k anchored at ``base + k * spread_ms / n`` (phases across the interval)."""
    records = {r.id: r for r in await eng.catalog.list_tasks()}
    updates = []
    for k, task_id in enumerate(ids):
        anchor = base + timedelta(milliseconds=spread_ms * k / len(ids))
        rec = records[task_id]
        updates.append(
            TaskUpdate(
                task_id=task_id,
                expected_version=rec.version,
                state=TaskState.STARTED,
                suspend_reason=None,
                resumed_on=anchor,
                next_fire_at=anchor + timedelta(milliseconds=interval_ms),
            )
        )
    await eng.catalog.update_tasks(updates, now=datetime.now(UTC))


async def periodic(
    n: int,
    seconds: float,
    *,
    burst: bool,
    warmup: float = 3.0,
    interval_ms: int = 1000,
    warehouse: str = "duckdb",
    catalog_url: str | None = None,
    completion_markers: bool = True,
) -> dict[str, Any]:
    """N tasks due every interval, phases spread (steady) or all at the same instant (burst).

    ``warehouse``: ``duckdb`` (the embedded default) or ``sqlite`` (a SQLite file warehouse: its
    per-statement cost is far lower, so it shows what the scheduler itself sustains).
    ``catalog_url``: a PostgreSQL catalog (a fresh schema) instead of the embedded SQLite file.
    ``completion_markers``: the setting of that name (off: bodies run at least once)."""
    # the default warehouse at its default concurrency (8): a worker takes the next queued run
    # itself, and more DuckDB connections at once only make each INSERT slower on 2 cores
    async with engine(catalog_url=catalog_url, completion_markers=completion_markers) as eng:
        lite = await create_log_table(eng, warehouse)
        ids = await register(eng, n, interval_ms, warehouse=warehouse)
        base = datetime.now(UTC) + timedelta(seconds=1)
        await start_with_phases(eng, ids, base, 0 if burst else interval_ms, interval_ms)
        scheduler = await start_scheduler(eng)
        window_start = base + timedelta(seconds=warmup)
        window_end = window_start + timedelta(seconds=seconds)
        await asyncio.sleep((window_end - datetime.now(UTC)).total_seconds() + 1.0)
        await scheduler.stop(grace=5)
        eng.scheduler = None
        if warehouse == "sqlite":
            rows = _sqlite_rows(lite, window_start, window_end)
        else:
            rows = (
                await eng.execute(
                    "SELECT task_id, scheduled, (epoch_us(started) - epoch_us(scheduled)) / 1000.0 AS lag_ms "
                    "FROM bench_log "
                    f"WHERE scheduled >= TIMESTAMPTZ '{window_start.isoformat()}' "
                    f"AND scheduled < TIMESTAMPTZ '{window_end.isoformat()}' "
                    f"AND started <= TIMESTAMPTZ '{(window_end + timedelta(seconds=1)).isoformat()}'"
                )
            )[-1].rows
        expected = _expected(base, n, 0 if burst else interval_ms, interval_ms, window_start, window_end)
        lags = [float(r[2]) for r in rows]
        out: dict[str, Any] = {
            "tasks": n,
            "seconds": seconds,
            "expected": expected,
            "ran": len(rows),
            "warehouse": warehouse,
        }
        out.update(Lag.of(lags).as_dict())
        out["lags_ms"] = lags
        out["ran_share"] = len(rows) / expected if expected else float("nan")
        if burst:
            # per instant: time from the instant until the last of its runs started
            by_instant: dict[Any, float] = {}
            for _, scheduled, lag in rows:
                by_instant[scheduled] = max(by_instant.get(scheduled, 0.0), float(lag))
            out["burst_last_start"] = Lag.of(list(by_instant.values())).as_dict()
        return out


def _sqlite_rows(path: Path, lo: datetime, hi: datetime) -> list[tuple[Any, ...]]:
    import sqlite3

    out = []
    with sqlite3.connect(path) as con:
        for task_id, scheduled, started in con.execute("SELECT task_id, scheduled, started FROM bench_log"):
            at = datetime.fromisoformat(scheduled)
            begun = datetime.fromisoformat(started).replace(tzinfo=UTC)
            if lo <= at < hi and begun <= hi + timedelta(seconds=1):  # the same cutoff as the peers
                out.append((task_id, at, (begun - at).total_seconds() * 1000))
    return out


def _expected(base: datetime, n: int, spread_ms: float, interval_ms: int, lo: datetime, hi: datetime) -> int:
    count = 0
    for k in range(n):
        anchor = base + timedelta(milliseconds=spread_ms * k / n)
        first = max(1, int(((lo - anchor).total_seconds() * 1000) // interval_ms))
        t = anchor + timedelta(milliseconds=interval_ms * first)
        while t < lo:
            t += timedelta(milliseconds=interval_ms)
        while t < hi:
            count += 1
            t += timedelta(milliseconds=interval_ms)
    return count


async def ramp(
    rates: list[int],
    seconds: float,
    warehouse: str = "duckdb",
    catalog_url: str | None = None,
    completion_markers: bool = True,
) -> list[dict[str, Any]]:
    """Runs per second sustained: N tasks every 100 ms for increasing N; share of instants that ran.
    Each step is a fresh engine (and catalog)."""
    results = []
    for rate in rates:
        n = max(1, rate // 10)
        r = await periodic(
            n,
            seconds,
            burst=False,
            warmup=2.0,
            interval_ms=100,
            warehouse=warehouse,
            catalog_url=catalog_url,
            completion_markers=completion_markers,
        )
        r["target_rate"] = rate
        r["achieved_rate"] = r["ran"] / seconds
        results.append(r)
        if r["ran_share"] < 0.99:
            break
    return results


async def register_sql(eng: Engine, n: int, batch: int = 500) -> list[int]:
    """Create ``n`` hourly tasks with ``CREATE TASK`` statements, ``batch`` to a script (as a user
    loading many tasks would: a script's statements share one flush to disk); their ids."""
    for lo in range(0, n, batch):
        await eng.execute(
            ";\n".join(
                f"CREATE TASK b{i} SCHEDULE = '60 MINUTES' AS {body(i)}"
                for i in range(lo, min(n, lo + batch))
            )
        )
    return [r.id for r in await eng.catalog.list_tasks()]


async def scale_create(
    data_dir: str, n: int, catalog_url: str | None = None, schema: str | None = None
) -> dict[str, Any]:
    """Register ``n`` started tasks in ``data_dir`` (the first half of :func:`scale`): created with
    SQL statements (timed), then started with their phases spread over the hour. ``catalog_url``
    and ``schema``: the PostgreSQL catalog to register them in, which the caller drops."""
    async with engine(data_dir=Path(data_dir), catalog_url=catalog_url, schema=schema) as eng:
        t0 = time.perf_counter()
        ids = await register_sql(eng, n)
        created_s = time.perf_counter() - t0
        await start_with_phases(eng, ids, datetime.now(UTC) + timedelta(hours=1), 3_600_000, 3_600_000)
    return {"register_s": created_s}


async def scale(n: int, catalog_url: str | None = None) -> dict[str, Any]:
    """Memory and load time with ``n`` registered (started) tasks: create them in another process,
    then, in this fresh one (as after a restart: nothing decoded or cached yet), open an engine on
    the same data directory (and catalog) and time its scheduler's start (which loads every task)."""
    with (
        tempfile.TemporaryDirectory(prefix="tasksql-bench-scale-") as tmp,
        catalog_schema(catalog_url) as schema,
    ):
        data = Path(tmp) / "data"
        created = await _in_child(
            "scale_create", data_dir=str(data), n=n, catalog_url=catalog_url, schema=schema
        )
        gc.collect()
        before = rss_mb()
        async with engine(data_dir=data, catalog_url=catalog_url, schema=schema) as eng:
            t0 = time.perf_counter()
            scheduler = eng.new_scheduler()
            await scheduler.start(background=False)
            load_s = time.perf_counter() - t0
            gc.collect()
            after = rss_mb()
            loaded = len(scheduler.entries)
            await scheduler.stop()
    return {
        "tasks": n,
        "loaded": loaded,
        "register_s": created["register_s"],
        "load_s": load_s,
        "rss_mb": after,
        "rss_growth_mb": after - before,
    }


async def _in_child(workload: str, **kwargs: Any) -> dict[str, Any]:
    """Run a tasksql workload of ``bench.child`` in a new interpreter; its result."""
    from bench.child import MARKER

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.child",
        "tasksql",
        workload,
        json.dumps(kwargs),
        cwd=str(Path(__file__).resolve().parent.parent),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    for line in out.decode().splitlines():
        if line.startswith(MARKER):
            result: dict[str, Any] = json.loads(line[len(MARKER) :])
            return result
    raise RuntimeError(f"bench.child {workload} exited with {proc.returncode} and no result")


async def timeout_stop(samples: int = 5) -> dict[str, Any]:
    """Time from the deadline to the query actually stopping, per warehouse type."""
    from tasksql.warehouses.base import CancelToken

    out: dict[str, Any] = {}
    async with engine() as eng:
        wh = await eng.warehouse()
        lags = []
        for _ in range(samples):
            t0 = time.perf_counter()
            with contextlib.suppress(QueryTimeout):
                await wh.execute(
                    "SELECT sum(hash(i)) FROM range(100000000000) t(i)", timeout=0.5, token=CancelToken()
                )
            lags.append((time.perf_counter() - t0 - 0.5) * 1000)
        out["duckdb"] = Lag.of(lags).as_dict()
    return out


async def graphs(repeats: int = 5, catalog_url: str | None = None) -> dict[str, Any]:
    """Child start lag (a child's start minus its last predecessor's end) on a 100-task chain and a
    1 -> 100 -> 1 fan-out, and the graph run's total time against the sum of its bodies.
    ``catalog_url``: a PostgreSQL catalog (a fresh schema per shape)."""
    out: dict[str, Any] = {}
    shapes = {
        "chain_100": [
            f"CREATE TASK c{i} AFTER c{i - 1} AS INSERT INTO bench_log SELECT {i}, now(), now()"
            for i in range(1, 100)
        ],
        "fanout_1_100_1": [
            f"CREATE TASK f{i} AFTER c0 AS INSERT INTO bench_log SELECT {i}, now(), now()"
            for i in range(1, 101)
        ]
        + [
            "CREATE TASK sink AFTER "
            + ", ".join(f"f{i}" for i in range(1, 101))
            + " AS INSERT INTO bench_log SELECT 999, now(), now()"
        ],
    }
    for shape, statements in shapes.items():
        async with engine(catalog_url=catalog_url, default_max_concurrency=64) as eng:
            await eng.execute(LOG_TABLE)
            await eng.execute(
                "CREATE TASK c0 SCHEDULE = '1 HOURS' AS INSERT INTO bench_log SELECT 0, now(), now()"
            )
            await eng.execute(";\n".join(statements))
            await eng.execute("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('c0')")
            scheduler = await start_scheduler(eng)
            for _ in range(repeats):
                run = await scheduler.execute_now(
                    await eng.catalog.get_task(QualifiedName("c0", "public", "tasksql"))
                )  # type: ignore[arg-type]
                assert run is not None
                await scheduler.wait_for_graph(run.graph_run_group_id)
            await scheduler.stop(grace=5)
            eng.scheduler = None
            runs = await eng.catalog.list_runs()
            by_group: dict[str | None, list[Any]] = {}
            for r in runs:
                by_group.setdefault(r.graph_run_group_id, []).append(r)
            records = {r.id: r for r in await eng.catalog.list_tasks()}
            names = {r.name.name: r for r in records.values()}
            lags: list[float] = []
            totals: list[float] = []
            bodies: list[float] = []
            for group_runs in by_group.values():
                ends = {r.name: r.completed_time for r in group_runs}
                for r in group_runs:
                    preds = records[r.task_id].definition.after if r.task_id in records else ()
                    pred_ends = [ends[p.name] for p in preds if ends.get(p.name) is not None]
                    if pred_ends and r.query_start_time is not None:
                        lags.append((r.query_start_time - max(pred_ends)).total_seconds() * 1000)
                starts = [r.query_start_time for r in group_runs if r.query_start_time]
                finish = [r.completed_time for r in group_runs if r.completed_time]
                totals.append((max(finish) - min(starts)).total_seconds() * 1000)
                bodies.append(sum((r.duration_ms or 0.0) for r in group_runs))
            del names
            out[shape] = {
                "graph_runs": len(by_group),
                "child_start_lag": Lag.of(lags).as_dict(),
                "graph_run_ms_p50": Lag.of(totals).p50,
                "sum_of_bodies_ms_p50": Lag.of(bodies).p50,
            }
    return out
