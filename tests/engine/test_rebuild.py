"""rebuild on real files and a real server (docs.ocient.com/distributed-tasks: ``rebuild`` restores
damaged data from what survives; ``table_id`` limits it to one table): a derived table that lost
rows is rebuilt from its source: a SQLite FTS5 index from its content table, PostgreSQL
materialized views from their query, a view after the views it reads; ``table_id`` limits the
rebuild, and a name that is no table fails the run before anything runs; progress is the sub-task's
steps done of all; CANCEL TASK stops a long rebuild midway."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from engine_runs import last_run, rows, until
from pgserver import PgDatabase
from tasksql.engine import Engine
from tasksql.scheduler.rebuild import fts5_rebuildable, ordered


async def progress(engine: Engine, task: str) -> tuple[int, int]:
    [(done, total)] = await rows(
        engine, f"SELECT items_done, items_total FROM system.subtasks WHERE task_name = '{task}'"
    )
    return int(done), int(total)


# --- SQLite: the FTS5 index, derived from its content table ------------------------------------


def documents(path: Path) -> None:
    """docs (100 rows, all with the word 'common'), docs_fts indexing them (external content),
    and a contentless FTS5 table (nothing to rebuild it from)."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT)")
    db.executemany("INSERT INTO docs VALUES (?, ?)", [(i, f"word{i} common") for i in range(100)])
    db.execute("CREATE VIRTUAL TABLE docs_fts USING fts5(body, content='docs', content_rowid='id')")
    db.execute("INSERT INTO docs_fts(docs_fts) VALUES('rebuild')")
    db.execute("CREATE VIRTUAL TABLE bare USING fts5(x, content='')")
    db.execute("INSERT INTO bare(rowid, x) VALUES (1, 'kept as it is')")
    db.commit()
    db.close()


def lose_index_entries(path: Path, ids: range) -> None:
    """Damage: the index forgets rows of docs (FTS5's 'delete' command), docs keeps them."""
    db = sqlite3.connect(path)
    for i in ids:
        db.execute(
            "INSERT INTO docs_fts(docs_fts, rowid, body) VALUES('delete', ?, ?)", (i, f"word{i} common")
        )
    db.commit()
    db.close()


def found(path: Path, word: str) -> int:
    db = sqlite3.connect(path)
    try:
        [(n,)] = db.execute("SELECT count(*) FROM docs_fts WHERE docs_fts MATCH ?", (word,)).fetchall()
        return int(n)
    finally:
        db.close()


