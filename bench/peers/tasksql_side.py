"""tasksql's measurements, run inside a child process (see :mod:`bench.child`).

Every workload calls ``tasksql_bench`` (tasksql's engine and scheduler in this process, real
clock); this module only adds what the report needs on top: the lag quantiles for the plots, and
the SQLite and PostgreSQL warehouses of the timeout workload.
"""

from __future__ import annotations

from typing import Any

import tasksql_bench as tb

from bench import timeouts
from bench.measure import quantiles


async def _periodic(n: int, seconds: float, burst: bool, warmup: float, warehouse: str) -> dict[str, Any]:
    out: dict[str, Any] = await tb.periodic(n, seconds, burst=burst, warmup=warmup, warehouse=warehouse)
    out["quantiles_ms"] = quantiles(out.pop("lags_ms"))
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
    out: dict[str, Any] = await tb.scale(n)
    return out


async def scale_create(data_dir: str, n: int) -> dict[str, Any]:
    out: dict[str, Any] = await tb.scale_create(data_dir, n)
    return out


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
