"""Cursors and RESULTSETs in Snowflake Scripting task bodies: DECLARE <c> CURSOR FOR <query> /
LET <c> CURSOR FOR ..., <rs> RESULTSET DEFAULT (<query>) / LET <rs> RESULTSET := (...), a cursor
for a RESULTSET, FOR <row> IN <cursor or RESULTSET> DO ... <row>.<column> ..., OPEN [USING (...)],
FETCH ... INTO, CLOSE. The blocks are docs.snowflake.com/en/developer-guide/snowflake-scripting/
cursors' and resultsets' examples on its invoices table, run as tasks on DuckDB, SQLite and
PostgreSQL. Real scheduler on a fake clock, real databases."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sched_harness import Harness

from pgserver import PgDatabase
from tasksql.errors import TasksqlSyntaxError

INVOICES = "CREATE TABLE invoices (id INTEGER, price NUMERIC(12, 2)); INSERT INTO invoices VALUES (1, 11.11), (2, 22.22)"

# docs.snowflake.com/en/developer-guide/snowflake-scripting/cursors (a cursor in a FOR loop)
FOR_CURSOR = """DECLARE
  c1 CURSOR FOR SELECT * FROM invoices;
  total_price FLOAT;
BEGIN
  total_price := 0.0;
  FOR record IN c1 DO
    total_price := total_price + record.price;
  END FOR;
  RETURN total_price;
END;"""

# as above (OPEN ... USING binds the ? of the cursor's query; FETCH ... INTO)
OPEN_FETCH = """DECLARE
  id INTEGER DEFAULT 0;
  minimum_price NUMBER(13,2) DEFAULT 22.00;
  maximum_price NUMBER(13,2) DEFAULT 33.00;
  c1 CURSOR FOR SELECT id FROM invoices WHERE price > ? AND price < ?;
BEGIN
  OPEN c1 USING (minimum_price, maximum_price);
  FETCH c1 INTO id;
  RETURN id;
END;"""

# docs.snowflake.com/en/developer-guide/snowflake-scripting/resultsets (a cursor for a RESULTSET)
RESULTSET_CURSOR = """DECLARE
  res RESULTSET DEFAULT (SELECT price FROM invoices ORDER BY id);
  c1 CURSOR FOR res;
  p NUMBER(12, 2);
  q NUMBER(12, 2);
  r NUMBER(12, 2);
BEGIN
  OPEN c1;
  FETCH c1 INTO p;
  FETCH c1 INTO q;
  FETCH c1 INTO r;
  CLOSE c1;
  RETURN p || ' ' || q || ' ' || coalesce(r, -1);
END;"""


async def _run(h: Harness, body: str, name: str, options: str = "") -> tuple[Any, ...]:
    return await h.run_once(name, f"EXECUTE IMMEDIATE $$\n{body}\n$$", options=options)


async def test_cursor_examples_on_duckdb(harness: Harness) -> None:
    h = harness
    await h.sql(INVOICES)
    state, value, error = await _run(h, FOR_CURSOR, "a")
    assert (
        (state, error) == ("SUCCEEDED", None) and value is not None and float(value) == pytest.approx(33.33)
    )
    assert await _run(h, OPEN_FETCH, "b") == ("SUCCEEDED", "2", None)
    assert await _run(h, RESULTSET_CURSOR, "c") == ("SUCCEEDED", "11.11 22.22 -1", None)


async def test_cursor_examples_on_sqlite(harness: Harness, tmp_path: Path) -> None:
    h = harness
    await h.sql(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{tmp_path}/w.db'")
    statements = INVOICES.replace("; ", ";\n  ")
    setup = f"BEGIN\n  {statements};\n  RETURN 1;\nEND;"
    assert (await _run(h, setup, "setup", "WAREHOUSE = 'lite'"))[0] == "SUCCEEDED"
    state, value, error = await _run(h, FOR_CURSOR, "a", "WAREHOUSE = 'lite'")
    assert (
        (state, error) == ("SUCCEEDED", None) and value is not None and float(value) == pytest.approx(33.33)
    )
    assert await _run(h, OPEN_FETCH, "b", "WAREHOUSE = 'lite'") == ("SUCCEEDED", "2", None)


async def test_a_resultset_loop_writes_a_row_per_row_on_postgres(
    harness: Harness, pg_database: PgDatabase
) -> None:
    h = harness
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute(INVOICES)
        conn.execute("CREATE TABLE audit (id INTEGER, doubled NUMERIC(12, 2))")
    await h.sql(f"CREATE WAREHOUSE pg TYPE = postgres URL = '{pg_database.url}'")
    body = """DECLARE
  n INTEGER DEFAULT 0;
BEGIN
  LET rs RESULTSET := (SELECT id, price FROM invoices ORDER BY id);
  FOR inv IN rs DO
    INSERT INTO audit VALUES (:inv.id, :inv.price * 2);
    n := n + inv.id;
  END FOR;
  LET c CURSOR FOR SELECT count(*) AS k FROM audit;
  FOR row IN c DO
    RETURN n || '/' || row.k;
  END FOR;
