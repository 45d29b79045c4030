"""A body in Snowflake Scripting (DECLARE, LET, :=, RETURN, variables as :name in statements)
runs on every warehouse: the expressions are evaluated on the task's warehouse, RETURN is the run's
return value. The example of docs.snowflake.com/en/sql-reference/sql/create-task ("Create a task
that uses Snowflake Scripting"). Real scheduler on a fake clock, real DuckDB and SQLite warehouses."""

from __future__ import annotations

from pathlib import Path

import pytest
from sched_harness import Harness

from tasksql.errors import TasksqlSyntaxError

SNOWFLAKE_EXAMPLE = """
    EXECUTE IMMEDIATE
    $$
    DECLARE
      radius_of_circle FLOAT;
      area_of_circle FLOAT;
    BEGIN
      radius_of_circle := 3;
      area_of_circle := pi() * radius_of_circle * radius_of_circle;
      RETURN area_of_circle;
    END;
    $$"""


async def _return_value(h: Harness, task: str) -> tuple[str, str | None, str | None]:
    [row] = await h.rows(
        "SELECT state, return_value, error_message FROM task_history("
        f"task_name => '{task}') WHERE state <> 'SCHEDULED'"
    )
    return row


async def test_the_documented_example_returns_the_area_on_duckdb(harness: Harness) -> None:
    h = harness
    await h.sql(f"CREATE TASK t1 SCHEDULE = '1 MINUTE' AS{SNOWFLAKE_EXAMPLE}")
    await h.sql("ALTER TASK t1 RESUME")
    await h.tick(advance=60)
    state, value, error = await _return_value(h, "t1")
    assert (state, error) == ("SUCCEEDED", None)
    assert value is not None and float(value) == pytest.approx(28.274333882308138)


