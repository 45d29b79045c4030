"""Ocient's CANCEL TASK '<task id>' of a number that is neither a task's name nor a task's id:
TASK_NOT_FOUND says both were looked for and where ids are listed (it said 'task "987654" does not
exist', as if the number could only be a name); a name that is no number keeps its message."""

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
        yield eng


async def test_cancel_task_of_an_unknown_number_names_both_lookups(engine: Engine) -> None:
    with pytest.raises(TaskNotFound) as caught:
        await engine.execute("CANCEL TASK '987654'")
    err = caught.value
    assert err.message == "no task is named 987654 or has id 987654 (SHOW TASKS lists names and ids)"
    assert err.span is not None and err.span.column == len("CANCEL TASK ") + 1
    with pytest.raises(TaskNotFound) as named:
        await engine.execute("CANCEL TASK nosuch")
    assert named.value.message == "task nosuch does not exist"
