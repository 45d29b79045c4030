"""Every user-caused failure of every command: one line naming the cause and the fix, status 1.

Bad data directories, unreadable and non-text files, missing permissions, taken ports, bad
environment values: never a traceback. Permission failures are seen as an ordinary user sees them:
when the tests run as root, the command runs without root's power to bypass file permissions.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from catalog_choice import clean_env, on_postgres
from tasksql.cli import main

TASKSQL = [sys.executable, "-m", "tasksql"]

# Root may read and write any file: drop that power (the capabilities that bypass permission checks).
AS_USER = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []


def one_line(code: int, stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert (code, len(lines)) == (1, 1), stderr
    assert lines[0].startswith("error [")
    return lines[0]


def invoke(*args: str, stdin: str = "", **env: str) -> str:
    """Run the CLI in this process; its one-line error (a traceback would be an exception here)."""
    result = CliRunner().invoke(main, list(args), input=stdin, env=env)
    assert isinstance(result.exception, SystemExit), result.exception
    return one_line(result.exit_code, result.stderr)


def run(*args: str, prefix: list[str] | None = None, stdin: bytes = b"", **env: str) -> str:
    """Run the CLI as a process (``stdin`` on its standard input); its one-line error."""
    done = subprocess.run(
        [*(prefix or []), *TASKSQL, *args],
        capture_output=True,
        input=stdin,
        env=clean_env(**env),
        timeout=120,
        check=False,
    )
    return one_line(done.returncode, done.stderr.decode())


BAD_DATA: dict[str, Callable[[Path], Path]] = {
    "a plain file": lambda tmp: tmp / "plain",
    "below a plain file": lambda tmp: tmp / "plain" / "data",
    "where nothing can be created": lambda tmp: Path("/proc/tasksql-nope"),
}


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    (tmp_path / "plain").write_text("a file")
    return tmp_path


@pytest.mark.parametrize("where", BAD_DATA)
@pytest.mark.parametrize("command", [["sql", "SELECT 1"], ["shell"]], ids=["sql", "shell"])
def test_a_bad_data_directory(tmp: Path, where: str, command: list[str]) -> None:
    data = str(BAD_DATA[where](tmp))
    for args in (["--data", data, *command], [*command, "--data", data]):
        error = invoke(*args)
        assert data in error and "--data" in error
    assert (tmp / "plain").read_text() == "a file"


def test_serve_on_a_bad_data_directory(tmp: Path) -> None:
    for data in (tmp / "plain", Path("/proc/tasksql-nope")):
        error = run("serve", "--port", "0", "--data", str(data))
        assert str(data) in error and "--data" in error


def test_files_that_sql_cannot_read(tmp: Path) -> None:
    data = str(tmp / "data")
    (tmp / "latin1.sql").write_bytes("SELECT 'caf\xe9'".encode("latin-1"))
    assert "no such file" in invoke("--data", data, "sql", "-f", str(tmp / "missing.sql"))
    assert "is a directory" in invoke("--data", data, "sql", "-f", str(tmp))
    assert "not UTF-8" in invoke("--data", data, "sql", "-f", str(tmp / "latin1.sql"))
    # on standard input the bytes reach the SQL front end, which points at the one it cannot store
    latin1 = (tmp / "latin1.sql").read_bytes()
    for command in ("sql", "shell"):
        done = subprocess.run(
            [*TASKSQL, "--data", data, command], input=latin1, capture_output=True, check=False
        )
        assert done.returncode == 1 and b"Traceback" not in done.stderr
        assert done.stderr.startswith(b"error [") and b"column 12" in done.stderr


@pytest.fixture
def as_user() -> list[str]:
    if AS_USER and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permission failures cannot be seen")
    return AS_USER


@pytest.fixture
def locked_down(tmp_path: Path) -> Iterator[Path]:
    """A data directory made by one command, then left without write permission."""
    data = tmp_path / "data"
    done = subprocess.run(
        [*TASKSQL, "--data", str(data), "sql", "SELECT 1"], capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr
    yield data
    for path in (data, *data.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)


def test_missing_permissions(tmp_path: Path, locked_down: Path, as_user: list[str]) -> None:
    script = tmp_path / "secret.sql"
    script.write_text("SELECT 1")
    script.chmod(0o000)
    error = run("--data", str(locked_down), "sql", "-f", str(script), prefix=as_user)
    assert "permission denied" in error and "chmod" in error

    if not on_postgres():  # a catalog file in the data directory
        (locked_down / "catalog.db").chmod(0o444)
        error = run("--data", str(locked_down), "sql", "SHOW TASKS", prefix=as_user)
        assert "catalog.db is not readable and writable" in error

    locked_down.chmod(0o555)
    for command in (["sql", "SELECT 1"], ["shell"], ["serve", "--port", "0"]):
        error = run("--data", str(locked_down), *command, prefix=as_user)
        assert "not writable" in error and "--data" in error


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_serve_on_a_taken_port_or_a_foreign_address(tmp_path: Path, taken_port: int) -> None:
    data = str(tmp_path / "data")
    error = run("--data", data, "serve", "--port", str(taken_port))
    assert f"port {taken_port}" in error and "already in use" in error and "--port" in error
    # refused before anything started: no catalog opened (on SQLite, no file), no log line before it
    assert not (tmp_path / "data" / "catalog.db").exists()
    error = run("serve", "--data", data, "--host", "192.0.2.1", "--port", "0")  # TEST-NET: not ours
    assert "cannot listen on 192.0.2.1" in error and "--host" in error
    # the directory is free again: nothing was left holding it
    assert not (tmp_path / "data" / "server.json").exists()


@pytest.mark.parametrize("command", [["settings"], ["sql", "SELECT 1"], ["serve"]], ids=lambda c: c[0])
def test_bad_environment_values(tmp_path: Path, command: list[str]) -> None:
    error = invoke("--data", str(tmp_path / "data"), *command, TASKSQL_PORT="eighty")
    assert "TASKSQL_PORT='eighty'" in error and "expected an integer" in error and "unset it" in error
