"""The precise waker: real threads and a real event loop, generous bounds (never a timing assertion
tighter than the behaviour needs: it fires at or after its deadline, once, for its latest arming)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from tasksql.scheduler.waker import Waker


@pytest.fixture
async def recorded() -> AsyncIterator[tuple[Waker, list[float]]]:
    """A waker that records when it fires; closed after the test."""
    calls: list[float] = []
    waker = Waker(asyncio.get_running_loop(), lambda: calls.append(time.monotonic()))
    yield waker, calls
    waker.close()


async def _fired_at(waker_calls: list[float], timeout: float = 5.0) -> float:
    end = time.monotonic() + timeout
    while not waker_calls and time.monotonic() < end:
        await asyncio.sleep(0.005)
    assert waker_calls, "the waker never fired"
    return waker_calls[0]


async def test_fires_on_the_loop_at_or_after_its_deadline() -> None:
    loop = asyncio.get_running_loop()
    calls: list[float] = []
    main = asyncio.current_task()

    def wake() -> None:
        assert asyncio.current_task(loop) is not main  # a callback on the loop, not in the caller
        calls.append(time.monotonic())

    waker = Waker(loop, wake)
    try:
        deadline = time.monotonic() + 0.05
        waker.arm(deadline)
        at = await _fired_at(calls)
        assert at >= deadline
        await asyncio.sleep(0.1)
        assert len(calls) == 1  # once per arming
    finally:
        waker.close()


async def test_the_latest_arming_wins_earlier_or_later(recorded: tuple[Waker, list[float]]) -> None:
    waker, calls = recorded
    waker.arm(time.monotonic() + 0.05)
    later = time.monotonic() + 0.2
    waker.arm(later)  # a later deadline replaces the first one: no early wake-up
    at = await _fired_at(calls)
    assert at >= later and len(calls) == 1
    calls.clear()
    waker.arm(time.monotonic() + 5)
    sooner = time.monotonic() + 0.05
    waker.arm(sooner)  # an earlier one wakes the thread
    at = await _fired_at(calls, timeout=2.0)
    assert at >= sooner


async def test_disarm_and_close_stop_pending_wake_ups(recorded: tuple[Waker, list[float]]) -> None:
    waker, calls = recorded
    waker.arm(time.monotonic() + 0.03)
    waker.disarm()
    await asyncio.sleep(0.15)
    assert calls == []
    waker.arm(time.monotonic() + 0.03)
    waker.close()
    waker.arm(time.monotonic() + 0.01)  # after close: ignored
    await asyncio.sleep(0.15)
    assert calls == []
