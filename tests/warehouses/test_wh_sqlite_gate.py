"""One writer at a time per SQLite file in a process: writers wait for each other on the file's
write gate (woken when the previous one is done), readers never wait, other processes' writers are
still waited for by SQLite's busy timeout, and the gate is never left taken.

Real SQLite files; a plain ``sqlite3`` connection stands for a writer of another process (it does
not know the gate)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.errors import QueryCancelled, QueryFailed, QueryTimeout
from tasksql.testing import FakeClock
from tasksql.warehouses import sqlite as sqlite_wh
from tasksql.warehouses._write_gate import GateStopped, GateTimeout, WriteGate, gate_for
from tasksql.warehouses.base import CancelToken, Marker
from tasksql.warehouses.sqlite import SQLiteWarehouse

from .support import SLOW, until

CLOCK = FakeClock("2026-03-01T12:00:00+00:00")


def marker(run_id: int) -> Marker:
    return Marker(scope="cat1", run_id=run_id, clock=CLOCK)


@pytest.fixture
async def wh(tmp_path: Path) -> AsyncIterator[SQLiteWarehouse]:
    w = SQLiteWarehouse("w", tmp_path / "w.db", max_concurrency=4)
    await w.open()
    await w.execute("CREATE TABLE t (x INTEGER)")
    yield w
    await w.close()


async def count(w: SQLiteWarehouse) -> int:
    return int((await w.execute("SELECT count(*) FROM t")).rows[0][0])


# --- the gate itself ---------------------------------------------------------------------------


def test_the_gate_hands_over_in_order_and_from_any_thread() -> None:
    gate = WriteGate()
    gate.acquire(1.0, lambda: False)
    order: list[int] = []
    waiting = threading.Barrier(2)

    def waiter(i: int) -> None:
        if i == 1:
            waiting.wait()
        gate.acquire(5.0, lambda: False)
        order.append(i)
        gate.release()

    first = threading.Thread(target=waiter, args=(0,))
    first.start()
    deadline = time.monotonic() + 5
    while not gate._cond._waiters and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.001)
    second = threading.Thread(target=waiter, args=(1,))
    second.start()
    waiting.wait()
    while len(gate._cond._waiters) < 2 and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.001)
    releaser = threading.Thread(target=gate.release)  # another thread than the one that took it
    releaser.start()
    for t in (releaser, first, second):
        t.join(5)
    assert order == [0, 1]
    assert not gate.held


def test_a_wait_ends_at_its_timeout_or_when_its_waiter_is_stopped() -> None:
    gate = WriteGate()
    gate.acquire(1.0, lambda: False)
    t0 = time.monotonic()
    with pytest.raises(GateTimeout):
        gate.acquire(0.1, lambda: False)
    assert 0.09 <= time.monotonic() - t0 < 2

    stop = threading.Event()
    outcome: list[str] = []

    def stopped_waiter() -> None:
        try:
            gate.acquire(30.0, stop.is_set)
            outcome.append("took it")
        except GateStopped:
            outcome.append("stopped")

    t = threading.Thread(target=stopped_waiter)
    t.start()
    deadline = time.monotonic() + 5
    while not gate._cond._waiters and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.001)
    stop.set()
    gate.wake()
    t.join(5)
    assert outcome == ["stopped"]
    assert gate.held  # still the first holder's
    gate.release()
    gate.acquire(0.1, lambda: False)  # free again


def test_a_stopped_waiter_passes_the_release_meant_for_it_on() -> None:
    gate = WriteGate()
    gate.acquire(1.0, lambda: False)
    stop = threading.Event()
    took = threading.Event()

    def stopped() -> None:
        with pytest.raises(GateStopped):
            gate.acquire(30.0, stop.is_set)

    def patient() -> None:
        gate.acquire(30.0, lambda: False)
        took.set()

    a = threading.Thread(target=stopped)
    a.start()
    deadline = time.monotonic() + 5
    while not gate._cond._waiters and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.001)
    b = threading.Thread(target=patient)
    b.start()
    while len(gate._cond._waiters) < 2 and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.001)
    stop.set()  # no wake(): the release below reaches the stopped waiter first
    gate.release()
    assert took.wait(5), "the patient waiter was never woken"
    a.join(5)
    b.join(5)


def test_one_gate_per_file_however_it_is_named(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "d")
    gate = gate_for(tmp_path / "d" / "f.db")
    assert gate_for(tmp_path / "link" / "f.db") is gate
    assert gate_for(tmp_path / "d" / ".." / "d" / "f.db") is gate
    assert gate_for(tmp_path / "other.db") is not gate


# --- the SQLite warehouse ----------------------------------------------------------------------


async def test_concurrent_marked_bodies_all_commit(wh: SQLiteWarehouse) -> None:
    results = await asyncio.gather(
        *(
            wh.run_body([f"INSERT INTO t VALUES ({i})"], transactional=False, marker=marker(i))
            for i in range(200)
        )
    )
    assert all(r.marked for r in results)
    assert await count(wh) == 200
    assert len(await wh.find_markers("cat1", list(range(200)))) == 200
    assert not wh._gate.held


async def test_a_writer_waiting_for_this_process_can_be_stopped_at_its_timeout(wh: SQLiteWarehouse) -> None:
    """A body queued behind another writer of this process waits on the gate, which an interrupt
    ends: it fails at its timeout and frees its worker at once (a wait inside SQLite's busy handler
    could not be interrupted and would hold the worker for the whole busy timeout)."""
    async with wh.transaction() as txn:  # holds the write lock (and the gate) until the block ends
        await txn.execute("INSERT INTO t VALUES (1)")
        t0 = time.monotonic()
        with pytest.raises(QueryTimeout):
            await wh.run_body(
                ["INSERT INTO t VALUES (2)"], transactional=False, timeout=0.2, marker=marker(2)
            )
        assert await until(lambda: wh.running == 0, within=2.0), "the worker stayed in the lock wait"
        assert time.monotonic() - t0 < sqlite_wh.BUSY_TIMEOUT - 1
    # the writer waiting next runs as soon as the holder commits
    waiting = asyncio.create_task(
        wh.run_body(["INSERT INTO t VALUES (3)"], transactional=False, marker=marker(3))
    )
    assert (await waiting).marked
    assert await count(wh) == 2
    assert await wh.find_markers("cat1", [2, 3]) == {3: CLOCK.now()}


async def test_readers_do_not_wait_for_a_writer(wh: SQLiteWarehouse) -> None:
    await wh.execute("INSERT INTO t VALUES (1)")
    async with wh.transaction() as txn:
        await txn.execute("INSERT INTO t VALUES (2)")
        # a query, a WHEN condition, a read-only body and a marker lookup, while the write is open
        reads = asyncio.gather(
            wh.execute("SELECT count(*) FROM t"),
            wh.evaluate("(SELECT count(*) FROM t) = 1"),
            wh.run_body(["SELECT count(*) FROM t"], transactional=False, marker=marker(5)),
            wh.find_markers("cat1", [1]),
        )
        # a read that waited for the writer would wait until the block ends (the bound is generous
        # for a loaded machine)
        rs, when, body, found = await asyncio.wait_for(reads, timeout=30)
        assert rs.rows == [(1,)]  # the committed state (WAL: the writer does not block readers)
        assert when is True
        assert body.last is not None and body.last.rows == [(1,)] and not body.marked
        assert found == {}
    assert await count(wh) == 2


async def test_a_writer_of_another_process_is_still_waited_for(wh: SQLiteWarehouse) -> None:
    other = sqlite3.connect(wh.path, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO t VALUES (1)")
        body = asyncio.create_task(
            wh.run_body(["INSERT INTO t VALUES (2)"], transactional=False, marker=marker(2))
        )
        assert await until(lambda: wh.running == 1)
        await asyncio.sleep(0.2)
        assert not body.done()  # waiting in SQLite's busy handler
        other.execute("COMMIT")
        assert (await asyncio.wait_for(body, timeout=sqlite_wh.BUSY_TIMEOUT)).marked
    finally:
        other.close()
    assert await count(wh) == 2


async def test_a_failed_or_interrupted_writer_gives_the_gate_back(wh: SQLiteWarehouse) -> None:
    with pytest.raises(QueryFailed):
        await wh.run_body(["INSERT INTO t VALUES (1)", "INSERT INTO missing VALUES (1)"], transactional=True)
    assert not wh._gate.held
    slow_write = f"INSERT INTO t SELECT * FROM ({SLOW['sqlite']})"
    with pytest.raises(QueryTimeout):
        await wh.run_body(["INSERT INTO t VALUES (1)", slow_write], transactional=True, timeout=0.2)
    assert not wh._gate.held
    token = CancelToken()
    run = asyncio.create_task(wh.run_body([slow_write], transactional=False, token=token, marker=marker(4)))
    assert await until(lambda: wh._gate.held)
    token.cancel("stop")
    with pytest.raises(QueryCancelled):
        await run
    assert not wh._gate.held
    # and the next writer goes at once
    assert (
        await asyncio.wait_for(
            wh.run_body(["INSERT INTO t VALUES (9)"], transactional=False, marker=marker(9)), 2.0
        )
    ).marked
    assert await count(wh) == 1


async def test_a_users_own_transaction_and_a_waiting_body_do_not_deadlock(wh: SQLiteWarehouse) -> None:
    """The user's BEGIN ... COMMIT holds SQLite's lock without the gate; a body that took the gate
    waits for it in the busy handler, and the user's next statements must not wait for the body."""
    txn = await wh.begin("BEGIN")
    await txn.execute("INSERT INTO t VALUES (1)")  # SQLite's write lock is the user's now
    body = asyncio.create_task(
        wh.run_body(["INSERT INTO t VALUES (2)"], transactional=False, marker=marker(2))
    )
    assert await until(lambda: wh._gate.held)
    await asyncio.wait_for(txn.execute("INSERT INTO t VALUES (3)"), timeout=2.0)
    await asyncio.wait_for(txn.end("COMMIT"), timeout=2.0)
    assert (await asyncio.wait_for(body, timeout=sqlite_wh.BUSY_TIMEOUT)).marked
    assert await count(wh) == 3
    assert not wh._gate.held


async def test_two_warehouses_on_one_file_share_its_gate(tmp_path: Path) -> None:
    a = SQLiteWarehouse("a", tmp_path / "f.db", max_concurrency=2)
    b = SQLiteWarehouse("b", tmp_path / "." / "f.db", max_concurrency=2)
    await a.open()
    await b.open()
    try:
        assert a._gate is b._gate
        await a.execute("CREATE TABLE t (x INTEGER)")
        await asyncio.gather(
            *(
                (a if i % 2 else b).run_body(
                    [f"INSERT INTO t VALUES ({i})"], transactional=False, marker=marker(i)
                )
                for i in range(100)
            )
        )
        assert (await b.execute("SELECT count(*) FROM t")).rows == [(100,)]
    finally:
        await a.close()
        await b.close()
