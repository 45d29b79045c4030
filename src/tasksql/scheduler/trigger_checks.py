"""The schedule of a triggered task's cache entry: when its streams are checked next.

Not a schedule a user writes: a triggered task has no SCHEDULE. The scheduler gives its entry this
one so that the entry sits in the heaps like any other, its next instant being the next check of
its streams (see :mod:`tasksql.scheduler.triggers`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tasksql.schedules.base import PreviousRun, Schedule

#: How often the streams of a triggered task are checked while they have no data.
CHECK_EVERY = timedelta(seconds=1)


class TriggerChecks(Schedule):
    """Checks every :data:`CHECK_EVERY`; the trigger interval is applied by the scheduler."""

    kind = "trigger"

    def next_fire(
        self,
        after: datetime,
        *,
        last_end: datetime | None = None,
        last_result: PreviousRun | None = None,
    ) -> datetime | None:
        return after + CHECK_EVERY

    def describe(self) -> str:
        return "when its stream has data"


#: The one instance every triggered entry shares (it has no state).
TRIGGER_CHECKS = TriggerChecks()
