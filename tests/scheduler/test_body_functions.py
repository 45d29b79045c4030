"""SYSTEM$ functions inside task bodies, with literal arguments (the path without virtual relations):
real scheduler on a fake clock, real DuckDB warehouse and SQLite catalog."""

from __future__ import annotations

import asyncio

import pytest
from sched_harness import Harness

from tasksql.errors import ValidationError


async def test_task_runtime_info_gives_the_runs_own_facts(harness: Harness) -> None:
    h = harness
    await h.sql(
        "CREATE TABLE facts (name VARCHAR, run_id BIGINT, attempt INT, scheduled VARCHAR, who VARCHAR)"
    )
    await h.sql(
        "CREATE TASK t SCHEDULE = '10 SECONDS' AS INSERT INTO facts SELECT "
        "SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_NAME'), SYSTEM$TASK_RUNTIME_INFO('current_run_id'), "
        "SYSTEM$TASK_RUNTIME_INFO('CURRENT_ATTEMPT_NUMBER'), "
        "SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_SCHEDULED_TIME'), SYSTEM$CURRENT_USER_TASK_NAME()"
    )
    await h.sql("ALTER TASK t RESUME")
    await h.tick(advance=10)
    [(name, run_id, attempt, scheduled, who)] = await h.rows("SELECT * FROM facts")
    [(stored_id, stored_time)] = await h.rows(
        "SELECT run_id, scheduled_time FROM task_history(task_name => 't') WHERE state = 'SUCCEEDED'"
    )
    assert run_id == stored_id and attempt == 1
    assert name == who and name.endswith("t")
    assert scheduled == stored_time.isoformat()


async def test_an_unknown_runtime_property_written_literally_is_refused_at_create(harness: Harness) -> None:
    with pytest.raises(ValidationError) as info:
        await harness.sql(
            "CREATE TASK t SCHEDULE = '10 SECONDS' AS SELECT SYSTEM$TASK_RUNTIME_INFO('NO_SUCH_THING')"
        )
    assert info.value.code == "INVALID_ARGUMENT"
    assert (info.value.span.line, info.value.span.column) == (1, 74)  # type: ignore[union-attr]
    assert "'NO_SUCH_THING'" in info.value.message and "CURRENT_RUN_ID" in info.value.message
    assert await harness.rows("SHOW TASKS") == []


async def test_an_unknown_runtime_property_fails_the_run_and_names_the_known_ones(harness: Harness) -> None:
    h = harness
    # an expression: its value is known only when the run evaluates it
    await h.sql(
        "CREATE TASK t SCHEDULE = '10 SECONDS' AS SELECT SYSTEM$TASK_RUNTIME_INFO('NO_SUCH_' || 'THING')"
    )
    await h.sql("ALTER TASK t RESUME")
    await h.tick(advance=10)
    [(state, code, message)] = await h.rows(
        "SELECT state, error_code, error_message FROM task_history(task_name => 't') WHERE state <> 'SCHEDULED'"
    )
    assert (state, code) == ("FAILED", "INVALID_ARGUMENT")
    assert "'NO_SUCH_THING'" in message and "CURRENT_RUN_ID" in message


