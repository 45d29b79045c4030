"""IANA time zones for schedules, loaded through :mod:`zoneinfo` (the ``tzdata`` package backs it).

A zone name is checked once, when a schedule is checked or built; an unknown name is a
:class:`~tasksql.errors.ScheduleError` with code ``UNKNOWN_TIMEZONE`` whose message suggests the
closest known name when there is one ("unknown time zone 'Asia/Tokio'; did you mean 'Asia/Tokyo'?").
"""

from __future__ import annotations

import difflib
from datetime import UTC, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from tasksql.errors import ScheduleError

#: Names that denote UTC itself: schedules in these zones take a fast path with no DST handling.
UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu"})


@lru_cache(maxsize=512)
def load_zone(name: str) -> tzinfo:
    """The zone called ``name`` (case-sensitive IANA name such as ``'Europe/Berlin'``).

    Returns :data:`datetime.UTC` for the names in :data:`UTC_NAMES`, a :class:`ZoneInfo` otherwise.

    :raises ScheduleError: code ``UNKNOWN_TIMEZONE`` when the tz database has no such zone.
    """
    if name in UTC_NAMES:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        # ValueError: malformed keys ("../x", ""); OSError: keys naming a directory ("America").
        raise ScheduleError(_unknown_message(name), code="UNKNOWN_TIMEZONE") from exc


def is_utc(zone: tzinfo) -> bool:
    """True when ``zone`` is UTC itself (no offsets, no transitions)."""
    return zone is UTC


def zone_name(zone: tzinfo) -> str:
    """The IANA name of a zone returned by :func:`load_zone`."""
    if isinstance(zone, ZoneInfo):
        return zone.key
    return "UTC"


@lru_cache(maxsize=1)
def _known_names() -> tuple[str, ...]:
    # Only reached on the error path: listing the tz database reads many files.
    return tuple(sorted(available_timezones() | UTC_NAMES))


def _unknown_message(name: str) -> str:
    message = f"unknown time zone {name!r}"
    names = _known_names()
    by_lower = {n.lower(): n for n in names}
    if name.lower() in by_lower:
        return f"{message}; did you mean {by_lower[name.lower()]!r}?"
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    if not close:
        lowered = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.75)
        close = [by_lower[lowered[0]]] if lowered else []
    if close:
        return f"{message}; did you mean {close[0]!r}?"
    return message
