"""COPY INTO <table | @stage> in a task body (Databend's and Snowflake's loading from stages, as in
databendlabs/databend tests/sqllogictests/suites/task/tutorial_etl_tasks.test) is refused at CREATE
on a warehouse whose parser refuses it, its message naming what tasksql's warehouses lack and what
to write instead. Real catalog, the default DuckDB warehouse."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.errors import TasksqlSyntaxError
from tasksql.settings import Settings

TUTORIAL = """CREATE OR REPLACE TASK task_load_logs
    WAREHOUSE = 'default'
    SCHEDULE = 1 MINUTE
AS
    COPY INTO raw_logs (doc_id, doc_body)
    FROM (
        SELECT $1:doc_id::STRING,
               $1 AS doc_body
        FROM @citydrive_logs_stage
    )
    PATTERN = '.*[.]ndjson'
    FILE_FORMAT = (TYPE = NDJSON)
    PURGE = true"""


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


async def test_refused_with_what_to_write_instead(engine: Engine) -> None:
    with pytest.raises(TasksqlSyntaxError) as err:
        await engine.execute(TUTORIAL)
    assert (err.value.code, err.value.line, err.value.column) == ("BODY_SYNTAX_ERROR", 5, 10)
    assert "stages, which tasksql's warehouses do not have" in err.value.message
    assert "read_parquet" in err.value.message
    assert (await engine.execute("SHOW TASKS"))[-1].rows == []


async def test_other_syntax_errors_carry_no_such_hint(engine: Engine) -> None:
    with pytest.raises(TasksqlSyntaxError) as err:
        await engine.execute("CREATE TASK t SCHEDULE = 1 MINUTE AS INSERT INTO t SELEC 1")
    assert "stage" not in err.value.message
