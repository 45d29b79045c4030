"""check_disk's ``fix`` on real damage (docs.ocient.com/distributed-tasks: check_disk compares
checksums; ``fix`` repairs what it can): a PostgreSQL B-tree index whose order no longer matches
its operator class is found DAMAGED by amcheck, REINDEXed with ``fix = true`` (FIXED, a new
relation file) and healthy at the next check; a SQLite FTS5 index that lost entries of its content
table is found DAMAGED by FTS5's integrity-check and rebuilt from the text with ``fix``; a DuckDB table whose blocks fail their checksum
has no second copy to be repaired from, and ``fix`` says so and leaves it DAMAGED."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import duckdb
import psycopg

from engine_runs import last_run, rows
from pgserver import PgDatabase
from tasksql.engine import Engine
from tasksql.scheduler.check_disk import FTS5_CHECK


async def checks(engine: Engine, task: str) -> dict[str, tuple[str, str | None]]:
    found = await rows(
        engine,
        f"SELECT storage_id, result, detail FROM system.storage_checks WHERE task_name = '{task}' ORDER BY id",
    )
    return {r[0]: (r[1], r[2]) for r in found}


def pg(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql)
        return list(cur.fetchall()) if cur.description is not None else []


def damage_index_order(url: str) -> None:
    """The index fickle is built in ascending order of its operator class, whose comparison then
    turns descending: the index's pages are out of order for it, as after a sort order change.
    This is PostgreSQL's own test of amcheck on a damaged index
    (postgres/postgres src/bin/pg_amcheck/t/005_opclass_damage.pl)."""
    pg(url, "CREATE EXTENSION amcheck")
    pg(
        url,
        "CREATE FUNCTION int4_asc_cmp (a int4, b int4) RETURNS int LANGUAGE sql AS $$"
        " SELECT CASE WHEN $1 = $2 THEN 0 WHEN $1 > $2 THEN 1 ELSE -1 END; $$",
    )
    pg(
        url,
        "CREATE OPERATOR CLASS int4_fickle_ops FOR TYPE int4 USING btree AS"
        " OPERATOR 1 < (int4, int4), OPERATOR 2 <= (int4, int4), OPERATOR 3 = (int4, int4),"
        " OPERATOR 4 >= (int4, int4), OPERATOR 5 > (int4, int4), FUNCTION 1 int4_asc_cmp(int4, int4)",
    )
    pg(url, "CREATE TABLE int4tbl (i int4)")
    pg(url, "INSERT INTO int4tbl SELECT * FROM generate_series(1, 1000)")
    pg(url, "CREATE INDEX fickle ON int4tbl USING btree (i int4_fickle_ops)")
    pg(url, "CREATE INDEX sound ON int4tbl (i)")
    pg(
        url,
        "CREATE FUNCTION int4_desc_cmp (int4, int4) RETURNS int LANGUAGE sql AS $$"
        " SELECT CASE WHEN $1 = $2 THEN 0 WHEN $1 > $2 THEN -1 ELSE 1 END; $$",
    )
    pg(
        url,
        "UPDATE pg_catalog.pg_amproc SET amproc = 'int4_desc_cmp'::regproc WHERE amproc = 'int4_asc_cmp'::regproc",
    )


async def test_a_damaged_postgres_index_is_found_and_reindexed_with_fix(
    engine: Engine, pg_database: PgDatabase
) -> None:
    url = pg_database.url
    damage_index_order(url)
    [(file_before,)] = pg(url, "SELECT relfilenode FROM pg_class WHERE relname = 'fickle'")
    await engine.execute(f"CREATE WAREHOUSE pgw TYPE = postgres URL = '{url}'")

    await engine.execute("CREATE TASK look TYPE check_disk OPTIONS storage_ids = 'pgw' WAREHOUSE = pgw")
    state, code, message = await last_run(engine, "look")
    assert (state, code) == ("FAILED", "SUBTASK_FAILED") and "pgw.public.fickle" in (message or "")
    found = await checks(engine, "look")
    assert found["pgw.public.fickle"][0] == "DAMAGED"
    assert "item order invariant violated" in (found["pgw.public.fickle"][1] or "")
    assert found["pgw.public.sound"] == ("OK", None)
    assert pg(url, "SELECT relfilenode FROM pg_class WHERE relname = 'fickle'") == [(file_before,)]

    await engine.execute(
        "CREATE TASK repair TYPE check_disk OPTIONS storage_ids = 'pgw', fix = true WAREHOUSE = pgw"
    )
    assert (await last_run(engine, "repair"))[0] == "SUCCEEDED"
    found = await checks(engine, "repair")
    result, detail = found["pgw.public.fickle"]
    assert result == "FIXED" and 'fixed by REINDEX INDEX "public"."fickle"' in (detail or "")
    assert "item order invariant violated" in (detail or "")  # what it had found
    assert found["pgw.public.sound"] == ("OK", None)  # a sound index is not rebuilt
    [(file_after,)] = pg(url, "SELECT relfilenode FROM pg_class WHERE relname = 'fickle'")
    assert file_after != file_before  # really rebuilt: REINDEX writes a new relation file

    await engine.execute("CREATE TASK again TYPE check_disk OPTIONS storage_ids = 'pgw' WAREHOUSE = pgw")
    assert (await last_run(engine, "again"))[0] == "SUCCEEDED"
    assert (await checks(engine, "again"))["pgw.public.fickle"] == ("OK", None)
    pg(url, "SELECT bt_index_check('fickle'::regclass, true)")  # amcheck itself agrees


def damaged_duckdb(path: Path) -> None:
    db = duckdb.connect(str(path))
    db.execute("CREATE TABLE big AS SELECT range AS a, md5(range::VARCHAR) AS b FROM range(300000)")
    db.execute("CREATE TABLE small AS SELECT 1 AS x")
    db.close()
    size = path.stat().st_size
    with path.open("r+b") as f:  # zero a stretch in the middle of the file: blocks of big
        f.seek(size // 2)
        f.write(b"\x00" * 5000)


async def test_fix_cannot_repair_a_damaged_duckdb_block_and_says_why(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    damaged_duckdb(path)
    await engine.execute(f"CREATE WAREHOUSE duck TYPE = duckdb URL = 'duckdb:///{path}'")
    await engine.execute(
        "CREATE TASK repair TYPE check_disk OPTIONS storage_ids = 'duck', fix = true WAREHOUSE = duck"
    )
    state, code, message = await last_run(engine, "repair")
    assert (state, code) == ("FAILED", "SUBTASK_FAILED") and "duck.big" in (message or "")
    found = await checks(engine, "repair")
    result, detail = found["duck.big"]
    assert result == "DAMAGED" and "checksum" in (detail or "")
    assert "not repaired" in (detail or "") and "backup" in (detail or "")
    assert found["duck.small"][0] == "OK"  # the other table is read after it, and is sound


async def test_a_damaged_fts5_index_is_found_and_rebuilt_from_its_text_with_fix(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "w.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT)")
    db.executemany("INSERT INTO docs VALUES (?, ?)", [(i, f"word{i} common") for i in range(100)])
    db.execute("CREATE VIRTUAL TABLE docs_fts USING fts5(body, content='docs', content_rowid='id')")
    db.execute("INSERT INTO docs_fts(docs_fts) VALUES('rebuild')")
    # damage: the index forgets two rows docs still has (FTS5's 'delete' command)
    db.execute("INSERT INTO docs_fts(docs_fts, rowid, body) VALUES('delete', 3, 'word3 common')")
    db.execute("INSERT INTO docs_fts(docs_fts, rowid, body) VALUES('delete', 4, 'word4 common')")
    db.commit()
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]  # SQLite's own check misses it
    db.close()
    await engine.execute(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{path}'")

    await engine.execute("CREATE TASK look TYPE check_disk OPTIONS storage_ids = 'lite' WAREHOUSE = lite")
    assert (await last_run(engine, "look"))[:2] == ("FAILED", "SUBTASK_FAILED")
    found = await checks(engine, "look")
    assert found["lite.docs_fts"][0] == "DAMAGED" and found["lite.docs"] == ("OK", None)
    assert "the full-text index does not match its text" in (found["lite.docs_fts"][1] or "")
    [(check,)] = await rows(
        engine, "SELECT check_name FROM system.storage_checks WHERE storage_id = 'lite.docs_fts'"
    )
    assert check == FTS5_CHECK

    await engine.execute(
        "CREATE TASK repair TYPE check_disk OPTIONS storage_ids = 'lite', fix = true WAREHOUSE = lite"
    )
    assert (await last_run(engine, "repair"))[0] == "SUCCEEDED"
    result, detail = (await checks(engine, "repair"))["lite.docs_fts"]
    assert result == "FIXED" and "VALUES('rebuild')" in (detail or "")
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM docs_fts WHERE docs_fts MATCH 'common'").fetchall() == [(100,)]
    db.close()