async def test_a_block_runs_on_sqlite_in_its_dialect(harness: Harness, tmp_path: Path) -> None:
    h = harness
    await h.sql(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{tmp_path}/w.db'")
    await h.sql(
        "CREATE TASK t WAREHOUSE = 'lite' SCHEDULE = '1 MINUTE' AS EXECUTE IMMEDIATE $$\n"
        "DECLARE\n  greeting TEXT DEFAULT 'hello';\nBEGIN\n"
        "  LET shout TEXT := upper(greeting) || ' ' || printf('%03d', 7);\n"
        "  RETURN shout;\nEND;\n$$"
    )
    await h.sql("ALTER TASK t RESUME")
    await h.tick(advance=60)
    assert await _return_value(h, "t") == ("SUCCEEDED", "HELLO 007", None)


async def test_a_variable_in_an_insert_is_bound_as_a_quoted_literal(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TABLE log (n INTEGER, label VARCHAR)")
    await h.sql(
        "CREATE TASK t SCHEDULE = '1 MINUTE' AS\nDECLARE\n  n INTEGER := 40;\nBEGIN\n"
        "  n := n + 2;\n  LET label := 'it''s ' || n;\n"
        "  INSERT INTO log VALUES (:n, :label);\n  RETURN 'done';\nEND;"
    )
    await h.sql("ALTER TASK t RESUME")
    await h.tick(advance=60)
    assert await _return_value(h, "t") == ("SUCCEEDED", "done", None)
    assert await h.rows("SELECT n, label FROM log") == [(42, "it's 42")]


async def test_if_runs_the_first_branch_whose_condition_holds(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TABLE log (branch VARCHAR)")
    await h.sql(
        "CREATE TASK t SCHEDULE = '1 MINUTE' AS EXECUTE IMMEDIATE $$\n"
        "DECLARE x INTEGER DEFAULT (SELECT 5);\nBEGIN\n"
        "  IF (x > 10) THEN\n    INSERT INTO log VALUES ('big');\n    RETURN 'big';\n"
        "  ELSEIF (x > 3) THEN\n    INSERT INTO log VALUES ('middle');\n    LET y := x * 2;\n"
        "    IF (y = 10) THEN RETURN 'ten'; END IF;\n"
        "  ELSE\n    RETURN 'small';\n  END IF;\n  RETURN 'not reached';\nEND;\n$$"
    )
    await h.sql("ALTER TASK t RESUME")
    await h.tick(advance=60)
    assert await _return_value(h, "t") == ("SUCCEEDED", "ten", None)
    assert await h.rows("SELECT branch FROM log") == [("middle",)]


async def test_an_async_resultset_is_refused_at_create_naming_what_runs(
    harness: Harness,
) -> None:
    with pytest.raises(TasksqlSyntaxError) as caught:
        await harness.sql(
            "CREATE TASK t SCHEDULE = '1 MINUTE' AS EXECUTE IMMEDIATE $$\n"
            "DECLARE\n  q VARCHAR DEFAULT 'SELECT 1';\nBEGIN\n  LET rs RESULTSET := ASYNC (SELECT 1);\n"
            "  RETURN 1;\nEND;\n$$"
        )
    err = caught.value
    assert "a RESULTSET of ASYNC" in err.message and "END LOOP" in err.message
    assert err.span is not None and (err.span.line, err.span.column) == (5, 3)
    assert await harness.rows("SELECT count(*) FROM system.tasks") == [(0,)]


async def test_an_if_never_closed_is_refused_at_the_if(harness: Harness) -> None:
    with pytest.raises(TasksqlSyntaxError) as caught:
        await harness.sql(
            "CREATE TASK t SCHEDULE = '1 MINUTE' AS\nBEGIN\n  IF (1 = 1) THEN\n    RETURN 'x';\nEND;"
        )
    assert "never closed by END IF" in caught.value.message
    assert caught.value.span is not None and (caught.value.span.line, caught.value.span.column) == (3, 3)


async def test_select_into_a_variable_sets_it_to_the_querys_value_on_sqlite(
    harness: Harness, tmp_path: Path
) -> None:
    h = harness
    await h.sql(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{tmp_path}/w.db'")
    await h.sql(
        "CREATE TASK t WAREHOUSE = 'lite' SCHEDULE = '1 MINUTE' AS EXECUTE IMMEDIATE $$\n"
        "DECLARE\n  n INTEGER;\n  top VARCHAR;\nBEGIN\n"
        "  CREATE TABLE IF NOT EXISTS items (name TEXT, price INTEGER);\n"
        "  INSERT INTO items VALUES ('a', 5), ('b', 7);\n"
        "  SELECT count(*) INTO :n FROM items WHERE price > 1;\n"
        "  SELECT name INTO :top FROM items ORDER BY price DESC LIMIT 1;\n"
        "  RETURN n || ' ' || top;\nEND;\n$$"
    )
    await h.sql("ALTER TASK t RESUME")
    await h.tick(advance=60)
    assert await _return_value(h, "t") == ("SUCCEEDED", "2 b", None)


async def test_select_into_several_variables_sets_each_from_the_first_row(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TABLE some_data (id INTEGER, name VARCHAR)")
    await h.sql("INSERT INTO some_data VALUES (1, 'a'), (2, 'b')")
    # docs.snowflake.com/en/developer-guide/snowflake-scripting/variables (SELECT ... INTO)
    await h.sql(
        "CREATE TASK t SCHEDULE = '1 MINUTE' AS EXECUTE IMMEDIATE $$\n"
        "DECLARE\n  id INTEGER;\n  name VARCHAR;\n  none VARCHAR DEFAULT 'x';\nBEGIN\n"
        "  SELECT id, name INTO :id, :name FROM some_data WHERE id = 1;\n"
        "  SELECT name INTO :none FROM some_data WHERE id > 99;\n"
        "  RETURN id || ' ' || name || ' ' || coalesce(none, 'null');\nEND;\n$$"
    )
    await h.sql("ALTER TASK t RESUME")
    await h.tick(advance=60)
    assert await _return_value(h, "t") == ("SUCCEEDED", "1 a null", None)


async def test_a_query_in_an_expression_is_sql_and_a_condition_may_hold_then(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TABLE items (id INTEGER, label VARCHAR)")
    await h.sql("INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'THEN')")
    # in (SELECT ...) id is the column and :id the variable, as in any SQL statement of a block
    await h.sql(
        "CREATE TASK t SCHEDULE = '1 MINUTE' AS EXECUTE IMMEDIATE $$\n"
        "DECLARE\n  id INTEGER DEFAULT 2;\n  n INTEGER;\nBEGIN\n"
        "  n := (SELECT count(*) FROM items WHERE id >= :id);\n"
        "  IF ((SELECT max(id) FROM items WHERE label = 'THEN') = (CASE WHEN n > 0 THEN 3 END)) THEN\n"
        "    RETURN 'then ' || n || ' ' || id;\n  END IF;\n  RETURN 'else';\nEND;\n$$"
    )
    await h.sql("ALTER TASK t RESUME")
    await h.tick(advance=60)
    assert await _return_value(h, "t") == ("SUCCEEDED", "then 2 2", None)


async def test_async_and_await_are_refused_at_create_naming_what_runs(harness: Harness) -> None:
    with pytest.raises(TasksqlSyntaxError) as caught:
        await harness.sql(
            "CREATE TASK t SCHEDULE = '1 MINUTE' AS EXECUTE IMMEDIATE $$\n"
            "BEGIN\n  ASYNC (INSERT INTO log VALUES (1));\n  AWAIT ALL;\nEND;\n$$"
        )
    assert "ASYNC is not supported" in caught.value.message and "END LOOP" in caught.value.message
    assert caught.value.span is not None and (caught.value.span.line, caught.value.span.column) == (3, 3)


async def test_a_nested_blocks_variables_are_its_own(harness: Harness) -> None:
    # docs.snowflake.com/en/developer-guide/snowflake-scripting/blocks (a variable declared in a
    # nested block is that block's: the outer one of the same name is unchanged after it)
    h = harness
    await h.sql(
        "CREATE TASK t SCHEDULE = '1 MINUTE' AS EXECUTE IMMEDIATE $$\n"
        "DECLARE\n  x VARCHAR DEFAULT 'outer';\nBEGIN\n"
        "  LET seen := '';\n"
        "  DECLARE\n    x VARCHAR DEFAULT 'inner';\n  BEGIN\n    seen := x;\n  END;\n"
        "  FOR i IN 1 TO 2 DO\n    LET last := i;\n  END FOR;\n"
        "  last := last * 10;\n"
        "  RETURN seen || ' ' || x || ' ' || last;\nEND;\n$$"
    )
    await h.sql("ALTER TASK t RESUME")
    await h.tick(advance=60)
    assert await _return_value(h, "t") == ("SUCCEEDED", "inner outer 20", None)


async def test_sqlrowcount_sqlfound_and_sqlnotfound_tell_of_the_last_dml_statement(harness: Harness) -> None:
    # docs.snowflake.com/en/developer-guide/snowflake-scripting/dml-status (SQLROWCOUNT, SQLFOUND,
    # SQLNOTFOUND after an INSERT and an UPDATE)
    h = harness
    await h.sql("CREATE TABLE my_values (v INTEGER)")
    await h.sql(
        "CREATE TASK t SCHEDULE = '1 MINUTE' AS EXECUTE IMMEDIATE $$\n"
        "BEGIN\n  LET before := coalesce(SQLROWCOUNT, -1);\n"
        "  INSERT INTO my_values VALUES (1), (2), (3);\n  LET n := SQLROWCOUNT;\n"
        "  UPDATE my_values SET v = v WHERE v > 5;\n"
        "  RETURN before || ' ' || n || ' ' || SQLFOUND || ' ' || SQLNOTFOUND;\nEND;\n$$"
    )
    await h.sql("ALTER TASK t RESUME")
    await h.tick(advance=60)
    assert await _return_value(h, "t") == ("SUCCEEDED", "-1 3 false true", None)
