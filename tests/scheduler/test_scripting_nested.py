"""EXECUTE IMMEDIATE of a script inside a Snowflake Scripting block: a string holding a
``BEGIN ... END`` block (docs.snowflake.com/en/sql-reference/sql/execute-immediate: the string may
hold "a block") or several statements is a nested script. It is checked at CREATE (errors at their
line and column inside the literal, as Databend's tests/sqllogictests/suites/task/task_ddl_test.test
expects: statement error 1005 for a syntax error in it, 3128 for a CONTINUE it holds under an outer
LOOP) and runs as a script of its own: its variables, loops and RETURN are its own. Real scheduler
on a fake clock; DuckDB, SQLite and PostgreSQL warehouses."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sched_harness import Harness

from pgserver import PgDatabase
from tasksql.errors import TasksqlSyntaxError


async def _run(h: Harness, body: str, name: str, options: str = "") -> tuple[Any, ...]:
    return await h.run_once(name, body, options=options)


async def test_a_block_in_a_literal_runs_as_a_script_of_its_own_on_duckdb(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TABLE seen (outer_i INTEGER, inner_n INTEGER)")
    # the nested block has its own n (the outer n is untouched), its own loop with BREAK, and its
    # RETURN ends only it; the doubled quotes of the literal are one quote in the script
    body = """EXECUTE IMMEDIATE $$
DECLARE
  n INTEGER DEFAULT 100;
BEGIN
  FOR i IN 1 TO 2 DO
    EXECUTE IMMEDIATE 'DECLARE n INTEGER DEFAULT 0; BEGIN
      LOOP
        n := n + 1;
        IF (n = 3) THEN BREAK; END IF;
      END LOOP;
      INSERT INTO seen VALUES (length(''it''''s''), :n);
      RETURN n;
    END;';
    INSERT INTO seen VALUES (:i, :n);
  END FOR;
  RETURN n;
END;
$$"""
    assert await _run(h, body, "t") == ("SUCCEEDED", "100", None)
    assert await h.rows("SELECT outer_i, inner_n FROM seen ORDER BY outer_i, inner_n") == [
        (1, 100),
        (2, 100),
        (4, 3),
        (4, 3),
    ]


async def test_a_script_computed_into_a_variable_runs_with_the_block_on_duckdb(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TABLE got (a INTEGER)")
    # no handler: the block's statements, the computed script's among them, run together at the end
    body = """DECLARE
  script VARCHAR DEFAULT 'INSERT INTO got VALUES (1); INSERT INTO got VALUES (2);';
BEGIN
  EXECUTE IMMEDIATE :script || ' INSERT INTO got VALUES (3);';
  INSERT INTO got VALUES (4);
END;"""
    assert await _run(h, body, "t") == ("SUCCEEDED", None, None)
    assert await h.rows("SELECT a FROM got ORDER BY a") == [(1,), (2,), (3,), (4,)]


async def test_several_statements_in_a_literal_run_one_by_one_on_sqlite(
    harness: Harness, tmp_path: Path
) -> None:
    h = harness
    await h.sql(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{tmp_path}/w.db'")
    body = (
        "BEGIN\n  EXECUTE IMMEDIATE 'CREATE TABLE made (a INTEGER); INSERT INTO made VALUES (7);"
        " INSERT INTO made VALUES (8)';\n  INSERT INTO made VALUES (9);\nEND;"
    )
    assert await _run(h, body, "t", "WAREHOUSE = 'lite'") == ("SUCCEEDED", None, None)
    with closing(sqlite3.connect(tmp_path / "w.db")) as conn:
        assert conn.execute("SELECT a FROM made ORDER BY a").fetchall() == [(7,), (8,), (9,)]


async def test_a_block_computed_into_a_variable_runs_and_its_error_is_caught_on_postgres(
    harness: Harness, pg_database: PgDatabase
) -> None:
    h = harness
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE log (n INTEGER)")
    await h.sql(f"CREATE WAREHOUSE pg TYPE = postgres URL = '{pg_database.url}'")
    # the variable's value is a block: it runs as one; an exception it does not catch is the
    # EXECUTE IMMEDIATE statement's error, which the outer block's STATEMENT_ERROR handler catches
    body = """EXECUTE IMMEDIATE $$
DECLARE
  script VARCHAR DEFAULT 'BEGIN FOR k IN 1 TO 3 DO INSERT INTO log VALUES (:k); END FOR; END;';
  failing VARCHAR DEFAULT 'DECLARE e EXCEPTION (-20001, ''no more''); BEGIN RAISE e; END;';
BEGIN
  EXECUTE IMMEDIATE :script;
  EXECUTE IMMEDIATE :failing;
  RETURN 'not reached';
EXCEPTION
  WHEN STATEMENT_ERROR THEN
    RETURN SQLERRM;
END;
$$"""
    state, value, error = await _run(h, body, "t", "WAREHOUSE = 'pg'")
    assert (state, error) == ("SUCCEEDED", None)
    assert value is not None and "Uncaught exception of type 'E'" in value and "no more" in value
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        assert conn.execute("SELECT n FROM log ORDER BY n").fetchall() == [(1,), (2,), (3,)]


@pytest.mark.parametrize(
    ("body", "message", "at"),
    [
        # databendlabs/databend task_ddl_test.test: statement error 1005 (the nested block's syntax)
        (
            "EXECUTE IMMEDIATE $$ BEGIN EXECUTE IMMEDIATE 'BEGIN SELECT FROM; END;'; END; $$",
            "syntax error",
            (1, 99),
        ),
        # as above: statement error 3128 (CONTINUE in the nested script sees no loop)
        (
            "EXECUTE IMMEDIATE $$ BEGIN LOOP EXECUTE IMMEDIATE 'BEGIN CONTINUE; END;'; END LOOP; END; $$",
            "CONTINUE outside a loop",
            (1, 97),
        ),
        # several statements: the second one's error, past a doubled quote, on the next line
        (
            "BEGIN\n  EXECUTE IMMEDIATE 'INSERT INTO t VALUES (''a''); \n  SELECT FROM';\nEND;",
            "syntax error",
            (3, 10),
        ),
        # a script nested two deep in quoted literals: its quotes are written four times
        (
            "EXECUTE IMMEDIATE 'BEGIN LOOP EXECUTE IMMEDIATE ''BEGIN LET q := ''''a''''; CONTINUE; END;'';"
            " END LOOP; END;'",
            "CONTINUE outside a loop",
            (1, 116),
        ),
        # a script's values are its own variables: no USING
        ("BEGIN\n  EXECUTE IMMEDIATE 'SELECT ?; SELECT 2' USING (x);\nEND;", "takes no USING", (2, 42)),
        # the nested script sees no variable of the block around it
        (
            "DECLARE x INTEGER DEFAULT 1;\nBEGIN\n  EXECUTE IMMEDIATE 'BEGIN INSERT INTO t VALUES (:x); END;';\nEND;",
            "variable x is not defined",
            (3, 51),
        ),
    ],
)
async def test_a_bad_nested_script_is_refused_at_create(
    harness: Harness, body: str, message: str, at: tuple[int, int]
) -> None:
    with pytest.raises(TasksqlSyntaxError) as caught:
        await harness.sql(f"CREATE TASK t SCHEDULE = '1 MINUTE' AS {body}")
    err = caught.value
    assert err.code == "BODY_SYNTAX_ERROR"
    assert message in err.message, err.message
    assert err.span is not None and (err.span.line, err.span.column) == at
    assert await harness.rows("SELECT name FROM system.tasks") == []
