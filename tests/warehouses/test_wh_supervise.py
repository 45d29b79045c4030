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
from tasksql.warehouses._supervise import Deadlines, InFlight, Interrupter, Stopped, StopReason, supervise
from tasksql.warehouses._workers import WorkerPool
from tasksql.warehouses.base import CancelToken

from .support import until


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    ex = ThreadPoolExecutor(max_workers=2)
    yield ex
    ex.shutdown(wait=True, cancel_futures=True)


@pytest.fixture
def one_slot() -> Iterator[WorkerPool]:
    """A warehouse's executor with one worker thread: one slot."""
    pool = WorkerPool(1, "test-one-slot")
    yield pool
    pool.shutdown(wait=True)


async def test_a_job_that_ignores_the_interrupt_is_abandoned_but_keeps_its_slot(one_slot: WorkerPool) -> None:
    release = threading.Event()
    in_flight = InFlight()

    def stubborn(stop: Interrupter) -> str:
        stop.attach(lambda: None)  # an interrupt that does nothing
        release.wait(30)
        return "late"

    with pytest.raises(QueryTimeout) as info:
        await supervise(
            stubborn, in_flight=in_flight, executor=one_slot, timeout=0.1, token=None, what="job", grace=0.3
        )
    assert "abandoned" in info.value.message
    assert len(in_flight.jobs) == 1  # still running in its thread
    ran: list[str] = []
    later = _call(in_flight, one_slot, lambda stop: ran.append("next"))
    await asyncio.sleep(0.05)
    assert ran == []  # the abandoned job still holds the only slot
    release.set()
    await later
    assert ran == ["next"]
    assert await until(lambda: not in_flight.jobs)


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
        await supervise(
            job, in_flight=InFlight(), executor=executor, timeout=0.05, token=None, what="job", grace=5
        )
    assert "abandoned" not in info.value.message
    assert count >= 3


async def test_a_job_that_finishes_as_the_stop_arrives_keeps_its_result(executor: ThreadPoolExecutor) -> None:
    def job(stop: Interrupter) -> str:
        stop.attach(lambda: None)
        while stop.reason is None:
            threading.Event().wait(0.005)
        return "committed"

    result = await supervise(
        job, in_flight=InFlight(), executor=executor, timeout=0.05, token=None, what="job"
    )
    assert result == "committed"


async def test_job_errors_pass_through_unchanged(executor: ThreadPoolExecutor) -> None:
    def job(stop: Interrupter) -> None:
        raise QueryFailed("boom", sqlstate="22012")

    with pytest.raises(QueryFailed) as info:
        await supervise(job, in_flight=InFlight(), executor=executor, timeout=None, token=None, what="job")
    assert info.value.sqlstate == "22012"


def _call(
    in_flight: InFlight,
    executor: ThreadPoolExecutor | WorkerPool,
    job: Callable[[Interrupter], object],
    *,
    timeout: float | None = None,
    token: CancelToken | None = None,
) -> asyncio.Task[object]:
    return asyncio.create_task(
        supervise(job, in_flight=in_flight, executor=executor, timeout=timeout, token=token, what="job")  # type: ignore[arg-type]
    )


async def _occupied(executor: WorkerPool) -> tuple[InFlight, threading.Event, asyncio.Task[object]]:
    """One slot, held by a running job until the returned event is set."""
    in_flight = InFlight()
    gate = threading.Event()
    holder = _call(in_flight, executor, lambda stop: gate.wait(30))
    await asyncio.sleep(0)
    return in_flight, gate, holder


async def test_a_stop_requested_while_queued_runs_nothing(one_slot: WorkerPool) -> None:
    in_flight, gate, holder = await _occupied(one_slot)
    ran: list[str] = []
    token = CancelToken()
    queued = _call(in_flight, one_slot, lambda stop: ran.append("second"), token=token)
    await asyncio.sleep(0.05)
    token.cancel()
    with pytest.raises(QueryCancelled) as info:
        await queued
    assert "while waiting for a free slot" in info.value.message
    assert len(in_flight.jobs) == 1  # only the holder
    gate.set()
    await holder
    assert ran == []
    assert not in_flight.jobs


async def test_queued_calls_get_the_slot_in_arrival_order(one_slot: WorkerPool) -> None:
    in_flight, gate, holder = await _occupied(one_slot)
    order: list[int] = []
    queued = [_call(in_flight, one_slot, lambda stop, i=i: order.append(i)) for i in range(5)]
    await asyncio.sleep(0.05)
    assert order == [] and len(in_flight.jobs) == 6
    gate.set()
    await asyncio.gather(holder, *queued)
    assert order == [0, 1, 2, 3, 4]
    assert not in_flight.jobs


async def test_a_timeout_while_queued_passes_the_slot_on(one_slot: WorkerPool) -> None:
    in_flight, gate, holder = await _occupied(one_slot)
    ran: list[str] = []
    impatient = _call(in_flight, one_slot, lambda stop: ran.append("impatient"), timeout=0.05)
    patient = _call(in_flight, one_slot, lambda stop: ran.append("patient"))
    with pytest.raises(QueryTimeout) as info:
        await impatient
    assert "while waiting for a free slot" in info.value.message
    gate.set()
    await asyncio.gather(holder, patient)
    assert ran == ["patient"]
    assert not in_flight.jobs


