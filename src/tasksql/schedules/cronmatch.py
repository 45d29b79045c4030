"""Wall-clock matching of a cron expression, over cronsim.

This is the only module that imports :mod:`cronsim`, so the evaluator can be swapped without
touching the rest of the package. It works on *naive* wall-clock datetimes: which local times
match the expression. Turning local times into instants (time zones, daylight-saving gaps and
overlaps) is the job of :mod:`tasksql.schedules.dst` and :mod:`tasksql.schedules.cron`.

cronsim parses the expression in its constructor; a :class:`WallMatcher` parses once and clones
the parsed iterator for each query, so a query costs only the iteration.
"""

from __future__ import annotations

from datetime import datetime

from cronsim import CronSim, CronSimError

from tasksql.errors import ScheduleError
from tasksql.schedules.cronexpr import CronExpr

_ORIGIN = datetime(2000, 1, 1)


class WallMatcher:
    """The local times matched by one cron expression.

    :raises ScheduleError: code ``INVALID_CRON`` if cronsim refuses an expression that
        :func:`~tasksql.schedules.cronexpr.parse_cron` accepted (a defect; reported, not hidden).
    """

    __slots__ = ("_state", "_template")

    def __init__(self, expr: CronExpr) -> None:
        try:
            # A naive start keeps cronsim in plain wall-clock arithmetic, with none of its own
            # DST handling: the DST policies are applied on top, by our code.
            self._template = CronSim(expr.normalized, _ORIGIN)
        except CronSimError as exc:
            raise ScheduleError(f"invalid cron expression {expr.text!r}: {exc}", code="INVALID_CRON") from exc
        # The parsed state (field sets are only read while iterating, so clones can share them).
        self._state = dict(vars(self._template))

    def next_after(self, wall: datetime) -> datetime | None:
        """The first matching wall time strictly after the naive ``wall``; None if there is none
        within 50 years (cronsim's horizon) or before the end of the calendar."""
        return self._step(wall, reverse=False)

    def previous_before(self, wall: datetime) -> datetime | None:
        """The last matching wall time strictly before the naive ``wall``; None if there is none."""
        return self._step(wall, reverse=True)

    def explain(self) -> str:
        """cronsim's English description ("At 09:00 every day"); empty if it cannot describe it."""
        try:
            return str(self._template.explain())
        except Exception:  # a description is optional: never fail a caller for it
            return ""

    def _step(self, wall: datetime, *, reverse: bool) -> datetime | None:
        it = CronSim.__new__(CronSim)
        it.__dict__.update(self._state)
        # cronsim drops microseconds and ticks one second before matching (forward), or treats
        # the dropped fraction as that first tick (backward): both give "strictly after/before".
        it.dt = wall.replace(microsecond=0, tzinfo=None)
        it.tick_direction = -1 if reverse else 1
        it.skip_initial_tick = bool(reverse and wall.microsecond)
        try:
            result: datetime = next(it)
        except (StopIteration, OverflowError):
            return None
        return result