async def test_set_return_value_is_recorded_with_the_run(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TASK t SCHEDULE = '10 SECONDS' AS SELECT SYSTEM$SET_RETURN_VALUE('all good')")
    await h.sql("ALTER TASK t RESUME")
    await h.tick(advance=10)
    [(state, value)] = await h.rows(
        "SELECT state, return_value FROM task_history(task_name => 't') WHERE state <> 'SCHEDULED'"
    )
    assert (state, value) == ("SUCCEEDED", "all good")


async def test_task_runtime_info_gives_the_graphs_root_and_its_last_success(harness: Harness) -> None:
    """docs.snowflake.com/en/sql-reference/functions/system_task_runtime_info: CURRENT_ROOT_TASK_NAME,
    CURRENT_ROOT_TASK_UUID (the root's SHOW TASKS id) and the graph run that last SUCCEEDED before
    this one, the run a body processes data since."""
    h = harness
    await h.sql("CREATE TABLE facts (root VARCHAR, root_id VARCHAR, last_group VARCHAR, last_time VARCHAR)")
    await h.sql("CREATE TASK r SCHEDULE = '10 SECONDS' AS SELECT 1")
    await h.sql(
        "CREATE TASK c AFTER r AS INSERT INTO facts SELECT "
        "SYSTEM$TASK_RUNTIME_INFO('CURRENT_ROOT_TASK_NAME'), SYSTEM$TASK_RUNTIME_INFO('CURRENT_ROOT_TASK_UUID'), "
        "SYSTEM$TASK_RUNTIME_INFO('LAST_SUCCESSFUL_TASK_GRAPH_RUN_GROUP_ID'), "
        "SYSTEM$TASK_RUNTIME_INFO('LAST_SUCCESSFUL_TASK_GRAPH_ORIGINAL_SCHEDULED_TIMESTAMP')"
    )
    await h.sql("ALTER TASK c RESUME")
    await h.sql("ALTER TASK r RESUME")
    await h.tick(advance=10)
    await h.tick(advance=10)
    [(root_id,)] = await h.rows("SELECT id FROM system.tasks WHERE name = 'r'")
    graphs = await h.rows(
        "SELECT graph_run_group_id, scheduled_time FROM complete_task_graphs() ORDER BY scheduled_time"
    )
    assert len(graphs) == 2
    rows = await h.rows("SELECT * FROM facts ORDER BY last_time NULLS FIRST")
    assert [(root.rsplit(".", 1)[-1], rid) for root, rid, _, _ in rows] == [("r", str(root_id))] * 2
    # the first graph run has no success before it; the second sees the first
    assert [(g, t) for _, _, g, t in rows] == [(None, None), (graphs[0][0], graphs[0][1].isoformat())]


async def test_a_standalone_tasks_last_success_is_its_own_last_succeeded_run(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TABLE facts (root VARCHAR, last_time VARCHAR)")
    await h.sql(
        "CREATE TASK t SCHEDULE = '10 SECONDS' AS INSERT INTO facts SELECT "
        "SYSTEM$TASK_RUNTIME_INFO('CURRENT_ROOT_TASK_NAME'), "
        "SYSTEM$TASK_RUNTIME_INFO('LAST_SUCCESSFUL_TASK_GRAPH_ORIGINAL_SCHEDULED_TIMESTAMP')"
    )
    await h.sql("ALTER TASK t RESUME")
    await h.tick(advance=10)
    await h.tick(advance=10)
    [(first,), _] = await h.rows(
        "SELECT scheduled_time FROM task_history(task_name => 't') WHERE state = 'SUCCEEDED' ORDER BY run_id"
    )
    rows = await h.rows("SELECT * FROM facts ORDER BY last_time NULLS FIRST")
    assert [r.rsplit(".", 1)[-1] for r, _ in rows] == ["t", "t"]
    assert [t for _, t in rows] == [None, first.isoformat()]


async def test_system_wait_waits_in_a_body_and_gives_snowflakes_value(harness: Harness) -> None:
    """docs.snowflake.com/en/sql-reference/functions/system_wait: CALL SYSTEM$WAIT(2, 'MINUTES') is
    'waited 2 minutes'; the wait is real time, like a query that takes that long."""
    h = harness
    await h.sql("CREATE TABLE waited (v VARCHAR)")
    await h.sql(
        "CREATE TASK t SCHEDULE = '10 SECONDS' AS "
        "INSERT INTO waited SELECT SYSTEM$WAIT(300, 'MILLISECONDS') UNION ALL SELECT system$wait(0)"
    )
    await h.sql("ALTER TASK t RESUME")
    loop = asyncio.get_running_loop()
    began = loop.time()
    await h.tick(advance=10)
    assert loop.time() - began >= 0.3
    assert sorted(await h.rows("SELECT v FROM waited")) == [
        ("waited 0 seconds",),
        ("waited 300 milliseconds",),
    ]


async def test_system_wait_ends_at_the_runs_timeout(harness: Harness) -> None:
    h = harness
    await h.sql(
        "CREATE TASK t SCHEDULE = '10 SECONDS' USER_TASK_TIMEOUT_MS = 200 AS SELECT SYSTEM$WAIT(1, 'HOURS')"
    )
    await h.sql("ALTER TASK t RESUME")
    await asyncio.wait_for(h.tick(advance=10), timeout=30)
    [(state, code)] = await h.rows(
        "SELECT state, error_code FROM task_history(task_name => 't') WHERE state <> 'SCHEDULED'"
    )
    assert (state, code) == ("FAILED", "TIMEOUT_EXCEEDED")


async def test_system_wait_refuses_an_unknown_unit_at_create(harness: Harness) -> None:
    with pytest.raises(ValidationError) as info:
        await harness.sql("CREATE TASK t SCHEDULE = '10 SECONDS' AS CALL SYSTEM$WAIT(1, 'FORTNIGHTS')")
    assert info.value.code == "INVALID_ARGUMENT"
    assert (info.value.span.line, info.value.span.column) == (1, 62)  # type: ignore[union-attr]
    assert "FORTNIGHTS" in info.value.message and "MILLISECONDS" in info.value.message
    assert await harness.rows("SHOW TASKS") == []


async def test_system_wait_in_a_statement_of_its_own(harness: Harness) -> None:
    assert await harness.rows("SELECT SYSTEM$WAIT(1, 'MILLISECONDS')") == [("waited 1 milliseconds",)]
