"""Task statements inside a task body (databendlabs/databend
tests/sqllogictests/suites/task/task_nested_ddl.test): accepted at CREATE and ALTER ... MODIFY AS,
read by tasksql's parser rather than the warehouse's, stored as written; a run sends them to the
warehouse, which refuses them (docs/sql-reference.md). Real catalog, DuckDB and SQLite warehouses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.errors import TasksqlError, TasksqlSyntaxError
from tasksql.settings import Settings
from tasksql.sql import parse_one
from tasksql.sql.statements import CreateTask

DRIVER = """CREATE TASK nested_ddl_driver
    WAREHOUSE = {warehouse}
    SCHEDULE = 60 MINUTE
AS BEGIN
    ALTER TASK nested_ddl_target MODIFY AS SELECT 2;
END;"""

MODIFIED = """ALTER TASK nested_ddl_driver MODIFY AS BEGIN
    CREATE TASK nested_ddl_target AS SELECT 1;
    CREATE TASK nested_ddl_child AS BEGIN
        ALTER TASK nested_ddl_target MODIFY AS BEGIN SELECT 2; END;
    END;
END;"""


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        await eng.execute(f"CREATE WAREHOUSE lite TYPE = sqlite URL = '{tmp_path / 'lite.db'}'")
        yield eng


async def _body(engine: Engine) -> str:
    [(_, text)] = (await engine.execute("SHOW CREATE TASK nested_ddl_driver"))[-1].rows
    shown = parse_one(text)
    assert isinstance(shown, CreateTask)
    body = shown.definition.body
    return str(getattr(body, "text", ""))


@pytest.mark.parametrize("warehouse", ["'default'", "lite"])
async def test_created_modified_and_shown_as_written(engine: Engine, warehouse: str) -> None:
    await engine.execute(DRIVER.format(warehouse=warehouse))
    assert "ALTER TASK nested_ddl_target MODIFY AS SELECT 2;" in await _body(engine)
    await engine.execute(MODIFIED)
    body = await _body(engine)
    assert "CREATE TASK nested_ddl_child AS BEGIN" in body
    assert "ALTER TASK nested_ddl_target MODIFY AS BEGIN SELECT 2; END;" in body
    # the nested statements created nothing: only the driver exists
    names = [t["name"] for t in (await engine.execute("SHOW TASKS"))[-1].as_dicts()]
    assert names == ["nested_ddl_driver"]


async def test_a_nested_error_changes_nothing(engine: Engine) -> None:
    await engine.execute(DRIVER.format(warehouse="'default'"))
    before = await _body(engine)
    bad = "ALTER TASK nested_ddl_driver MODIFY AS BEGIN\n    ALTER TASK nested_ddl_target MODIFY AS SELECT 2\nEND;"
    with pytest.raises(TasksqlSyntaxError) as err:
        await engine.execute(bad)
    assert (err.value.line, err.value.column) == (3, 1)  # the END the nested statement swallowed
    nested_bad = "ALTER TASK nested_ddl_driver MODIFY AS BEGIN\n    ALTER TASK x MODIFY AS SELEC 2;\nEND;"
    with pytest.raises(TasksqlSyntaxError) as err:
        await engine.execute(nested_bad)
    assert (err.value.code, err.value.line, err.value.column) == ("BODY_SYNTAX_ERROR", 2, 28)
    assert await _body(engine) == before


async def test_a_run_sends_them_to_the_warehouse_which_refuses_them(engine: Engine) -> None:
    await engine.execute("CREATE TASK nested_ddl_target SCHEDULE = 60 MINUTE AS SELECT 1")
    await engine.execute(DRIVER.format(warehouse="'default'"))
    with pytest.raises(TasksqlError) as err:
        await engine.execute("EXECUTE TASK nested_ddl_driver")
    assert err.value.code == "RUN_FAILED"
    [(_, text)] = (await engine.execute("SHOW CREATE TASK nested_ddl_target"))[-1].rows
    assert text.rstrip(";").endswith("SELECT 1")  # the nested ALTER did not run
