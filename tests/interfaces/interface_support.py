"""Helpers of the interface tests: ``tasksql`` as a real process, a real ``tasksql serve``, and
HTTP requests to it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import catalog_choice
from tasksql.client import RemoteServer, find_server

TASKSQL = [sys.executable, "-m", "tasksql"]


def clean_env() -> dict[str, str]:
    """The environment without TASKSQL_* settings of the machine running the tests (the test's
    catalog kept: see tests/catalog_choice.py)."""
    return catalog_choice.clean_env()


def tasksql(data: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``tasksql --data DATA ARGS...`` as a process, its output captured."""
    return subprocess.run(
        [*TASKSQL, "--data", str(data), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
        check=False,
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, RemoteServer]]:
    """A data directory owned by a ``tasksql serve`` process (any free port), and its client."""
    data = tmp_path / "served"
    proc = subprocess.Popen(
        [*TASKSQL, "--data", str(data), "serve", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    try:
        wait_for(lambda: proc.poll() is not None or find_server(data) is not None, "a running server")
        if proc.poll() is not None:
            pytest.fail(f"tasksql serve exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        server = find_server(data)
        assert server is not None
        yield data, server
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def post_sql(server: RemoteServer, sql: str) -> tuple[int, dict[str, Any]]:
    """``POST /api/v1/sql``: the HTTP status and the JSON answer."""
    request = urllib.request.Request(
        server.url + "/api/v1/sql",
        data=json.dumps({"sql": sql}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
