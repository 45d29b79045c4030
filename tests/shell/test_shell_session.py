"""Shell sessions over a real data directory: running input, errors, the interactive loop driven
through prompt_toolkit's pipe input, piped scripts through the command line, and a shell talking to
a running server."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.history import FileHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from shell_support import SCHEDULED, clean_env, cli, wait_for

from catalog_choice import catalog_env
from tasksql.client import find_server
from tasksql.connection import Connection
from tasksql.engine.show import SHOW_TASKS_TABLE_COLUMNS
from tasksql.settings import Settings
from tasksql.shell.loop import HISTORY_FILE, Shell


def _shell(conn: Connection, fmt: str = "table") -> tuple[Shell, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Shell(conn, fmt, out=out, err=err), out, err


def test_execute_runs_sql_and_meta_commands(conn: Connection) -> None:
    shell, out, err = _shell(conn)
    assert shell.execute(f"CREATE TASK nightly_load {SCHEDULED} AS SELECT 1;")
    assert shell.task_names == ["nightly_load"]  # refreshed after CREATE
    assert shell.execute("\\f csv")
    assert shell.fmt == "csv"
    out.truncate(0)
    out.seek(0)
    assert shell.execute("\\t")
    lines = out.getvalue().splitlines()
    assert lines[0] == "created_on,name,kind,database_name,schema_name,schedule"
    assert ",nightly_load,TASK," in lines[1]
    assert shell.execute("\\f")
    assert out.getvalue().endswith("Output format is csv.\n")
    assert err.getvalue() == ""
    assert shell.execute("   ")
    assert not shell.execute("\\q")


def test_execute_prints_errors_with_a_caret_and_goes_on(conn: Connection) -> None:
    shell, out, err = _shell(conn)
    assert shell.execute("SHOW TASKS;\nDROP TASK no_such_task;")
    assert "error [TASK_NOT_FOUND]" in err.getvalue()
    assert shell.execute("\\f xml")
    assert "error [INVALID_ARGUMENT]" in err.getvalue()
    assert shell.execute("\\nope")
    assert "error [UNKNOWN_COMMAND]" in err.getvalue()
    err.truncate(0)
    err.seek(0)
    assert shell.execute("SELECT 1;\nCREATE TASK bad SCHEDULE = 'every now and then' AS SELECT 1;")
    rendered = err.getvalue()
    assert rendered.startswith("error [")
    assert "\n   2 | CREATE TASK bad" in rendered  # the offending line, numbered in the input
    assert "^" in rendered.splitlines()[-1]
    shell.execute("SHOW TASKS;")
    assert "(0 rows" in out.getvalue()


def test_banner_says_where_and_how(conn: Connection, settings: Settings) -> None:
    shell, _, _ = _shell(conn)
    banner = shell.banner()
    assert "tasksql 0." in banner
    assert str(settings.data_dir.resolve()) in banner
    assert "embedded" in banner
    assert "\\?" in banner


def test_interactive_session_through_pipe_input(conn: Connection, settings: Settings) -> None:
    shell, out, err = _shell(conn)
    keys = (
        # a statement over two lines: the first Enter starts a new line, the second runs it
        f"CREATE TASK nightly_load\r{SCHEDULED} AS INSERT INTO t VALUES (';');\r"
        # Ctrl-C drops an unfinished statement: this task is never created
        "CREATE TASK dropped AS\x03"
        "SHOW TASKS;\r"
        # Alt-Enter (Esc Enter) runs the buffer without a semicolon
        "\\f csv\r"
        "SHOW TERSE TASKS\x1b\r"
        "\\q\r"
        "SELECT 'never run';\r"
    )
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        session = shell.session(input=pipe, output=DummyOutput())
        shell.run(session)
    text = out.getvalue()
    assert text.startswith("tasksql ")
    assert "successfully created" in text
    assert "nightly_load" in text
    assert "dropped" not in text
    assert "created_on,name,kind,database_name,schema_name,schedule" in text  # the CSV after \f csv
    assert "never run" not in text
    assert err.getvalue() == ""
    assert shell.task_names == ["nightly_load"]
    history = (settings.data_dir / HISTORY_FILE).read_text()
    assert "CREATE TASK nightly_load" in history
    assert "SHOW TERSE TASKS" in history


def test_interactive_history_recall_and_ctrl_d(conn: Connection, tmp_path: Path) -> None:
    shell, out, err = _shell(conn)
    history = FileHistory(str(tmp_path / "h"))
    with create_pipe_input() as pipe:
        session = shell.session(input=pipe, output=DummyOutput(), history=history)
        runner = threading.Thread(target=shell.run, args=(session,))
        runner.start()
        try:
            pipe.send_text("SHOW TASKS;\r")
            # The next keys go to the next prompt, which reads the history before it reads keys.
            wait_for(lambda: "(0 rows" in out.getvalue(), "the result of the first statement")
            # Up recalls the previous input and Enter runs it again; Ctrl-D on an empty line quits.
            pipe.send_text("\x1b[A\r\x04")
        finally:
            runner.join(timeout=60)
    assert not runner.is_alive()
    assert out.getvalue().count("(0 rows") == 2
    assert err.getvalue() == ""
    assert history.get_strings() == ["SHOW TASKS;"]  # a repeated input is stored once


# --- piped mode through the command line ---------------------------------------------------------


def test_piped_shell_runs_the_script(tmp_path: Path) -> None:
    script = f"CREATE TASK piped_task {SCHEDULED}\n  AS SELECT 1;\nSHOW TERSE TASKS;\n"
    done = cli(tmp_path / "data", script, "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert "tasksql>" not in done.stdout  # no prompt, no banner
    lines = done.stdout.splitlines()
    assert "created_on,name,kind,database_name,schema_name,schedule" in lines
    assert any(",piped_task,TASK," in line for line in lines)
    again = cli(tmp_path / "data", "SHOW TASKS;")
    assert again.returncode == 0, again.stderr
    assert "piped_task" in again.stdout


def test_piped_shell_fails_on_error(tmp_path: Path) -> None:
    done = cli(tmp_path / "data", "SHOW TASKS;\nDROP TASK missing_task;\n")
    assert done.returncode == 1
    assert "error [TASK_NOT_FOUND]" in done.stderr


# --- through a running server --------------------------------------------------------------------


@pytest.fixture
def server_data(tmp_path: Path) -> Iterator[Path]:
    """A data directory owned by a ``tasksql serve`` process (on any free port)."""
    data = tmp_path / "served"
    env = clean_env()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tasksql", "--data", str(data), "serve", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        wait_for(lambda: proc.poll() is not None or find_server(data) is not None, "a running server")
        if proc.poll() is not None:
            pytest.fail(f"tasksql serve exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        yield data
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_shell_through_a_running_server(server_data: Path) -> None:
    done = cli(server_data, f"CREATE TASK served_task {SCHEDULED} AS SELECT 1;")
    assert done.returncode == 0, done.stderr
    server = find_server(server_data)
    assert server is not None
    with Connection(Settings.load(env=catalog_env(), data_dir=server_data)) as remote:
        assert remote.remote
        shell, out, err = _shell(remote, "csv")
        assert f"connected to the tasksql server at {server.url}" in shell.banner()
        shell.refresh_names()
        assert shell.task_names == ["served_task"]
        assert shell.execute("DROP TASK no_such_task;")
        assert "error [TASK_NOT_FOUND]" in err.getvalue()
        assert shell.execute("\\t")
        assert ",served_task,TASK," in out.getvalue()
        # the columns an aligned SHOW TASKS table prefers travel with the result over HTTP
        assert remote.sql("SHOW TASKS").table_columns == SHOW_TASKS_TABLE_COLUMNS
