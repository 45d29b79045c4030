"""tasksql's measurements, run inside a child process (see :mod:`bench.child`).

Every workload calls ``tasksql_bench`` (tasksql's engine and scheduler in this process, real
clock); this module only adds what the report needs on top: the lag quantiles for the plots, and
the SQLite and PostgreSQL warehouses of the timeout workload.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import tasksql_bench as tb
from stats import Lag

from bench import timeouts
from bench.measure import quantiles


@contextmanager
def _recording_lags() -> Iterator[list[list[float]]]:
    """Capture the lag lists ``tasksql_bench`` hands to ``Lag.of`` (it returns only their summary).

    ``periodic`` calls ``Lag.of`` first with every run's lag; its result dict is kept exactly as
    ``tasksql_bench`` builds it.
    """
    captured: list[list[float]] = []
    original = tb.Lag

    class _Recording:
        @staticmethod
        def of(values: Sequence[float]) -> Lag:
            captured.append(list(values))
            return original.of(values)

    tb.Lag = _Recording  # type: ignore[misc,assignment]
    try:
        yield captured
    finally:
        tb.Lag = original  # type: ignore[misc]


async def _periodic(n: int, seconds: float, burst: bool, warmup: float) -> dict[str, Any]:
    with _recording_lags() as captured:
        out: dict[str, Any] = await tb.periodic(n, seconds, burst=burst, warmup=warmup)
    lags = out.pop("lags_ms", None) or (captured[0] if captured else [])
    out["quantiles_ms"] = quantiles(lags)
    return out


async def steady(n: int, seconds: float, warmup: float = 3.0) -> dict[str, Any]:
    return await _periodic(n, seconds, False, warmup)


async def burst(n: int, seconds: float, warmup: float = 3.0) -> dict[str, Any]:
    return await _periodic(n, seconds, True, warmup)


async def ramp(rates: list[int], seconds: float) -> dict[str, Any]:
    steps: list[dict[str, Any]] = await tb.ramp(rates, seconds)
    for step in steps:
        step.pop("lags_ms", None)
    return {"steps": steps}


async def scale(n: int) -> dict[str, Any]:
    out: dict[str, Any] = await tb.scale(n)
    return out


async def timeout(samples: int, pg_url: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = await tb.timeout_stop(samples)
    out["sqlite"] = await timeouts.sqlite_stop(samples)
    if pg_url:
        out["postgresql"] = await timeouts.postgres_stop(pg_url, samples)
    return out


async def graphs() -> dict[str, Any]:
    """Graph workloads (chain and fan-out), once ``tasksql_bench.graphs()`` exists."""
    run = getattr(tb, "graphs", None)
    if run is None:
        return {"pending": "not yet measured (tasksql_bench.graphs() does not exist yet)"}
    out: dict[str, Any] = await run()
    return out
