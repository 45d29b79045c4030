"""Time, as a parameter.

Everything that decides whether something is due takes ``now`` from a :class:`Clock`. This module
is the only place that reads the system clock. Instants are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """A source of the current instant and a way to wait for a future one."""

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...

    async def sleep_until(self, when: datetime) -> None:
        """Return at or after ``when`` (immediately when it has passed). Cancellable."""
        ...


class SystemClock:
    """The real wall clock. ``sleep_until`` re-checks the wall clock, so it survives clock steps."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        while True:
            delay = (when - self.now()).total_seconds()
            if delay <= 0:
                return
            # Sleep at most 1 s at a time so a wall-clock step (NTP, suspend) is noticed promptly.
            await asyncio.sleep(min(delay, 1.0))


def utc(dt: datetime) -> datetime:
    """``dt`` as an aware UTC datetime; a naive ``dt`` is taken to be UTC already."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def monotonic() -> float:
    """Seconds from an arbitrary origin that never goes backwards (for measuring durations)."""
    return time.monotonic()


SYSTEM_CLOCK = SystemClock()
