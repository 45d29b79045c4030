"""A definition change committed through one ``tasksql serve`` node reaches the node that runs the
task by the catalog's notification, not by polling.

Both nodes run with ``TASKSQL_CHANGE_POLL`` set to an hour, so the only way n2 can learn of a change
committed through n1 within the test is the NOTIFY sent in the change's transaction. A task pinned
to n2 (``NODE = 'n2'``, every 100 ms) is resumed and then suspended through n1's HTTP API; from the
history: n2's first run starts within :data:`BOUND_S` of the RESUME's commit, and no run of the task
is scheduled later than :data:`BOUND_S` after the SUSPEND's commit. The bound is generous for a
loaded machine (the notification usually takes a few milliseconds) and far below the poll period.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest

from pgserver import PgDatabase

T = TypeVar("T")
TASKSQL = [sys.executable, "-m", "tasksql"]
#: Longest a change may take to reach the task's node (the poll period is an hour).
BOUND_S = 1.5
#: How long the test watches that a suspended task stays quiet.
QUIET_S = 2.0


def wait_for(probe: Callable[[], T | None], *, timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class Node:
    """``tasksql serve --node-id ID --port 0`` on the shared catalog, its own data directory."""

    def __init__(self, node_id: str, data: Path, env: dict[str, str]) -> None:
        self.node_id = node_id
        self.data = data
        self.log = data.parent / f"{node_id}.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [*TASKSQL, "--data", str(data), "serve", "--node-id", node_id, "--port", "0"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def url(self) -> str | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"node {self.node_id} exited: {self.log.read_text()}")
        try:
            info = json.loads((self.data / "server.json").read_text())
        except (OSError, ValueError):
            return None
        return str(info["url"]) if info.get("pid") == self.proc.pid else None

    def sql(self, text: str) -> datetime:
        """``POST /api/v1/sql``; when the answer came (the statement committed before)."""
        url = wait_for(self.url, timeout=40, what=f"{self.node_id} to serve")
        request = urllib.request.Request(
            f"{url}/api/v1/sql",
            data=json.dumps({"sql": text}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            body = json.loads(answer.read())
        assert body.get("ok"), body
        return datetime.now(UTC)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


@pytest.fixture
def nodes() -> Iterator[list[Node]]:
    started: list[Node] = []
    yield started
    for node in started:
        node.kill()


def test_suspend_and_resume_through_another_node_reach_the_holder_by_notification(
    tmp_path: Path, pg_database: PgDatabase, nodes: list[Node]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSQL_")}
    env.update(
        TASKSQL_CATALOG=pg_database.url,
        TASKSQL_CATALOG_SCHEMA="tasksql",
        TASKSQL_LOG_LEVEL="INFO",
        TASKSQL_CHANGE_POLL="3600",
    )
    db = psycopg.connect(pg_database.dsn, autocommit=True)

    def rows(query: str, *params: Any) -> list[tuple[Any, ...]]:
        return db.execute(query, params).fetchall()  # type: ignore[arg-type]

    n1 = Node("n1", tmp_path / "n1", env)
    nodes.append(n1)
    n2 = Node("n2", tmp_path / "n2", env)
    nodes.append(n2)

    def live() -> bool:
        try:
            return {r[0] for r in rows("SELECT node_id FROM tasksql.nodes WHERE lease_state = 'live'")} >= {
                "n1",
                "n2",
            }
        except psycopg.errors.UndefinedTable:  # no node made the catalog's schema yet
            return False

    wait_for(live, timeout=40, what="two live nodes")
    n1.sql("CREATE TASK probe SCHEDULE = '100 MILLISECONDS' NODE = 'n2' AS SELECT 1")
    wait_for(
        lambda: rows(
            "SELECT 1 FROM tasksql.placements p JOIN tasksql.tasks t ON t.id = p.task_id"
            " WHERE lower(t.name) = 'probe' AND p.node_id = 'n2'"
        ),
        timeout=20,
        what="the task placed on n2",
    )

    def runs_after(at: datetime) -> list[tuple[Any, ...]]:
        return rows(
            "SELECT node_id, scheduled_time, query_start_time FROM tasksql.runs"
            " WHERE lower(name) = 'probe' AND scheduled_time > %s ORDER BY scheduled_time",
            at,
        )

    for round_ in range(2):
        resumed = n1.sql("ALTER TASK probe RESUME")
        # a run row may be a claim not started yet (no query_start_time): wait for a started one
        first = wait_for(
            lambda r=resumed: [run for run in runs_after(r) if run[2] is not None],
            timeout=30,
            what="the task's first run to start",
        )[0]
        node, _, started = first
        assert node == "n2"
        assert started - resumed < timedelta(seconds=BOUND_S), (
            f"round {round_}: n2 started the resumed task {started - resumed} after the RESUME"
        )
        # a few runs, so that the SUSPEND finds the task firing
        wait_for(lambda r=resumed: len(runs_after(r)) >= 3, timeout=30, what="three runs")
        suspended = n1.sql("ALTER TASK probe SUSPEND")
        late = suspended + timedelta(seconds=BOUND_S)
        quiet_until = time.monotonic() + QUIET_S
        while time.monotonic() < quiet_until:  # watched for a while: a holder that missed it fires on
            assert not runs_after(late), (
                f"round {round_}: n2 still fired after the SUSPEND: {runs_after(late)}"
            )
            time.sleep(0.1)
        last = rows("SELECT max(scheduled_time) FROM tasksql.runs WHERE lower(name) = 'probe'")[0][0]
        print(
            f"round {round_}: first run {(started - resumed).total_seconds() * 1000:.0f} ms after the "
            f"RESUME returned; last instant {(last - suspended).total_seconds() * 1000:.0f} ms after "
            "the SUSPEND returned"
        )
