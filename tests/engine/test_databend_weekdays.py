"""Databend numbers the days of the week as its cron library does (1-7, Sunday = 1); Snowflake,
VoltDB and Unix cron number them 0-7 with 1 for Monday. Through the engine, against a real catalog:
what runs (next_runs), SHOW TASKS and its schedule in words, SHOW CREATE TASK read back.

Source: zslayton/cron src/time_unit/days_of_week.rs (the crate behind Databend's
cron::Schedule::upcoming): inclusive_min 1, inclusive_max 7, "sun" => 1, matched against
chrono's weekday().number_from_sunday().
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.errors import ScheduleError
from tasksql.model import CronSchedule, DayNumbering
from tasksql.schedules.words import words_for_text
from tasksql.settings import Settings
from tasksql.sql import parse_one
from tasksql.sql.statements import CreateTask

AFTER = "TIMESTAMP '2026-12-07 06:00:00'"  # a Monday


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


async def _weekdays(engine: Engine, task: str, n: int = 3) -> list[str]:
    query = f"SELECT scheduled_time FROM next_runs('{task}', {n}, {AFTER})"
    rows = (await engine.execute(query))[-1].rows
    out = []
    for (when,) in rows:
        assert isinstance(when, datetime)
        out.append(when.strftime("%a %H:%M"))
    return out


async def test_databend_and_snowflake_read_the_same_number_as_their_own_day(engine: Engine) -> None:
    await engine.execute(
        "CREATE TASK db_task WAREHOUSE = 'default' SCHEDULE = USING CRON '0 0 9 * * 2' 'UTC' AS SELECT 1"
    )
    await engine.execute("CREATE TASK sf_task SCHEDULE = 'USING CRON 0 9 * * 2 UTC' AS SELECT 1")
    await engine.execute("CREATE TASK vdb_task ON SCHEDULE CRON 0 0 9 * * 2 PROCEDURE p")
    assert await _weekdays(engine, "db_task") == ["Mon 09:00"] * 3
    assert await _weekdays(engine, "sf_task") == ["Tue 09:00"] * 3
    assert await _weekdays(engine, "vdb_task") == ["Tue 09:00"] * 3

    tasks = {t["name"]: t for t in (await engine.execute("SHOW TASKS"))[-1].as_dicts()}
    assert tasks["db_task"]["schedule"] == "CRON 0 0 9 * * 2 TIMEZONE UTC"
    assert tasks["sf_task"]["schedule"] == "USING CRON 0 9 * * 2 UTC"
    assert words_for_text(tasks["db_task"]["schedule"]) == "at 09:00 on Mondays, UTC"
    assert words_for_text(tasks["sf_task"]["schedule"]) == "at 09:00 on Tuesdays, UTC"


async def test_show_create_task_reads_back_the_same_days(engine: Engine) -> None:
    weekdays_9am = ["Mon 09:00", "Tue 09:00", "Wed 09:00", "Thu 09:00", "Fri 09:00"]
    # 09:00 in Tokyo is 00:00 UTC; on Monday it has passed at 06:00 UTC.
    tokyo = ["Tue 00:00", "Wed 00:00", "Thu 00:00", "Fri 00:00", "Mon 00:00"]
    for create, runs in (
        (
            "CREATE TASK db_task WAREHOUSE = 'default' SCHEDULE = USING CRON '0 0 9 ? * 2-6' 'Asia/Tokyo' AS SELECT 1",
            tokyo,
        ),
        ("CREATE TASK vdb_task ON SCHEDULE CRON 0 0 9 * * 1-5 PROCEDURE p", weekdays_9am),
        ("CREATE TASK sf_task SCHEDULE = 'USING CRON 0 0 9 * * 1-5 UTC' AS SELECT 1", weekdays_9am),
    ):
        await engine.execute(create)
        name = create.split()[2]
        [(_, text)] = (await engine.execute(f"SHOW CREATE TASK {name}"))[-1].rows
        shown, written = parse_one(text), parse_one(create)
        assert isinstance(shown, CreateTask) and isinstance(written, CreateTask)
        assert shown.definition.schedule == written.definition.schedule, text
        assert await _weekdays(engine, name, 5) == runs, name  # Monday to Friday in every spelling


async def test_alter_to_a_databend_cron_changes_the_numbering(engine: Engine) -> None:
    await engine.execute("CREATE TASK t SCHEDULE = 'USING CRON 0 9 * * 1 UTC' AS SELECT 1")
    assert await _weekdays(engine, "t", 1) == ["Mon 09:00"]
    await engine.execute("ALTER TASK t SET SCHEDULE = USING CRON '0 0 9 * * 1' 'UTC'")
    assert await _weekdays(engine, "t", 1) == ["Sun 09:00"]


async def test_day_zero_is_refused_in_databend_numbers_and_changes_nothing(engine: Engine) -> None:
    with pytest.raises(ScheduleError) as err:
        await engine.execute("CREATE TASK t SCHEDULE = USING CRON '0 0 9 * * 0' 'UTC' AS SELECT 1")
    assert err.value.code == "INVALID_CRON"
    assert "1-7" in err.value.message and "Sunday = 1" in err.value.message
    assert (err.value.line, err.value.column) == (1, 48)
    assert (await engine.execute("SHOW TASKS"))[-1].rows == []


def test_five_fields_in_the_databend_form_stay_unix() -> None:
    """Databend's library takes no 5-field expression, so one is read as Unix cron."""
    stmt = parse_one("CREATE TASK t SCHEDULE = USING CRON '0 9 * * 1' 'UTC' AS SELECT 1")
    assert isinstance(stmt, CreateTask)
    assert stmt.definition.schedule == CronSchedule("0 9 * * 1", "UTC", DayNumbering.UNIX)
