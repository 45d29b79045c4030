"""The stop machinery on its own: real worker threads running jobs that obey, ignore or outlast stops.

The contract tests show that the drivers' interrupts work; these show what the supervisor does
when a driver does not return in time (abandon, keep the slot), interrupts too early (fire again),
or finishes just as the stop arrives (its result stands).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tasksql.errors import QueryCancelled, QueryFailed, QueryTimeout
from tasksql.warehouses._supervise import Interrupter, Slots, Stopped, StopReason, supervise
from tasksql.warehouses.base import CancelToken

from .support import until


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    ex = ThreadPoolExecutor(max_workers=2)
    yield ex
    ex.shutdown(wait=True, cancel_futures=True)


async def test_a_job_that_ignores_the_interrupt_is_abandoned_but_keeps_its_slot(
    executor: ThreadPoolExecutor,
) -> None:
    release = threading.Event()
    slots = Slots(1)

    def stubborn(stop: Interrupter) -> str:
        stop.attach(lambda: None)  # an interrupt that does nothing
        release.wait(30)
        return "late"

    with pytest.raises(QueryTimeout) as info:
        await supervise(
            stubborn, slots=slots, executor=executor, timeout=0.1, token=None, what="job", grace=0.3
        )
    assert "abandoned" in info.value.message
    assert len(slots.running) == 1 and slots.full  # the slot stays taken
    release.set()
    assert await until(lambda: not slots.running and not slots.full)


async def test_the_interrupt_is_fired_again_until_it_takes(executor: ThreadPoolExecutor) -> None:
    fired = threading.Semaphore(0)
    count = 0

    def target() -> None:
        nonlocal count
        count += 1
        fired.release()

    def job(stop: Interrupter) -> None:
        stop.attach(target)
        for _ in range(3):  # the first two interrupts "miss"
            fired.acquire(timeout=30)
        raise Stopped()

    with pytest.raises(QueryTimeout) as info:
        await supervise(job, slots=Slots(1), executor=executor, timeout=0.05, token=None, what="job", grace=5)
    assert "abandoned" not in info.value.message
    assert count >= 3


async def test_a_job_that_finishes_as_the_stop_arrives_keeps_its_result(executor: ThreadPoolExecutor) -> None:
    def job(stop: Interrupter) -> str:
        stop.attach(lambda: None)
        while stop.reason is None:
            threading.Event().wait(0.005)
        return "committed"

    result = await supervise(job, slots=Slots(1), executor=executor, timeout=0.05, token=None, what="job")
    assert result == "committed"


async def test_job_errors_pass_through_unchanged(executor: ThreadPoolExecutor) -> None:
    def job(stop: Interrupter) -> None:
        raise QueryFailed("boom", sqlstate="22012")

    with pytest.raises(QueryFailed) as info:
        await supervise(job, slots=Slots(1), executor=executor, timeout=None, token=None, what="job")
    assert info.value.sqlstate == "22012"


def _call(
    slots: Slots,
    executor: ThreadPoolExecutor,
    job: Callable[[Interrupter], object],
    *,
    timeout: float | None = None,
    token: CancelToken | None = None,
) -> asyncio.Task[object]:
    return asyncio.create_task(
        supervise(job, slots=slots, executor=executor, timeout=timeout, token=token, what="job")
    )


async def _occupied(executor: ThreadPoolExecutor) -> tuple[Slots, threading.Event, asyncio.Task[object]]:
    """One slot, held by a running job until the returned event is set."""
    slots = Slots(1)
    gate = threading.Event()
    holder = _call(slots, executor, lambda stop: gate.wait(30))
    await asyncio.sleep(0)
    return slots, gate, holder


async def test_a_stop_requested_while_queued_runs_nothing(executor: ThreadPoolExecutor) -> None:
    slots, gate, holder = await _occupied(executor)
    ran: list[str] = []
    token = CancelToken()
    queued = _call(slots, executor, lambda stop: ran.append("second"), token=token)
    await asyncio.sleep(0.05)
    token.cancel()
    with pytest.raises(QueryCancelled):
        await queued
    gate.set()
    await holder
    assert ran == []
    assert not slots.full


async def test_queued_calls_get_the_slot_in_arrival_order(executor: ThreadPoolExecutor) -> None:
    slots, gate, holder = await _occupied(executor)
    order: list[int] = []
    queued = [_call(slots, executor, lambda stop, i=i: order.append(i)) for i in range(5)]
    await asyncio.sleep(0.05)
    assert order == [] and slots.full
    gate.set()
    await asyncio.gather(holder, *queued)
    assert order == [0, 1, 2, 3, 4]
    assert slots.free == 1 and not slots.running


async def test_a_timeout_while_queued_passes_the_slot_on(executor: ThreadPoolExecutor) -> None:
    slots, gate, holder = await _occupied(executor)
    ran: list[str] = []
    impatient = _call(slots, executor, lambda stop: ran.append("impatient"), timeout=0.05)
    patient = _call(slots, executor, lambda stop: ran.append("patient"))
    with pytest.raises(QueryTimeout) as info:
        await impatient
    assert "while waiting for a free slot" in info.value.message
    gate.set()
    await asyncio.gather(holder, patient)
    assert ran == ["patient"]
    assert slots.free == 1


async def test_a_caller_cancelled_as_it_is_handed_a_slot_gives_it_back(executor: ThreadPoolExecutor) -> None:
    slots = Slots(1)
    assert slots.take()  # held by someone else
    ran: list[str] = []
    waiting = _call(slots, executor, lambda stop: ran.append("x"))
    await asyncio.sleep(0.02)
    slots.give_back()  # handed to the waiter ...
    waiting.cancel()  # ... which is cancelled before it could resume
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert slots.free == 1 and not slots.running and ran == []


def test_interrupter_routes_fires_only_while_attached() -> None:
    stop = Interrupter()
    hits: list[int] = []
    stop.attach(lambda: hits.append(1))
    stop.check()
    assert stop.detach() is False
    stop.fire(StopReason.TIMEOUT)
    assert hits == []  # detached: the connection may already serve someone else
    with pytest.raises(Stopped):
        stop.check()
    with pytest.raises(Stopped):
        stop.attach(lambda: hits.append(2))
    stop.fire(StopReason.CANCEL)
    assert stop.reason is StopReason.TIMEOUT  # the first reason sticks


def test_interrupter_survives_a_failing_target() -> None:
    stop = Interrupter()

    def broken() -> None:
        raise RuntimeError("driver gone")

    stop.attach(broken)
    stop.fire(StopReason.CANCEL)
    assert stop.detach() is True


def test_cancel_token() -> None:
    token = CancelToken()
    calls: list[str] = []
    remove = token.on_cancel(lambda: calls.append("a"))
    token.on_cancel(lambda: calls.append("b"))
    remove()
    assert not token.cancelled and token.reason is None
    worker = threading.Thread(target=token.cancel, args=("from a thread",))
    worker.start()
    worker.join()
    token.cancel("second reason")
    assert token.cancelled and token.reason == "from a thread"
    assert calls == ["b"]
    token.on_cancel(lambda: calls.append("late"))  # already cancelled: called at once
    assert calls == ["b", "late"]
