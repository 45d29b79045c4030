"""The relations of tasks as the other systems name them, through the engine with a real catalog and
DuckDB: Snowflake's <database>.INFORMATION_SCHEMA table functions and SNOWFLAKE.ACCOUNT_USAGE views
(docs.snowflake.com/en/sql-reference/functions/task_history, .../account-usage/task_history), and
Ocient's sys.tasks / sys.subtasks (seed 004: CANCEL TASK names a task id found in sys.subtasks)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.errors import TaskNotFound
from tasksql.settings import Settings


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        await eng.execute(
            "CREATE TASK r SCHEDULE = '1 MINUTE' AS SELECT 1; CREATE TASK c AFTER r AS SELECT 2;"
            "EXECUTE TASK r; EXECUTE TASK r"
        )
        yield eng


async def rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    return (await engine.execute(sql))[-1].rows


async def test_snowflakes_database_qualified_information_schema(engine: Engine) -> None:
    ours = await rows(engine, "SELECT run_id, name, state FROM task_history() ORDER BY run_id")
    assert len(ours) >= 2
    for sql in (
        "SELECT run_id, name, state FROM TABLE(tasksql.INFORMATION_SCHEMA.TASK_HISTORY()) ORDER BY run_id",
        "select run_id, name, state from table(mydb.information_schema.task_history(result_limit => 100))"
        " order by run_id",
    ):
        assert await rows(engine, sql) == ours
    graphs = await rows(
        engine, "SELECT root_task_name FROM TABLE(MYDB.INFORMATION_SCHEMA.COMPLETE_TASK_GRAPHS())"
    )
    assert graphs == await rows(engine, "SELECT root_task_name FROM complete_task_graphs()")


async def test_snowflakes_account_usage_views(engine: Engine) -> None:
    assert await rows(
        engine, "SELECT run_id, state FROM SNOWFLAKE.ACCOUNT_USAGE.TASK_HISTORY ORDER BY run_id"
    ) == await rows(engine, "SELECT run_id, state FROM system.task_history ORDER BY run_id")
    assert await rows(engine, "SELECT count(*) FROM snowflake.account_usage.task_versions") == await rows(
        engine, "SELECT count(*) FROM system.task_versions"
    )
    assert await rows(
        engine, "SELECT count(*) FROM snowflake.account_usage.complete_task_graphs"
    ) == await rows(engine, "SELECT count(*) FROM system.graph_runs")


async def test_ocients_sys_tables(engine: Engine) -> None:
    assert await rows(engine, "SELECT name FROM sys.tasks ORDER BY name") == [("c",), ("r",)]
    assert await rows(engine, "SELECT count(*) FROM sys.subtasks") == await rows(
        engine, "SELECT count(*) FROM system.subtasks"
    )


async def test_ocients_cancel_task_by_its_id(engine: Engine) -> None:
    """Seed 004: CANCEL TASK ('task_name' | 'task_id'); an anonymous CREATE TASK TYPE ... has only its id."""
    await engine.execute("CREATE TASK TYPE rebalance")
    [(name, task_id)] = await rows(engine, "SELECT name, id FROM sys.tasks WHERE name LIKE 'rebalance%'")
    [(status,)] = await rows(engine, f"CANCEL TASK '{task_id}'")
    assert name in status and "0 run(s) cancelled" in status
    with pytest.raises(TaskNotFound):
        await engine.execute("CANCEL TASK '987654'")


async def test_task_history_times_written_with_to_timestamp(engine: Engine) -> None:
    """docs.snowflake.com/en/sql-reference/functions/task_history (to_timestamp_ltz('2018-11-9 12:00:00.000
    -0700')) and Databend's task_history page (TO_TIMESTAMP('2022-01-02T01:12:00-07:00')): the warehouse
    need not have those functions."""
    every = await rows(engine, "SELECT count(*) FROM task_history()")
    sql = (
        "select count(*) from table(information_schema.task_history("
        "scheduled_time_range_start=>to_timestamp_ltz('2000-1-1 00:00:00.000 -0700'),"
        "scheduled_time_range_end=>TO_TIMESTAMP('2100-01-02T01:12:00-07:00')))"
    )
    assert await rows(engine, sql) == every and every[0][0] >= 2
    past = (
        "SELECT count(*) FROM TASK_HISTORY(SCHEDULED_TIME_RANGE_START => TO_TIMESTAMP('2022-01-02T01:12:00-07:00'),"
        " SCHEDULED_TIME_RANGE_END => TO_TIMESTAMP('2022-01-02T02:12:00-07:00'))"
    )
    assert await rows(engine, past) == [(0,)]
