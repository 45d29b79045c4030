"""How long and how large each workload runs: the full suite, the quick mode, the CI smoke run.

The full profile kept the suite of the default tasksql setup, its SQLite-warehouse variant and the
peers under 30 minutes on 2 cores (installs not counted); tasksql's PostgreSQL-catalog and
at-least-once variants add roughly a quarter of an hour. The 60-second steady window is used where
the aims are stated (N = 1,000); N = 1, 100 and 2,000 use 20 seconds (20 / 2,000 / 40,000
instants). The quick profile (only the sizes of the aims, short windows) takes about 5 minutes for
tasksql's five variants, and pg_cron's burst waits for a minute boundary (up to a minute).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True, slots=True)
class Profile:
    """Sizes and durations of one run of the suite."""

    name: str
    #: (tasks, measured window in seconds) per steady measurement.
    steady: tuple[tuple[int, float], ...]
    #: (tasks, measured window in seconds) per burst measurement (one instant per second).
    burst: tuple[tuple[int, float], ...]
    #: Burst sizes for pg_cron (one minute boundary each).
    pgcron_burst: tuple[int, ...]
    #: Seconds between the first instant and the start of the measured window.
    warmup: float
    #: Target runs per second, tried in order until more than 1% of instants are missed.
    ramp_rates: tuple[int, ...]
    ramp_seconds: float
    #: Numbers of registered tasks.
    scale: tuple[int, ...]
    timeout_samples: int
    #: Graph runs per shape (tasksql only).
    graph_repeats: int


FULL = Profile(
    name="full",
    steady=((1, 20), (100, 20), (1000, 60), (2000, 20)),
    burst=((100, 15), (1000, 15), (2000, 15)),
    pgcron_burst=(100, 1000, 2000),
    warmup=3.0,
    ramp_rates=(500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000, 10000),
    ramp_seconds=6.0,
    scale=(10_000, 100_000),
    timeout_samples=10,
    graph_repeats=5,
)

QUICK = Profile(
    name="quick",
    steady=((1000, 5),),
    burst=((1000, 4),),
    pgcron_burst=(1000,),
    warmup=2.0,
    ramp_rates=(1000, 3000),
    ramp_seconds=2.0,
    scale=(10_000,),
    timeout_samples=3,
    graph_repeats=2,
)

#: What the CI smoke test runs (tasksql only, a few seconds).
SMOKE = Profile(
    name="smoke",
    steady=((10, 3),),
    burst=((10, 2),),
    pgcron_burst=(),
    warmup=1.0,
    ramp_rates=(100,),
    ramp_seconds=2.0,
    scale=(100,),
    timeout_samples=1,
    graph_repeats=1,
)

PROFILES = {p.name: p for p in (FULL, QUICK, SMOKE)}
