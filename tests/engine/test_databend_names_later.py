"""A task written the Databend way may name a warehouse or a notification integration that does
not exist yet, as Databend's own task tests do (databendlabs/databend
tests/sqllogictests/suites/task/*.test: WAREHOUSE = 'mywh', ERROR_INTEGRATION = 'notification_2'):
accepted with a notice, its body and session parameters checked as on the default warehouse, its
runs failing with WAREHOUSE_NOT_FOUND until the warehouse is created. Written the Snowflake way
the names must exist. Real catalog, DuckDB warehouses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.errors import TasksqlError
from tasksql.settings import Settings

DATABEND_TASK = """CREATE TASK mytask
  WAREHOUSE = 'mywh'
  SCHEDULE = USING CRON '0 0 0 1 1 ? 2100'
  ERROR_INTEGRATION = 'notify'
  AS SELECT 1"""


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


async def _names(engine: Engine) -> list[str]:
    return [str(t["name"]) for t in (await engine.execute("SHOW TASKS"))[-1].as_dicts()]


async def test_accepted_with_notices_and_runs_once_the_warehouse_exists(
    engine: Engine, tmp_path: Path
) -> None:
    [result] = await engine.execute(DATABEND_TASK)
    notices = " ".join(result.notices)
    assert "warehouse mywh does not exist yet" in notices
    assert "notification integration notify does not exist yet" in notices
    [task] = (await engine.execute("SHOW TASKS"))[-1].as_dicts()
    assert task["warehouse"] == "mywh"

    with pytest.raises(TasksqlError) as err:
        await engine.execute("EXECUTE TASK mytask")
    assert err.value.code == "RUN_FAILED" and "WAREHOUSE_NOT_FOUND" in err.value.message

    await engine.execute(f"CREATE WAREHOUSE mywh URL = '{tmp_path / 'mywh.duckdb'}'")
    await engine.execute("EXECUTE TASK mytask")  # now it runs
    [state] = [
        r["state"]
        for r in (await engine.execute("SELECT state FROM system.task_history ORDER BY run_id"))[
            -1
        ].as_dicts()
    ][-1:]
    assert state == "SUCCEEDED"
    await engine.execute(
        "CREATE NOTIFICATION INTEGRATION notify TYPE = WEBHOOK WEBHOOK = (URL = 'http://127.0.0.1:9/')"
    )
    # the integration the task named is now the task's: it cannot be dropped from under it
    with pytest.raises(TasksqlError) as in_use:
        await engine.execute("DROP NOTIFICATION INTEGRATION notify")
    assert in_use.value.code == "INTEGRATION_IN_USE"


async def test_what_no_warehouse_could_run_is_still_refused(engine: Engine) -> None:
    with pytest.raises(TasksqlError) as err:
        await engine.execute("CREATE TASK t WAREHOUSE = 'mywh' AS EXECUTE IMMEDIATE 'SELECT FROM'")
    assert (err.value.code, err.value.line, err.value.column) == ("BODY_SYNTAX_ERROR", 1, 63)
    with pytest.raises(TasksqlError) as err:
        await engine.execute(
            "CREATE TASK t WAREHOUSE = 'mywh' SCHEDULE = USING CRON '0 0 0 1 1 ? 2100' settings_not_found = '123'"
            " AS SELECT 1"
        )
    assert err.value.code == "UNKNOWN_PARAMETER"
    assert await _names(engine) == []


async def test_alter_accepts_a_databend_task_naming_an_integration_to_come(engine: Engine) -> None:
    await engine.execute(
        "create task alert_task schedule = using cron '*/5 * * * * * *' comment = 'test task'"
        " as select 1 as id, 'test' as name"
    )
    [result] = await engine.execute("alter task alert_task set error_integration = 'notification_2'")
    assert any("notification_2 does not exist yet" in n for n in result.notices)
    [task] = (await engine.execute("SHOW TASKS"))[-1].as_dicts()
    assert task["error_integration"] == "notification_2"


async def test_the_snowflake_spelling_still_needs_them(engine: Engine) -> None:
    with pytest.raises(TasksqlError) as err:
        await engine.execute("CREATE TASK w WAREHOUSE = nowhere SCHEDULE = '1 MINUTE' AS SELECT 1")
    assert (err.value.code, err.value.line, err.value.column) == ("WAREHOUSE_NOT_FOUND", 1, 27)
    with pytest.raises(TasksqlError) as err:
        await engine.execute("CREATE TASK e SCHEDULE = '1 MINUTES' ERROR_INTEGRATION = hook AS SELECT 1")
    assert err.value.code == "INTEGRATION_NOT_FOUND"
    assert await _names(engine) == []
