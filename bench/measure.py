"""Turning raw runs into the figures every workload reports, the same way for every peer.

A periodic measurement (steady, burst, one ramp step) produces a dict with these keys (the same keys
``tasksql_bench.periodic`` returns, plus the lag quantiles the plots need):

``tasks``, ``seconds``: the configuration; ``expected``: scheduled instants inside the window;
``ran``: how many of them started (no later than :data:`GRACE` after the window's end);
``ran_share``: ``ran / expected``; ``n``, ``p50_ms``, ``p99_ms``, ``max_ms``: the start lag
distribution (actual start - scheduled instant) of the runs that started; ``quantiles_ms``: the lag
at 0%, 0.5%, ..., 100% (201 points, for plots); ``burst_last_start``: for bursts, the distribution
over instants of the lag of the LAST run of each instant (the time until the whole burst had
started).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from stats import Lag, percentile

#: An instant counts as ran only if its run started at most this long after the end of the measured
#: window (tasksql_bench stops tasksql's scheduler then; the peers are cut off at the same point).
GRACE = timedelta(seconds=1)

#: Points of the stored lag quantile curve (every 0.5%).
QUANTILE_STEPS = 200


def quantiles(values_ms: Iterable[float], steps: int = QUANTILE_STEPS) -> list[float]:
    """The lag at 0, 1/steps, ..., 100% (nearest rank); empty for no values."""
    ordered = sorted(values_ms)
    if not ordered:
        return []
    return [ordered[0], *(percentile(ordered, 100 * k / steps) for k in range(1, steps + 1))]


def summarize(
    *,
    tasks: int,
    seconds: float,
    expected: int,
    lags_ms: Sequence[float],
    last_start_by_instant: Mapping[Any, float] | None = None,
) -> dict[str, Any]:
    """The standard result dict of one periodic measurement (see the module docstring)."""
    out: dict[str, Any] = {"tasks": tasks, "seconds": seconds, "expected": expected, "ran": len(lags_ms)}
    out.update(Lag.of(lags_ms).as_dict())
    out["ran_share"] = len(lags_ms) / expected if expected else math.nan
    out["quantiles_ms"] = quantiles(lags_ms)
    if last_start_by_instant is not None:
        out["burst_last_start"] = Lag.of(list(last_start_by_instant.values())).as_dict()
    return out


def last_start_by_instant(rows: Iterable[tuple[Any, float]]) -> dict[Any, float]:
    """For (scheduled instant, lag) pairs: each instant's largest lag."""
    out: dict[Any, float] = {}
    for instant, lag in rows:
        out[instant] = max(out.get(instant, -math.inf), lag)
    return out


def grid_count(anchor: datetime, interval: timedelta, lo: datetime, hi: datetime) -> int:
    """How many of ``anchor + k * interval`` (k >= 1) fall in ``[lo, hi)``."""
    if hi <= lo:
        return 0
    first = max(1, math.ceil((lo - anchor) / interval))
    last = math.ceil((hi - anchor) / interval) - 1  # the largest k with anchor + k*interval < hi
    return max(0, last - first + 1)


def ms(delta: timedelta) -> float:
    """A timedelta in milliseconds."""
    return delta.total_seconds() * 1000.0
