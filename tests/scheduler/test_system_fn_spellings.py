"""SYSTEM$ functions in a task body in the spellings Snowflake's docs use (CALL as a whole statement,
SELECT, inside an expression, inside BEGIN ... END), on every kind of warehouse: real scheduler on
a fake clock, real SQLite catalog, real DuckDB, SQLite, PostgreSQL, MariaDB and ClickHouse."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sched_harness import Harness

# docs.snowflake.com/en/sql-reference/functions/system_set_return_value (the task examples)
SNOWFLAKE_DOCS = "CALL SYSTEM$SET_RETURN_VALUE('The quick brown fox jumps over the lazy dog')"

BODIES = [
    (SNOWFLAKE_DOCS, "The quick brown fox jumps over the lazy dog"),
    ("BEGIN\n  CALL SYSTEM$SET_RETURN_VALUE('in a block');\nEND", "in a block"),
    ("call system$set_return_value('lower case');", "lower case"),
    ("SELECT SYSTEM$SET_RETURN_VALUE('selected')", "selected"),
    ("BEGIN SELECT 1; CALL SYSTEM$SET_RETURN_VALUE('last'); END", "last"),
]


def _sqlite(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    return f"sqlite:///{tmp_path}/w.db"


def _postgres(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("pg_database").url)


def _mariadb(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("mariadb_database").url)


def _clickhouse(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("ch_native_database").url)


WAREHOUSES: dict[str, tuple[str, Callable[[Path, pytest.FixtureRequest], str]] | None] = {
    "duckdb": None,  # the default warehouse
    "sqlite": ("sqlite", _sqlite),
    "postgres": ("postgres", _postgres),
    "mysql": ("mysql", _mariadb),
    "clickhouse": ("clickhouse", _clickhouse),
}


@pytest.mark.parametrize("kind", list(WAREHOUSES))
async def test_every_spelling_sets_the_return_value(
    harness: Harness, kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    h = harness
    spec = WAREHOUSES[kind]
    where = ""
    if spec is not None:
        wh_type, url = spec
        await h.sql(f"CREATE WAREHOUSE wh TYPE = {wh_type} URL = '{url(tmp_path, request)}'")
        where = "WAREHOUSE = wh"
    for i, (body, _) in enumerate(BODIES):
        name = "t" if i == len(BODIES) - 1 else f"t{i}"
        await h.sql(f"CREATE TASK {name} {where} SCHEDULE = '10 SECONDS' AS {body}")
        await h.sql(f"ALTER TASK {name} RESUME")
    await h.tick(advance=10)
    got = await h.rows(
        "SELECT name, state, return_value, error_message FROM task_history() WHERE state <> 'SCHEDULED'"
    )
    by_name = {row[0]: row[1:] for row in got}
    for i, (body, value) in enumerate(BODIES):
        name = "t" if i == len(BODIES) - 1 else f"t{i}"
        assert by_name[name] == ("SUCCEEDED", value, None), body


async def test_a_child_reads_the_value_in_an_expression(harness: Harness) -> None:
    # The child of the same Snowflake example: INSERT ... VALUES(SYSTEM$GET_PREDECESSOR_RETURN_VALUE()).
    h = harness
    await h.sql("CREATE TABLE return_values_table (str VARCHAR)")
    await h.sql(f"CREATE TASK set_return_value_task SCHEDULE = '10 SECONDS' AS {SNOWFLAKE_DOCS}")
    await h.sql(
        "CREATE TASK get_return_value_task AFTER set_return_value_task AS "
        "INSERT INTO return_values_table VALUES(SYSTEM$GET_PREDECESSOR_RETURN_VALUE())"
    )
    await h.sql("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('set_return_value_task')")
    await h.tick(advance=10)
    assert await h.rows("SELECT str FROM return_values_table") == [
        ("The quick brown fox jumps over the lazy dog",)
    ]


async def test_call_and_select_outside_a_body(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TASK r SCHEDULE = '1 MINUTE' AS SELECT 1")
    [(text,)] = await h.rows("CALL SYSTEM$TASK_DEPENDENTS_ENABLE('r')")
    assert text.startswith("Task r and its dependents are started")
    [(text,)] = await h.rows("CALL SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS('r')")
    assert text == "Task r: 0 ongoing execution(s) cancelled."
    [(text,)] = await h.rows("SELECT upper(SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS('r'))")
    assert text == "TASK R: 0 ONGOING EXECUTION(S) CANCELLED."
