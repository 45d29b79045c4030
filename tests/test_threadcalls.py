"""threadcalls: calls from worker threads run on the loop, in order, sharing wake-ups."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tasksql import threadcalls


async def test_calls_from_threads_run_on_the_loop_in_order() -> None:
    loop = asyncio.get_running_loop()
    seen: list[tuple[int, int, bool]] = []
    done = asyncio.Event()
    total = 4 * 500

    def record(worker: int, n: int) -> None:
        seen.append((worker, n, threading.current_thread() is threading.main_thread()))
        if len(seen) == total:
            done.set()

    def work(worker: int) -> None:
        for n in range(500):
            threadcalls.call_soon(loop, record, worker, n)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    await asyncio.wait_for(done.wait(), 10)
    assert all(on_loop for _, _, on_loop in seen)
    for worker in range(4):  # each thread's calls keep their order
        assert [n for w, n, _ in seen if w == worker] == list(range(500))


async def test_a_burst_of_calls_shares_one_wake_up(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    wakes = 0
    real = loop.call_soon_threadsafe

    def counting(*args: object) -> asyncio.Handle:
        nonlocal wakes
        wakes += 1
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(loop, "call_soon_threadsafe", counting)
    got: list[int] = []

    def burst() -> None:
        for n in range(100):
            threadcalls.call_soon(loop, got.append, n)

    # the loop is blocked in this thread's join(): all 100 calls queue behind one wake-up
    thread = threading.Thread(target=burst)
    thread.start()
    thread.join()
    while len(got) < 100:
        await asyncio.sleep(0.001)
    assert got == list(range(100))
    assert wakes == 1


async def test_a_failing_call_is_reported_and_the_next_ones_still_run() -> None:
    loop = asyncio.get_running_loop()
    reported: list[BaseException] = []
    loop.set_exception_handler(lambda _, ctx: reported.append(ctx["exception"]))
    got: list[str] = []

    def boom() -> None:
        raise ValueError("boom")

    def calls() -> None:
        threadcalls.call_soon(loop, boom)
        threadcalls.call_soon(loop, got.append, "after")

    thread = threading.Thread(target=calls)
    thread.start()
    thread.join()
    while not got:
        await asyncio.sleep(0.001)
    assert got == ["after"]
    assert [str(e) for e in reported] == ["boom"]
    loop.set_exception_handler(None)


def test_calls_to_a_closed_loop_are_dropped() -> None:
    loop = asyncio.new_event_loop()
    loop.close()
    got: list[int] = []
    threadcalls.call_soon(loop, got.append, 1)  # no error: nobody is waiting
    threadcalls.call_soon(loop, got.append, 2)
    assert got == []
