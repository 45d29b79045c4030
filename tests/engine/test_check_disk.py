"""check_disk on real files (docs.ocient.com/distributed-tasks: check_disk verifies data by
checksums and reports what it checked; ``fix``, ``sample``, ``only_unhealthy``, ``storage_ids``):
every object checked is a row of ``system.storage_checks``; a damaged SQLite file fails the run
and names the damaged table; damage confined to an index is repaired with ``fix = true`` (FIXED);
``storage_ids`` and ``only_unhealthy`` limit the rows; a DuckDB warehouse is read in full with a
checksum; progress is the sub-task's objects done of all; CANCEL TASK stops a long check midway."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import psycopg
import pytest

from engine_runs import last_run, rows, until
from pgserver import PgDatabase
from tasksql.engine import Engine


async def checks(engine: Engine, task: str) -> dict[str, tuple[str, str, str | None]]:
    found = await rows(
        engine,
        "SELECT storage_id, object_kind, result, detail FROM system.storage_checks"
        f" WHERE task_name = '{task}' ORDER BY id",
    )
    return {r[0]: (r[1], r[2], r[3]) for r in found}


def two_tables(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT, c TEXT)")
    db.execute("CREATE INDEX t_b ON t (b)")
    db.execute("CREATE TABLE u (a INTEGER PRIMARY KEY, b TEXT)")
    db.executemany("INSERT INTO t VALUES (?, ?, ?)", [(i, "x" * 50 + str(i), str(-i)) for i in range(5000)])
    db.executemany("INSERT INTO u VALUES (?, ?)", [(i, str(i)) for i in range(100)])
    db.commit()
    db.close()


def damage_index_only(path: Path) -> None:
    """t_b's entries no longer match its definition (as after a lost index write): every row of t
    is missing from the index; the table's own pages are sound."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA writable_schema = ON")
    db.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX t_b ON t (c)' WHERE name = 't_b'")
    db.commit()
    db.close()


