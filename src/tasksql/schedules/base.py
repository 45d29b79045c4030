"""The contract every schedule kind implements.

A schedule answers one question: given an instant, when is the next run? It is a pure function
of its arguments (no I/O, no clock reads), so the same schedule gives the same answer on every
node, in tests and in ``next_runs`` listings. Instants in and out are aware UTC datetimes; a naive
``after`` or ``last_end`` is taken to be UTC (:func:`tasksql.clock.utc`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from tasksql.model import RunState


@dataclass(frozen=True, slots=True, kw_only=True)
class FireTime:
    """One future run of a schedule, as ``next_runs`` lists it.

    ``utc`` is the instant; ``local`` the same instant in the schedule's time zone (UTC for
    interval, delay and custom schedules); ``note`` explains a daylight-saving adjustment, e.g.
    ``"DST gap: 02:30 does not exist, runs at 03:00"`` or ``"DST overlap: second of two 01:30"``.
    """

    utc: datetime
    local: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PreviousRun:
    """What a custom schedule may learn about the run before the one it is placing.

    ``state`` is the run's final state; ``return_value`` what the body returned (Snowflake's
    ``SYSTEM$SET_RETURN_VALUE``), ``error`` the error message of a failed run.
    """

    state: RunState
    return_value: str | None = None
    error: str | None = None


class Schedule(ABC):
    """When a task runs. Built once per task version by :func:`tasksql.schedules.build`."""

    #: The kind name, as stored in task definitions: ``interval``, ``delay``, ``cron``, ``custom``.
    kind: ClassVar[str]

    @abstractmethod
    def next_fire(
        self,
        after: datetime,
        *,
        last_end: datetime | None = None,
        last_result: PreviousRun | None = None,
    ) -> datetime | None:
        """The first run instant strictly after ``after``, aware UTC; None if there is none.

        ``last_end`` is when the previous run ended (fixed-delay schedules count from it) and
        ``last_result`` how it ended (custom schedules may use it); both are None before the
        first run. The built-in kinds never raise here; a custom schedule's failure is a
        :class:`~tasksql.errors.ScheduleError`.
        """

    def next_fire_time(
        self,
        after: datetime,
        *,
        last_end: datetime | None = None,
        last_result: PreviousRun | None = None,
    ) -> FireTime | None:
        """Like :meth:`next_fire`, with the local time and any note; the default is in UTC."""
        when = self.next_fire(after, last_end=last_end, last_result=last_result)
        if when is None:
            return None
        return FireTime(utc=when, local=when, note=None)

    @abstractmethod
    def describe(self) -> str:
        """A short English phrase: ``"every 5 seconds"``, ``"at 09:00 every day (Asia/Tokyo)"``."""
