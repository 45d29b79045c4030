"""Completion markers, on every backend: a body and its run's marker commit together or not at all.

Each test runs on a real warehouse of each backend (see conftest.py); markers are read back through
the warehouse's own lookups and, where it matters, with plain SQL.
"""

from __future__ import annotations

import asyncio

import pytest

from tasksql.errors import QueryCancelled, QueryFailed
from tasksql.testing import FakeClock
from tasksql.warehouses import _markers
from tasksql.warehouses.base import CancelToken, Marker, Warehouse

from .conftest import MakeWarehouse
from .support import SLOW, until

CLOCK = FakeClock("2026-03-01T12:00:00+00:00")


def marker(run_id: int, scope: str = "cat1") -> Marker:
    return Marker(scope=scope, run_id=run_id, clock=CLOCK)


async def count(w: Warehouse, table: str = "t") -> int:
    return int((await w.execute(f"SELECT count(*) FROM {table}")).rows[0][0])


@pytest.fixture
async def wh(warehouse: Warehouse) -> Warehouse:
    await warehouse.execute("CREATE TABLE t (x INTEGER)")
    return warehouse


async def test_a_body_that_commits_commits_its_marker_with_it(wh: Warehouse) -> None:
    result = await wh.run_body(["INSERT INTO t VALUES (1)"], transactional=False, marker=marker(7))
    assert result.marked and result.rows_inserted == 1
    assert await wh.find_markers("cat1", [7, 8]) == {7: CLOCK.now()}
    assert await wh.find_markers("other-catalog", [7]) == {}  # scoped by catalog
    assert await count(wh) == 1


async def test_a_body_that_fails_leaves_neither_its_effects_nor_a_marker(wh: Warehouse) -> None:
    with pytest.raises(QueryFailed):
        await wh.run_body(
            ["INSERT INTO t VALUES (1)", "INSERT INTO missing_table VALUES (1)"],
            transactional=True,
            marker=marker(9),
        )
    # a single statement that fails half-way (the second row breaks the key)
    await wh.execute("CREATE TABLE u (x INTEGER PRIMARY KEY)")
    with pytest.raises(QueryFailed):
        await wh.run_body(["INSERT INTO u VALUES (1), (1)"], transactional=False, marker=marker(10))
    assert await wh.find_markers("cat1", [9, 10]) == {}
    assert await count(wh) == 0
    assert await count(wh, "u") == 0


async def test_a_body_cancelled_before_its_commit_leaves_no_marker(wh: Warehouse, backend: str) -> None:
    token = CancelToken()
    run = asyncio.create_task(
        wh.run_body(
            ["INSERT INTO t VALUES (1)", SLOW[backend]], transactional=True, token=token, marker=marker(11)
        )
    )
    assert await until(lambda: wh.running == 1)
    await asyncio.sleep(0.05)
    token.cancel("stop")
    with pytest.raises(QueryCancelled):
        await run
    assert await wh.find_markers("cat1", [11]) == {}
    assert await count(wh) == 0


async def test_into_bodies_and_scripts_carry_a_marker(wh: Warehouse) -> None:
    into = await wh.run_body(["SELECT 5 AS x"], transactional=False, into="t", marker=marker(1))
    script = await wh.run_body(
        ["INSERT INTO t VALUES (6)", "UPDATE t SET x = x + 1"], transactional=True, marker=marker(2)
    )
    assert into.marked and script.marked
    assert sorted(await wh.find_markers("cat1", [1, 2])) == [1, 2]


async def test_bodies_without_a_marker(wh: Warehouse, backend: str) -> None:
    # bodies that cannot run in a transaction run as before, without a marker
    vacuum = await wh.run_body(["VACUUM"], transactional=False, marker=marker(1))
    assert not vacuum.marked
    # a query cannot write in DuckDB and SQLite: nothing to protect, no marker (and no
    # transaction); a PostgreSQL SELECT may call a function that writes, so it gets one
    query = await wh.run_body(["SELECT 1"], transactional=False, marker=marker(2))
    assert query.marked is (backend == "postgres")
    # without a marker asked for, none is written
    plain = await wh.run_body(["INSERT INTO t VALUES (1)"], transactional=False)
    assert not plain.marked
    assert list(await wh.find_markers("cat1", [1, 2, 3])) == ([2] if backend == "postgres" else [])


async def test_marks_tells_beforehand_what_run_body_does(wh: Warehouse, backend: str) -> None:
    bodies: list[tuple[list[str], str | None]] = [
        (["INSERT INTO t VALUES (1)"], None),
        (["INSERT INTO t VALUES (2)", "UPDATE t SET x = x + 1"], None),
        (["SELECT 5 AS x"], "t"),
        (["SELECT 1"], None),
        (["VACUUM"], None),
    ]
    for run_id, (statements, into) in enumerate(bodies, start=1):
        expected = wh.marks(statements, into=into is not None)
        result = await wh.run_body(
            statements, transactional=len(statements) > 1, into=into, marker=marker(run_id)
        )
        assert result.marked is expected, statements
    assert [wh.marks(s, into=i is not None) for s, i in bodies] == [
        True,
        True,
        True,
        backend == "postgres",
        False,
    ]
    # a query has no effects where queries cannot write (a PostgreSQL SELECT may call a function that
    # writes); VACUUM has some, though it gets no marker
    effects = [wh.has_effects(s, into=i is not None) for s, i in bodies]
    assert effects == [True, True, True, backend == "postgres", True]
    assert wh.has_effects(["SELECT 1", "VALUES (2)"], into=False) is (backend == "postgres")


