"""Schedule kinds: from a model :data:`~tasksql.model.ScheduleSpec` to a :class:`Schedule`.

Adding a kind means one module with a :class:`~tasksql.schedules.base.Schedule` subclass, one
entry in :data:`KINDS` and one branch in :func:`build` and :func:`check`.
"""

from __future__ import annotations

from datetime import datetime

from tasksql.errors import ScheduleError
from tasksql.model import (
    CronSchedule,
    CustomSchedule,
    DelaySchedule,
    DstPolicy,
    IntervalSchedule,
    ScheduleSpec,
)
from tasksql.schedules.base import Schedule
from tasksql.schedules.cron import CronRule, policy_of
from tasksql.schedules.custom import PythonSchedule, check_custom
from tasksql.schedules.delay import FixedDelay
from tasksql.schedules.durations import check_ms
from tasksql.schedules.interval import FixedRate

#: Kind name (as stored in task definitions) -> the class that evaluates it.
KINDS: dict[str, type[Schedule]] = {
    cls.kind: cls for cls in (FixedRate, FixedDelay, CronRule, PythonSchedule)
}


def build(spec: ScheduleSpec, *, anchor: datetime, dst_policy: DstPolicy | None = None) -> Schedule:
    """The evaluator for ``spec``; parse and validate once, then ask it many times.

    ``anchor`` is when the task was resumed (or created started): fixed-rate and fixed-delay
    schedules count from it. ``dst_policy`` applies to cron schedules (None means STANDARD).
    A custom schedule's class is imported and constructed here.

    :raises ScheduleError: codes ``INVALID_INTERVAL``, ``INVALID_CRON`` (with a span relative to
        ``spec.expr``), ``UNKNOWN_TIMEZONE`` or ``INVALID_SCHEDULE`` (custom class problems, an
        unknown DST policy).
    """
    policy_of(dst_policy)
    if isinstance(spec, IntervalSchedule):
        return FixedRate.from_spec(spec, anchor=anchor)
    if isinstance(spec, DelaySchedule):
        return FixedDelay.from_spec(spec, anchor=anchor)
    if isinstance(spec, CronSchedule):
        return CronRule.from_spec(spec, dst_policy)
    if isinstance(spec, CustomSchedule):
        return PythonSchedule.from_spec(spec)
    raise ScheduleError(f"unknown schedule kind {type(spec).__name__}", code="INVALID_SCHEDULE")


def check(spec: ScheduleSpec, dst_policy: DstPolicy | None = None) -> None:
    """Validate ``spec`` as :func:`build` would, without side effects; return None when valid.

    Custom schedules are checked for spelling only (class path shape, argument literals): their
    module is not imported until the schedule is built.

    :raises ScheduleError: as :func:`build`.
    """
    policy_of(dst_policy)
    if isinstance(spec, IntervalSchedule):
        check_ms(spec.every_ms, "interval")
    elif isinstance(spec, DelaySchedule):
        check_ms(spec.delay_ms, "delay")
    elif isinstance(spec, CronSchedule):
        CronRule.from_spec(spec, dst_policy)
    elif isinstance(spec, CustomSchedule):
        check_custom(spec)
    else:
        raise ScheduleError(f"unknown schedule kind {type(spec).__name__}", code="INVALID_SCHEDULE")
