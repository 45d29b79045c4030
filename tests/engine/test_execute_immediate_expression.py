"""EXECUTE IMMEDIATE with a script computed by an expression, as Databend allows ("scripts that are
not a string literal are left to runtime": databendlabs/databend
tests/sqllogictests/suites/task/task_ddl_test.test): accepted at CREATE with its expression checked,
the script computed and run as a script at each run. Also the literal script made of statements
without BEGIN ... END, run one by one. Real catalog, DuckDB and SQLite warehouses."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.errors import TasksqlError, TasksqlSyntaxError
from tasksql.settings import Settings


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        await eng.execute(f"CREATE WAREHOUSE lite TYPE = sqlite URL = '{tmp_path / 'lite.db'}'")
        yield eng


async def _run_error(engine: Engine, task: str) -> str:
    with pytest.raises(TasksqlError) as err:
        await engine.execute(f"EXECUTE TASK {task}")
    assert err.value.code == "RUN_FAILED"
    return err.value.message


async def test_databend_test_statement_is_left_to_the_run(engine: Engine) -> None:
    await engine.execute(
        "CREATE OR REPLACE TASK task_validation_deferred AS EXECUTE IMMEDIATE 'SELECT ' || 'FROM'"
    )
    message = await _run_error(engine, "task_validation_deferred")
    assert "syntax error" in message and "FROM" in message  # the computed 'SELECT FROM', as Databend


@pytest.mark.parametrize("warehouse", ["default", "lite"])
async def test_the_computed_script_runs_as_a_script(engine: Engine, warehouse: str, tmp_path: Path) -> None:
    await engine.execute(
        f"CREATE TASK t WAREHOUSE = {warehouse} AS EXECUTE IMMEDIATE"
        " 'CREATE TABLE x AS SELECT ' || CAST(6 * 7 AS VARCHAR) || ' AS n; INSERT INTO x VALUES (1)'"
    )
    await engine.execute("EXECUTE TASK t")
    if warehouse == "default":
        rows = [tuple(r) for r in (await engine.execute("SELECT n FROM x ORDER BY n"))[-1].rows]
    else:  # the SQLite warehouse's own file
        with closing(sqlite3.connect(tmp_path / "lite.db")) as con:
            rows = con.execute("SELECT n FROM x ORDER BY n").fetchall()
    assert rows == [(1,), (42,)]


async def test_the_expression_is_checked_at_create(engine: Engine) -> None:
    with pytest.raises(TasksqlSyntaxError) as err:
        await engine.execute("CREATE TASK t AS EXECUTE IMMEDIATE 'SELECT ' || FROM")
    assert (err.value.code, err.value.line, err.value.column) == ("BODY_SYNTAX_ERROR", 1, 49)
    assert (await engine.execute("SHOW TASKS"))[-1].rows == []


async def test_an_expression_without_a_script_fails_the_run(engine: Engine) -> None:
    await engine.execute("CREATE TASK t AS EXECUTE IMMEDIATE NULL")
    assert "EMPTY_SCRIPT" in await _run_error(engine, "t")


async def test_a_literal_script_of_statements_runs_each(engine: Engine) -> None:
    await engine.execute(
        "CREATE TASK t AS EXECUTE IMMEDIATE $$ CREATE TABLE y AS SELECT 1 AS n; INSERT INTO y VALUES (2) $$"
    )
    await engine.execute("EXECUTE TASK t")
    assert [tuple(r) for r in (await engine.execute("SELECT n FROM y ORDER BY n"))[-1].rows] == [(1,), (2,)]
