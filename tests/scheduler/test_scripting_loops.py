"""Snowflake Scripting loops in a task body: FOR [REVERSE] ... TO, WHILE, REPEAT ... UNTIL, LOOP,
BREAK / EXIT and CONTINUE / ITERATE with labels, on DuckDB, SQLite and PostgreSQL warehouses; a
loop that never ends fails its run (the iteration bound, the task's timeout) instead of hanging.
The blocks are the examples of docs.snowflake.com/en/sql-reference/snowflake-scripting/{loop,
break,continue,repeat,while,for}, run as tasks. Real scheduler on a fake clock, real databases."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sched_harness import Harness

from pgserver import PgDatabase
from tasksql.errors import TasksqlSyntaxError
from tasksql.scheduler import scripting

_COLUMNS = "state, return_value, error_code, error_message"


async def _run(h: Harness, body: str, options: str = "") -> tuple[Any, ...]:
    return await h.run_once("t", f"EXECUTE IMMEDIATE $$\n{body}\n$$", options=options, columns=_COLUMNS)


# docs.snowflake.com/en/sql-reference/snowflake-scripting/loop (break_out_of_loop)
LOOP_EXAMPLE = """DECLARE
  counter INTEGER;
BEGIN
  counter := 0;
  LOOP
    counter := counter + 1;
    IF (counter > 5) THEN
      BREAK;
    END IF;
    INSERT INTO dummy_data (ID) VALUES (:counter);
  END LOOP;
  RETURN counter;
END;"""

# docs.snowflake.com/en/sql-reference/snowflake-scripting/break (BREAK out of the enclosing loop)
BREAK_EXAMPLE = """DECLARE
  i INTEGER;
  j INTEGER;
BEGIN
  i := 1;
  j := 1;
  WHILE (i <= 4) DO
    WHILE (j <= 4) DO
      -- Exit when j is 3, even if i is still 1.
      IF (j = 3) THEN
        BREAK outer_loop;
      END IF;
      j := j + 1;
    END WHILE inner_loop;
    i := i + 1;
  END WHILE outer_loop;
  -- Execution resumes here after the BREAK executes.
  RETURN i;
END;"""

# docs.snowflake.com/en/sql-reference/snowflake-scripting/continue
CONTINUE_EXAMPLE = """DECLARE
  counter1 NUMBER(8, 0);
  counter2 NUMBER(8, 0);
BEGIN
  counter1 := 0;
  counter2 := 0;
  WHILE (counter1 < 3) DO
    counter1 := counter1 + 1;
    CONTINUE;
    counter2 := counter2 + 1;
  END WHILE;
  RETURN counter2;
END;"""

# docs.snowflake.com/en/sql-reference/snowflake-scripting/repeat (power_of_2)
REPEAT_EXAMPLE = """DECLARE
  counter NUMBER(8, 0);      -- Loop counter.
  power_of_2 NUMBER(8, 0);   -- Stores the most recent power of 2 that we calculated.
BEGIN
  counter := 1;
  power_of_2 := 1;
  REPEAT
    power_of_2 := power_of_2 * 2;
    counter := counter + 1;
  UNTIL (counter > 8)
  END REPEAT;
  RETURN power_of_2;
END;"""


async def test_loop_breaks_after_five_inserts_on_duckdb(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TABLE dummy_data (ID INTEGER)")
    assert await _run(h, LOOP_EXAMPLE) == ("SUCCEEDED", "6", None, None)
    assert await h.rows("SELECT ID FROM dummy_data ORDER BY ID") == [(1,), (2,), (3,), (4,), (5,)]


async def test_break_with_a_label_leaves_the_outer_loop_on_sqlite(harness: Harness, tmp_path: Path) -> None:
    h = harness
    await h.sql(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{tmp_path}/w.db'")
    assert await _run(h, BREAK_EXAMPLE, "WAREHOUSE = 'lite'") == ("SUCCEEDED", "1", None, None)


async def test_continue_skips_the_rest_of_the_iteration_on_postgres(
    harness: Harness, pg_database: PgDatabase
) -> None:
    h = harness
    await h.sql(f"CREATE WAREHOUSE pg TYPE = postgres URL = '{pg_database.url}'")
    assert await _run(h, CONTINUE_EXAMPLE, "WAREHOUSE = 'pg'") == ("SUCCEEDED", "0", None, None)


async def test_repeat_runs_until_its_condition_holds(harness: Harness) -> None:
    assert await _run(harness, REPEAT_EXAMPLE) == ("SUCCEEDED", "256", None, None)


async def test_for_counts_down_with_reverse_and_not_at_all_past_its_end_on_postgres(
    harness: Harness, pg_database: PgDatabase
) -> None:
    h = harness
    await h.sql(f"CREATE WAREHOUSE pg TYPE = postgres URL = '{pg_database.url}'")
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE log (n INTEGER, pos INTEGER)")
    body = """DECLARE total INTEGER DEFAULT 0; i INTEGER DEFAULT 100; pos INTEGER DEFAULT 0;
BEGIN
  FOR i IN REVERSE 1 TO 2 + 1 DO
    pos := pos + 1;
    INSERT INTO log VALUES (:i, :pos);
    total := total + i;
  END FOR;
  FOR k IN 5 TO 1 DO
    total := total + 1000;
  END FOR;
  FOR k IN 1 TO 10 LOOP
    IF (k > 2) THEN ITERATE; END IF;
    total := total + k * 10;
  END LOOP;
  RETURN total || ',' || i;
