"""Millisecond durations: validation, grid arithmetic and English phrases for ``describe()``."""

from __future__ import annotations

from datetime import datetime, timedelta

from tasksql.errors import ScheduleError

#: The longest interval or delay a schedule accepts: what :class:`datetime.timedelta` can hold.
MAX_MS = (timedelta.max // timedelta(milliseconds=1)) // 1000 * 1000

_UNITS = (
    (86_400_000, "day"),
    (3_600_000, "hour"),
    (60_000, "minute"),
    (1_000, "second"),
    (1, "millisecond"),
)


def check_ms(value: int, what: str) -> timedelta:
    """``value`` milliseconds as a timedelta.

    :raises ScheduleError: code ``INVALID_INTERVAL`` when ``value`` is not a positive integer no
        larger than :data:`MAX_MS`.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScheduleError(
            f"the {what} must be a whole number of milliseconds, got {value!r}", code="INVALID_INTERVAL"
        )
    if value <= 0:
        raise ScheduleError(f"the {what} must be positive, got {value} ms", code="INVALID_INTERVAL")
    if value > MAX_MS:
        raise ScheduleError(
            f"the {what} of {value} ms is too long (at most {MAX_MS} ms)", code="INVALID_INTERVAL"
        )
    return timedelta(milliseconds=value)


def phrase(ms: int) -> str:
    """``"5 seconds"``, ``"1 minute"``, ``"90 minutes"``, ``"100 milliseconds"``: the largest unit
    that divides ``ms`` exactly."""
    for size, unit in _UNITS:
        if ms % size == 0:
            count = ms // size
            return f"{count} {unit}" + ("" if count == 1 else "s")
    raise AssertionError("unreachable: every whole number of ms is a count of milliseconds")


def next_on_grid(base: datetime, step: timedelta, after: datetime) -> datetime | None:
    """The smallest ``base + k * step`` with ``k >= 1`` strictly after ``after``; None past year 9999.

    Integer division of timedeltas is exact (microseconds), so there is no float drift even for
    sub-second steps or instants centuries from ``base``.
    """
    k = 1 if after < base else (after - base) // step + 1
    try:
        return base + step * k
    except OverflowError:
        return None
