"""Group commit of unmarked one-statement bodies (markers off, or a body given no marker).

Real DuckDB and SQLite files, queued as in test_wh_group_commit.py: one worker, held by a statement
that runs until cancelled; the bodies queue behind it and the worker takes them all as one group.
Each body must still be its own run (its rows, its error, its timeout), no marker is written for
an unmarked one, and one alone runs as its statement in autocommit, not as a group.
"""

from __future__ import annotations

import asyncio
import functools

from tasksql.errors import QueryFailed, QueryTimeout
from tasksql.warehouses._threaded import ThreadedWarehouse
from tasksql.warehouses.base import BodyResult, Marker

from . import group_commit_support
from .conftest import MakeWarehouse
from .group_commit_support import (
    SLOW_INSERT,
    marker,
    stats,
    table,
)
from .group_commit_support import one_worker_with_tables as one_worker

#: the fixture: each test runs on DuckDB and on SQLite
backend = group_commit_support.backend
#: the bodies must be queued for group commit within 10 s
in_one_group = functools.partial(group_commit_support.in_one_group, within=10)


async def test_queued_unmarked_bodies_commit_together_with_their_own_rows(
    make_warehouse: MakeWarehouse, backend: str
) -> None:
    wh = await one_worker(make_warehouse)
    before = stats(wh)
    bodies: list[tuple[str, Marker | None, float | None]] = [
        (f"INSERT INTO t VALUES {', '.join(f'({i})' for i in range(1, k + 1))}", None, None)
        for k in (1, 2, 3)
    ]
    bodies.append(("UPDATE t SET x = x + 10 WHERE x = 1", None, None))
    results = await in_one_group(wh, backend, bodies)
    assert stats(wh) == (before[0] + 1, before[1] + 4)  # one transaction, four bodies
    assert [(r.rows_inserted, r.rows_produced, r.marked) for r in results if isinstance(r, BodyResult)] == [
        (1, 1, False),
        (2, 2, False),
        (3, 3, False),
        (3, 3, False),  # the UPDATE saw the three bodies before it: they ran in order
    ]
    assert await table(wh) == [(2,), (2,), (3,), (11,), (11,), (11,)]


async def test_an_unmarked_body_alone_runs_in_autocommit(make_warehouse: MakeWarehouse, backend: str) -> None:
    """Alone, an unmarked body is its statement in autocommit (what it cost before group commit):
    no group transaction is counted."""
    wh = await one_worker(make_warehouse)
    before = stats(wh)
    result = await wh.run_body(["INSERT INTO t VALUES (5), (6)"], transactional=False)
    assert (result.rows_inserted, result.rows_produced, result.marked) == (2, 2, False)
    assert stats(wh) == before
    assert await table(wh) == [(5,), (6,)]


async def test_a_failing_unmarked_body_fails_alone_and_the_others_commit_once(
    make_warehouse: MakeWarehouse, backend: str
) -> None:
    wh = await one_worker(make_warehouse)
    results = await in_one_group(
        wh,
        backend,
        [
            ("INSERT INTO t VALUES (1)", None, None),
            ("INSERT INTO u VALUES (1), (1)", None, None),  # breaks the key half-way
            ("INSERT INTO t VALUES (3)", None, None),
            ("INSERT INTO missing_table VALUES (4)", None, None),
            ("INSERT INTO t VALUES (5)", None, None),
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
    assert await table(wh) == [(1,), (3,), (5,)]  # each once, although the group ran again
    assert await table(wh, "SELECT count(*) FROM u") == [(0,)]  # the failing body's half undone


async def test_a_key_clash_between_two_unmarked_bodies_fails_the_later_one(
    make_warehouse: MakeWarehouse, backend: str
) -> None:
    wh = await one_worker(make_warehouse)
    results = await in_one_group(
        wh,
        backend,
        [
            ("INSERT INTO u VALUES (1)", None, None),
            ("INSERT INTO u VALUES (2)", None, None),
            ("INSERT INTO u VALUES (1)", None, None),
            ("INSERT INTO u VALUES (3)", None, None),
        ],
    )
    assert [isinstance(r, BodyResult) for r in results] == [True, True, False, True]
    assert isinstance(results[2], QueryFailed) and results[2].sqlstate == "23505"
    assert await table(wh, "SELECT x FROM u ORDER BY x") == [(1,), (2,), (3,)]


async def test_an_unmarked_body_that_times_out_in_a_group_ends_alone(
    make_warehouse: MakeWarehouse, backend: str
) -> None:
    wh = await one_worker(make_warehouse)
    before = stats(wh)
    results = await in_one_group(
        wh,
        backend,
        [
            ("INSERT INTO t VALUES (1)", None, None),
            ("INSERT INTO t VALUES (2)", None, None),
            (SLOW_INSERT[backend], None, 1.0),
            ("INSERT INTO t VALUES (4)", None, None),
        ],
    )
    assert isinstance(results[2], QueryTimeout)
    assert all(isinstance(r, BodyResult) and r.rows_inserted == 1 for i, r in enumerate(results) if i != 2)
    assert await table(wh) == [(1,), (2,), (4,)]
    assert stats(wh) == (before[0] + 1, before[1] + 3)  # (the rolled-back transaction is not counted)
    assert wh.running == 0


async def test_marked_and_unmarked_bodies_share_a_group_only_the_marked_get_markers(
    make_warehouse: MakeWarehouse, backend: str
) -> None:
    wh = await one_worker(make_warehouse)
    before = stats(wh)
    results = await in_one_group(
        wh,
        backend,
        [
            ("INSERT INTO t VALUES (1)", None, None),
            ("INSERT INTO t VALUES (2)", marker(2), None),
            ("INSERT INTO t VALUES (3)", None, None),
            ("INSERT INTO t VALUES (4)", marker(4), None),
        ],
    )
    assert [r.marked for r in results if isinstance(r, BodyResult)] == [False, True, False, True]
    assert stats(wh) == (before[0] + 1, before[1] + 4)
    assert sorted(await wh.find_markers("cat1", [1, 2, 3, 4])) == [2, 4]
    assert await table(wh) == [(1,), (2,), (3,), (4,)]


async def test_with_markers_off_on_the_warehouse_marked_bodies_group_unmarked(
    make_warehouse: MakeWarehouse, backend: str
) -> None:
    """A warehouse that writes no markers (its table could not be created) runs the bodies given
    a marker as unmarked ones, in groups all the same."""
    wh = await one_worker(make_warehouse)
    assert isinstance(wh, ThreadedWarehouse)
    wh.markers_off = "the marker table cannot be created"
    before = stats(wh)
    results = await in_one_group(
        wh, backend, [(f"INSERT INTO t VALUES ({i})", marker(i), None) for i in (1, 2, 3)]
    )
    assert [(r.rows_inserted, r.marked) for r in results if isinstance(r, BodyResult)] == [(1, False)] * 3
    assert stats(wh) == (before[0] + 1, before[1] + 3)
    assert await table(wh) == [(1,), (2,), (3,)]


async def test_concurrent_unmarked_bodies_all_commit(make_warehouse: MakeWarehouse, backend: str) -> None:
    """Many bodies at once on several workers (groups of every size, late comers on SQLite): each
    commits exactly once with its own count."""
    wh = await make_warehouse(max_concurrency=4)
    await wh.execute("CREATE TABLE t (x INTEGER)")
    results = await asyncio.gather(
        *(wh.run_body([f"INSERT INTO t VALUES ({i})"], transactional=False) for i in range(200))
    )
    assert all(r.rows_inserted == 1 and not r.marked for r in results)
    assert await table(wh) == [(i,) for i in range(200)]
