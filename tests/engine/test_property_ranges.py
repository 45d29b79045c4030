"""Property ranges as the systems document them, and session parameters tasks do not support,
through the engine with a real catalog: boundary values accepted, values outside refused with
the range named, refused parameters never stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.errors import ValidationError
from tasksql.model import MAX_TIMEOUT_MS, effective_timeout_ms
from tasksql.settings import Settings


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


async def _definition(engine: Engine, name: str = "t") -> object:
    [rec] = [r for r in await engine.catalog.list_tasks() if r.name.name == name]
    return rec.definition


async def test_documented_boundaries_are_accepted(engine: Engine) -> None:
    await engine.execute(
        "CREATE TASK t SCHEDULE = '1 MINUTE' USER_TASK_TIMEOUT_MS = 0 TASK_AUTO_RETRY_ATTEMPTS = 30 "
        "SUSPEND_TASK_AFTER_NUM_FAILURES = 0 USER_TASK_MINIMUM_TRIGGER_INTERVAL_IN_SECONDS = 10 AS SELECT 1"
    )
    task = await _definition(engine)
    assert effective_timeout_ms(task) == MAX_TIMEOUT_MS  # type: ignore[arg-type]  # 0: Snowflake's maximum
    [(_, text)] = (await engine.execute("SHOW CREATE TASK t"))[-1].rows
    assert "USER_TASK_TIMEOUT_MS = 0" in text and "TASK_AUTO_RETRY_ATTEMPTS = 30" in text
    await engine.execute("ALTER TASK t SET USER_TASK_TIMEOUT_MS = 604800000")


@pytest.mark.parametrize(
    ("clause", "message"),
    [
        ("TASK_AUTO_RETRY_ATTEMPTS = 31", "TASK_AUTO_RETRY_ATTEMPTS must be between 0 and 30, got 31"),
        ("USER_TASK_TIMEOUT_MS = -1", "USER_TASK_TIMEOUT_MS must be between 0 and 604800000, got -1"),
        ("USER_TASK_MINIMUM_TRIGGER_INTERVAL_IN_SECONDS = 5", "between 10 and 604800, got 5"),
        ("USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE = 'HUGE'", "must be one of XSMALL, X-SMALL"),
        ("AUTOCOMMIT = FALSE", "AUTOCOMMIT = FALSE is not supported for tasks"),
        ("PERIODIC_DATA_REKEYING = TRUE", "PERIODIC_DATA_REKEYING is an account parameter"),
    ],
)
async def test_out_of_range_and_unsupported_are_refused_at_create_and_alter(
    engine: Engine, clause: str, message: str
) -> None:
    with pytest.raises(ValidationError) as err:
        await engine.execute(f"CREATE TASK t SCHEDULE = '1 MINUTE' {clause} AS SELECT 1")
    assert message in err.value.message
    assert (await engine.execute("SHOW TASKS"))[-1].rows == []
    await engine.execute("CREATE TASK t SCHEDULE = '1 MINUTE' AS SELECT 1")
    before = await _definition(engine)
    with pytest.raises(ValidationError) as err:
        await engine.execute(f"ALTER TASK t SET {clause}")
    assert message in err.value.message
    assert await _definition(engine) == before
