"""A one-statement body with its completion marker on a SQLite warehouse: a deferred BEGIN, the
statement and the marker under the write gate, then COMMIT (the group commit's transaction, see
test_wh_group_commit.py for groups of several bodies).

Real SQLite files; a plain ``sqlite3`` connection in a thread stands for a writer of another process.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.errors import QueryFailed
from tasksql.testing import FakeClock
from tasksql.warehouses import sqlite as sqlite_wh
from tasksql.warehouses.base import Marker
from tasksql.warehouses.sqlite import SQLiteWarehouse

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


async def rows(w: SQLiteWarehouse, sql: str) -> list[tuple[object, ...]]:
    return (await w.execute(sql)).rows


def test_which_statements_take_the_short_way() -> None:
    short = sqlite_wh.writes_from_start
    assert short("INSERT INTO t VALUES (1)")
    assert short("  -- why\n/* how */ update t SET x = 2")
    assert short("DELETE FROM t RETURNING x")
    assert short("REPLACE INTO t VALUES (1)")
    # a statement that may read before it writes: BEGIN IMMEDIATE, as every transaction
    assert not short("WITH n AS (SELECT 1) INSERT INTO t SELECT * FROM n")
    assert not short("SELECT 1")
    assert not short("CREATE TABLE u AS SELECT 1")


async def test_rows_returned_and_counted_as_the_statement_does(wh: SQLiteWarehouse) -> None:
    result = await wh.run_body(
        ["INSERT INTO t VALUES (1), (2) RETURNING x"], transactional=False, marker=marker(1)
    )
    assert result.marked
    assert result.last is not None and sorted(result.last.rows) == [(1,), (2,)]
    assert result.rows_inserted == 2 and result.rows_produced == 2
    # a trigger's rows are not the statement's (as sqlite3_changes() counts them)
    await wh.execute("CREATE TABLE log (x INTEGER)")
    await wh.execute("CREATE TRIGGER t_log AFTER UPDATE ON t BEGIN INSERT INTO log VALUES (new.x); END")
    result = await wh.run_body(["UPDATE t SET x = x + 10"], transactional=False, marker=marker(2))
    assert result.marked and result.rows_inserted == 2 and result.rows_produced == 2
    assert sorted(await rows(wh, "SELECT x FROM log")) == [(11,), (12,)]
    assert await wh.find_markers("cat1", [1, 2]) == {1: CLOCK.now(), 2: CLOCK.now()}


async def test_two_statements_in_one_text_change_nothing(wh: SQLiteWarehouse) -> None:
    with pytest.raises(QueryFailed):
        await wh.run_body(
            ["INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)"], transactional=False, marker=marker(3)
        )
    assert await rows(wh, "SELECT count(*) FROM t") == [(0,)]
    assert await wh.find_markers("cat1", [3]) == {}
    assert not wh._gate.held
    assert (await wh.run_body(["INSERT INTO t VALUES (4)"], transactional=False, marker=marker(4))).marked


async def test_no_busy_error_beside_a_writer_of_another_process(wh: SQLiteWarehouse) -> None:
    """The deferred BEGIN takes no lock; each statement takes the write lock as it begins, so it
    waits for the other process's transactions (one a millisecond) in the busy handler: none fails
    SQLITE_BUSY, not even one that reads before it writes."""
    await wh.execute("CREATE TABLE c (n INTEGER)")
    await wh.execute("INSERT INTO c VALUES (0)")
    done = threading.Event()
    other_commits = 0

    def other_process() -> None:
        nonlocal other_commits
        con = sqlite3.connect(wh.path, timeout=sqlite_wh.BUSY_TIMEOUT, isolation_level=None)
        try:
            while not done.is_set():
                con.execute("BEGIN IMMEDIATE")
                con.execute("INSERT INTO t SELECT -1 - count(*) FROM t")
                con.execute("COMMIT")
                other_commits += 1
                # (a writer that never pauses starves sqlite3's busy handler, which polls)
                time.sleep(0.001)
        finally:
            con.close()

    writer = threading.Thread(target=other_process)
    writer.start()
    try:
        bodies = [
            "UPDATE c SET n = n + (SELECT count(*) FROM t WHERE x >= 0) * 0 + 1",  # reads, then writes
            "INSERT INTO t SELECT count(*) FROM c",
        ]
        results = await asyncio.gather(
            *(wh.run_body([bodies[i % 2]], transactional=False, marker=marker(100 + i)) for i in range(200))
        )
    finally:
        done.set()
        await asyncio.to_thread(writer.join, 30)
    assert all(r.marked for r in results)
    assert other_commits > 0
    assert await rows(wh, "SELECT n FROM c") == [(100,)]
    assert await rows(wh, "SELECT count(*) FROM t WHERE x >= 0") == [(100,)]
    assert len(await wh.find_markers("cat1", range(100, 300))) == 200
    assert not wh._gate.held
