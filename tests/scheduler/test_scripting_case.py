"""The CASE statement of Snowflake Scripting in a task body: simple (CASE (<expr>) WHEN <value>)
and searched (CASE WHEN <cond>), closed by END or END CASE, on DuckDB, SQLite and PostgreSQL. The
blocks are docs.snowflake.com/en/sql-reference/snowflake-scripting/case's examples, run as tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sched_harness import Harness

from pgserver import PgDatabase
from tasksql.errors import TasksqlSyntaxError

# docs.snowflake.com/en/sql-reference/snowflake-scripting/case (simple CASE; closed by END)
SIMPLE = """DECLARE
  v VARCHAR DEFAULT '{choice}';
BEGIN
  CASE (v)
    WHEN 'first choice' THEN
      RETURN 'one';
    WHEN 'second choice' THEN
      RETURN 'two';
    ELSE
      RETURN 'unexpected choice';
  END;
END;"""

# as above (searched CASE; closed by END CASE), a statement in a branch
SEARCHED = """DECLARE
  v VARCHAR DEFAULT '{choice}';
BEGIN
  CASE
    WHEN v = 'first choice' THEN
      INSERT INTO picks VALUES ('one');
    WHEN v = 'second choice' THEN
      INSERT INTO picks VALUES ('two');
  END CASE;
  RETURN 'done';
END;"""


async def _run(h: Harness, body: str, name: str, options: str = "") -> tuple[Any, ...]:
    return await h.run_once(name, f"EXECUTE IMMEDIATE $$\n{body}\n$$", options=options)


async def test_a_simple_case_runs_the_branch_of_the_matching_value(harness: Harness, tmp_path: Path) -> None:
    h = harness
    await h.sql(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{tmp_path}/w.db'")
    for name, choice, expected in [("a", "second choice", "two"), ("b", "third", "unexpected choice")]:
        body = SIMPLE.format(choice=choice)
        assert await _run(h, body, name, "WAREHOUSE = 'lite'") == ("SUCCEEDED", expected, None)


async def test_a_searched_case_runs_the_first_true_branch_and_none_when_no_branch_holds(
    harness: Harness, pg_database: PgDatabase
) -> None:
    h = harness
    await h.sql(f"CREATE WAREHOUSE pg TYPE = postgres URL = '{pg_database.url}'")
    await _run(h, "BEGIN\n  CREATE TABLE picks (p VARCHAR);\n  RETURN 1;\nEND;", "setup", "WAREHOUSE = 'pg'")
    assert (await _run(h, SEARCHED.format(choice="first choice"), "a", "WAREHOUSE = 'pg'"))[0] == "SUCCEEDED"
    assert (await _run(h, SEARCHED.format(choice="none"), "b", "WAREHOUSE = 'pg'"))[0] == "SUCCEEDED"
    count = "BEGIN\n  RETURN (SELECT string_agg(p, ',') FROM picks);\nEND;"
    assert await _run(h, count, "c", "WAREHOUSE = 'pg'") == ("SUCCEEDED", "one", None)


async def test_cases_nest_in_loops_on_duckdb(harness: Harness) -> None:
    body = """DECLARE out VARCHAR DEFAULT '';
BEGIN
  FOR i IN 1 TO 4 DO
    CASE (i % 2)
      WHEN 0 THEN out := out || 'e';
      ELSE
        CASE WHEN i = 3 THEN out := out || 'T'; ELSE out := out || 'o'; END CASE;
    END CASE;
  END FOR;
  RETURN out;
END;"""
    assert await _run(harness, body, "t") == ("SUCCEEDED", "oeTe", None)


@pytest.mark.parametrize(
    ("body", "message", "at"),
    [
        (
            "BEGIN\n  CASE (1)\n    WHEN 1 THEN RETURN 1;\n  ELSE RETURN 2;\n  WHEN 2 THEN RETURN 3;\n  END CASE;\nEND;",
            "WHEN after ELSE: ELSE is the last branch of a CASE",
            (6, 3),
        ),
        (
            "BEGIN\n  CASE (1)\n    RETURN 1;\n  END CASE;\nEND;",
            "expected CASE [(<expression>)] WHEN",
            (3, 3),
        ),
        ("BEGIN\n  CASE WHEN 1 = 1 THEN RETURN 1;\n  END IF;\nEND;", "END IF without IF", (4, 3)),
    ],
)
async def test_a_malformed_case_is_refused_at_create(
    harness: Harness, body: str, message: str, at: tuple[int, int]
) -> None:
    with pytest.raises(TasksqlSyntaxError) as caught:
        await harness.sql(f"CREATE TASK t SCHEDULE = '1 MINUTE' AS EXECUTE IMMEDIATE $$\n{body}\n$$")
    err = caught.value
    assert message in err.message, err.message
    assert err.span is not None and (err.span.line, err.span.column) == at
