"""Schedules: when a task runs. Pure functions of time (no I/O, no clock reads).

* :func:`build` turns a model :data:`~tasksql.model.ScheduleSpec` into a :class:`Schedule`
  whose :meth:`~Schedule.next_fire` gives the first run instant strictly after a given one;
* :func:`check` validates a spec without building it (the SQL parser calls it);
* :func:`next_runs` lists coming runs with local times and daylight-saving notes.

Kinds: fixed rate (:class:`FixedRate`), fixed delay (:class:`FixedDelay`), cron in a time zone
with a DST policy (:class:`CronRule`) and Python classes (:class:`PythonSchedule`). See
``docs/schedules.md``.
"""

from __future__ import annotations

from tasksql.schedules.base import FireTime, PreviousRun, Schedule
from tasksql.schedules.cron import CronRule
from tasksql.schedules.cronexpr import CronExpr, parse_cron
from tasksql.schedules.custom import CustomScheduleProtocol, PythonSchedule
from tasksql.schedules.delay import FixedDelay
from tasksql.schedules.interval import FixedRate
from tasksql.schedules.literals import parse_literal
from tasksql.schedules.nextruns import next_runs
from tasksql.schedules.registry import KINDS, build, check

__all__ = [
    "KINDS",
    "CronExpr",
    "CronRule",
    "CustomScheduleProtocol",
    "FireTime",
    "FixedDelay",
    "FixedRate",
    "PreviousRun",
    "PythonSchedule",
    "Schedule",
    "build",
    "check",
    "next_runs",
    "parse_cron",
    "parse_literal",
]
