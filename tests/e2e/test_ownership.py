"""One process owns a data directory: servers, shells and scripts started together, as real processes.

The directory's lock decides who owns it (see ``tasksql.datadir``): a second server, or a server
started while a shell holds the directory, refuses to start and names the owner; a client started
with a server talks to it; no run ever fails on DuckDB's own file lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from serve_support import TASKSQL, ServerProcess, env, sql, wait_for

pytestmark = pytest.mark.realtime

ROOT = Path(__file__).resolve().parents[2]


def tasksql(data: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TASKSQL, "--data", str(data), *args],
        capture_output=True,
        text=True,
        env=env(),
        timeout=timeout,
        check=False,
    )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The error of a command that failed as a user-caused failure must: one line, exit status 1."""
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def lock_holder(data: Path) -> dict[str, object] | None:
    try:
        return dict(json.loads((data / "lock").read_text()))
    except (OSError, ValueError):
        return None


@pytest.fixture
def interactive_shell(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``tasksql shell`` on a terminal (a pseudo-terminal), embedded on ``tmp_path / "data"``."""
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [*TASKSQL, "--data", str(tmp_path / "data"), "shell"],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env(TERM="dumb"),
        start_new_session=True,
    )
    os.close(child)
    os.set_blocking(main, False)
    try:
        wait_for(
            lambda: (lock_holder(tmp_path / "data") or {}).get("pid") == proc.pid,
            timeout=30,
            what="the shell to own the data directory",
        )
        proc.main_fd = main  # type: ignore[attr-defined]
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        os.close(main)


def quit_shell(proc: subprocess.Popen[bytes]) -> None:
    os.write(proc.main_fd, b"\\q\r")  # type: ignore[attr-defined]

    def exited() -> bool:
        with contextlib.suppress(OSError):
            os.read(proc.main_fd, 65536)  # type: ignore[attr-defined]  # keep the terminal drained
        return proc.poll() is not None

    wait_for(exited, timeout=30, what="the shell to quit")


def test_serve_refuses_while_a_shell_owns_the_directory_then_starts_once_it_quits(
    tmp_path: Path, interactive_shell: subprocess.Popen[bytes], spawn: Callable[..., ServerProcess]
) -> None:
    data = tmp_path / "data"
    refused = one_line_error(tasksql(data, "serve", "--port", "0"))
    assert f"pid {interactive_shell.pid}" in refused and "shell" in refused and "quit it" in refused
    assert not (data / "server.json").exists()
    refused = one_line_error(tasksql(data, "sql", "SELECT 1"))
    assert f"pid {interactive_shell.pid}" in refused and "tasksql serve" in refused
    quit_shell(interactive_shell)
    assert interactive_shell.returncode == 0
    server = spawn(data)
    try:
        [[row]] = sql(data, "SELECT 42 AS answer")
        assert row == {"answer": 42}
    finally:
        assert server.stop() == 0


# Three races of two starting processes each: under a loaded CI machine more than the default 120 s.
@pytest.mark.timeout(300)
def test_two_servers_started_at_once_one_serves_and_the_other_names_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    sql(
        data,
        "CREATE TABLE ticks (ts TIMESTAMP); CREATE TASK tick SCHEDULE 1s AS INSERT INTO ticks SELECT now()",
    )
    for trial in range(3):
        race_two_servers(data, [tmp_path / f"serve-{trial}-{i}.log" for i in range(2)])
    [failed] = sql(data, "SELECT state, error_message FROM task_history() WHERE state LIKE 'FAILED%'")
    assert failed == []


def race_two_servers(data: Path, logs: list[Path]) -> None:
    """Start two servers at once: one gives up at once, naming the other, which serves."""
    procs = [
        subprocess.Popen(
            [*TASKSQL, "--data", str(data), "serve", "--port", "0"],
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
            env=env(TASKSQL_GRACE_PERIOD="1"),
        )
        for log in logs
    ]
    try:
        loser = wait_for(
            lambda: next((p for p in procs if p.poll() is not None), None),
            timeout=60,
            what="one of the two servers to give up",
        )
        winner = procs[1 - procs.index(loser)]
        text = logs[procs.index(loser)].read_text()
        assert loser.returncode == 1, text
        assert "Traceback" not in text
        assert "already serves" in text and f"pid {winner.pid}" in text
        wait_for(lambda: served_by(data) == winner.pid, timeout=60, what="the winner to serve")
        [[before]] = sql(data, "SELECT count(*) AS n FROM ticks")
        wait_for(
            lambda: sql(data, "SELECT count(*) AS n FROM ticks")[0][0]["n"] > before["n"],
            timeout=30,
            what="the winner to run the task",
        )
        assert winner.poll() is None
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
            assert proc.wait(timeout=60) in (0, 1)


def served_by(data: Path) -> int | None:
    try:
        return int(json.loads((data / "server.json").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


#: A query that keeps the DuckDB file busy a moment (a fraction of a second; the clients overlap
#: anyway, each process's start takes longer). A client waits for another embedded holder at most
#: datadir.BUSY_WAIT_S (10 s), and the third may wait for both others: a query of seconds, which a
#: loaded machine stretches further, made the last client give up with DATA_DIR_BUSY.
BUSY = "SELECT sum(hash(i)) FROM range(20000000) r(i)"


def test_clients_started_with_the_server_wait_their_turn_or_talk_to_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    sql(
        data,
        "CREATE TABLE ticks (ts TIMESTAMP); CREATE TASK tick SCHEDULE 1s AS INSERT INTO ticks SELECT now()",
    )
    log = tmp_path / "serve.log"
    server = subprocess.Popen(
        [*TASKSQL, "--data", str(data), "serve", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        env=env(),
    )
    try:
        # no waiting for the server: whoever takes the directory first, every one must succeed
        clients = [
            subprocess.Popen(
                [
                    *TASKSQL,
                    "--data",
                    str(data),
                    "sql",
                    f"CREATE TABLE t{i} AS SELECT {i} AS x, ({BUSY}) AS busy",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                env=env(),
            )
            for i in range(3)
        ]
        for client in clients:
            _, err = client.communicate(timeout=60)
            assert client.returncode == 0, err
        wait_for(lambda: served_by(data) or server.poll() is not None, timeout=60, what="the server to serve")
        assert server.poll() is None, log.read_text()
        [rows] = sql(
            data, "SELECT x FROM t0 UNION ALL SELECT x FROM t1 UNION ALL SELECT x FROM t2 ORDER BY x"
        )
        assert rows == [{"x": 0}, {"x": 1}, {"x": 2}]
        wait_for(
            lambda: sql(data, "SELECT count(*) AS n FROM ticks")[0][0]["n"] >= 2,
            timeout=30,
            what="the server to run the task",
        )
    finally:
        server.terminate()
        assert server.wait(timeout=60) == 0
    [failed] = sql(data, "SELECT state, error_message FROM task_history() WHERE state LIKE 'FAILED%'")
    assert failed == []
    assert "Could not set lock" not in log.read_text()


def test_serve_refuses_a_duckdb_file_another_program_holds(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(data / 'warehouse.duckdb')!r}); print('ready', flush=True);"
            " sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        refused = one_line_error(tasksql(data, "serve", "--port", "0"))
        assert "warehouse.duckdb" in refused and "close the program that holds it" in refused
        assert re.search(rf"PID {holder.pid}\b", refused)
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_the_readme_python_example_runs_while_the_quick_start_server_runs(
    tmp_path: Path, spawn: Callable[..., ServerProcess]
) -> None:
    [example] = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    example = "\n".join(line.removeprefix("  ") for line in example.splitlines())
    server = spawn(tmp_path / "tasksql-data")  # the quick start's default directory, in the cwd
    try:
        done = subprocess.run(
            [sys.executable, "-c", example],
            check=False,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env(),
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("('n',) [(")
        # the server, not the script, runs the task the example created
        wait_for(
            lambda: sql(server.data, "SELECT count(*) AS n FROM log")[0][0]["n"] >= 2,
            timeout=30,
            what="the server to run the example's task",
        )
    finally:
        sql(server.data, "ALTER TASK tick SUSPEND")
        assert server.stop() == 0
