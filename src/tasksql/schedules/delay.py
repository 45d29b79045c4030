"""Fixed delay (VoltDB ``DELAY``): the next run starts ``delay`` after the previous run ended.

Before the first run there is no previous end, so the first run is ``anchor + delay`` (the
anchor is the moment the task was resumed or created started). The result is always strictly
after ``after``: when ``last_end + delay`` has already passed (the scheduler was down, or it asks
late), the next run is due at once, which this schedule expresses as ``after`` plus one
millisecond rather than as an instant in the past.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

from tasksql.clock import utc
from tasksql.model import DelaySchedule
from tasksql.schedules.base import PreviousRun, Schedule
from tasksql.schedules.durations import check_ms, phrase

#: How far after ``after`` an overdue fixed-delay run is placed (schedules work in milliseconds).
OVERDUE_STEP = timedelta(milliseconds=1)


class FixedDelay(Schedule):
    """Runs ``delay`` after the previous run ended, or ``delay`` after the anchor at first.

    :raises ScheduleError: code ``INVALID_INTERVAL`` from the constructor when ``delay_ms`` is not
        positive or too long.
    """

    kind: ClassVar[str] = "delay"
    __slots__ = ("anchor", "delay", "delay_ms")

    def __init__(self, delay_ms: int, *, anchor: datetime) -> None:
        self.delay: timedelta = check_ms(delay_ms, "delay")
        self.delay_ms = delay_ms
        self.anchor = utc(anchor)

    @classmethod
    def from_spec(cls, spec: DelaySchedule, *, anchor: datetime) -> FixedDelay:
        return cls(spec.delay_ms, anchor=anchor)

    def next_fire(
        self,
        after: datetime,
        *,
        last_end: datetime | None = None,
        last_result: PreviousRun | None = None,
    ) -> datetime | None:
        """``max(base + delay, after + 1 ms)`` where ``base`` is ``last_end`` or the anchor.

        None when that is past the end of the calendar (year 9999).
        """
        after = utc(after)
        base = self.anchor if last_end is None else utc(last_end)
        try:
            return max(base + self.delay, after + OVERDUE_STEP)
        except OverflowError:
            return None

    def describe(self) -> str:
        return f"{phrase(self.delay_ms)} after each run ends"
