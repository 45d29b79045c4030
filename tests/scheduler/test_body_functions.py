"""SYSTEM$ functions inside task bodies, with literal arguments (the path without virtual relations):
real scheduler on a fake clock, real DuckDB warehouse and SQLite catalog."""

from __future__ import annotations

from sched_harness import Harness


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


async def test_an_unknown_runtime_property_fails_the_run_and_names_the_known_ones(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TASK t SCHEDULE = '10 SECONDS' AS SELECT SYSTEM$TASK_RUNTIME_INFO('NO_SUCH_THING')")
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
