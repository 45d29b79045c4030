"""Schedules: when a task runs. Pure functions of time (no I/O, no clock reads)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tasksql.errors import ScheduleError
from tasksql.model import (
    CronSchedule,
    CustomSchedule,
    DelaySchedule,
    DstPolicy,
    IntervalSchedule,
    ScheduleSpec,
)

__all__ = ["check"]


def check(spec: ScheduleSpec, dst_policy: DstPolicy | None = None) -> None:
    """Validate ``spec`` without building it; raise :class:`ScheduleError` when it is invalid."""
    del dst_policy
    if isinstance(spec, IntervalSchedule):
        if spec.every_ms <= 0:
            raise ScheduleError(
                f"the interval must be positive, got {spec.every_ms} ms", code="INVALID_INTERVAL"
            )
    elif isinstance(spec, DelaySchedule):
        if spec.delay_ms <= 0:
            raise ScheduleError(
                f"the delay must be positive, got {spec.delay_ms} ms", code="INVALID_INTERVAL"
            )
    elif isinstance(spec, CronSchedule):
        try:
            ZoneInfo(spec.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ScheduleError(f"unknown time zone {spec.timezone!r}", code="UNKNOWN_TIMEZONE") from exc
        from datetime import UTC, datetime

        from cronsim import CronSim, CronSimError

        try:
            CronSim(spec.expr, datetime(2000, 1, 1, tzinfo=UTC))
        except CronSimError as exc:
            raise ScheduleError(f"invalid cron expression: {exc}", code="INVALID_CRON") from exc
    elif isinstance(spec, CustomSchedule) and not spec.class_path:
        raise ScheduleError("a custom schedule needs a class path", code="INVALID_SCHEDULE")
