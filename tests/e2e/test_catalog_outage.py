"""A node goes on through outages of its PostgreSQL catalog, and nothing runs twice or is lost.

Each test runs the tasks of ``outage_support`` (200 ms, 1 s with CATCH_UP ALL, a graph of three, a
2-second task whose body takes a second on another server) on a node, takes the catalog's server
away while they run, and proves from the history and from the bodies' own writes that the node
kept its process, every run is settled, no instant ran twice, and the instants that fell in the
outage follow each task's catch-up policy. The catalog's server is a private one of this module,
since the tests restart and stop it; the bodies' side server is the session's.
"""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from outage_support import (
    ALL_TASKS,
    Run,
    assert_every_instant,
    assert_sound,
    duck_hits,
    executing,
    history,
    now,
    prepare_side,
    side_hits,
    succeeded_after,
    tasks_sql,
    wait_until,
)
from serve_support import TASKSQL, ServerProcess, env, sql

import tasksql
from pgserver import PgServer, find_bindir
from tasksql.errors import TasksqlError

# Each test waits on a node through an outage: on a loaded machine that takes longer than the suite's
# default of 120 s may allow (the waits' own bounds are generous, see WAIT).
pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]

#: Seconds any wait for a condition here may take before the test fails: a bound for what never
#: comes, not the speed under test (a loaded machine delays runs by seconds).
WAIT = 60

#: Any password is accepted by the test server (trust); it must never be printed.
PASSWORD = "pw-never-shown-8d1f"


