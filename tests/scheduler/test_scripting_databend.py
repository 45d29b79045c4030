"""Databend's script blocks as task bodies: the EXECUTE IMMEDIATE $$ BEGIN ... END $$ examples of
databendlabs/databend tests/sqllogictests/suites/base/15_procedure/15_0001_execute_immediate.test
(RESULTSET := SELECT ... without parentheses, FOR <row> IN <RESULTSET or SELECT ...>, a counter
FOR over a variable of its own name, WHILE without parentheses, RETURN; and RETURN TABLE(...)),
run as tasks on DuckDB; Databend's numbers(n) is written as DuckDB's range(n)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sched_harness import Harness

NUMBERS = "(SELECT range AS number FROM range({n}))"


async def _run(h: Harness, body: str) -> tuple[Any, ...]:
    return await h.run_once("t", f"EXECUTE IMMEDIATE $$\n{body}\n$$")


RESULTSET_INSERTS = f"""BEGIN
    LET RES RESULTSET := select  number % 3 a, number % 4 b from {NUMBERS.format(n=10)};
    LET SUM := 0;
    CREATE OR REPLACE TABLE abc(a int, b int);
    for x in RES do
        LET A := x.a;
        LET B := x.b;
        INSERT INTO abc VALUES (:A, :B);
        SUM := SUM + A;
        SUM := SUM + B;
    end for;
    return SUM;
END;"""

COUNTER_OF_ITS_OWN_NAME = """BEGIN
    LET x := -1;
    LET sum := 0;
    FOR x IN x TO x + 3 DO
        sum := sum + x;
    END FOR;
    RETURN sum;
END;"""

FOR_OVER_A_QUERY = f"""BEGIN
    LET sum := 0;
    FOR x IN SELECT * FROM {NUMBERS.format(n=100)} DO
        sum := sum + x.number;
    END FOR;
    RETURN sum;
END;"""

ROW_NAMED_AS_ITS_RESULTSET = f"""BEGIN
    LET x RESULTSET := SELECT * FROM {NUMBERS.format(n=100)};
    LET sum := 0;
    FOR x IN x DO
        sum := sum + x.number;
    END FOR;
    RETURN sum;
END;"""

WHILE_WITHOUT_PARENTHESES = """BEGIN
    LET sum := 0;
    WHILE sum < 100 DO
        sum := sum +1;
    END WHILE;
    RETURN sum;
END;"""


@pytest.mark.parametrize(
    ("body", "value"),
    [
        (COUNTER_OF_ITS_OWN_NAME, "2"),
        (FOR_OVER_A_QUERY, "4950"),
        (ROW_NAMED_AS_ITS_RESULTSET, "4950"),
        (WHILE_WITHOUT_PARENTHESES, "100"),
        ("BEGIN\n    RETURN;\nEND;", None),
        ("BEGIN\n    LET x := 1;\n    RETURN TABLE(SELECT :x + 1);\nEND;", None),
        ("BEGIN\n    let x RESULTSET :=  EXECUTE IMMEDIATE 'select 333';\n    RETURN TABLE(x);\nEND;", None),
    ],
)
async def test_databends_script_examples_run_as_tasks(harness: Harness, body: str, value: str | None) -> None:
    assert await _run(harness, body) == ("SUCCEEDED", value, None)


async def test_a_resultset_loop_inserts_each_row(harness: Harness) -> None:
    assert await _run(harness, RESULTSET_INSERTS) == ("SUCCEEDED", "22", None)
    assert await harness.rows("SELECT count(*), sum(a), sum(b) FROM abc") == [(10, 9, 13)]


async def test_return_table_of_a_failing_query_fails_the_run(harness: Harness) -> None:
    state, _, error = await _run(harness, "BEGIN\n    RETURN TABLE(SELECT * FROM no_such_table);\nEND;")
    assert state == "FAILED" and error is not None and "no_such_table" in error


async def _run_as(h: Harness, name: str, schedule: str, body: str) -> tuple[str, str | None, str | None]:
    await h.sql(f"CREATE TASK {name} SCHEDULE = {schedule} AS EXECUTE IMMEDIATE $$\n{body}\n$$")
    await h.sql(f"ALTER TASK {name} RESUME")
    await asyncio.wait_for(h.tick(advance=60), timeout=120)
    await h.sql(f"ALTER TASK {name} SUSPEND")
    [row] = await h.rows(
        f"SELECT state, return_value, error_message FROM task_history(task_name => '{name}')"
        " WHERE state <> 'SCHEDULED'"
    )
    return row


EMPTY_RANGE = "BEGIN\n    FOR x IN 1 TO -1 DO\n        RETURN x;\n    END FOR;\nEND;"
EMPTY_REVERSE = (
    "BEGIN\n    FOR x IN REVERSE 3 TO 1 DO\n        RETURN;\n    END FOR;\n    RETURN 'none';\nEND;"
)


async def test_a_for_loop_past_its_end_fails_a_databend_task_and_runs_no_iteration_in_snowflakes(
    harness: Harness,
) -> None:
    # 15_0001_execute_immediate.test: "query error start must be less than or equal to end when step
    # is positive" for FOR x IN 1 TO -1; script-error.txt: REVERSE 3 TO 1, "greater than or equal";
    # a task in Databend's spelling (SCHEDULE = 1 MINUTE) runs it as Databend does
    state, _, error = await _run_as(harness, "d1", "1 MINUTE", EMPTY_RANGE)
    assert state == "FAILED" and error is not None
    assert "start must be less than or equal to end when step is positive" in error
    state, _, error = await _run_as(harness, "d2", "1 MINUTE", EMPTY_REVERSE)
    assert state == "FAILED" and error is not None
    assert "start must be greater than or equal to end when step is negative" in error
    # Snowflake's FOR runs no iteration when the start is past the end
    assert await _run_as(harness, "s1", "'1 MINUTE'", EMPTY_RANGE) == ("SUCCEEDED", None, None)
    assert await _run_as(harness, "s2", "'1 MINUTE'", EMPTY_REVERSE) == ("SUCCEEDED", "none", None)
