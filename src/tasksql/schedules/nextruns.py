"""``next_runs``: the coming run instants of a schedule, with local times and DST notes."""

from __future__ import annotations

from datetime import datetime

from tasksql.clock import utc
from tasksql.errors import ScheduleError
from tasksql.model import DstPolicy, ScheduleSpec
from tasksql.schedules.base import FireTime
from tasksql.schedules.registry import build

#: The most instants one call lists.
MAX_RUNS = 100_000


def next_runs(
    spec: ScheduleSpec,
    n: int,
    *,
    after: datetime,
    anchor: datetime | None = None,
    dst_policy: DstPolicy | None = None,
) -> list[FireTime]:
    """The first ``n`` run instants strictly after ``after``, in order (fewer if the schedule ends).

    ``anchor`` defaults to ``after`` (as if the task were resumed then). Each run is assumed to
    end the moment it starts, so a fixed-delay schedule lists ``anchor + d``, ``anchor + 2d``, ...

    :raises ScheduleError: as :func:`~tasksql.schedules.build`, or code ``INVALID_COUNT`` when
        ``n`` is negative or above :data:`MAX_RUNS`.
    """
    if not 0 <= n <= MAX_RUNS:
        raise ScheduleError(f"the number of runs must be 0 to {MAX_RUNS}, got {n}", code="INVALID_COUNT")
    after = utc(after)
    schedule = build(spec, anchor=after if anchor is None else anchor, dst_policy=dst_policy)
    runs: list[FireTime] = []
    last_end: datetime | None = None
    while len(runs) < n:
        fire = schedule.next_fire_time(after, last_end=last_end)
        if fire is None:
            break
        runs.append(fire)
        after = last_end = fire.utc
    return runs
