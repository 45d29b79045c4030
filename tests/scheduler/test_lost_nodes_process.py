"""A real ``tasksql serve`` killed with SIGKILL right after it claimed its next instant ahead, and a
new server started on the same data directory: the history tells the truth."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from catalog_choice import catalog_rows
from tasksql.catalog.rows import from_db_time

T = TypeVar("T")
TASKSQL = [sys.executable, "-m", "tasksql"]
MISFIRE_GRACE_S = 5.0
INTERVAL_S = 2.0


def wait_for(probe: Callable[[], T | None], *, timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class Serve:
    """``tasksql --data DIR serve --port 0`` as a child process, its output in a log file."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.log = data.parent / f"serve-{time.monotonic_ns()}.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [*TASKSQL, "--data", str(data), "serve", "--host", "127.0.0.1", "--port", "0"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "TASKSQL_LOG_LEVEL": "INFO"},
            )
        wait_for(self._started, timeout=60, what=f"the server to start (log: {self.log})")
        self.node_id = f"{socket.gethostname()}-{self.proc.pid}"

    def _started(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"the server exited with {self.proc.returncode}: {self.log.read_text()}")
        try:
            return bool(json.loads((self.data / "server.json").read_text()).get("pid") == self.proc.pid)
        except (OSError, ValueError):
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=60)


def cli_sql(data: Path, text: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [*TASKSQL, "--data", str(data), "--format", "json", "sql", text],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout.splitlines()[-1])
    return rows


@pytest.mark.sqlite_catalog(
    "kills a server that claimed an instant ahead; a server on a PostgreSQL catalog is a cluster member"
    " and claims none (it fires each instant when it comes)"
)
def test_a_killed_server_leaves_no_failed_run_for_an_instant_it_never_started(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli_sql(data, "CREATE TASK t SCHEDULE 2s AS SELECT 1")
    first = Serve(data)
    try:

        def claimed() -> str | None:
            """The instant claimed ahead, once every run that started is settled."""
            now = datetime.now(UTC)
            rows = catalog_rows(data, "SELECT scheduled_time, state, node_id FROM runs")
            if any(state == "EXECUTING" for _, state, _ in rows):
                return None
            ahead = [at for at, state, node in rows if state == "SCHEDULED" and node == first.node_id]
            return ahead[0] if ahead and from_db_time(ahead[0]) > now else None

        at = wait_for(claimed, timeout=30, what="the server to claim its next instant")
        first.proc.kill()  # SIGKILL: the claim stays, nothing is settled
    finally:
        first.stop()
    instant = from_db_time(at)

    # the killed node is shown lost at once, not running until its heartbeat expires
    states = {r["node_id"]: r["node_state"] for r in cli_sql(data, "SELECT * FROM system.cluster")}
    assert states[first.node_id] == "lost"

    wait_for(lambda: datetime.now(UTC) > instant, timeout=60, what="the claimed instant to pass")
    second = Serve(data)
    try:

        def settled() -> tuple[Any, ...] | None:
            query = (
                f"SELECT state, error_code, error_message, node_id FROM runs WHERE scheduled_time = '{at}'"
            )
            rows = catalog_rows(data, query)
            return rows[0] if len(rows) == 1 and rows[0][0] not in ("SCHEDULED", "EXECUTING") else None

        state, code, message, node = wait_for(settled, timeout=30, what="the claimed instant to be settled")
        [(started,)] = catalog_rows(data, f"SELECT started_at FROM nodes WHERE node_id = '{second.node_id}'")
    finally:
        second.stop()
    late = (from_db_time(started) - instant).total_seconds()
    if late <= MISFIRE_GRACE_S and late < INTERVAL_S:
        # still due when the new server settled it: re-planned, and run once by the new server
        assert (state, code, node) == ("SUCCEEDED", None, second.node_id)
    else:  # missed (CATCH_UP NONE): recorded as such, with the reason
        assert (state, code, node) == ("SKIPPED", "MISSED", first.node_id)
        assert message == f"instant missed: node {first.node_id} was lost before it started (CATCH_UP = NONE)"
    # the killed server's runs that never started are not failures
    assert catalog_rows(data, "SELECT count(*) FROM runs WHERE state = 'FAILED'") == [(0,)]
    lost_lines = [line for line in second.log.read_text().splitlines() if "was lost" in line]
    assert len(lost_lines) == 1 and f"node {first.node_id} was lost; its runs: 1 " in lost_lines[0]
