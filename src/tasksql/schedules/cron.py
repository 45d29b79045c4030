"""Cron schedules in a time zone, with two daylight-saving policies.

The expression is parsed once (:mod:`~tasksql.schedules.cronexpr`); cronsim finds the matching
*local* times (:mod:`~tasksql.schedules.cronmatch`); this module turns local times into instants
(:mod:`~tasksql.schedules.dst`) under a :class:`~tasksql.model.DstPolicy`:

============================  ===============================  ==============================
local time                    STANDARD (default, Debian cron)  SNOWFLAKE
============================  ===============================  ==============================
normal                        runs                             runs
in a gap, fixed-time job      runs once, at the end of the gap does not run
in a gap, wildcard job        does not run                     does not run
repeated, fixed-time job      runs once (first occurrence)     runs twice
repeated, wildcard job        runs twice                       runs twice
============================  ===============================  ==============================

A *fixed-time* job has neither its minute nor its hour field starting with ``*`` (Debian's test,
see :attr:`CronExpr.fixed_time`); it applies to 5-, 6- and 7-field expressions alike.

The table is for daylight-saving changes. Under STANDARD, a change of the UTC offset by more than
three hours is, as Debian cron puts it, a correction to the clock or time zone whose new time is
used immediately (cron.8, "Daylight Saving Time and other time changes"): local times it skips do
not run at all (Samoa skipped 30 December 2011: no run is invented for that day), and local times
it repeats run again, fixed-time jobs too. SNOWFLAKE treats every change as in the table.

Instants are produced in chronological order by walking the local times: a repeated hour is
walked twice, once per offset, so ``next_fire(after)`` is exact even when ``after`` falls inside
the repeated hour. In UTC there are no transitions and the walk is a single cronsim step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import ClassVar

from tasksql.clock import utc
from tasksql.errors import ScheduleError
from tasksql.model import CronSchedule, DayNumbering, DstPolicy
from tasksql.schedules.base import FireTime, PreviousRun, Schedule
from tasksql.schedules.cronexpr import CronExpr, parse_cron
from tasksql.schedules.cronmatch import WallMatcher
from tasksql.schedules.dst import Transition, WallKind, classify, clock_text, instant, transition_near
from tasksql.schedules.zones import is_utc, load_zone, zone_name

_TINY = timedelta(microseconds=1)
#: Debian cron: "Clock changes of more than 3 hours are considered to be corrections to the clock
#: or timezone, and the new time is used immediately."
_TIME_CHANGE = timedelta(hours=3)


def is_time_change(change: Transition) -> bool:
    """Whether ``change`` moves the wall clock by more than three hours (not a DST change)."""
    return change.wall_end - change.wall_start > _TIME_CHANGE


@dataclass(frozen=True, slots=True)
class _Run:
    """A run instant found by the walk, with the note that explains a DST adjustment."""

    utc: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True)
class _Skipped:
    """Local times in a gap that do not run (first and last matching time in the gap)."""

    first: datetime
    last: datetime
    time_change: bool = False

    @property
    def note(self) -> str:
        if self.time_change:
            first, last = _day_clock(self.first), _day_clock(self.last)
            times = first if first == last else f"{first} to {last}"
            return f"time change: {times} did not exist (the clock moved more than 3 hours), skipped"
        if self.first == self.last:
            return f"DST gap: {clock_text(self.first)} does not exist, skipped"
        return f"DST gap: {clock_text(self.first)} to {clock_text(self.last)} do not exist, skipped"


def _overlap_note(change: Transition, wall: datetime, which: str) -> str:
    """``DST overlap: first of two 01:30``, or for a time change the date too."""
    if is_time_change(change):
        return f"time change: {which} {_day_clock(wall)}"
    return f"DST overlap: {which} {clock_text(wall)}"


def _day_clock(wall: datetime) -> str:
    """``2011-12-30 12:00``: a time change can skip whole days, so its notes name the date."""
    return f"{wall:%Y-%m-%d} {clock_text(wall)}"


def policy_of(value: DstPolicy | str | None) -> DstPolicy:
    """``value`` as a :class:`DstPolicy` (None means STANDARD; names are case-insensitive).

    :raises ScheduleError: code ``INVALID_SCHEDULE`` for an unknown policy name.
    """
    if value is None:
        return DstPolicy.STANDARD
    try:
        return DstPolicy(str(value).upper())
    except ValueError:
        known = " or ".join(p.value for p in DstPolicy)
        raise ScheduleError(
            f"unknown DST policy {value!r}; expected {known}", code="INVALID_SCHEDULE"
        ) from None


class CronRule(Schedule):
    """A cron expression evaluated in a time zone under a DST policy.

    :raises ScheduleError: from the constructor: ``INVALID_CRON`` (with the span of the bad field),
        ``UNKNOWN_TIMEZONE``, or ``INVALID_SCHEDULE`` for an unknown DST policy.
    """

    kind: ClassVar[str] = "cron"

    def __init__(
        self,
        expr: str,
        timezone: str = "UTC",
        dst_policy: DstPolicy | str | None = None,
        day_numbering: DayNumbering = DayNumbering.UNIX,
    ) -> None:
        self.expr: CronExpr = parse_cron(expr, day_numbering)
        self.zone: tzinfo = load_zone(timezone)
        self.policy: DstPolicy = policy_of(dst_policy)
        self._matcher = WallMatcher(self.expr)
        fixed = self.expr.fixed_time
        # Debian cron only adjusts fixed-time jobs, and only for DST changes (3 hours or less);
        # Snowflake adjusts nothing.
        self._standard = self.policy is DstPolicy.STANDARD
        self._gap_runs_at_end = self._standard and fixed
        self._both_copies = self.policy is DstPolicy.SNOWFLAKE or not fixed

    @classmethod
    def from_spec(cls, spec: CronSchedule, dst_policy: DstPolicy | None = None) -> CronRule:
        return cls(spec.expr, spec.timezone, dst_policy, spec.day_numbering)

    @property
    def timezone(self) -> str:
        return zone_name(self.zone)

    def next_fire(
        self,
        after: datetime,
        *,
        last_end: datetime | None = None,
        last_result: PreviousRun | None = None,
    ) -> datetime | None:
        """The first instant strictly after ``after`` whose local time matches, per the DST policy.

        None when no local time matches within 50 years (e.g. ``0 0 31 * 2#5``).
        """
        after = utc(after)
        if is_utc(self.zone):
            wall = self._matcher.next_after(after.replace(tzinfo=None))
            return None if wall is None else wall.replace(tzinfo=UTC)
        found = self._first_run(after)
        return None if found is None else found[0].utc

    def next_fire_time(
        self,
        after: datetime,
        *,
        last_end: datetime | None = None,
        last_result: PreviousRun | None = None,
    ) -> FireTime | None:
        """Like :meth:`next_fire`, with the local time and a note on DST adjustments, including
        local times skipped in a gap since ``after``."""
        after = utc(after)
        found = self._first_run(after)
        if found is None:
            return None
        run, skipped = found
        notes = [s.note for s in skipped]
        if run.note:
            notes.append(run.note)
        return FireTime(utc=run.utc, local=run.utc.astimezone(self.zone), note="; ".join(notes) or None)

    def describe(self) -> str:
        text = self._matcher.explain() or f"cron {self.expr.text.strip()!r}"
        text = text[0].lower() + text[1:]
        policy = ", SNOWFLAKE DST policy" if self.policy is DstPolicy.SNOWFLAKE else ""
        return f"{text} ({self.timezone}{policy})"

    # --- the walk --------------------------------------------------------------------------------

    def _first_run(self, after: datetime) -> tuple[_Run, list[_Skipped]] | None:
        skipped: list[_Skipped] = []
        try:
            for event in self._walk(after):
                if isinstance(event, _Skipped):
                    skipped.append(event)
                elif event.utc > after:
                    return event, skipped
        except OverflowError:  # the walk ran off the end of the calendar (year 9999)
            return None
        return None

    def _walk(self, after: datetime) -> Iterator[_Run | _Skipped]:
        """Runs (and skipped gap times) after the local time of ``after``, in chronological order.

        Some runs may be at or before ``after`` (the first copy of a repeated hour when ``after``
        is in its second copy); the caller filters them.
        """
        local = after.astimezone(self.zone)
        cursor = local.replace(tzinfo=None)
        first_pass: Transition | None = None  # walking a repeated hour with its first offset
        second_until: datetime | None = None  # walking it again with its second offset, until here
        second_of: Transition | None = None  # the change whose second copies run, if they do
        if classify(self.zone, cursor) is WallKind.OVERLAP:
            repeated = transition_near(self.zone, cursor)
            if local.fold == 0:
                first_pass = repeated
            else:
                second_until = repeated.wall_end
                second_of = repeated if self._both(repeated) else None
        while True:
            wall = self._matcher.next_after(cursor)
            if first_pass is not None and (wall is None or wall >= first_pass.wall_end):
                # Every repeated local time has had its first occurrence; the second ones come
                # next in time, so walk the repeated hour again before going past it.
                if self._both(first_pass):
                    cursor, second_until = first_pass.wall_start - _TINY, first_pass.wall_end
                    second_of = first_pass
                first_pass = None
                continue
            if wall is None:
                return
            cursor = wall
            if second_until is not None:
                if wall < second_until:
                    if second_of is not None:
                        yield _Run(
                            instant(self.zone, wall, fold=1), _overlap_note(second_of, wall, "second of two")
                        )
                    continue
                second_until = None
            kind = classify(self.zone, wall)
            if kind is WallKind.NORMAL:
                yield _Run(instant(self.zone, wall))
            elif kind is WallKind.OVERLAP:
                if first_pass is None:
                    first_pass = transition_near(self.zone, wall)
                once = "" if self._both(first_pass) else ", runs once"
                yield _Run(
                    instant(self.zone, wall, fold=0), _overlap_note(first_pass, wall, "first of two") + once
                )
            else:
                yield self._gap(wall)
                # Every local time in the gap was handled by that one event: jump past the gap.
                cursor = transition_near(self.zone, wall).wall_end - _TINY

    def _both(self, repeated: Transition) -> bool:
        """Whether both copies of the local times ``repeated`` repeats run."""
        return self._both_copies or (self._standard and is_time_change(repeated))

    def _gap(self, wall: datetime) -> _Run | _Skipped:
        gap = transition_near(self.zone, wall)
        last = self._matcher.previous_before(gap.wall_end) or wall
        if self._standard and is_time_change(gap):
            return _Skipped(wall, last, time_change=True)
        if not self._gap_runs_at_end:
            return _Skipped(wall, last)
        end = clock_text(gap.wall_end)
        if last == wall:
            note = f"DST gap: {clock_text(wall)} does not exist, runs at {end}"
        else:
            note = f"DST gap: {clock_text(wall)} to {clock_text(last)} do not exist, runs once at {end}"
        return _Run(gap.at, note)
