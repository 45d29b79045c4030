"""Scripts and cancellation through a real ``tasksql serve``: the statements that ran before a failure
come back with the error, EXECUTE TASK of a failing task exits non-zero, and a long DuckDB query
is cancelled in the server (the call returns at once and the server's CPU is freed) by
``Connection.cancel()``, by ``CANCEL QUERY`` from another client and by Ctrl-C on ``tasksql sql``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from serve_support import TASKSQL, ServerProcess, env, wait_for

from tasksql.client import find_server
from tasksql.connection import Connection
from tasksql.errors import QueryCancelled, QueryFailed
from tasksql.settings import Settings

pytestmark = pytest.mark.realtime

SLOW = "SELECT sum(hash(a.range * b.range)) FROM range(1000000) a, range(1000000) b"


def cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TASKSQL, "--data", str(data), *args],
        capture_output=True,
        text=True,
        env=env(),
        timeout=120,
        check=False,
    )


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy(pid: int, window: float = 0.5) -> float:
    """The share of one core the process used over the next ``window`` seconds."""
    before = cpu_seconds(pid)
    time.sleep(window)
    return (cpu_seconds(pid) - before) / window


def slow_queries(data: Path) -> list[dict[str, Any]]:
    server = find_server(data)
    assert server is not None
    return [q for q in server.queries() if str(q["query_text"]).startswith("SELECT sum")]


def test_a_failing_script_through_the_server(tmp_path: Path, spawn: Callable[..., ServerProcess]) -> None:
    data = tmp_path / "data"
    server = spawn(data)
    done = cli(data, "sql", "CREATE TABLE zz(a int); INSERT INTO zz VALUES (1); SELECT * FROM nosuch")
    assert done.returncode == 1
    assert done.stdout.splitlines() == ["CREATE TABLE", "INSERT 0 1"]
    assert done.stderr.startswith("error [QUERY_FAILED]: statement 3 (line 1) failed: ")
    done = cli(data, "sql", "-1", "CREATE TABLE yy(a int); INSERT INTO yy VALUES (1); SELECT * FROM nosuch")
    assert done.returncode == 1 and "rolled back" in done.stderr
    assert "yy does not exist" in cli(data, "sql", "SELECT * FROM yy").stderr
    done = cli(data, "sql", "CREATE TASK bad SCHEDULE 1 HOUR AS SELECT * FROM nosuch;\nEXECUTE TASK bad")
    assert done.returncode == 1
    assert "error [RUN_FAILED]: statement 2 (line 2) failed: task bad ran: FAILED" in done.stderr
    assert "nosuch" in done.stderr
    assert server.stop() == 0


def test_cancel_stops_the_query_in_the_server(tmp_path: Path, spawn: Callable[..., ServerProcess]) -> None:
    data = tmp_path / "data"
    server = spawn(data)
    conn = Connection(Settings.load(data_dir=data))
    other = Connection(Settings.load(data_dir=data))
    try:
        assert conn.remote and other.remote
        for how in ("Connection.cancel()", "CANCEL QUERY"):
            outcome: list[BaseException | None] = []

            def run(into: list[BaseException | None]) -> None:
                try:
                    conn.sql_all(SLOW)
                    into.append(None)
                except BaseException as exc:  # asserted below
                    into.append(exc)

            worker = threading.Thread(target=run, args=(outcome,))
            worker.start()
            [query] = wait_for(lambda: slow_queries(data), timeout=60, what="the query to show up")
            wait_for(lambda: busy(server.proc.pid) > 0.5, timeout=60, what="the server to be busy")
            started = time.monotonic()
            if how == "CANCEL QUERY":
                listed = other.sql("SHOW QUERIES").as_dicts()
                assert query["query_id"] in [q["query_id"] for q in listed]
                assert other.sql(f"CANCEL QUERY '{query['query_id']}'").message is not None
            else:
                assert conn.cancel() is True
            worker.join(60)
            assert not worker.is_alive(), how
            assert time.monotonic() - started < 30, how  # SLOW runs for hours: this is the cancel
            assert isinstance(outcome[0], QueryCancelled), (how, outcome)
            assert slow_queries(data) == []
            # the query stopped in the server: its CPU goes back to idle
            wait_for(lambda: busy(server.proc.pid) < 0.3, timeout=60, what="the server's CPU to be freed")
        with pytest.raises(QueryFailed):
            conn.sql("SELECT * FROM nosuch")
        assert conn.sql("SELECT 1 AS one").rows == [(1,)]  # the connection goes on
    finally:
        conn.close()
        other.close()
    assert server.stop() == 0


def test_ctrl_c_on_tasksql_sql_stops_the_query_in_the_server(
    tmp_path: Path, spawn: Callable[..., ServerProcess]
) -> None:
    data = tmp_path / "data"
    server = spawn(data)
    proc = subprocess.Popen(
        [*TASKSQL, "--data", str(data), "sql", SLOW],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    try:
        wait_for(lambda: slow_queries(data), timeout=30, what="the query to run in the server")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 130
        wait_for(lambda: not slow_queries(data), timeout=60, what="the query to stop in the server")
        wait_for(lambda: busy(server.proc.pid) < 0.3, timeout=60, what="the server's CPU to be freed")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert server.stop() == 0