async def test_markers_are_listed_and_deleted_by_scope(wh: Warehouse) -> None:
    for run_id in (3, 1, 2):
        await wh.run_body(["INSERT INTO t VALUES (1)"], transactional=False, marker=marker(run_id))
    await wh.run_body(["INSERT INTO t VALUES (1)"], transactional=False, marker=marker(1, scope="cat2"))
    assert await wh.marker_ids("cat1", 10) == [1, 2, 3]
    assert await wh.marker_ids("cat1", 2) == [1, 2]
    assert await wh.marker_ids("cat1", 10, after=1) == [2, 3]
    assert await wh.delete_markers("cat1", [1, 3, 99]) == 2
    assert await wh.marker_ids("cat1", 10) == [2]
    assert await wh.marker_ids("cat2", 10) == [1]


async def test_lookups_before_any_marker_find_nothing(warehouse: Warehouse) -> None:
    assert await warehouse.find_markers("cat1", [1]) == {}
    assert await warehouse.marker_ids("cat1", 10) == []
    assert await warehouse.delete_markers("cat1", [1]) == 0


async def test_a_dropped_marker_table_is_created_again(wh: Warehouse, backend: str) -> None:
    await wh.run_body(["INSERT INTO t VALUES (1)"], transactional=False, marker=marker(1))
    await wh.execute(f"DROP TABLE {_markers.relation('sqlite' if backend == 'sqlite' else 'postgres')}")
    with pytest.raises(QueryFailed):  # this run finds it gone (and is rolled back) ...
        await wh.run_body(["INSERT INTO t VALUES (2)"], transactional=False, marker=marker(2))
    # ... the next one creates it again
    assert (await wh.run_body(["INSERT INTO t VALUES (3)"], transactional=False, marker=marker(3))).marked
    assert list(await wh.find_markers("cat1", [1, 2, 3])) == [3]
    assert await count(wh) == 2


async def test_the_marker_table_is_not_among_the_users_tables(wh: Warehouse, backend: str) -> None:
    await wh.run_body(["INSERT INTO t VALUES (1)"], transactional=False, marker=marker(1))
    if backend == "duckdb":
        shown = {r[0] for r in (await wh.execute("SHOW TABLES")).rows}
    elif backend == "postgres":  # what psql's \dt lists: the schemas of the search path
        shown = {
            r[0]
            for r in (
                await wh.execute(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE c.relkind = 'r' AND pg_table_is_visible(c.oid)"
                    " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                )
            ).rows
        }
    else:  # SQLite has no schemas: the table is there, under a name of tasksql's own
        shown = {r[0] for r in (await wh.execute("SELECT name FROM sqlite_master WHERE type = 'table'")).rows}
        assert _markers.SQLITE_MARKER_TABLE in shown
        shown.discard(_markers.SQLITE_MARKER_TABLE)
    assert shown == {"t"}


def test_which_bodies_can_carry_a_marker() -> None:
    m = _markers.markable
    assert m("duckdb", ["INSERT INTO t VALUES (1)"], into=False)
    assert m("duckdb", ["-- note\nCREATE TABLE u AS SELECT 1"], into=False)
    assert not m("duckdb", ["SELECT 1", "FROM t"], into=False)
    assert m("duckdb", ["SELECT 1"], into=True)
    assert not m("duckdb", ["CHECKPOINT"], into=False)
    assert not m("duckdb", ["INSERT INTO t VALUES (1)", "COMMIT"], into=False)
    assert not m("sqlite", ["PRAGMA optimize"], into=False)
    assert m("postgres", ["SELECT my_function_that_writes()"], into=False)
    assert not m("postgres", ["CALL p()"], into=False)
    assert not m("postgres", ["CREATE INDEX CONCURRENTLY i ON t (x)"], into=False)
    assert not m("postgres", ["/* c */ create   database d"], into=False)
    assert not m("mysql", ["INSERT INTO t VALUES (1)"], into=False)  # no backend: no markers


async def test_a_scope_that_is_not_an_id_is_refused(wh: Warehouse) -> None:
    with pytest.raises(QueryFailed, match="invalid completion marker scope"):
        await wh.run_body(["INSERT INTO t VALUES (1)"], transactional=False, marker=marker(1, scope="x'--"))
    assert await count(wh) == 0


async def test_many_concurrent_marked_bodies(make_warehouse: MakeWarehouse) -> None:
    wh = await make_warehouse(max_concurrency=4)
    await wh.execute("CREATE TABLE t (x INTEGER)")
    results = await asyncio.gather(
        *(
            wh.run_body([f"INSERT INTO t VALUES ({i})"], transactional=False, marker=marker(i))
            for i in range(1, 41)
        )
    )
    assert all(r.marked for r in results)
    assert sorted(await wh.find_markers("cat1", range(1, 41))) == list(range(1, 41))
    assert await count(wh) == 40
