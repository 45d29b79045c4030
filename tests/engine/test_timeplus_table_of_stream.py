"""Timeplus's ``table(<stream>)`` in a task body (docs.timeplus.com/task: "A Timeplus Scheduled Task
runs a historical query"; a historical query reads a stream with ``FROM table(s)``): the stream is a
table on tasksql's warehouses, so the body reads its rows. Through the engine, a real catalog and
DuckDB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.errors import TasksqlSyntaxError
from tasksql.settings import Settings
from tasksql.sql.table_of_stream import unwrap_table_of_stream


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        await eng.execute("CREATE STREAM node_events (node_id string, state string)")
        await eng.execute("INSERT INTO node_events (node_id, state) VALUES ('n1', 'up'), ('n2', 'down')")
        await eng.execute("CREATE STREAM node_counts (n int64)")
        yield eng


async def test_a_historical_query_of_a_stream_runs_into_a_target_stream(engine: Engine) -> None:
    await engine.execute(
        "CREATE TASK count_nodes SCHEDULE 5s TIMEOUT 2s INTO node_counts AS\n"
        "SELECT count(*) AS n FROM table(node_events) WHERE state = 'up'"
    )
    await engine.execute("EXECUTE TASK count_nodes")
    rows = (await engine.execute("SELECT n FROM node_counts"))[-1].rows
    assert rows == [(1,)]


async def test_table_of_a_stream_in_a_join_and_a_qualified_name(engine: Engine) -> None:
    await engine.execute("CREATE TABLE seen (node_id VARCHAR)")
    await engine.execute(
        "CREATE TASK copy_up SCHEDULE 5s AS INSERT INTO seen "
        "SELECT e.node_id FROM TABLE(main.node_events) AS e JOIN table (node_events) AS f USING (node_id) "
        "WHERE e.state = 'down'"
    )
    await engine.execute("EXECUTE TASK copy_up")
    assert (await engine.execute("SELECT node_id FROM seen"))[-1].rows == [("n2",)]


_BAD_HEAD = "CREATE TASK bad SCHEDULE 5s INTO node_counts AS SELECT count(*) FROM table(node_events) WHER "


async def test_a_syntax_error_after_table_of_a_stream_keeps_its_position(engine: Engine) -> None:
    with pytest.raises(TasksqlSyntaxError) as err:
        await engine.execute(f"{_BAD_HEAD}1")
    # WHER reads as an alias; DuckDB stops at the 1 after it, where the user wrote it
    assert (err.value.code, err.value.line, err.value.column) == ("BODY_SYNTAX_ERROR", 1, len(_BAD_HEAD) + 1)
    assert (await engine.execute("SHOW TASKS"))[-1].rows == []


def test_the_rewrite_keeps_offsets_and_leaves_calls_strings_and_other_words_alone() -> None:
    text = "SELECT 'table(s)', x FROM table(s) JOIN TABLE(information_schema.task_history()) USING (a)"
    out = unwrap_table_of_stream(text)
    assert len(out) == len(text)
    assert out == "SELECT 'table(s)', x FROM       s  JOIN TABLE(information_schema.task_history()) USING (a)"
    assert unwrap_table_of_stream("CREATE TABLE t (a INT)") == "CREATE TABLE t (a INT)"
    assert unwrap_table_of_stream("SELECT 'unterminated") == "SELECT 'unterminated"
