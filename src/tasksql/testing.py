"""Helpers for tests, of tasksql itself and of code built on it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta


class FakeClock:
    """A clock that only moves when told to.

    ``sleep_until`` waits until :meth:`advance` or :meth:`set` moves the clock to or past the
    requested instant, so a scheduler driven by this clock is fully deterministic.
    """

    def __init__(self, start: datetime | str = "2026-01-01T00:00:00+00:00") -> None:
        if isinstance(start, str):
            start = datetime.fromisoformat(start)
        self._now = start.astimezone(UTC)
        self._changed = asyncio.Event()
        self._sleepers: list[datetime] = []  # the instants slept until by the sleepers now
        self._slept = asyncio.Event()  # set when something starts to sleep

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime | str) -> None:
        if isinstance(when, str):
            when = datetime.fromisoformat(when)
        when = when.astimezone(UTC)
        if when < self._now:
            raise ValueError("FakeClock does not go backwards; make a new one")
        self._now = when
        self._changed.set()
        self._changed = asyncio.Event()

    def advance(self, seconds: float = 0.0, **kw: float) -> datetime:
        self.set(self._now + timedelta(seconds=seconds, **kw))
        return self._now

    async def sleep_until(self, when: datetime) -> None:
        if self._now >= when:
            return
        self._sleepers.append(when)
        self._slept.set()
        try:
            while self._now < when:
                await self._changed.wait()
        finally:
            self._sleepers.remove(when)

    async def sleeper(self) -> datetime:
        """Wait until something sleeps on this clock (in :meth:`sleep_until`); the earliest instant
        slept until. A test advances the clock once the code under test waits on it, rather than
        after a guessed while (an advance made before the code computes its instant from
        :meth:`now` would move that instant along)."""
        while not self._sleepers:
            self._slept.clear()
            await self._slept.wait()
        return min(self._sleepers)
