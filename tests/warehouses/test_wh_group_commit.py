"""Group commit: marked one-statement bodies queued for a warehouse share one transaction.

Real DuckDB and SQLite files. To queue several bodies at once, the warehouse gets one worker and a
statement that runs until cancelled holds it; the bodies queue behind it, and when it is cancelled
the worker takes them all as one group. Each body must still be its own run: its rows, its error,
its timeout, and its effects committed with its marker or not at all.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from tasksql.errors import QueryCancelled, QueryFailed, QueryTimeout, WarehouseError
from tasksql.warehouses import duckdb as duckdb_wh
from tasksql.warehouses import sqlite as sqlite_wh
from tasksql.warehouses._group_commit import GroupSession
from tasksql.warehouses.base import BodyResult, CancelToken, Marker, Warehouse, WarehouseTransaction
from tasksql.warehouses.sqlite import SQLiteWarehouse

from . import group_commit_support
from .conftest import MakeWarehouse
from .group_commit_support import (
    SLOW_INSERT,
    group_going,
    in_one_group,
    marker,
    one_worker_with_tables,
    stats,
    table,
)
from .support import SLOW, until

#: the fixture: each test runs on DuckDB and on SQLite
backend = group_commit_support.backend


async def one_worker(make_warehouse: MakeWarehouse) -> Warehouse:
    wh = await one_worker_with_tables(make_warehouse)
    # the marker table exists from the first marked body on
    await wh.run_body(["INSERT INTO t VALUES (0)"], transactional=False, marker=marker(999))
    await wh.execute("DELETE FROM t")
    return wh


async def test_queued_bodies_commit_in_one_transaction_each_with_its_own_rows(
    make_warehouse: MakeWarehouse, backend: str
) -> None:
    wh = await one_worker(make_warehouse)
    before = stats(wh)
    bodies = [
        (f"INSERT INTO t VALUES {', '.join(f'({i})' for i in range(1, k + 1))}", marker(k), None)
        for k in (1, 2, 3)
    ]
    bodies.append(("UPDATE t SET x = x + 10 WHERE x = 1", marker(4), None))
    results = await in_one_group(wh, backend, bodies)
    assert stats(wh) == (before[0] + 1, before[1] + 4)  # one transaction, four bodies
    assert [(r.rows_inserted, r.rows_produced, r.marked) for r in results if isinstance(r, BodyResult)] == [
        (1, 1, True),
        (2, 2, True),
        (3, 3, True),
        (3, 3, True),  # the UPDATE saw the three bodies before it: they ran in order
    ]
    assert sorted(await wh.find_markers("cat1", [1, 2, 3, 4])) == [1, 2, 3, 4]
    assert await table(wh) == [(2,), (2,), (3,), (11,), (11,), (11,)]


async def test_a_body_alone_is_a_group_of_one(make_warehouse: MakeWarehouse, backend: str) -> None:
    wh = await one_worker(make_warehouse)
    before = stats(wh)
    result = await wh.run_body(["INSERT INTO t VALUES (5)"], transactional=False, marker=marker(5))
    assert result.marked and result.rows_inserted == 1
    assert stats(wh) == (before[0] + 1, before[1] + 1)


async def test_a_failing_body_fails_alone_and_the_others_commit_once(
    make_warehouse: MakeWarehouse, backend: str
) -> None:
    wh = await one_worker(make_warehouse)
    results = await in_one_group(
        wh,
        backend,
        [
            ("INSERT INTO t VALUES (1)", marker(1), None),
            ("INSERT INTO u VALUES (1), (1)", marker(2), None),  # breaks the key half-way
            ("INSERT INTO t VALUES (3)", marker(3), None),
            ("INSERT INTO missing_table VALUES (4)", marker(4), None),
            ("INSERT INTO t VALUES (5)", marker(5), None),
        ],
    )
    assert [type(r).__name__ for r in results] == [
        "BodyResult",
        "QueryFailed",
        "BodyResult",
        "QueryFailed",
        "BodyResult",
    ]
    assert isinstance(results[1], QueryFailed) and results[1].sqlstate == "23505"
    assert isinstance(results[3], QueryFailed) and results[3].sqlstate == "42P01"
    assert sorted(await wh.find_markers("cat1", [1, 2, 3, 4, 5])) == [1, 3, 5]
    assert await table(wh) == [(1,), (3,), (5,)]  # each once, although the group ran again
    assert await table(wh, "SELECT count(*) FROM u") == [(0,)]


async def test_a_key_clash_between_two_bodies_fails_the_later_one(
    make_warehouse: MakeWarehouse, backend: str
) -> None:
    """The second body fails only because of the first: run again one after the other, the first
    commits and the second fails, as they would have without a group."""
    wh = await one_worker(make_warehouse)
    results = await in_one_group(
        wh,
        backend,
        [
            ("INSERT INTO u VALUES (1)", marker(1), None),
            ("INSERT INTO u VALUES (2)", marker(2), None),
            ("INSERT INTO u VALUES (1)", marker(3), None),
            ("INSERT INTO u VALUES (3)", marker(4), None),
        ],
    )
    assert [isinstance(r, BodyResult) for r in results] == [True, True, False, True]
    assert isinstance(results[2], QueryFailed) and results[2].sqlstate == "23505"
    assert sorted(await wh.find_markers("cat1", [1, 2, 3, 4])) == [1, 2, 4]
    assert await table(wh, "SELECT x FROM u ORDER BY x") == [(1,), (2,), (3,)]


async def test_a_body_that_times_out_in_a_group_ends_alone(
    make_warehouse: MakeWarehouse, backend: str
) -> None:
    """The slow body's timeout interrupts it while the bodies before it are in the transaction:
    the transaction is rolled back, the slow body fails on its timeout, and the others run again
    and commit once each."""
    wh = await one_worker(make_warehouse)
    before = stats(wh)
    results = await in_one_group(
        wh,
        backend,
        [
            ("INSERT INTO t VALUES (1)", marker(1), None),
            ("INSERT INTO t VALUES (2)", marker(2), None),
            (SLOW_INSERT[backend], marker(3), 1.0),
            ("INSERT INTO t VALUES (4)", marker(4), None),
        ],
    )
    assert isinstance(results[2], QueryTimeout)
    assert all(isinstance(r, BodyResult) and r.rows_inserted == 1 for i, r in enumerate(results) if i != 2)
    assert sorted(await wh.find_markers("cat1", [1, 2, 3, 4])) == [1, 2, 4]
    assert await table(wh) == [(1,), (2,), (4,)]
    assert stats(wh) == (before[0] + 1, before[1] + 3)  # (the rolled-back transaction is not counted)
    assert wh.running == 0


#: The backends' session classes (to watch what runs in them and what interrupts them).
SESSIONS: dict[str, type[GroupSession]] = {
    "duckdb": duckdb_wh._DuckSession,
    "sqlite": sqlite_wh._SQLiteSession,
}

#: A grouped body (one INSERT of one row) that runs for about a second.
LONG_INSERT = {
    "duckdb": "INSERT INTO t SELECT count(*) FROM range(600000000) r(i) WHERE hash(i) = 7",
    "sqlite": "INSERT INTO t WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 4000000)"
    " SELECT count(*) FROM r",
}


async def long_body(wh: Warehouse, backend: str) -> float:
    """How long :data:`LONG_INSERT` takes alone here (seconds); ``t`` is left empty."""
    t0 = time.monotonic()
    await wh.run_body([LONG_INSERT[backend]], transactional=False, marker=marker(900))
    took = time.monotonic() - t0
    await wh.execute("DELETE FROM t")
    return took


async def test_other_bodies_deadlines_do_not_restart_a_long_body(
    make_warehouse: MakeWarehouse, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three bodies queued behind a long one in its group reach their deadlines while it runs:
    each ends on its own timeout, and the long body's statement runs once and commits with the
    last body. Were their interrupts to hit the long body's statement, it would start again three
    times. (The deadlines are fractions of the long body's time alone, its own is far off: only
    the order matters, so a slower or faster machine does not change the outcome.)"""
    wh = await one_worker(make_warehouse)
    took = await long_body(wh, backend)
    session_type: type[GroupSession] = SESSIONS[backend]
    started: list[str] = []
    group_run = session_type.group_run

    def counted_run(self: object, sql: str) -> object:
        started.append(sql)
        return group_run(self, sql)

    monkeypatch.setattr(session_type, "group_run", counted_run)
    before = stats(wh)
    runs = await group_going(
        wh,
        backend,
        [
            (LONG_INSERT[backend], marker(1), 30.0 + 10 * took),
            ("INSERT INTO t VALUES (2)", marker(2), 0.1 * took),
            ("INSERT INTO t VALUES (3)", marker(3), 0.2 * took),
            ("INSERT INTO t VALUES (4)", marker(4), 0.3 * took),
            ("INSERT INTO t VALUES (5)", marker(5), 30.0 + 10 * took),
        ],
    )
    results = await asyncio.gather(*runs, return_exceptions=True)
    assert isinstance(results[0], BodyResult) and results[0].rows_inserted == 1, results[0]
    assert isinstance(results[4], BodyResult) and results[4].rows_inserted == 1, results[4]
    assert all(isinstance(r, QueryTimeout) for r in results[1:4]), results
    assert started.count(LONG_INSERT[backend]) == 1, started  # never restarted
    assert sorted(await wh.find_markers("cat1", [1, 2, 3, 4, 5])) == [1, 5]
    assert await table(wh, "SELECT count(*) FROM t WHERE x NOT IN (2, 3, 4, 5)") == [(1,)]
    assert await table(wh, "SELECT x FROM t WHERE x IN (2, 3, 4, 5)") == [(5,)]
    assert stats(wh) == (before[0] + 1, before[1] + 2)
    assert wh.running == 0


