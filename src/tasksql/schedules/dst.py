"""Local wall-clock times versus instants, around daylight-saving transitions.

A naive local time in a zone is one of three kinds:

* NORMAL: it happens exactly once;
* GAP: it never happens (spring forward skips it: 02:30 on 2025-03-09 in America/Los_Angeles);
* OVERLAP: it happens twice (fall back repeats it: 01:30 on 2025-11-02 in America/Los_Angeles),
  first with the earlier offset (``fold=0``) and then with the later one (``fold=1``, PEP 495).

These helpers are pure functions of the tz database; they never read the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import Enum


class WallKind(Enum):
    """How often a local wall-clock time occurs in a zone."""

    NORMAL = "normal"
    GAP = "gap"
    OVERLAP = "overlap"


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """One change of UTC offset, seen from the wall clock.

    ``at`` is the instant (aware UTC) of the change. ``wall_start``/``wall_end`` (naive, end
    exclusive) are the local times that were skipped (a gap) or repeated (an overlap).
    """

    at: datetime
    wall_start: datetime
    wall_end: datetime


def classify(zone: tzinfo, wall: datetime) -> WallKind:
    """Whether the naive local time ``wall`` occurs once, never or twice in ``zone``."""
    first = wall.replace(tzinfo=zone, fold=0).utcoffset()
    second = wall.replace(tzinfo=zone, fold=1).utcoffset()
    if first == second:
        return WallKind.NORMAL
    # PEP 495: fold=0 reads a gap or overlap time with the offset from before the change, fold=1
    # with the offset after it; a gap is where the offset grows, an overlap where it shrinks.
    assert first is not None and second is not None
    return WallKind.GAP if first < second else WallKind.OVERLAP


def instant(zone: tzinfo, wall: datetime, fold: int = 0) -> datetime:
    """The aware UTC instant of the naive local time ``wall`` read with ``fold`` (0 or 1)."""
    return wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)


def transition_near(zone: tzinfo, wall: datetime) -> Transition:
    """The transition that makes ``wall`` a GAP or OVERLAP time (precondition: it is one).

    The change lies between the two readings of ``wall``; it is found by bisection to the second.
    """
    before = wall.replace(tzinfo=zone, fold=0).utcoffset()
    after = wall.replace(tzinfo=zone, fold=1).utcoffset()
    assert before is not None and after is not None and before != after
    naive = wall.replace(tzinfo=None, microsecond=0)
    lo, hi = sorted((naive - before, naive - after))
    # Invariant: the offset at lo is `before`, the offset at hi is `after`.
    lo_s, hi_s = 0, int((hi - lo).total_seconds())
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if _offset_at(zone, lo + timedelta(seconds=mid)) == after:
            hi_s = mid
        else:
            lo_s = mid
    at = lo + timedelta(seconds=hi_s)
    return Transition(
        at=at.replace(tzinfo=UTC),
        wall_start=at + min(before, after),
        wall_end=at + max(before, after),
    )


def _offset_at(zone: tzinfo, utc_naive: datetime) -> timedelta | None:
    return utc_naive.replace(tzinfo=UTC).astimezone(zone).utcoffset()


def clock_text(wall: datetime) -> str:
    """``HH:MM``, or ``HH:MM:SS`` when the seconds are not zero (for notes)."""
    return wall.strftime("%H:%M:%S" if wall.second else "%H:%M")
