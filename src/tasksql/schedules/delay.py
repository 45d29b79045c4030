"""Fixed delay (VoltDB ``DELAY``): the next run starts ``delay`` after the previous run ended.

Before the first run there is no previous end, so the first run is ``anchor + delay`` (the
anchor is the moment the task was resumed or created started). The result is always strictly
after ``after``: it is the first instant of ``base + k * delay`` (``k >= 1``) after ``after``,
where ``base`` is the previous end, or the anchor before the first run. Asked at the end of a run
(``after == last_end``), that is exactly ``last_end + delay``. Asked late, after a downtime, it
is the next step of the same rhythm rather than an instant in the past; and a caller that walks
instants with ``next_fire(previous)`` and no ``last_end`` sees the grid of a fixed-rate schedule,
one delay apart.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

from tasksql.clock import utc
from tasksql.model import DelaySchedule
from tasksql.schedules.base import PreviousRun, Schedule
from tasksql.schedules.durations import check_ms, next_on_grid, phrase


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
        """The first ``base + k * delay`` (``k >= 1``) strictly after ``after``, where ``base`` is
        ``last_end``, or the anchor before the first run. None past the end of the calendar.
        """
        base = self.anchor if last_end is None else utc(last_end)
        return next_on_grid(base, self.delay, utc(after))

    def describe(self) -> str:
        return f"{phrase(self.delay_ms)} after each run ends"