async def test_every_object_checked_is_a_row_and_progress_counts_them(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    two_tables(path)
    await engine.execute(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{path}'")
    await engine.execute("CREATE TASK c TYPE check_disk WAREHOUSE = lite")
    assert (await last_run(engine, "c"))[0] == "SUCCEEDED"
    found = await checks(engine, "c")
    assert {k: v for k, v in found.items() if k.startswith("lite")} == {
        "lite.t": ("table", "OK", None),
        "lite.u": ("table", "OK", None),
    }
    catalog = {k: v for k, v in found.items() if k.startswith("catalog")}
    # a SQLite catalog: its file; a PostgreSQL one: each index with amcheck, else SKIPPED and why
    assert catalog == {"catalog": ("catalog", "OK", None)} or all(
        r in ("OK", "SKIPPED") for _, r, _ in catalog.values()
    )
    [(done, total, progress)] = await rows(
        engine, "SELECT items_done, items_total, progress FROM system.subtasks WHERE task_name = 'c'"
    )
    assert (done, total, progress) == (3, 3, 1.0)  # the catalog, t and u


async def test_a_damaged_page_fails_the_run_and_names_the_table(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    two_tables(path)
    db = sqlite3.connect(path)
    [(root,)] = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 't_b'").fetchall()
    db.close()
    # overwrite the cell pointers of t_b's root page (an interior page: they start at byte 12)
    with path.open("r+b") as f:
        f.seek((int(root) - 1) * 4096 + 12)
        f.write(b"\xff" * 300)
    await engine.execute(f"CREATE WAREHOUSE bad TYPE = sqlite URL = 'sqlite:///{path}'")
    await engine.execute("CREATE TASK c TYPE check_disk OPTIONS fix = true WAREHOUSE = bad")
    state, code, message = await last_run(engine, "c")
    assert (state, code) == ("FAILED", "SUBTASK_FAILED")
    assert message is not None and "CHECK_DISK_FAILED" in message and "bad.t" in message
    found = await checks(engine, "c")
    assert found["bad.t"][1] == "DAMAGED" and found["bad.t"][2]  # page damage: REINDEX cannot repair it
    assert found["bad.u"][1] == "OK"


async def test_index_damage_is_reported_and_fixed_with_fix(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    two_tables(path)
    damage_index_only(path)
    await engine.execute(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{path}'")
    await engine.execute(
        "CREATE TASK look TYPE check_disk OPTIONS only_unhealthy = true, storage_ids = 'lite' WAREHOUSE = lite"
    )
    assert (await last_run(engine, "look"))[:2] == ("FAILED", "SUBTASK_FAILED")
    [(kind, result, detail)] = (await checks(engine, "look")).values()  # only_unhealthy: t only
    assert (kind, result) == ("table", "DAMAGED") and "missing from index t_b" in (detail or "")
    await engine.execute("CREATE TASK repair TYPE check_disk OPTIONS fix = true WAREHOUSE = lite")
    assert (await last_run(engine, "repair"))[0] == "SUCCEEDED"
    found = await checks(engine, "repair")
    assert found["lite.t"][1] == "FIXED" and "REINDEX" in (found["lite.t"][2] or "")
    assert found["lite.u"][1] == "OK"
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]  # really repaired
    db.close()


async def test_storage_ids_and_sample(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    two_tables(path)
    await engine.execute(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{path}'")
    await engine.execute(
        "CREATE TASK some TYPE check_disk OPTIONS storage_ids = 'lite.u', sample = true WAREHOUSE = lite"
    )
    assert (await last_run(engine, "some"))[0] == "SUCCEEDED"
    assert await checks(engine, "some") == {"lite.u": ("table", "OK", None)}
    [(check,)] = await rows(engine, "SELECT check_name FROM system.storage_checks WHERE task_name = 'some'")
    assert check == "quick_check"
    await engine.execute("CREATE TASK cat TYPE check_disk OPTIONS storage_ids = 'catalog' WAREHOUSE = lite")
    assert (await last_run(engine, "cat"))[0] == "SUCCEEDED"
    assert list(await checks(engine, "cat")) == ["catalog"]


async def test_duckdb_tables_are_read_in_full_with_a_checksum(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    db = duckdb.connect(str(path))
    db.execute("CREATE TABLE t AS SELECT range AS a, range::VARCHAR AS b FROM range(1000)")
    db.execute("CREATE SCHEMA s")
    db.execute("CREATE TABLE s.v AS SELECT 1 AS x")
    db.close()
    await engine.execute(f"CREATE WAREHOUSE duck TYPE = duckdb URL = 'duckdb:///{path}'")
    await engine.execute("CREATE TASK c TYPE check_disk WAREHOUSE = duck")
    assert (await last_run(engine, "c"))[0] == "SUCCEEDED"
    found = await checks(engine, "c")
    assert set(found) == {"catalog", "duck.t", "duck.s.v"}
    assert (found["duck.t"][2] or "").startswith("rows=1000 checksum=")
    assert (found["duck.s.v"][2] or "").startswith("rows=1 checksum=")


@pytest.mark.realtime
async def test_cancel_task_stops_a_check_midway(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "many.db"
    db = sqlite3.connect(path)
    for i in range(3000):
        db.execute(f"CREATE TABLE t{i:04d} (a INTEGER PRIMARY KEY, b TEXT)")
    db.commit()
    db.close()
    await engine.execute(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{path}'")
    await engine.execute("CREATE TASK long TYPE check_disk WAREHOUSE = lite")

    async def some_done() -> bool:
        found = await rows(engine, "SELECT items_done FROM system.subtasks WHERE task_name = 'long'")
        return bool(found) and found[0][0] >= 10

    await until(some_done, "the check to be under way")
    await engine.execute("CANCEL TASK long")
    assert (await last_run(engine, "long"))[0] == "CANCELLED"
    assert engine.scheduler is not None and engine.scheduler.multi is not None
    worker = engine.scheduler.multi.worker

    async def stopped() -> bool:
        return worker.running == 0

    await until(stopped, "the check to stop")
    [(done, total)] = await rows(
        engine, "SELECT items_done, items_total FROM system.subtasks WHERE task_name = 'long'"
    )
    [(kept,)] = await rows(engine, "SELECT count(*) FROM system.storage_checks WHERE task_name = 'long'")
    assert total == 3001  # the catalog and every table
    assert 10 <= kept < total and done < total  # it stopped midway, what it checked is kept


def pg(url: str, sql: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


async def test_postgres_indexes_are_checked_by_amcheck(engine: Engine, pg_database: PgDatabase) -> None:
    pg(pg_database.url, "CREATE TABLE t (a integer PRIMARY KEY, b text)")
    pg(pg_database.url, "CREATE INDEX t_b ON t (b)")
    pg(pg_database.url, "INSERT INTO t SELECT i, i::text FROM generate_series(1, 1000) AS i")
    await engine.execute(f"CREATE WAREHOUSE pgw TYPE = postgres URL = '{pg_database.url}'")
    await engine.execute(
        "CREATE TASK without_amcheck TYPE check_disk OPTIONS storage_ids = 'pgw' WAREHOUSE = pgw"
    )
    assert (await last_run(engine, "without_amcheck"))[0] == "SUCCEEDED"
    [(kind, result, why)] = (await checks(engine, "without_amcheck")).values()  # without amcheck: why not
    assert (kind, result) == ("warehouse", "SKIPPED") and "CREATE EXTENSION amcheck" in (why or "")
    pg(pg_database.url, "CREATE EXTENSION amcheck")
    await engine.execute(
        "CREATE TASK with_amcheck TYPE check_disk OPTIONS storage_ids = 'pgw' WAREHOUSE = pgw"
    )
    assert (await last_run(engine, "with_amcheck"))[0] == "SUCCEEDED"
    assert await checks(engine, "with_amcheck") == {
        "pgw.public.t_b": ("index", "OK", None),
        "pgw.public.t_pkey": ("index", "OK", None),
    }


async def test_location_node_checks_on_that_node_and_keeps_the_rows(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    two_tables(path)
    damage_index_only(path)
    assert engine.scheduler is not None
    node = engine.scheduler.node_id
    await engine.execute(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{path}'")
    await engine.execute(f"CREATE TASK here TYPE check_disk LOCATION NODE '{node}' WAREHOUSE = lite")
    state, code, message = await last_run(engine, "here")
    assert (state, code) == ("FAILED", "CHECK_DISK_FAILED") and "lite.t" in (message or "")
    found = await checks(engine, "here")
    assert found["lite.t"][1] == "DAMAGED" and found["lite.u"][1] == "OK"
    assert {r[0] for r in await rows(engine, "SELECT node_id FROM system.storage_checks")} == {node}
    # its one sub-task, the node's, ends FAILED with the run's error
    assert await rows(
        engine, "SELECT location, node_id, state, error_code, items_done, items_total FROM system.subtasks"
    ) == [(f"NODE {node}", node, "FAILED", "CHECK_DISK_FAILED", 3, 3)]


async def test_a_damaged_duckdb_block_is_found_by_its_checksum(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    db = duckdb.connect(str(path))
    db.execute("CREATE TABLE big AS SELECT range AS a, md5(range::VARCHAR) AS b FROM range(300000)")
    db.execute("CREATE TABLE small AS SELECT 1 AS x")
    db.close()
    size = path.stat().st_size
    with path.open("r+b") as f:  # zero a stretch in the middle of the file: blocks of big
        f.seek(size // 2)
        f.write(b"\x00" * 5000)
    await engine.execute(f"CREATE WAREHOUSE duck TYPE = duckdb URL = 'duckdb:///{path}'")
    await engine.execute("CREATE TASK c TYPE check_disk OPTIONS storage_ids = 'duck' WAREHOUSE = duck")
    state, code, message = await last_run(engine, "c")
    assert (state, code) == ("FAILED", "SUBTASK_FAILED") and "duck.big" in (message or "")
    found = await checks(engine, "c")
    assert found["duck.big"][1] == "DAMAGED" and "checksum" in (found["duck.big"][2] or "")
    assert found["duck.small"][1] == "OK"
