"""Helpers of the shell tests: a shell writing to buffers, waiting on a condition, the CLI."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import catalog_choice
from tasksql.connection import Connection
from tasksql.shell.loop import Shell

#: A schedule clause for tasks that must not run during a test.
SCHEDULED = "SCHEDULE = '1 MINUTE'"


class Buffers:
    """A shell whose standard output and error are string buffers."""

    def __init__(self, conn: Connection, fmt: str = "table", *, interactive: bool = True) -> None:
        self.out, self.err = io.StringIO(), io.StringIO()
        self.shell = Shell(conn, fmt, out=self.out, err=self.err, interactive=interactive)

    def take(self) -> tuple[str, str]:
        """What was written since the last call (standard output, standard error)."""
        out, err = self.out.getvalue(), self.err.getvalue()
        for buf in (self.out, self.err):
            buf.truncate(0)
            buf.seek(0)
        return out, err


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Wait (up to ``timeout`` seconds) until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.01)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without TASKSQL_ settings (the test's catalog kept), plus ``extra``."""
    return catalog_choice.clean_env(**extra)


def cli(
    data: Path, stdin: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``tasksql --data DATA ARGS... shell`` with ``stdin`` piped in."""
    return subprocess.run(
        [sys.executable, "-m", "tasksql", "--data", str(data), *args, "shell"],
        input=stdin,
        capture_output=True,
        text=True,
        env=env if env is not None else clean_env(),
        timeout=120,
        check=False,
    )