END;"""
    # Snowflake's spelling (a warehouse named, not quoted as Databend writes it): FOR 5 TO 1 runs
    # no iteration (Databend's fails: tests/scheduler/test_scripting_databend.py)
    assert await _run(h, body, "WAREHOUSE = pg") == ("SUCCEEDED", "36,100", None, None)
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        assert conn.execute("SELECT n, pos FROM log ORDER BY pos").fetchall() == [(3, 1), (2, 2), (1, 3)]


async def test_a_while_reading_the_table_its_loop_writes_sees_each_insert(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TABLE q (n INTEGER)")
    body = """BEGIN
  WHILE ((SELECT count(*) FROM q) < 4) DO
    INSERT INTO q SELECT count(*) FROM q;
  END WHILE;
  RETURN (SELECT sum(n) FROM q);
END;"""
    assert await _run(h, body) == ("SUCCEEDED", "6", None, None)


async def test_a_loop_without_end_fails_at_the_iteration_bound(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scripting, "MAX_ITERATIONS", 50)
    h = harness
    await h.sql("CREATE TABLE hits (n INTEGER)")
    body = "DECLARE n INTEGER DEFAULT 0;\nBEGIN\n  LOOP\n    n := n + 1;\n    INSERT INTO hits VALUES (:n);\n  END LOOP;\nEND;"
    state, _, code, message = await _run(h, body)
    assert (state, code) == ("FAILED", "LOOP_LIMIT_EXCEEDED")
    assert message is not None and "50 iterations" in message
    assert await h.rows("SELECT count(*) FROM hits") == [(0,)]  # deferred: nothing of the run is kept


async def test_a_loop_without_end_fails_at_the_tasks_timeout(harness: Harness) -> None:
    body = "DECLARE n INTEGER DEFAULT 0;\nBEGIN\n  LOOP\n    n := n + 1;\n  END LOOP;\nEND;"
    state, _, code, _ = await _run(harness, body, "USER_TASK_TIMEOUT_MS = 500")
    assert (state, code) == ("FAILED", "TIMEOUT_EXCEEDED")


@pytest.mark.parametrize(
    ("body", "message", "at"),
    [
        (
            "DECLARE n INTEGER DEFAULT 0;\nBEGIN\n  WHILE (n < 3) DO\n    n := n + 1;\nEND;",
            "the WHILE is never closed by END WHILE",
            (4, 3),
        ),
        (
            "DECLARE n INTEGER DEFAULT 0;\nBEGIN\n  WHILE (n < 3) DO\n    n := n + 1;\n  END LOOP;\nEND;",
            "END LOOP without LOOP: expected END WHILE first",
            (6, 3),
        ),
        ("BEGIN\n  LET n := 1;\n  BREAK;\nEND;", "BREAK outside a loop", (4, 3)),
        (
            "BEGIN\n  LOOP\n    CONTINUE outer;\n  END LOOP inner;\nEND;",
            "no enclosing loop is labelled outer",
            (4, 5),
        ),
        (
            "BEGIN\n  FOR i IN 1 TO 3\n    RETURN i;\n  END FOR;\nEND;",
            "expected FOR <name> IN [REVERSE] <start> TO <end> DO",
            (3, 3),
        ),
        (
            "BEGIN\n  REPEAT\n    RETURN 1;\n  END REPEAT;\nEND;",
            "END REPEAT without REPEAT: expected UNTIL (<condition>) END REPEAT first",
            (5, 3),
        ),
    ],
)
async def test_a_malformed_loop_is_refused_at_create_where_it_is(
    harness: Harness, body: str, message: str, at: tuple[int, int]
) -> None:
    with pytest.raises(TasksqlSyntaxError) as caught:
        await harness.sql(f"CREATE TASK t SCHEDULE = '1 MINUTE' AS EXECUTE IMMEDIATE $$\n{body}\n$$")
    err = caught.value
    assert err.code == "BODY_SYNTAX_ERROR" and message in err.message
    assert err.span is not None and (err.span.line, err.span.column) == at
    assert await harness.rows("SELECT count(*) FROM system.tasks") == [(0,)]


async def test_cancel_task_ends_a_loop_that_would_run_on(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scripting, "MAX_ITERATIONS", 10**9)
    h = harness
    body = "DECLARE n INTEGER DEFAULT 0;\nBEGIN\n  LOOP\n    n := n + 1;\n  END LOOP;\nEND;"
    await h.sql(
        f"CREATE TASK t USER_TASK_TIMEOUT_MS = 600000 SCHEDULE = '1 MINUTE' AS EXECUTE IMMEDIATE $$\n{body}\n$$"
    )
    await h.sql("ALTER TASK t RESUME")
    await h.tick(advance=60, drain=False)
    query = "SELECT state, error_code FROM task_history(task_name => 't') WHERE state <> 'SCHEDULED'"
    for _ in range(600):  # the run has started its loop
        if await h.rows(query) == [("EXECUTING", None)]:
            break
        await asyncio.sleep(0.05)
    await h.sql("CANCEL TASK t")
    await asyncio.wait_for(h.scheduler.drain(), timeout=60)
    assert await h.rows(query) == [("CANCELLED", "CANCELLED")]


async def test_a_loop_that_does_nothing_ends_at_the_bound_at_once(harness: Harness) -> None:
    body = "BEGIN\n  LOOP\n    NULL;\n  END LOOP;\nEND;"
    state, _, code, message = await _run(harness, body)
    assert (state, code) == ("FAILED", "LOOP_LIMIT_EXCEEDED")
    assert message is not None and f"{scripting.MAX_ITERATIONS} iterations" in message
