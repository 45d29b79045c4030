"""DROP SECRET of a name neither tasksql nor DuckDB has is SECRET_NOT_FOUND naming both places (it
was DuckDB's own 'Failed to remove non-existent secret', QUERY_FAILED, which never said that
tasksql has no such secret either); IF EXISTS still succeeds (DuckDB's own
secrets still drop: tests/engine/test_secrets.py)."""

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


async def test_dropping_a_secret_nobody_has_is_secret_not_found(engine: Engine) -> None:
    with pytest.raises(TasksqlError) as caught:
        await engine.execute("DROP SECRET nosuch_secret")
    err = caught.value
    assert err.code == "SECRET_NOT_FOUND", err.render()
    assert "nosuch_secret" in err.message and "DuckDB" in err.message and "SHOW SECRETS" in err.message
    assert err.span is not None and err.span.column == len("DROP SECRET ") + 1
    await engine.execute("DROP SECRET IF EXISTS nosuch_secret")
