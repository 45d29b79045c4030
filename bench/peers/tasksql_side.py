"""tasksql's measurements, run inside a child process (see :mod:`bench.child`).

Every workload calls ``tasksql_bench`` (tasksql's engine and scheduler in this process, real
clock); this module only adds what the report needs on top: the lag quantiles for the plots, and
the SQLite and PostgreSQL warehouses of the timeout workload.
"""

from __future__ import annotations

import gc
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import tasksql_bench as tb
from stats import Lag, rss_mb

from bench import timeouts
from bench.measure import quantiles


@contextmanager
def _recording_lags() -> Iterator[list[list[float]]]:
    """Capture the lag lists ``tasksql_bench`` hands to ``Lag.of`` (it returns only their summary).

    ``periodic`` calls ``Lag.of`` first with every run's lag; its result dict is kept exactly as
    ``tasksql_bench`` builds it.
    """
    captured: list[list[float]] = []
    original = Lag  # the class tasksql_bench imported from stats

    class _Recording:
        @staticmethod
        def of(values: Sequence[float]) -> Lag:
            captured.append(list(values))
            return original.of(values)

    setattr(tb, "Lag", _Recording)  # noqa: B010 (tasksql_bench does not export the name)
    try:
        yield captured
    finally:
        setattr(tb, "Lag", original)  # noqa: B010


async def _periodic(n: int, seconds: float, burst: bool, warmup: float, warehouse: str) -> dict[str, Any]:
    with _recording_lags() as captured:
        out: dict[str, Any] = await tb.periodic(n, seconds, burst=burst, warmup=warmup, warehouse=warehouse)
    lags = out.pop("lags_ms", None) or (captured[0] if captured else [])
    out["quantiles_ms"] = quantiles(lags)
    return out


async def steady(n: int, seconds: float, warmup: float = 3.0, warehouse: str = "duckdb") -> dict[str, Any]:
    return await _periodic(n, seconds, False, warmup, warehouse)


async def burst(n: int, seconds: float, warmup: float = 3.0, warehouse: str = "duckdb") -> dict[str, Any]:
    return await _periodic(n, seconds, True, warmup, warehouse)


async def ramp(rates: list[int], seconds: float, warehouse: str = "duckdb") -> dict[str, Any]:
    steps: list[dict[str, Any]] = await tb.ramp(rates, seconds, warehouse=warehouse)
    for step in steps:
        step.pop("lags_ms", None)
    return {"steps": steps}


async def scale(n: int) -> dict[str, Any]:
    """Create N hourly tasks, then open a new engine on the same data directory and load them.

    ``tasksql_bench.scale`` reopens a data directory that its first engine's temporary directory
    has already removed, so its scheduler loads no task; this follows the same steps with a data
    directory that outlives both engines, and reports how many tasks the scheduler loaded.
    """
    from tasksql.scheduler.service import Scheduler

    with tempfile.TemporaryDirectory(prefix="tasksql-bench-scale-") as tmp:
        data = Path(tmp) / "data"
        async with tb.engine(data_dir=data) as eng:
            t0 = time.perf_counter()
            ids = await tb.register(eng, n, interval_ms=3_600_000)
            register_s = time.perf_counter() - t0
            later = datetime.now(UTC) + timedelta(hours=1)
            await tb.start_with_phases(eng, ids, later, 3_600_000, 3_600_000)
        gc.collect()
        before = rss_mb()
        async with tb.engine(data_dir=data) as eng:
            t0 = time.perf_counter()
            scheduler = Scheduler(eng)
            await scheduler.start(background=False)
            load_s = time.perf_counter() - t0
            gc.collect()
            after = rss_mb()
            loaded = len(scheduler.entries)
            await scheduler.stop()
    return {
        "tasks": n,
        "loaded": loaded,
        "register_s": register_s,
        "load_s": load_s,
        "rss_mb": after,
        "rss_growth_mb": after - before,
    }


async def timeout(samples: int, pg_url: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = await tb.timeout_stop(samples)
    out["sqlite"] = await timeouts.sqlite_stop(samples)
    if pg_url:
        out["postgresql"] = await timeouts.postgres_stop(pg_url, samples)
    return out


async def graphs(repeats: int = 5) -> dict[str, Any]:
    """Graph workloads (chain and fan-out), when ``tasksql_bench.graphs()`` exists."""
    run = getattr(tb, "graphs", None)
    if run is None:
        return {"pending": "not yet measured (tasksql_bench.graphs() does not exist yet)"}
    out: dict[str, Any] = await run(repeats=repeats)
    return out