async def test_a_damaged_fts5_index_is_rebuilt_from_its_content_table(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    documents(path)
    lose_index_entries(path, range(10))
    assert found(path, "common") == 90 and found(path, "word3") == 0  # really damaged
    await engine.execute(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{path}'")

    await engine.execute("CREATE TASK only_docs TYPE rebuild OPTIONS table_id = 'docs' WAREHOUSE = lite")
    assert (await last_run(engine, "only_docs"))[0] == "SUCCEEDED"
    assert found(path, "common") == 90  # docs' indexes and statistics only: the FTS index is not docs

    await engine.execute("CREATE TASK all_of_it TYPE rebuild WAREHOUSE = lite")
    assert (await last_run(engine, "all_of_it"))[0] == "SUCCEEDED"
    assert found(path, "common") == 100 and found(path, "word3") == 1
    assert await progress(engine, "all_of_it") == (3, 3)  # REINDEX docs, the FTS5 rebuild, ANALYZE
    db = sqlite3.connect(path)
    assert db.execute("SELECT rowid, * FROM bare").fetchall() == [(1, None)]  # contentless: untouched
    db.close()

    lose_index_entries(path, range(50, 60))
    await engine.execute("CREATE TASK just_fts TYPE rebuild OPTIONS table_id = 'DOCS_FTS' WAREHOUSE = lite")
    assert (await last_run(engine, "just_fts"))[0] == "SUCCEEDED"
    assert found(path, "common") == 100
    assert await progress(engine, "just_fts") == (1, 1)  # the FTS5 rebuild only (no statistics)


async def test_rebuild_on_a_node_runs_the_same_steps(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    documents(path)
    lose_index_entries(path, range(5))
    assert engine.scheduler is not None
    node = engine.scheduler.node_id
    await engine.execute(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{path}'")
    await engine.execute(f"CREATE TASK here TYPE rebuild LOCATION NODE '{node}' WAREHOUSE = lite")
    assert (await last_run(engine, "here"))[0] == "SUCCEEDED"
    assert found(path, "common") == 100
    # one sub-task, the node's: where its progress shows
    assert await rows(
        engine, "SELECT location, node_id, state, items_done, items_total, progress FROM system.subtasks"
    ) == [(f"NODE {node}", node, "SUCCEEDED", 3, 3, 1.0)]
    assert await rows(engine, "SELECT rows_produced FROM task_history(task_name => 'here')") == [(3,)]


async def test_a_table_id_that_names_no_table_fails_before_anything_runs(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "w.db"
    documents(path)
    lose_index_entries(path, range(10))
    await engine.execute(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{path}'")
    await engine.execute("CREATE TASK typo TYPE rebuild OPTIONS table_id = 'doc' WAREHOUSE = lite")
    state, code, message = await last_run(engine, "typo")
    assert (state, code) == ("FAILED", "SUBTASK_FAILED")
    assert "TABLE_NOT_FOUND" in (message or "") and "'doc' names no table of warehouse lite" in (
        message or ""
    )
    assert found(path, "common") == 90  # nothing rebuilt
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchall() == [(0,)]
    db.close()


@pytest.mark.realtime
async def test_cancel_task_stops_a_rebuild_midway(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "many.db"
    db = sqlite3.connect(path)
    for i in range(3000):
        db.execute(f"CREATE TABLE t{i:04d} (a INTEGER PRIMARY KEY, b TEXT)")
        db.execute(f"CREATE INDEX t{i:04d}_b ON t{i:04d} (b)")
    db.commit()
    db.close()
    await engine.execute(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{path}'")
    await engine.execute("CREATE TASK long TYPE rebuild WAREHOUSE = lite")

    async def some_done() -> bool:
        got = await rows(engine, "SELECT items_done FROM system.subtasks WHERE task_name = 'long'")
        return bool(got) and got[0][0] >= 10

    await until(some_done, "the rebuild to be under way")
    await engine.execute("CANCEL TASK long")
    assert (await last_run(engine, "long"))[0] == "CANCELLED"
    assert engine.scheduler is not None and engine.scheduler.multi is not None
    worker = engine.scheduler.multi.worker

    async def stopped() -> bool:
        return worker.running == 0

    await until(stopped, "the rebuild to stop")
    done, total = await progress(engine, "long")
    assert total == 3001 and 10 <= done < total  # every table's REINDEX and ANALYZE; stopped midway
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchall() == [(0,)]
    db.close()  # the last step (ANALYZE) never ran


def many_tables(path: Path, n: int) -> None:
    db = sqlite3.connect(path)
    for i in range(n):
        db.execute(f"CREATE TABLE t{i:04d} (a INTEGER PRIMARY KEY, b TEXT)")
        db.execute(f"CREATE INDEX t{i:04d}_b ON t{i:04d} (b)")
    db.commit()
    db.close()


@pytest.mark.realtime
async def test_a_rebuild_on_a_node_shows_its_progress_and_cancel_task_stops_it(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "many.db"
    many_tables(path, 3000)
    assert engine.scheduler is not None and engine.scheduler.multi is not None
    node = engine.scheduler.node_id
    await engine.execute(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{path}'")
    await engine.execute(f"CREATE TASK long TYPE rebuild LOCATION NODE '{node}' WAREHOUSE = lite")

    seen: list[int] = []

    async def moving() -> bool:  # the same row, RUNNING, its steps done going up while it runs
        got = await rows(
            engine, "SELECT state, items_done, items_total, location, node_id FROM system.subtasks"
        )
        running = bool(got) and got[0][0] == "RUNNING" and got[0][2:] == (3001, f"NODE {node}", node)
        if running and (not seen or got[0][1] > seen[-1]):
            seen.append(int(got[0][1]))
        return len(seen) >= 2 and seen[-1] >= 10

    await until(moving, "the rebuild's progress to show")
    [(running,)] = await rows(engine, "SELECT state FROM task_history(task_name => 'long')")
    assert running == "EXECUTING"
    await engine.execute("CANCEL TASK long")
    state, code, message = await last_run(engine, "long")
    assert (state, code, message) == ("CANCELLED", "CANCELLED", "cancelled: CANCEL TASK")
    worker = engine.scheduler.multi.worker

    async def stopped() -> bool:
        return worker.running == 0

    await until(stopped, "the rebuild to stop")
    [(sub_state, sub_code, done, total)] = await rows(
        engine, "SELECT state, error_code, items_done, items_total FROM system.subtasks"
    )
    assert (sub_state, sub_code, total) == ("CANCELLED", "CANCELLED", 3001) and 10 <= done < total
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchall() == [(0,)]
    db.close()  # the last step (ANALYZE) never ran


# --- PostgreSQL: materialized views, derived from their query ----------------------------------


def pg(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql)
        return list(cur.fetchall()) if cur.description is not None else []


async def test_materialized_views_that_lost_rows_are_refreshed_sources_first(
    engine: Engine, pg_database: PgDatabase
) -> None:
    url = pg_database.url
    pg(url, "CREATE TABLE facts (id integer PRIMARY KEY, amount integer)")
    pg(url, "INSERT INTO facts SELECT i, i % 7 FROM generate_series(1, 1000) AS i")
    # z_rows is derived from facts; a_totals from z_rows through a plain view (by name it comes
    # first, by what it reads last)
    pg(url, "CREATE MATERIALIZED VIEW z_rows AS SELECT id, amount FROM facts")
    pg(url, "CREATE VIEW m_rows AS SELECT * FROM z_rows")
    pg(url, "CREATE MATERIALIZED VIEW a_totals AS SELECT count(*) AS n, sum(amount) AS total FROM m_rows")
    pg(url, "CREATE MATERIALIZED VIEW later_on AS SELECT 1 AS x WITH NO DATA")
    [(expected_total,)] = pg(url, "SELECT sum(amount) FROM facts")
    # damage: rows of z_rows are gone from its heap (pg_surgery, the contrib module for damaged
    # tables: heap_force_kill marks tuples dead whatever they hold), and a_totals was refreshed since
    pg(url, "CREATE EXTENSION pg_surgery")
    pg(url, "SELECT heap_force_kill('z_rows'::regclass, ARRAY(SELECT ctid FROM z_rows WHERE id <= 100))")
    pg(url, "REFRESH MATERIALIZED VIEW a_totals")
    assert pg(url, "SELECT count(*) FROM z_rows") == [(900,)]
    assert pg(url, "SELECT n FROM a_totals") == [(900,)]
    await engine.execute(f"CREATE WAREHOUSE pgw TYPE = postgres URL = '{url}'")

    await engine.execute("CREATE TASK refresh TYPE rebuild WAREHOUSE = pgw")
    assert (await last_run(engine, "refresh"))[0] == "SUCCEEDED"
    assert pg(url, "SELECT count(*) FROM z_rows") == [(1000,)]
    assert pg(url, "SELECT n, total FROM a_totals") == [(1000, expected_total)]  # after z_rows
    assert pg(url, "SELECT relispopulated FROM pg_class WHERE relname = 'later_on'") == [(False,)]
    assert await progress(engine, "refresh") == (3, 3)  # z_rows, a_totals, ANALYZE

    pg(url, "SELECT heap_force_kill('z_rows'::regclass, ARRAY(SELECT ctid FROM z_rows WHERE id <= 10))")
    await engine.execute("CREATE TASK one TYPE rebuild OPTIONS table_id = 'public.z_rows' WAREHOUSE = pgw")
    assert (await last_run(engine, "one"))[0] == "SUCCEEDED"
    assert pg(url, "SELECT count(*) FROM z_rows") == [(1000,)]
    assert await progress(engine, "one") == (2, 2)  # the refresh and its ANALYZE
    await engine.execute("CREATE TASK filled TYPE rebuild OPTIONS table_id = 'later_on' WAREHOUSE = pgw")
    assert (await last_run(engine, "filled"))[0] == "SUCCEEDED"
    assert pg(url, "SELECT x FROM later_on") == [(1,)]  # named: populated


# --- the pure parts ------------------------------------------------------------------------------


def test_fts5_tables_with_text_are_rebuildable() -> None:
    assert fts5_rebuildable("CREATE VIRTUAL TABLE f USING fts5(body)")
    assert fts5_rebuildable("CREATE VIRTUAL TABLE using_docs USING fts5(body)")
    assert fts5_rebuildable("CREATE VIRTUAL TABLE f USING FTS5(body, content='docs', content_rowid='id')")
    assert not fts5_rebuildable("CREATE VIRTUAL TABLE f USING fts5(body, content = '')")
    assert not fts5_rebuildable('CREATE VIRTUAL TABLE f USING fts5(body, content="")')
    assert not fts5_rebuildable("CREATE VIRTUAL TABLE r USING rtree(id, a, b)")
    assert not fts5_rebuildable("CREATE TABLE t (a)")
    assert not fts5_rebuildable("CREATE VIRTUAL TABLE fts5_docs USING fts4(body)")
    assert not fts5_rebuildable(None)


def test_views_come_after_the_views_they_read() -> None:
    views = {1: ("s", "a"), 2: ("s", "b"), 3: ("s", "c")}
    # a reads plain view 9, which reads c; c reads b; b reads a table (8)
    reads = {1: [9], 9: [3], 3: [2], 2: [8]}
    assert ordered(views, reads) == [2, 3, 1]
    assert ordered(views, {}) == [1, 2, 3]  # by name
