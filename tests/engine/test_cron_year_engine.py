"""Databend's 7-field cron (seconds first, '?' and a year) through the engine: CREATE, SHOW TASKS,
SHOW CREATE TASK and next_runs, against a real catalog."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.errors import ScheduleError
from tasksql.settings import Settings
from tasksql.sql import parse_one
from tasksql.sql.statements import CreateTask

# databendlabs/databend tests/sqllogictests/suites/task/task_ddl_test.test
SESSION_TASK = (
    "CREATE TASK sessionTask\n  WAREHOUSE = 'default'\n"
    "  SCHEDULE = USING CRON '0 0 0 1 1 ? 2100' 'America/Los_Angeles'\n  AS SELECT 1;"
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


async def test_year_field_round_trips_and_lists_its_one_run(engine: Engine) -> None:
    await engine.execute(SESSION_TASK)
    [task] = (await engine.execute("SHOW TASKS"))[-1].as_dicts()
    assert task["schedule"] == "CRON 0 0 0 1 1 ? 2100 TIMEZONE America/Los_Angeles"
    [(_, text)] = (await engine.execute("SHOW CREATE TASK sessionTask"))[-1].rows
    assert "USING CRON '0 0 0 1 1 ? 2100' 'America/Los_Angeles'" in text
    shown, written = parse_one(text), parse_one(SESSION_TASK)
    assert isinstance(shown, CreateTask) and isinstance(written, CreateTask)
    assert shown.definition == written.definition
    query = "SELECT n, scheduled_time, local_time FROM next_runs('sessionTask', 3)"
    runs = (await engine.execute(query))[-1].rows
    assert len(runs) == 1  # 1 January 2100 is the only time the expression selects
    assert str(runs[0][2]).startswith("2100-01-01T00:00:00-08:00")


async def test_a_year_out_of_range_is_refused_and_changes_nothing(engine: Engine) -> None:
    with pytest.raises(ScheduleError) as err:
        await engine.execute("CREATE TASK t SCHEDULE = USING CRON '0 0 0 1 1 ? 2101' AS SELECT 1")
    assert err.value.code == "INVALID_CRON"
    assert "year 2101 is out of range 1970-2100" in err.value.message
    assert (err.value.line, err.value.column) == (1, 50)
    assert (await engine.execute("SHOW TASKS"))[-1].rows == []