async def test_a_caller_cancelled_while_queued_takes_its_job_out_of_the_queue(one_slot: WorkerPool) -> None:
    in_flight, gate, holder = await _occupied(one_slot)
    ran: list[str] = []
    waiting = _call(in_flight, one_slot, lambda stop: ran.append("x"))
    await asyncio.sleep(0.02)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert len(in_flight.jobs) == 1  # only the holder
    gate.set()
    await holder
    await asyncio.sleep(0.02)  # the worker has passed over the cancelled job by now
    assert ran == [] and not in_flight.jobs


async def test_a_worker_takes_the_next_queued_job_without_the_loop(one_slot: WorkerPool) -> None:
    """Jobs queued behind a busy slot run back to back in the worker, even while the event loop is
    blocked: the hand-over of a slot does not wait for the loop."""
    in_flight, gate, holder = await _occupied(one_slot)
    ran: list[int] = []
    queued = [_call(in_flight, one_slot, lambda stop, i=i: ran.append(i)) for i in range(3)]
    await asyncio.sleep(0.02)  # all three submitted, queued behind the holder
    gate.set()
    threading.Event().wait(0.3)  # block the loop: only the worker can make progress now
    assert ran == [0, 1, 2]
    await asyncio.gather(holder, *queued)


def test_a_queued_job_can_be_cancelled_once_and_a_started_one_not() -> None:
    pool = WorkerPool(1, "test-cancel")
    gate = threading.Event()
    try:
        first = pool.submit(gate.wait, 30)
        second = pool.submit(lambda: "never")
        seen: list[bool] = []
        second.add_done_callback(lambda job: seen.append(job.cancelled()))
        assert second.cancel() is True and second.cancel() is True
        assert seen == [True]
        assert until_sync(lambda: first._state != 0)  # the first one is running
        assert first.cancel() is False
        gate.set()
    finally:
        pool.shutdown(wait=True)


def until_sync(cond: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if cond():
            return True
        deadline.wait(0.01)
    return cond()


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


def test_a_pool_starts_a_thread_whenever_queued_jobs_outnumber_waiting_workers() -> None:
    pool = WorkerPool(3, "test-grow")
    started = [threading.Event() for _ in range(4)]
    gate = threading.Event()
    try:
        first = pool.submit(lambda: started[0].set() or "quick")
        assert until_sync(first.done)  # one worker, now waiting for work
        # three jobs that block: the waiting worker takes one, two more threads start for the rest
        blocked = [pool.submit(lambda i=i: started[i].set() or gate.wait(30)) for i in (1, 2, 3)]
        assert all(until_sync(e.is_set) for e in started[1:])  # all three run at once
        assert len(pool._threads) == 3
        extra = pool.submit(lambda: "after")
        assert not until_sync(extra.done, timeout=0.1)  # the pool is full: it waits in the queue
        gate.set()
        assert until_sync(extra.done) and extra.result() == "after"
        assert all(until_sync(j.done) for j in blocked)
        assert len(pool._threads) == 3
    finally:
        gate.set()
        pool.shutdown(wait=True)


def test_a_full_pool_counts_its_queued_jobs_and_waiting_workers_without_its_lock() -> None:
    pool = WorkerPool(2, "test-full")
    gate = threading.Event()
    try:
        running = [pool.submit(gate.wait, 30) for _ in range(2)]  # both threads started: full
        assert until_sync(lambda: all(j.running() for j in running))
        queued = [pool.submit(lambda: "later") for _ in range(3)]
        assert pool.queued == 3 and pool.waiting == 0
        gate.set()
        assert all(until_sync(j.done) for j in queued) and [j.result() for j in queued] == ["later"] * 3
        assert until_sync(lambda: pool.waiting == 2) and pool.queued == 0
        assert len(pool._threads) == 2
    finally:
        gate.set()
        pool.shutdown(wait=True)


async def test_deadlines_fire_in_time_order_and_only_for_calls_still_going() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop)
    fired: list[str] = []

    # many calls that end long before their deadline (as a task's body does): dropped, not fired
    def ended(reason: str) -> None:
        fired.append("a call that ended")

    for _ in range(500):
        deadlines.remove(deadlines.add(loop.time() + 3600, ended))
    assert len(deadlines._heap) < 100  # the dropped ones do not pile up
    deadlines.add(loop.time() + 0.2, lambda reason: fired.append(f"late {reason}"))
    deadlines.add(loop.time() + 0.05, lambda reason: fired.append(f"early {reason}"))
    gone = deadlines.add(loop.time() + 0.01, lambda reason: fired.append("gone"))
    deadlines.remove(gone)
    started = loop.time()
    assert await until(lambda: len(fired) == 2, within=5)
    assert fired == ["early timeout", "late timeout"]
    assert loop.time() - started >= 0.19  # not before its deadline


async def test_closing_the_calls_in_flight_leaves_no_deadline_timer_on_the_loop() -> None:
    loop = asyncio.get_running_loop()
    in_flight = InFlight()
    in_flight.deadlines = deadlines = Deadlines(loop)
    fired: list[str] = []
    deadlines.add(loop.time() + 0.05, fired.append)
    timer = deadlines._timer
    in_flight.close()
    assert timer is not None and timer.cancelled()
    await asyncio.sleep(0.1)
    assert fired == []