async def test_a_body_cancelled_while_queued_in_a_group_is_answered_at_once_and_never_runs(
    make_warehouse: MakeWarehouse, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The group runs the long body first; the second body, cancelled meanwhile, is answered
    while the long body still runs, without interrupting anything (its statement has not
    started), and is skipped: the long body and the third commit, the long one never restarted."""
    wh = await one_worker(make_warehouse)
    took = await long_body(wh, backend)
    session_type: type[GroupSession] = SESSIONS[backend]
    started: list[str] = []
    interrupts: list[str] = []
    group_run, interrupt = session_type.group_run, session_type.interrupt

    def counted_run(self: object, sql: str) -> object:
        started.append(sql)
        return group_run(self, sql)

    def counted_interrupt(self: object) -> None:
        interrupts.append("interrupt")
        interrupt(self)

    monkeypatch.setattr(session_type, "group_run", counted_run)
    monkeypatch.setattr(session_type, "interrupt", counted_interrupt)
    token = CancelToken()
    runs = await group_going(
        wh,
        backend,
        [
            (LONG_INSERT[backend], marker(1), None),
            ("INSERT INTO t VALUES (2)", marker(2), None),
            ("INSERT INTO t VALUES (3)", marker(3), None),
        ],
        [None, token, None],
    )
    assert await until(lambda: started == [LONG_INSERT[backend]])
    interrupts.clear()  # (the holder's)
    t0 = time.monotonic()
    token.cancel("not wanted")
    with pytest.raises(QueryCancelled):
        await runs[1]
    assert time.monotonic() - t0 < took / 2 and not runs[0].done()  # answered at once
    first, last = await runs[0], await runs[2]
    assert first.marked and last.marked
    assert interrupts == []  # the cancel reached no statement
    assert started == [LONG_INSERT[backend], "INSERT INTO t VALUES (3)"]  # nothing ran twice
    assert sorted(await wh.find_markers("cat1", [1, 2, 3])) == [1, 3]
    assert await table(wh, "SELECT x FROM t WHERE x IN (2, 3)") == [(3,)]


async def test_a_body_cancelled_while_queued_never_runs(make_warehouse: MakeWarehouse, backend: str) -> None:
    wh = await one_worker(make_warehouse)
    holder, token = CancelToken(), CancelToken()
    held = asyncio.create_task(wh.execute(SLOW[backend], token=holder))
    assert await until(lambda: wh.running == 1)
    first = asyncio.create_task(
        wh.run_body(["INSERT INTO t VALUES (1)"], transactional=False, marker=marker(1))
    )
    dropped = asyncio.create_task(
        wh.run_body(["INSERT INTO t VALUES (2)"], transactional=False, marker=marker(2), token=token)
    )
    last = asyncio.create_task(
        wh.run_body(["INSERT INTO t VALUES (3)"], transactional=False, marker=marker(3))
    )
    queue = wh._groups._queue  # type: ignore[attr-defined]
    assert await until(lambda: len(queue) == 3)
    token.cancel("not wanted")
    with pytest.raises(QueryCancelled):
        await dropped
    holder.cancel()
    with pytest.raises(QueryCancelled):
        await held
    assert (await first).marked and (await last).marked
    assert sorted(await wh.find_markers("cat1", [1, 2, 3])) == [1, 3]
    assert await table(wh) == [(1,), (3,)]


async def test_closing_the_warehouse_ends_queued_bodies(make_warehouse: MakeWarehouse, backend: str) -> None:
    wh = await one_worker(make_warehouse)
    held = asyncio.create_task(wh.execute(SLOW[backend]))
    assert await until(lambda: wh.running == 1)
    runs = [
        asyncio.create_task(
            wh.run_body([f"INSERT INTO t VALUES ({i})"], transactional=False, marker=marker(i))
        )
        for i in range(1, 4)
    ]
    queue = wh._groups._queue  # type: ignore[attr-defined]
    assert await until(lambda: len(queue) == 3)
    await asyncio.wait_for(wh.close(), 30)
    outcomes = await asyncio.gather(held, *runs, return_exceptions=True)
    assert all(isinstance(o, WarehouseError) and o.code == "WAREHOUSE_CLOSED" for o in outcomes), outcomes


async def test_other_bodies_are_not_grouped(make_warehouse: MakeWarehouse, backend: str) -> None:
    wh = await one_worker(make_warehouse)
    before = stats(wh)
    script = await wh.run_body(
        ["INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)"], transactional=True, marker=marker(1)
    )
    plain = await wh.run_body(["INSERT INTO t VALUES (3)"], transactional=False)
    with_params = await wh.run_body(
        ["INSERT INTO t VALUES (4)"],
        transactional=False,
        marker=marker(4),
        session_params=[("enable_progress_bar", "false")] if backend == "duckdb" else [("cache_size", "100")],
    )
    assert script.marked and not plain.marked and with_params.marked
    assert stats(wh) == before
    assert sorted(await wh.find_markers("cat1", [1, 3, 4])) == [1, 4]


async def test_many_bodies_at_once_all_commit_with_their_markers(
    make_warehouse: MakeWarehouse, backend: str
) -> None:
    wh = await make_warehouse(max_concurrency=4)
    await wh.execute("CREATE TABLE t (x INTEGER)")
    before = stats(wh)
    results = await asyncio.gather(
        *(
            wh.run_body([f"INSERT INTO t VALUES ({i})"], transactional=False, marker=marker(i))
            for i in range(1, 501)
        )
    )
    assert all(r.marked and r.rows_inserted == 1 for r in results)
    assert sorted(await wh.find_markers("cat1", range(1, 501))) == list(range(1, 501))
    assert await table(wh, "SELECT count(*), count(DISTINCT x) FROM t") == [(500, 500)]
    groups, bodies = stats(wh)
    assert bodies - before[1] == 500
    assert groups - before[0] < 500  # (at least one group carried several bodies)


# --- a crash before the COMMIT -----------------------------------------------------------------

_CRASH_CHILD = r"""
import asyncio, sys
from pathlib import Path
from tasksql.testing import FakeClock
from tasksql.warehouses.base import CancelToken, Marker
from tasksql.warehouses.sqlite import SQLiteWarehouse

CLOCK = FakeClock("2026-03-01T12:00:00+00:00")
HOLD = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT sum(i) FROM r"
BIG = ("INSERT INTO big WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r)"
       " SELECT randomblob(1000) FROM r")

async def main() -> None:
    wh = SQLiteWarehouse("w", Path(sys.argv[1]), max_concurrency=1)
    await wh.open()
    holder = CancelToken()
    held = asyncio.ensure_future(wh.execute(HOLD, token=holder))
    while wh.running != 1:
        await asyncio.sleep(0.01)
    runs = [
        asyncio.ensure_future(wh.run_body([sql], transactional=False, marker=Marker(scope="cat1", run_id=i, clock=CLOCK)))
        for i, sql in enumerate(["INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)", BIG], start=1)
    ]
    while len(wh._groups._queue) < 3:
        await asyncio.sleep(0.01)
    holder.cancel()
    await asyncio.gather(held, *runs, return_exceptions=True)

asyncio.run(main())
"""


async def test_a_crash_before_the_commit_leaves_none_of_the_group(tmp_path: Path) -> None:
    """Three bodies in one SQLite transaction; the process is killed while the third one writes
    (its pages spill into the WAL: the two before it ran). None of the three, nor their markers,
    is in the file afterwards."""
    path = tmp_path / "w.db"
    wh = SQLiteWarehouse("w", path)
    await wh.open()
    await wh.execute("CREATE TABLE t (x INTEGER)")
    await wh.execute("CREATE TABLE big (b BLOB)")
    await wh.run_body(
        ["INSERT INTO t VALUES (0)"], transactional=False, marker=marker(100)
    )  # the marker table
    await wh.close()
    wal = Path(f"{path}-wal")
    wal_before = wal.stat().st_size if wal.exists() else 0
    child = subprocess.Popen([sys.executable, "-c", _CRASH_CHILD, str(path)], env={**os.environ})
    try:
        assert await until(lambda: wal.exists() and wal.stat().st_size > wal_before + 20_000_000, within=60)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    con = sqlite3.connect(path)
    try:
        assert con.execute("SELECT x FROM t").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM big").fetchall() == [(0,)]
        assert con.execute("SELECT run_id FROM tasksql_run_markers").fetchall() == [(100,)]
    finally:
        con.close()


# --- SQLite: a group waiting for the file's write gate -----------------------------------------


async def queued_behind_a_transaction(
    tmp_path: Path, bodies: Sequence[tuple[str, Marker, CancelToken | None]]
) -> tuple[
    SQLiteWarehouse, list[asyncio.Task[BodyResult]], AbstractAsyncContextManager[WarehouseTransaction]
]:
    """A SQLite warehouse with two workers and an open write transaction (which holds the write gate
    between its statements); one worker takes ``bodies`` as one group, which waits for the gate, the
    other is free for the transaction's COMMIT. Returns the warehouse, the bodies' calls and the
    transaction's context manager (exit it to let the group go on)."""
    wh = SQLiteWarehouse("w", tmp_path / "w.db", max_concurrency=2)
    await wh.open()
    await wh.execute("CREATE TABLE t (x INTEGER)")
    await wh.run_body(["INSERT INTO t VALUES (0)"], transactional=False, marker=marker(999))
    await wh.execute("DELETE FROM t")
    pinned = wh.transaction()
    txn = await pinned.__aenter__()
    await txn.execute("INSERT INTO t VALUES (100)")
    holders = [CancelToken(), CancelToken()]
    held = [asyncio.create_task(wh.execute(SLOW["sqlite"], token=h)) for h in holders]
    assert await until(lambda: wh.running == 2)
    runs = [
        asyncio.create_task(wh.run_body([sql], transactional=False, marker=m, token=token))
        for sql, m, token in bodies
    ]
    queue = wh._groups._queue  # type: ignore[union-attr]
    assert await until(lambda: len(queue) == len(bodies))
    holders[0].cancel()
    assert await until(lambda: len(queue) == 0 and wh.running == len(bodies) + 1)
    holders[1].cancel()
    for h in held:
        with pytest.raises(QueryCancelled):
            await h
    return wh, runs, pinned


async def test_a_body_cancelled_while_its_group_waits_for_the_gate_ends_alone(tmp_path: Path) -> None:
    token = CancelToken()
    wh, runs, pinned = await queued_behind_a_transaction(
        tmp_path,
        [
            ("INSERT INTO t VALUES (1)", marker(1), token),
            ("INSERT INTO t VALUES (2)", marker(2), None),
            ("INSERT INTO t VALUES (3)", marker(3), None),
        ],
    )
    try:
        token.cancel("not wanted")
        with pytest.raises(QueryCancelled):
            await runs[0]
        assert not runs[1].done() and not runs[2].done()  # still waiting for the gate
        await pinned.__aexit__(None, None, None)
        assert (await runs[1]).marked and (await runs[2]).marked
        assert sorted(await wh.find_markers("cat1", [1, 2, 3])) == [2, 3]
        assert await table(wh) == [(2,), (3,), (100,)]
    finally:
        await wh.close()


async def test_a_gate_wait_that_times_out_fails_the_whole_group_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every body of the group would wait as long for the same lock: they fail together, after one
    wait, not one after the other."""
    monkeypatch.setattr(sqlite_wh, "BUSY_TIMEOUT", 1.0)
    wh, runs, pinned = await queued_behind_a_transaction(
        tmp_path, [(f"INSERT INTO t VALUES ({i})", marker(i), None) for i in (1, 2, 3)]
    )
    try:
        t0 = time.monotonic()
        outcomes = await asyncio.gather(*runs, return_exceptions=True)
        assert time.monotonic() - t0 < 2.5  # (one after the other: 3 s)
        assert all(isinstance(o, QueryFailed) and o.sqlstate == "55P03" for o in outcomes), outcomes
        await pinned.__aexit__(None, None, None)
        assert await wh.find_markers("cat1", [1, 2, 3]) == {}
        assert await table(wh) == [(100,)]
    finally:
        await wh.close()
