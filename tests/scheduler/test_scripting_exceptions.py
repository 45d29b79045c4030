"""Exceptions in Snowflake Scripting task bodies: DECLARE <name> EXCEPTION [(<number>, '<message>')],
RAISE, EXCEPTION WHEN <name> [OR ...] / OTHER / STATEMENT_ERROR / EXPRESSION_ERROR THEN ..., SQLCODE,
SQLERRM and SQLSTATE in a handler, handlers of nested blocks, an uncaught exception failing the
run as Snowflake reports it. The blocks are docs.snowflake.com/en/developer-guide/snowflake-scripting/
exceptions' and sql-reference/snowflake-scripting/{exception,raise}'s examples, run as tasks on
DuckDB, SQLite and PostgreSQL. Real scheduler on a fake clock, real databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from sched_harness import Harness

from pgserver import PgDatabase
from tasksql.errors import TasksqlSyntaxError

_COLUMNS = "state, return_value, error_code, error_message"


async def _run(h: Harness, body: str, options: str = "") -> tuple[Any, ...]:
    return await h.run_once("t", f"EXECUTE IMMEDIATE $$\n{body}\n$$", options=options, columns=_COLUMNS)


# docs.snowflake.com/en/sql-reference/snowflake-scripting/exception (Examples)
EXCEPTION_EXAMPLE = """DECLARE
  RESULT VARCHAR;
  EXCEPTION_1 EXCEPTION (-20001, 'I caught the expected exception.');
  EXCEPTION_2 EXCEPTION (-20002, 'Not the expected exception!');
BEGIN
  RESULT := 'If you see this, I did not catch any exception.';
  IF (TRUE) THEN
    RAISE EXCEPTION_1;
  END IF;
  RETURN RESULT;
EXCEPTION
  WHEN EXCEPTION_2 THEN
    RETURN SQLERRM;
  WHEN EXCEPTION_1 THEN
    RETURN SQLERRM;
END;"""

# docs.snowflake.com/en/developer-guide/snowflake-scripting/exceptions (raising a declared exception)
RAISE_EXAMPLE = """DECLARE
  my_exception EXCEPTION (-20002, 'Raised MY_EXCEPTION.');
BEGIN
  LET counter := 0;
  LET should_raise_exception := true;
  IF (should_raise_exception) THEN
    RAISE my_exception;
  END IF;
  counter := counter + 1;
  RETURN counter;
END;"""


async def test_the_handler_of_the_raised_exception_runs_on_sqlite(harness: Harness, tmp_path: Path) -> None:
    h = harness
    await h.sql(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{tmp_path}/w.db'")
    assert await _run(h, EXCEPTION_EXAMPLE, "WAREHOUSE = 'lite'") == (
        "SUCCEEDED",
        "I caught the expected exception.",
        None,
        None,
    )


async def test_an_uncaught_exception_fails_the_run_as_snowflake_reports_it(harness: Harness) -> None:
    state, _, code, message = await _run(harness, RAISE_EXAMPLE)
    assert (state, code) == ("FAILED", "-20002")
    assert message == (
        "-20002 (P0001): Uncaught exception of type 'MY_EXCEPTION' on line 8 at position 4 : Raised MY_EXCEPTION."
    )


async def test_sqlcode_sqlstate_and_other_in_a_handler_on_duckdb(harness: Harness) -> None:
    body = RAISE_EXAMPLE.replace(
        "  RETURN counter;\nEND;",
        "  RETURN counter;\nEXCEPTION\n  WHEN statement_error THEN\n    RETURN 'statement';\n"
        "  WHEN OTHER THEN\n    RETURN sqlcode || ' ' || sqlstate || ' ' || sqlerrm;\nEND;",
    )
    assert await _run(harness, body) == ("SUCCEEDED", "-20002 P0001 Raised MY_EXCEPTION.", None, None)


async def test_a_failed_statement_is_caught_by_statement_error_and_earlier_ones_are_kept_on_postgres(
    harness: Harness, pg_database: PgDatabase
) -> None:
    h = harness
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE log (what VARCHAR)")
    await h.sql(f"CREATE WAREHOUSE pg TYPE = postgres URL = '{pg_database.url}'")
    body = """BEGIN
  INSERT INTO log VALUES ('before');
  DROP TABLE no_such_table;
  INSERT INTO log VALUES ('not reached');
  RETURN 'not reached';
EXCEPTION
  WHEN expression_error THEN
    RETURN 'expression';
  WHEN statement_error THEN
    INSERT INTO log VALUES ('handled ' || :sqlstate);
    RETURN sqlstate;
