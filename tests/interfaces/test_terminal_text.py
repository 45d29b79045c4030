"""Names with control characters (a line break, an ANSI escape) in errors and notices shown on a
terminal: ``tasksql sql`` and ``tasksql shell`` (real processes) write them as escapes, so nothing
a user named can forge a line or drive the terminal; the names are stored as written, and the HTTP
API's JSON errors keep the exact text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from interface_support import post_sql, served, tasksql

from tasksql.client import RemoteServer
from tasksql.errors import QueryFailed, TaskNotFound

__all__ = ["served"]  # the fixture

NAME = "a\nerror [FORGED]: b\x1b[2Jc\r"
QUOTED = '"' + NAME + '"'
SHOWN = '"a\\nerror [FORGED]: b\\x1b[2Jc\\r"'
SCHEDULED = "SCHEDULE = '1 hour'"


def _clean(stderr: str) -> list[str]:
    """The lines of ``stderr``, after checking that none of them is forged or controls the
    terminal."""
    assert "\x1b" not in stderr and "\r" not in stderr
    lines = stderr.splitlines()
    assert not any(line.startswith("error [FORGED]") for line in lines), stderr
    return lines


def test_an_error_naming_a_task_shows_its_name_escaped(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = tasksql(data, "sql", f"DROP TASK {QUOTED}")
    assert done.returncode == 1
    head, excerpt, caret = _clean(done.stderr)
    assert head == f"error [TASK_NOT_FOUND]: task {SHOWN} does not exist (line 1, column 11)"
    assert excerpt == '   1 | DROP TASK "a' and caret.endswith(" ^^")  # the line the span starts on


def test_the_name_is_stored_as_written(tmp_path: Path) -> None:
    data = tmp_path / "data"
    created = tasksql(data, "sql", f"CREATE TASK {QUOTED} {SCHEDULED} AS SELECT 1")
    assert created.returncode == 0, created.stderr
    shown = tasksql(data, "--format", "json", "sql", "SELECT name FROM system.tasks")
    assert json.loads(shown.stdout) == [{"name": NAME}]
    again = tasksql(data, "sql", f"SELECT 1;\nCREATE TASK {QUOTED} {SCHEDULED} AS SELECT 1")
    assert again.returncode == 1
    head, *_ = _clean(again.stderr.split("(1 row)\n", 1)[-1])
    assert head.startswith(f"error [TASK_EXISTS]: statement 2 (line 2) failed: task {SHOWN} already exists")


def test_an_excerpt_escapes_what_it_quotes_and_keeps_its_caret_under_the_column(tmp_path: Path) -> None:
    done = tasksql(tmp_path / "data", "sql", f"\tCREATE TASK t {SCHEDULED} TIMEOUT = '\x1b[2J' AS SELECT 1")
    assert done.returncode == 1
    head, excerpt, caret = _clean(done.stderr)
    assert head.startswith("error [INVALID_INTERVAL]: ")
    assert excerpt == "   1 |  CREATE TASK t SCHEDULE = '1 hour' TIMEOUT = '\\x1b[2J' AS SELECT 1"
    start = caret.index("^")  # under the escaped text inside the quotes, as wide as it is
    assert excerpt[start : len(caret)] == "\\x1b[2J"


def test_a_warehouse_message_keeps_its_lines_indented(tmp_path: Path) -> None:
    done = tasksql(tmp_path / "data", "sql", f"SELECT * FROM {QUOTED}")
    assert done.returncode == 1
    lines = _clean(done.stderr)
    assert lines[0].startswith("error [QUERY_FAILED]: Catalog Error: Table with name a")
    assert all(line.startswith("  ") or not line for line in lines[1:])  # DuckDB's own layout, indented
    assert any(line.strip().startswith("LINE 1: ") for line in lines)


def test_a_notice_naming_a_task_shows_it_escaped(tmp_path: Path) -> None:
    done = tasksql(tmp_path / "data", "sql", f"CREATE TASK {QUOTED} {SCHEDULED} INTO nowhere AS SELECT 1")
    assert done.returncode == 0, done.stderr
    notices = [line for line in _clean(done.stderr) if line.startswith("notice: ")]
    assert notices and all(f"task {SHOWN}" in line for line in notices)


def test_the_shell_shows_the_error_escaped(tmp_path: Path) -> None:
    done = tasksql(tmp_path / "data", "shell", stdin=f"DROP TASK {QUOTED};\n")
    assert done.returncode == 1
    lines = _clean(done.stderr)
    assert f"error [TASK_NOT_FOUND]: task {SHOWN} does not exist (line 1, column 11)" in lines


def test_the_api_keeps_the_exact_text(served: tuple[Path, RemoteServer]) -> None:
    data, server = served
    status, answer = post_sql(server, f"DROP TASK {QUOTED}")
    assert status == 404
    assert answer["error"]["message"] == f"task {QUOTED} does not exist"
    with pytest.raises(TaskNotFound) as info:  # the Python client gets it back exact too
        server.sql(f"DROP TASK {QUOTED}")
    assert info.value.message == f"task {QUOTED} does not exist"
    assert SHOWN in info.value.render()
    with pytest.raises(QueryFailed) as failed:
        server.sql(f"SELECT * FROM {QUOTED}")
    assert "\x1b[2J" in failed.value.message and "\x1b" not in failed.value.render()
    # and a client that prints it (tasksql sql through the server) shows it escaped
    done = tasksql(data, "sql", f"DROP TASK {QUOTED}")
    assert done.returncode == 1
    assert _clean(done.stderr)[0].startswith(f"error [TASK_NOT_FOUND]: task {SHOWN} does not exist")
