"""TASK_HISTORY's RESULT_LIMIT: at most 10,000 rows, a larger limit clamped as Databend's task tests
expect (databendlabs/databend tests/task/test-private-task.sh: "TASK_HISTORY clamps explicit
result limits without dropping valid rows"); below 1 it is an error. Real catalog, DuckDB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.errors import ValidationError
from tasksql.settings import Settings


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        await eng.execute("CREATE TASK limit_history_task SCHEDULE = 1 MINUTE AS SELECT 1")
        for _ in range(3):
            await eng.execute("EXECUTE TASK limit_history_task")
        yield eng


async def _count(engine: Engine, limit: int) -> int:
    sql = f"SELECT count(*) FROM TASK_HISTORY(TASK_NAME => 'limit_history_task', RESULT_LIMIT => {limit})"
    [(n,)] = (await engine.execute(sql))[-1].rows
    return int(n)


async def test_a_limit_above_the_maximum_is_clamped(engine: Engine) -> None:
    assert await _count(engine, 100000) == 3
    assert await _count(engine, 2) == 2


async def test_a_limit_below_one_is_an_error(engine: Engine) -> None:
    with pytest.raises(ValidationError) as err:
        await _count(engine, 0)
    assert err.value.code == "INVALID_ARGUMENT"