@pytest.fixture(scope="module")
def catalog_server() -> Iterator[PgServer]:
    """A PostgreSQL server of this module's own: its tests restart and stop it."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    with PgServer(bindir) as server:
        yield server


@pytest.fixture
def side(pg_server: PgServer) -> Iterator[str]:
    """A database on the session's server for the slow task's body (it stays up)."""
    with pg_server.database() as db:
        prepare_side(db.dsn)
        yield db.dsn


def catalog_url(server: PgServer) -> str:
    return f"postgresql://{server.user}:{PASSWORD}@{server.host}:{server.port}/postgres"


def terminate_tasksql(server: PgServer) -> int:
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name LIKE 'tasksql-catalog%' AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


class Embedded:
    """A node embedded in this process: ``tasksql.connect(..., catalog_url=...)`` + ``start()``."""

    def __init__(self, server: PgServer, side_dsn: str, data: Path) -> None:
        self.server, self.data = server, data
        self.schema = f"outage_{uuid.uuid4().hex[:8]}"
        self.con = tasksql.connect(data, catalog_url=catalog_url(server), catalog_schema=self.schema)
        self.con.sql_all(tasks_sql(_url_of(side_dsn)))
        self.con.start()

    def runs(self) -> list[Run]:
        return history(self.server.dsn, self.schema)

    def close(self) -> None:
        self.con.stop()
        self.con.close()


def _url_of(dsn: str) -> str:
    parts = dict(item.split("=", 1) for item in dsn.split())
    return f"postgresql://{parts['user']}@{parts['host']}:{parts['port']}/{parts['dbname']}"


@pytest.fixture
def embedded(catalog_server: PgServer, side: str, tmp_path: Path) -> Iterator[Callable[[], Embedded]]:
    nodes: list[Embedded] = []

    def start() -> Embedded:
        node = Embedded(catalog_server, side, tmp_path / "data")
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        with contextlib.suppress(TasksqlError):
            node.close()


def warmed_up(dsn: str, schema: str) -> bool:
    """Every task has succeeded twice (the node is in its stride)."""
    runs = history(dsn, schema)
    return all(sum(r.name == n and r.state == "SUCCEEDED" for r in runs) >= 2 for n in ALL_TASKS)


def test_terminated_connections_do_not_stop_the_scheduler(
    embedded: Callable[[], Embedded], side: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tasksql")
    node = embedded()
    dsn = node.server.dsn
    wait_until(lambda: warmed_up(dsn, node.schema), timeout=WAIT, what="every task to run twice")

    wait_until(lambda: executing(dsn, node.schema, "slow"), timeout=WAIT, what="a slow run in flight")
    for _ in range(3):  # every connection of the node, three times while runs go on
        # each time as soon as the node is connected again (it reconnects in its own time)
        wait_until(
            lambda: terminate_tasksql(node.server) >= 1, timeout=WAIT, what="a connection of the node to cut"
        )
        time.sleep(0.4)  # runs go on a moment between two cuts (a spacing, not a wait for anything)
    after = now()

    wait_until(lambda: succeeded_after(dsn, node.schema, after), timeout=WAIT, what="runs after the kills")
    assert node.con.sql("SHOW TASKS").rows  # statements work
    node.close()

    runs = node.runs()
    assert_sound(runs, duck_hits(node.data) + side_hits(side))
    fast = assert_every_instant(runs, "fast", timedelta(milliseconds=200))
    assert {r.state for r in fast} <= {"SUCCEEDED", "SKIPPED"}
    assert_every_instant(runs, "every_second", timedelta(seconds=1))
    assert PASSWORD not in caplog.text


def test_a_restart_of_the_catalog_server_pauses_the_scheduler_and_catches_up(
    embedded: Callable[[], Embedded], side: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tasksql")
    node = embedded()
    dsn = node.server.dsn
    wait_until(lambda: warmed_up(dsn, node.schema), timeout=WAIT, what="every task to run twice")

    wait_until(lambda: executing(dsn, node.schema, "slow"), timeout=WAIT, what="a slow run in flight")
    down = now()
    node.server.restart("fast")
    up = now()

    wait_until(lambda: succeeded_after(dsn, node.schema, up), timeout=WAIT, what="runs after the restart")
    node.close()

    runs = node.runs()
    assert_sound(runs, duck_hits(node.data) + side_hits(side))
    # CATCH_UP NONE: each instant of the restart has its row: run late (the latest that came, within
    # the misfire grace) or SKIPPED as MISSED (earlier ones); a restart is short, so often none is
    fast = assert_every_instant(runs, "fast", timedelta(milliseconds=200))
    during = [r for r in fast if down <= r.scheduled_time <= up]
    assert during, f"no instant of fast fell in the restart ({down} to {up})"
    assert {(r.state, r.error_code) for r in during} <= {("SUCCEEDED", None), ("SKIPPED", "MISSED")}
    # CATCH_UP ALL: every instant ran, late ones one after another
    assert_caught_up(assert_every_instant(runs, "every_second", timedelta(seconds=1)), since=down)
    # the slow run in flight across the restart was settled by its own node
    assert any(r.name == "slow" and r.state == "SUCCEEDED" and r.scheduled_time <= down for r in runs)
    outages = [m for m in caplog.messages if "is unreachable:" in m]
    assert len(outages) == 1, outages  # logged once per outage, not per attempt
    assert PASSWORD not in caplog.text


def test_statements_fail_fast_while_the_catalog_is_stopped_and_work_after(
    catalog_server: PgServer,
    side: str,
    tmp_path: Path,
    spawn: Callable[..., ServerProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path / "data"
    schema = f"outage_{uuid.uuid4().hex[:8]}"
    # the server and every client of it name the same catalog (a client naming another is refused)
    monkeypatch.setenv("TASKSQL_CATALOG", catalog_url(catalog_server))
    monkeypatch.setenv("TASKSQL_CATALOG_SCHEMA", schema)
    server = spawn(data)
    sql(data, tasks_sql(_url_of(side)))
    dsn = catalog_server.dsn
    wait_until(lambda: warmed_up(dsn, schema), timeout=WAIT, what="every task to run twice")

    catalog_server.halt("fast")
    halted, down = time.monotonic(), now()
    try:
        # the node notices (its listener's connection is gone at once) and says so once
        wait_until(lambda: " is unreachable: " in server.log.read_text(), timeout=WAIT, what="the outage")
        for statement in (
            "SHOW TASKS",
            "EXECUTE TASK fast",
            "CREATE TASK other SCHEDULE = '1 MINUTE' AS SELECT 1",
        ):
            # fast: the answer comes while the catalog is still away (a statement that waited for it
            # would wait until the `finally` below). Timed at the server's API: a `tasksql sql`
            # process's own start takes seconds on a loaded machine, and is not what is measured.
            took, error = _api_error(server.started(), statement)
            assert error["code"] == "CATALOG_UNAVAILABLE", error
            assert took < 10, f"{statement} failed after {took:.1f} s, not at once"
            # the CLI says the same in one line
            done = _cli(data, statement)
            assert done.returncode != 0 and "CATALOG_UNAVAILABLE" in done.stderr, done.stderr
            assert len(done.stderr.strip().splitlines()) == 1, done.stderr
            assert PASSWORD not in done.stderr and PASSWORD not in error["message"]
        wait_until(lambda: time.monotonic() - halted >= 5, timeout=WAIT, what="a 5-second outage")
        assert server.proc.poll() is None  # the node keeps its process
    finally:
        catalog_server.resume()
    up = now()

    wait_until(
        lambda: succeeded_after(dsn, schema, up), timeout=WAIT, what="runs after the catalog came back"
    )
    [[row]] = sql(data, "SELECT count(*) AS n FROM hits")
    assert int(row["n"]) > 0  # statements work again
    assert server.stop() == 0

    runs = history(dsn, schema)
    assert_sound(runs, duck_hits(data) + side_hits(side))
    fast = assert_every_instant(runs, "fast", timedelta(milliseconds=200))
    missed = [r for r in fast if r.state == "SKIPPED" and r.scheduled_time < up - timedelta(seconds=5)]
    assert missed and {r.error_code for r in missed} == {"MISSED"}
    assert_caught_up(assert_every_instant(runs, "every_second", timedelta(seconds=1)), since=down)
    assert not [r for r in runs if r.name == "other"]
    log = server.log.read_text()
    assert log.count(" is unreachable: ") == 1, log
    assert "Traceback" not in log and PASSWORD not in log


def assert_caught_up(every: list[Run], *, since: datetime) -> None:
    """CATCH_UP = ALL after an outage that began at ``since``: every instant ran, those of the outage
    late and one after another, but an instant that came while that catch-up still ran, which the
    overlap rule records SKIPPED as OVERLAP (docs/scheduling.md, "Overlap"); none before the outage."""
    assert {(r.state, r.error_code) for r in every} <= {("SUCCEEDED", None), ("SKIPPED", "OVERLAP")}
    overlapped = [r for r in every if r.state == "SKIPPED"]
    assert all(r.scheduled_time > since for r in overlapped), overlapped
    assert len(overlapped) < len([r for r in every if r.scheduled_time > since and r.state == "SUCCEEDED"])


def _api_error(url: str, statement: str) -> tuple[float, dict[str, str]]:
    """``POST /api/v1/sql`` of a statement that must fail: the seconds its answer took, and its error."""
    request = urllib.request.Request(
        f"{url}/api/v1/sql",
        data=json.dumps({"sql": statement}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    began = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as answer:
            body = json.loads(answer.read())
    except urllib.error.HTTPError as failed:
        body = json.loads(failed.read())
    took = time.monotonic() - began
    assert body["ok"] is False, f"{statement} did not fail: {body}"
    return took, body["error"]


def _cli(data: Path, statement: str) -> subprocess.CompletedProcess[str]:
    """``tasksql sql STATEMENT`` against the running server, whatever its exit code."""
    return subprocess.run(
        [*TASKSQL, "--data", str(data), "sql", statement],
        capture_output=True,
        text=True,
        env=env(),
        timeout=60,
        check=False,
    )
