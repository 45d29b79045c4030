"""Fixed rate: a run every ``every`` (Snowflake/Databend ``SCHEDULE = '10 MINUTES'``, Timeplus
``SCHEDULE 5s``, VoltDB ``EVERY``).

The run instants are ``anchor + k * every`` for ``k >= 1``, where the anchor is the moment the
task was resumed (or created started): resumed at 09:03 with 10 minutes, it runs at 09:13,
09:23, ... The grid is in UTC, so daylight-saving changes in any zone do not move it. A run that
overruns does not shift the grid; what happens to instants that pass while a run is still going
is the scheduler's overlap policy.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

from tasksql.clock import utc
from tasksql.model import IntervalSchedule
from tasksql.schedules.base import PreviousRun, Schedule
from tasksql.schedules.durations import check_ms, next_on_grid, phrase


class FixedRate(Schedule):
    """Runs at ``anchor + k * every``, ``k >= 1``; millisecond precision, O(1) per call.

    :raises ScheduleError: code ``INVALID_INTERVAL`` from the constructor when ``every_ms`` is not
        positive or too long.
    """

    kind: ClassVar[str] = "interval"
    __slots__ = ("anchor", "every", "every_ms")

    def __init__(self, every_ms: int, *, anchor: datetime) -> None:
        self.every: timedelta = check_ms(every_ms, "interval")
        self.every_ms = every_ms
        self.anchor = utc(anchor)

    @classmethod
    def from_spec(cls, spec: IntervalSchedule, *, anchor: datetime) -> FixedRate:
        return cls(spec.every_ms, anchor=anchor)

    def next_fire(
        self,
        after: datetime,
        *,
        last_end: datetime | None = None,
        last_result: PreviousRun | None = None,
    ) -> datetime | None:
        """The smallest ``anchor + k * every`` (``k >= 1``) strictly after ``after``.

        ``last_end`` and ``last_result`` do not move a fixed-rate grid. None when the next
        instant is past the end of the calendar (year 9999).
        """
        return next_on_grid(self.anchor, self.every, utc(after))

    def describe(self) -> str:
        return f"every {phrase(self.every_ms)}"
