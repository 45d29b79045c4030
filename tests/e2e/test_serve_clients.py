"""Clients of a running server: they reach the catalog they asked for, and refuse text as the engine does."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from serve_support import TASKSQL, ServerProcess, env

import tasksql
from tasksql.errors import TasksqlError

pytestmark = pytest.mark.realtime


def test_a_client_asking_for_another_catalog_is_refused_not_served(
    spawn: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    data = tmp_path / "d"
    spawn(data)
    other = tmp_path / "other.db"
    out = subprocess.run(
        [*TASKSQL, "--data", str(data), "--catalog", str(other), "sql", "SELECT 1"],
        check=False,
        capture_output=True,
        text=True,
        env=env(),
        timeout=60,
    )
    assert out.returncode == 1, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert "drop --catalog to use the server" in lines[0] and str(other) in lines[0]
    assert not other.exists()  # nothing was opened or created
    # without --catalog the same client talks to the server
    ok = subprocess.run(
        [*TASKSQL, "--data", str(data), "--format", "csv", "sql", "SELECT 41 + 1 AS x"],
        check=False,
        capture_output=True,
        text=True,
        env=env(),
        timeout=60,
    )
    assert ok.returncode == 0 and ok.stdout.splitlines() == ["x", "42"], ok


def test_text_that_cannot_be_stored_is_refused_with_its_position_through_a_server(
    spawn: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    data = tmp_path / "d"
    spawn(data)
    with tasksql.connect(data) as db:
        assert db.remote
        with pytest.raises(TasksqlError) as err:
            db.sql("SELECT 1;\nCREATE TASK s SCHEDULE 1h COMMENT = 'a\ud800' AS SELECT 1")
        assert err.value.code == "INVALID_CHARACTER"
        assert err.value.span is not None and err.value.span.line == 2
        assert db.sql("SHOW TASKS LIKE 's'").rows == []
