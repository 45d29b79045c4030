"""The Python API: ``tasksql.connect()``, results, and the background scheduler."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import tasksql
from tasksql.errors import TasksqlError


def test_connect_runs_statements_and_returns_rows_and_columns(tmp_path: Path) -> None:
    with tasksql.connect(tmp_path / "data") as db:
        assert not db.remote
        db.sql("CREATE TABLE t AS SELECT range AS x FROM range(3)")
        result = db.sql("SELECT x, x * 2 AS y FROM t ORDER BY x")
        assert result.columns == ("x", "y")
        assert result.rows == [(0, 0), (1, 2), (2, 4)]
        assert list(result) == result.rows
        assert result.as_dicts()[1] == {"x": 1, "y": 2}
        assert [r.statement for r in db.sql_all("SELECT 1; SHOW TASKS")] == ["SELECT", "SHOW TASKS"]
    # the data is there after reopening
    with tasksql.connect(tmp_path / "data") as db:
        assert db.sql("SELECT count(*) FROM t").rows == [(3,)]


def test_errors_are_tasksql_errors(tmp_path: Path) -> None:
    with tasksql.connect(tmp_path / "data") as db, pytest.raises(TasksqlError) as err:
        db.sql("CREATE TASK t SCHEDULE = 'every day' AS SELECT 1")
    assert err.value.line == 1


@pytest.mark.realtime
def test_start_runs_tasks_in_the_background_and_stop_cancels_in_flight_runs(tmp_path: Path) -> None:
    with tasksql.connect(tmp_path / "data", grace_period_s=0.5) as db:
        db.sql("CREATE TABLE ticks (ts TIMESTAMPTZ)")
        db.sql("CREATE TASK tick SCHEDULE 1s AS INSERT INTO ticks SELECT now()")
        db.sql("CREATE TASK slow SCHEDULE 1s AS SELECT sum(hash(i)) FROM range(100000000000) t(i)")
        db.start()
        deadline = time.monotonic() + 30
        while db.sql("SELECT count(*) FROM ticks").rows[0][0] < 2:
            assert time.monotonic() < deadline, "the background scheduler did not run the task"
            time.sleep(0.2)
        db.stop()
        states = db.sql("SELECT DISTINCT state FROM task_history(task_name => 'slow')").rows
        assert ("CANCELLED",) in states
        assert ("EXECUTING",) not in states
