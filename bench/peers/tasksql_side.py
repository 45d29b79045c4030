"""tasksql's measurements, run inside a child process (see :mod:`bench.child`).

Every workload calls ``tasksql_bench`` (tasksql's engine and scheduler in this process, real
clock); this module only adds what the report needs on top: the lag quantiles for the plots, and
the SQLite and PostgreSQL warehouses of the timeout workload. A variant's choices (warehouse,
catalog, completion markers) arrive as keyword arguments from :mod:`bench.child`.
"""

from __future__ import annotations

from typing import Any

import tasksql_bench as tb

from bench import timeouts
from bench.measure import quantiles


async def _periodic(n: int, seconds: float, burst: bool, warmup: float, **options: Any) -> dict[str, Any]:
    out: dict[str, Any] = await tb.periodic(n, seconds, burst=burst, warmup=warmup, **options)
    out["quantiles_ms"] = quantiles(out.pop("lags_ms"))
    return out


# ``options`` (each workload that takes them): ``warehouse``, ``catalog_url``, ``completion_markers``
# of ``tasksql_bench.periodic``, set by the variant (bench/variants.py) the child measures.


async def steady(n: int, seconds: float, warmup: float = 3.0, **options: Any) -> dict[str, Any]:
    return await _periodic(n, seconds, False, warmup, **options)


async def burst(n: int, seconds: float, warmup: float = 3.0, **options: Any) -> dict[str, Any]:
    return await _periodic(n, seconds, True, warmup, **options)


async def ramp(rates: list[int], seconds: float, **options: Any) -> dict[str, Any]:
    steps: list[dict[str, Any]] = await tb.ramp(rates, seconds, **options)
    for step in steps:
        step.pop("lags_ms", None)
    return {"steps": steps}


async def scale(n: int, catalog_url: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = await tb.scale(n, catalog_url=catalog_url)
    return out


async def scale_create(
    data_dir: str, n: int, catalog_url: str | None = None, schema: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = await tb.scale_create(data_dir, n, catalog_url=catalog_url, schema=schema)
    return out


async def timeout(samples: int, pg_url: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = await tb.timeout_stop(samples)
    out["sqlite"] = await timeouts.sqlite_stop(samples)
    if pg_url:
        out["postgresql"] = await timeouts.postgres_stop(pg_url, samples)
    return out


async def graphs(repeats: int = 5, catalog_url: str | None = None) -> dict[str, Any]:
    """Graph workloads (chain and fan-out)."""
    out: dict[str, Any] = await tb.graphs(repeats=repeats, catalog_url=catalog_url)
    return out
