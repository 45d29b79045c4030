"""A task written the Databend way may name an ERROR_INTEGRATION that does not exist yet, as
Databend stores the name without looking it up (databendlabs/databend
tests/sqllogictests/suites/task/task_notification_test.test: error_integration = 'notification_2'):
accepted with a notice, bound once the integration is created. Its warehouse must exist, as
Databend's own task service requires (tests/task/test-private-task.sh: "CREATE TASK rejects unknown
warehouse"); written the Snowflake way both must exist. Real catalog, DuckDB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.errors import TasksqlError
from tasksql.settings import Settings


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


async def _names(engine: Engine) -> list[str]:
    return [str(t["name"]) for t in (await engine.execute("SHOW TASKS"))[-1].as_dicts()]


async def test_an_integration_to_come_is_accepted_and_bound_once_created(engine: Engine) -> None:
    [result] = await engine.execute(
        "create task alert_task schedule = using cron '*/5 * * * * * *' error_integration = 'notify'"
        " comment = 'test task' as select 1 as id, 'test' as name"
    )
    assert any("notification integration notify does not exist yet" in n for n in result.notices)
    [result] = await engine.execute("alter task alert_task set error_integration = 'notification_2'")
    assert any("notification_2 does not exist yet" in n for n in result.notices)
    [task] = (await engine.execute("SHOW TASKS"))[-1].as_dicts()
    assert task["error_integration"] == "notification_2"
    await engine.execute(
        "CREATE NOTIFICATION INTEGRATION notification_2 TYPE = WEBHOOK WEBHOOK = (URL = 'http://127.0.0.1:9/')"
    )
    with pytest.raises(TasksqlError) as in_use:  # the task's now: it cannot be dropped from under it
        await engine.execute("DROP NOTIFICATION INTEGRATION notification_2")
    assert in_use.value.code == "INTEGRATION_IN_USE"


async def test_a_missing_warehouse_is_refused_in_every_spelling(engine: Engine) -> None:
    with pytest.raises(TasksqlError) as err:
        await engine.execute(
            "CREATE TASK task_missing_wh WAREHOUSE = 'missing_wh' SCHEDULE = 5 SECOND AS insert into t1 values(0)"
        )
    assert (err.value.code, err.value.line, err.value.column) == ("WAREHOUSE_NOT_FOUND", 1, 41)
    await engine.execute("CREATE TASK move_wh_task SCHEDULE = 2 SECOND AS SELECT 1")
    with pytest.raises(TasksqlError) as err:
        await engine.execute("ALTER TASK move_wh_task SET WAREHOUSE = 'missing_wh'")
    assert err.value.code == "WAREHOUSE_NOT_FOUND"
    await engine.execute("ALTER TASK IF EXISTS missing_task SET WAREHOUSE = 'missing_wh'")  # no task: nothing
    assert await _names(engine) == ["move_wh_task"]


async def test_the_snowflake_spelling_still_needs_the_integration(engine: Engine) -> None:
    with pytest.raises(TasksqlError) as err:
        await engine.execute("CREATE TASK e SCHEDULE = '1 MINUTES' ERROR_INTEGRATION = hook AS SELECT 1")
    assert err.value.code == "INTEGRATION_NOT_FOUND"
    assert await _names(engine) == []
