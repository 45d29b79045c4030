"""The schedule of a triggered task's cache entry: when its streams are checked next.

Not a schedule a user writes: a triggered task has no SCHEDULE. The scheduler gives its entry this
one so that the entry sits in the heaps like any other, its next instant being the next check of
its streams (see :mod:`tasksql.scheduler.triggers`). A task that joins graphs
(:mod:`tasksql.model.joins`) gets :data:`JOIN_CHECKS`: its next instant is the next check of its
predecessors' latest runs. A task whose custom schedule class cannot be loaded yet gets
:data:`CLASS_CHECKS`: its next instant is the next attempt to load the class.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

from tasksql.schedules.base import PreviousRun, Schedule

#: How often the streams of a triggered task are checked while they have no data.
CHECK_EVERY = timedelta(seconds=1)


class TriggerChecks(Schedule):
    """Checks every :attr:`every` (:data:`CHECK_EVERY`); the trigger interval is applied by the
    scheduler."""

    kind = "trigger"
    #: How far apart the checks are.
    every: ClassVar[timedelta] = CHECK_EVERY

    def next_fire(
        self,
        after: datetime,
        *,
        last_end: datetime | None = None,
        last_result: PreviousRun | None = None,
    ) -> datetime | None:
        return after + self.every

    def describe(self) -> str:
        return "when its stream has data"


#: The one instance every triggered entry shares (it has no state).
TRIGGER_CHECKS = TriggerChecks()


class JoinChecks(TriggerChecks):
    """The checks of a task that joins graphs: its predecessors' latest runs, every :data:`CHECK_EVERY`."""

    kind = "join"

    def describe(self) -> str:
        return "when each of its predecessors has succeeded"


#: The one instance every entry of a task that joins graphs shares.
JOIN_CHECKS = JoinChecks()


#: How often the class of a custom schedule that could not be loaded is tried again.
CLASS_RECHECK = timedelta(seconds=10)


class ClassChecks(TriggerChecks):
    """Attempts to load a custom schedule's class, every :data:`CLASS_RECHECK`; once it loads, the
    entry gets the class's schedule."""

    kind = "class"
    every = CLASS_RECHECK

    def describe(self) -> str:
        return "once its schedule's class can be loaded"


#: The one instance every entry waiting for its schedule's class shares.
CLASS_CHECKS = ClassChecks()
