"""Back-quoted names (`nightly-export`, `db`.`t`), as Timeplus, ClickHouse and MySQL quote them,
everywhere a name can stand, through the engine with a real catalog and DuckDB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.errors import TasksqlSyntaxError
from tasksql.settings import Settings
from tasksql.sql import parse_one
from tasksql.sql.statements import CreateTask


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        await eng.execute("CREATE TABLE `export-target` (n INTEGER, tag VARCHAR)")
        yield eng


async def test_a_back_quoted_task_runs_into_a_back_quoted_target_and_shows_back(engine: Engine) -> None:
    await engine.execute(
        "CREATE TASK `nightly-export` SCHEDULE 5s TIMEOUT 2s INTO `export-target` AS SELECT 7 AS n, 'a;b' AS tag"
    )
    names = [t["name"] for t in (await engine.execute("SHOW TASKS LIKE 'nightly%'"))[-1].as_dicts()]
    assert names == ["nightly-export"]
    [(_, text)] = (await engine.execute("SHOW CREATE TASK `nightly-export`"))[-1].rows
    assert text.startswith('CREATE TASK "nightly-export"')  # double quotes read back everywhere
    shown = parse_one(text)
    assert isinstance(shown, CreateTask) and shown.definition.name.name == "nightly-export"
    await engine.execute("EXECUTE TASK `nightly-export`")
    rows = (await engine.execute('SELECT n, tag FROM "export-target"'))[-1].rows
    assert rows == [(7, "a;b")]


async def test_back_quotes_in_after_alter_and_drop(engine: Engine) -> None:
    await engine.execute("CREATE TASK `Root-Task` SCHEDULE = '1 MINUTE' AS SELECT 1")
    await engine.execute("CREATE TASK `child` AFTER `Root-Task` AS SELECT 2")
    [child] = [t for t in (await engine.execute("SHOW TASKS"))[-1].as_dicts() if t["name"] == "child"]
    assert "Root-Task" in str(child["predecessors"])  # quoted: the case is kept
    await engine.execute("ALTER TASK `child` SET COMMENT = 'c'")
    await engine.execute("ALTER TASK `Root-Task` SUSPEND")
    await engine.execute("DROP TASK `child`")
    await engine.execute("DROP TASK `Root-Task`")
    assert (await engine.execute("SHOW TASKS"))[-1].rows == []


async def test_an_unterminated_back_quote_is_an_error_at_its_position(engine: Engine) -> None:
    with pytest.raises(TasksqlSyntaxError) as err:
        await engine.execute("CREATE TASK `nightly SCHEDULE 5s AS SELECT 1")
    assert (err.value.code, err.value.line, err.value.column) == ("UNTERMINATED_STRING", 1, 13)
    assert (await engine.execute("SHOW TASKS"))[-1].rows == []