END;"""
    assert await _run(h, body, "WAREHOUSE = 'pg'") == ("SUCCEEDED", "42P01", None, None)
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT what FROM log ORDER BY what").fetchall()
    assert rows == [("before",), ("handled 42P01",)]


async def test_a_failed_expression_is_an_expression_error_and_nested_blocks_pass_on_what_they_do_not_catch(
    harness: Harness, pg_database: PgDatabase
) -> None:
    h = harness
    await h.sql(f"CREATE WAREHOUSE pg TYPE = postgres URL = '{pg_database.url}'")
    body = """DECLARE
  inner_exc EXCEPTION (-20010, 'inner');
  seen VARCHAR DEFAULT '';
BEGIN
  BEGIN
    LET x := 1 / 0;
  EXCEPTION
    WHEN inner_exc THEN
      RETURN 'wrong handler';
    WHEN expression_error THEN
      seen := 'expr:' || sqlstate;
  END;
  BEGIN
    RAISE inner_exc;
  EXCEPTION
    WHEN statement_error OR inner_exc THEN
      seen := seen || ',inner';
      RAISE;
  END;
  RETURN 'not reached';
EXCEPTION
  WHEN OTHER THEN
    RETURN seen || ',outer:' || sqlcode;
END;"""
    assert await _run(h, body, "WAREHOUSE = 'pg'") == (
        "SUCCEEDED",
        "expr:22012,inner,outer:-20010",
        None,
        None,
    )


async def test_an_uncaught_statement_error_fails_the_run_with_the_warehouses_error(harness: Harness) -> None:
    body = """BEGIN
  SELECT * FROM no_such_table;
  RETURN 'x';
EXCEPTION
  WHEN expression_error THEN
    RETURN 'expression';
END;"""
    state, _, _, message = await _run(harness, body)
    assert state == "FAILED" and message is not None and "no_such_table" in message


@pytest.mark.parametrize(
    ("body", "message", "at"),
    [
        (
            "BEGIN\n  RETURN 1;\nEXCEPTION\n  WHEN my_error THEN\n    RETURN 2;\nEND;",
            "exception my_error is not declared",
            (5, 8),
        ),
        ("BEGIN\n  RAISE nothing_declared;\nEND;", "exception nothing_declared is not declared", (3, 3)),
        ("BEGIN\n  RAISE;\nEND;", "RAISE without a name raises the exception being handled", (3, 3)),
        (
            "DECLARE\n  e EXCEPTION (-1, 'x');\nBEGIN\n  RAISE e;\nEND;",
            "must be between -20999 and -20000",
            (3, 16),
        ),
        (
            "BEGIN\n  RETURN 1;\nEXCEPTION\n  WHEN OTHER THEN\n    RETURN 2;\n",
            "is never closed by END",
            (2, 1),
        ),
    ],
)
async def test_a_malformed_handler_or_raise_is_refused_at_create(
    harness: Harness, body: str, message: str, at: tuple[int, int]
) -> None:
    with pytest.raises(TasksqlSyntaxError) as caught:
        await harness.sql(f"CREATE TASK t SCHEDULE = '1 MINUTE' AS EXECUTE IMMEDIATE $$\n{body}\n$$")
    err = caught.value
    assert message in err.message, err.message
    assert err.span is not None and (err.span.line, err.span.column) == at
    assert await harness.rows("SELECT count(*) FROM system.tasks") == [(0,)]


async def test_a_continue_handler_goes_on_after_the_statement_that_raised_on_postgres(
    harness: Harness, pg_database: PgDatabase
) -> None:
    h = harness
    await h.sql(f"CREATE WAREHOUSE pg TYPE = postgres URL = '{pg_database.url}'")
    body = """DECLARE
  trail VARCHAR DEFAULT '';
  e1 EXCEPTION (-20001, 'one');
BEGIN
  trail := trail || 'a';
  RAISE e1;
  trail := trail || 'b';
  IF (1 / 0 = 1) THEN
    trail := trail || 'x';
  END IF;
  trail := trail || 'c';
  FOR i IN 1 TO 2 DO
    INSERT INTO no_such_table VALUES (1);
    trail := trail || i;
  END FOR;
  RETURN trail;
EXCEPTION
  WHEN e1 CONTINUE THEN
    trail := trail || '[e1]';
  WHEN expression_error CONTINUE THEN
    trail := trail || '[expr]';
  WHEN statement_error CONTINUE THEN
    trail := trail || '[stmt]';
END;"""
    assert await _run(h, body, "WAREHOUSE = 'pg'") == ("SUCCEEDED", "a[e1]b[expr]c[stmt]1[stmt]2", None, None)


async def test_an_exit_handler_of_an_inner_block_ends_that_block_only(harness: Harness) -> None:
    body = """DECLARE
  trail VARCHAR DEFAULT '';
  e1 EXCEPTION;
BEGIN
  BEGIN
    trail := trail || 'a';
    RAISE e1;
    trail := trail || 'not reached';
  EXCEPTION
    WHEN e1 EXIT THEN
      trail := trail || '[exit:' || sqlcode || ']';
  END;
  RETURN trail || 'b';
END;"""
    assert await _run(harness, body) == ("SUCCEEDED", "a[exit:-20000]b", None, None)