END;"""
    assert await _run(h, body, "t", "WAREHOUSE = 'pg'") == ("SUCCEEDED", "3/2", None)
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT id, doubled::text FROM audit ORDER BY id").fetchall()
    assert rows == [(1, "22.22"), (2, "44.44")]


@pytest.mark.parametrize(
    ("body", "message", "at"),
    [
        (
            "BEGIN\n  FOR r IN nothing DO\n    RETURN 1;\n  END FOR;\nEND;",
            "nothing is not a cursor or RESULTSET",
            (3, 12),
        ),
        ("DECLARE x INTEGER;\nBEGIN\n  FETCH c INTO x;\nEND;", "c is not a cursor", (4, 3)),
        (
            "DECLARE\n  c CURSOR FOR SELECT 1;\nBEGIN\n  FETCH c INTO nowhere;\nEND;",
            "variable nowhere is not declared",
            (5, 3),
        ),
        (
            "DECLARE\n  c CURSOR FOR rs;\nBEGIN\n  RETURN 1;\nEND;",
            "rs is not a RESULTSET declared before",
            (3, 3),
        ),
        (
            "BEGIN\n  RETURN TABLE(nope);\nEND;",
            "nope is not a RESULTSET",
            (3, 3),
        ),
    ],
)
async def test_a_malformed_cursor_is_refused_at_create(
    harness: Harness, body: str, message: str, at: tuple[int, int]
) -> None:
    with pytest.raises(TasksqlSyntaxError) as caught:
        await harness.sql(f"CREATE TASK t SCHEDULE = '1 MINUTE' AS EXECUTE IMMEDIATE $$\n{body}\n$$")
    err = caught.value
    assert message in err.message, err.message
    assert err.span is not None and (err.span.line, err.span.column) == at


async def test_execute_immediate_in_a_block_runs_the_statement_its_string_is(harness: Harness) -> None:
    h = harness
    await h.sql(INVOICES)
    # docs.snowflake.com/en/sql-reference/sql/execute-immediate (a RESULTSET of EXECUTE IMMEDIATE
    # with USING; RETURN TABLE(rs) there, a FOR over it here) and a statement built from a variable
    body = """DECLARE
  rs RESULTSET;
  query VARCHAR DEFAULT 'SELECT * FROM invoices WHERE price > ? AND price < ?';
  minimum_price NUMBER(12,2) DEFAULT 20.00;
  maximum_price NUMBER(12,2) DEFAULT 30.00;
  tbl VARCHAR DEFAULT 'picked';
  found VARCHAR DEFAULT '';
BEGIN
  rs := (EXECUTE IMMEDIATE :query USING (minimum_price, maximum_price));
  EXECUTE IMMEDIATE 'CREATE TABLE ' || :tbl || ' (id INTEGER)';
  FOR inv IN rs DO
    EXECUTE IMMEDIATE 'INSERT INTO picked VALUES (?)' USING (inv.id);
    found := found || inv.id;
  END FOR;
  EXECUTE IMMEDIATE $$INSERT INTO picked VALUES (100)$$;
  RETURN found;
END;"""
    assert await _run(h, body, "t") == ("SUCCEEDED", "2", None)
    assert await h.rows("SELECT id FROM picked ORDER BY id") == [(2,), (100,)]


async def test_execute_immediate_makes_a_begin_block_a_script(harness: Harness) -> None:
    h = harness
    body = "BEGIN\n  EXECUTE IMMEDIATE 'CREATE TABLE made (a INTEGER)';\n  INSERT INTO made VALUES (7);\nEND;"
    await h.sql(f"CREATE TASK t SCHEDULE = '1 MINUTE' AS {body}")
    await h.sql("ALTER TASK t RESUME")
    await asyncio.wait_for(h.tick(advance=60), timeout=120)
    assert await h.rows("SELECT a FROM made") == [(7,)]


@pytest.mark.parametrize(
    ("statement", "message", "at"),
    [
        # databendlabs/databend 15_0011_task_sql_validation.test: EXECUTE IMMEDIATE 1 is refused at CREATE
        ("EXECUTE IMMEDIATE 1;", "EXECUTE IMMEDIATE takes a string", (3, 21)),
        # the statement of a literal is checked by the warehouse's parser (DuckDB's), where it is written
        ("EXECUTE IMMEDIATE 'INSERT INTO t SELECT FROM';", "syntax error", (3, 43)),
    ],
)
async def test_a_bad_execute_immediate_in_a_block_is_refused_at_create(
    harness: Harness, statement: str, message: str, at: tuple[int, int]
) -> None:
    with pytest.raises(TasksqlSyntaxError) as caught:
        await harness.sql(f"CREATE TASK t SCHEDULE = '1 MINUTE' AS\nBEGIN\n  {statement}\n  SELECT 1;\nEND;")
    err = caught.value
    assert message in err.message, err.message
    assert err.span is not None and (err.span.line, err.span.column) == at
