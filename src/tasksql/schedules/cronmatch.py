"""Wall-clock matching of a cron expression, over cronsim.

This is the only module that imports :mod:`cronsim`, so the evaluator can be swapped without
touching the rest of the package. It works on *naive* wall-clock datetimes: which local times
match the expression. Turning local times into instants (time zones, daylight-saving gaps and
overlaps) is the job of :mod:`tasksql.schedules.dst` and :mod:`tasksql.schedules.cron`.

cronsim parses the expression in its constructor; a :class:`WallMatcher` parses once and clones
the parsed iterator for each query, so a query costs only the iteration.

cronsim has no year field: a 7-field expression's years are a filter applied here. A search that
lands in a year the expression does not select jumps to the edge of the next selected year, so
``0 0 0 1 1 ? 2100`` is found in a handful of steps although cronsim gives up after 50 years.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left, bisect_right
from datetime import date, datetime, timedelta

from cronsim import CronSim, CronSimError

from tasksql.errors import ScheduleError
from tasksql.schedules.cronexpr import CronExpr

_ORIGIN = datetime(2000, 1, 1)
#: How far cronsim searches before it gives up (its own constant, in years).
_HORIZON = 50
_SECOND = timedelta(seconds=1)


def nearest_weekday(year: int, month: int, n: int) -> int | None:
    """The day of ``month`` that ``nW`` selects: day n when it is a Monday to Friday, else the
    nearest weekday in the same month (a Saturday the 1st gives Monday the 3rd, a Sunday that ends
    the month the Friday before); None when the month has no day n (Quartz's rule)."""
    last = calendar.monthrange(year, month)[1]
    if n > last:
        return None
    weekday = date(year, month, n).weekday()  # Monday = 0
    if weekday == 5:  # Saturday
        return n + 2 if n == 1 else n - 1
    if weekday == 6:  # Sunday
        return n - 2 if n == last else n + 1
    return n


class WallMatcher:
    """The local times matched by one cron expression.

    :raises ScheduleError: code ``INVALID_CRON`` if cronsim refuses an expression that
        :func:`~tasksql.schedules.cronexpr.parse_cron` accepted (a defect; reported, not hidden).
    """

    __slots__ = ("_nearest", "_state", "_template", "_year_text", "_years")

    def __init__(self, expr: CronExpr) -> None:
        try:
            # A naive start keeps cronsim in plain wall-clock arithmetic, with none of its own
            # DST handling: the DST policies are applied on top, by our code.
            self._template = CronSim(expr.every_day_text, _ORIGIN)
        except CronSimError as exc:
            raise ScheduleError(f"invalid cron expression {expr.text!r}: {exc}", code="INVALID_CRON") from exc
        # The parsed state (field sets are only read while iterating, so clones can share them).
        self._state = dict(vars(self._template))
        self._years: tuple[int, ...] | None = None if expr.years is None else tuple(sorted(expr.years))
        self._year_text = expr.year_text
        #: nW: cronsim has no W, so it gives every day and :meth:`_step` keeps the nearest weekday.
        self._nearest = expr.nearest_weekday

    def next_after(self, wall: datetime) -> datetime | None:
        """The first matching wall time strictly after the naive ``wall``; None if there is none
        within 50 years (cronsim's horizon, counted from the first selected year) or before the end
        of the calendar, or when every selected year has passed."""
        years = self._years
        if years is None:
            return self._step(wall, reverse=False)
        cursor = wall
        while True:
            if cursor.year not in years:
                later = bisect_right(years, cursor.year)
                if later == len(years):
                    return None
                # One second before 1 January of the next selected year: cronsim's first tick
                # lands on midnight, which may match.
                cursor = datetime(years[later], 1, 1) - _SECOND
            found = self._step(cursor, reverse=False)
            if found is None:
                # Nothing within cronsim's horizon: go on from the first selected year past it.
                later = bisect_right(years, cursor.year + _HORIZON)
                if later == len(years):
                    return None
                cursor = datetime(years[later], 1, 1) - _SECOND
                continue
            if found.year in years:
                return found
            cursor = found

    def previous_before(self, wall: datetime) -> datetime | None:
        """The last matching wall time strictly before the naive ``wall``; None if there is none."""
        years = self._years
        if years is None:
            return self._step(wall, reverse=True)
        cursor = wall
        while True:
            if cursor.year not in years:
                earlier = bisect_left(years, cursor.year)
                if earlier == 0:
                    return None
                # 1 January after the previous selected year: "strictly before" starts at its
                # last second.
                cursor = datetime(years[earlier - 1] + 1, 1, 1)
            found = self._step(cursor, reverse=True)
            if found is None:
                earlier = bisect_left(years, cursor.year - _HORIZON)
                if earlier == 0:
                    return None
                cursor = datetime(years[earlier - 1] + 1, 1, 1)
                continue
            if found.year in years:
                return found
            cursor = found

    def explain(self) -> str:
        """cronsim's English description ("At 09:00 every day"); empty if it cannot describe it."""
        try:
            text = str(self._template.explain())
        except Exception:  # a description is optional: never fail a caller for it
            return ""
        return f"{text} {self._year_text}" if text and self._year_text else text

    def _step(self, wall: datetime, *, reverse: bool) -> datetime | None:
        n = self._nearest
        cursor: datetime | None = wall
        while cursor is not None:
            found = self._sim_step(cursor, reverse=reverse)
            if found is None or n is None or found.day == nearest_weekday(found.year, found.month, n):
                return found
            # another day: go on from the edge of that day (its first second, backward)
            day = datetime(found.year, found.month, found.day)
            cursor = day if reverse else day + timedelta(days=1) - _SECOND
        return None

    def _sim_step(self, wall: datetime, *, reverse: bool) -> datetime | None:
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
