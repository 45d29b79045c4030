"""Three real ``tasksql serve`` processes on one private PostgreSQL catalog are one cluster.

Ten tasks run every second on a PostgreSQL warehouse (the catalog's own database), each body writing
its task name and scheduled instant into the table ``hits``, so every node's bodies write to one
place. The test proves, from the bodies' own writes and from the history: the tasks are spread over
the nodes, no instant ran twice, every instant of the steady state ran; a node killed with -9
has its tasks run on another node within 5 s (the failover time is printed); a node stopped with
SIGTERM hands its tasks over.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest

from pgserver import PgDatabase

T = TypeVar("T")
TASKSQL = [sys.executable, "-m", "tasksql"]
TASKS = [f"t{i}" for i in range(10)]
BODY = (
    "SELECT SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_NAME'), "
    "SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_SCHEDULED_TIME')"
)
FAILOVER_LIMIT_S = 5.0
#: Seconds a wait for a condition may take before the test fails: a bound for what never comes, not the
#: speed under test (that is asserted on its own: the failover and settling times).
WAIT = 60

# Nodes start, bursts run, waits are generous (WAIT): longer than the suite's default of 120 s allows
# on a loaded machine.
pytestmark = pytest.mark.timeout(420)


def wait_for(probe: Callable[[], T | None], *, timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


class Node:
    """``tasksql serve --node-id ID --port 0`` on the shared catalog, its own data directory."""

    def __init__(self, node_id: str, data: Path, env: dict[str, str]) -> None:
        self.node_id = node_id
        self.log = data.parent / f"{node_id}.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [*TASKSQL, "--data", str(data), "serve", "--node-id", node_id, "--port", "0"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def alive(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"node {self.node_id} exited: {self.log.read_text()}")
        return True

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


class Cluster:
    """Reads of the shared catalog (schema ``tasksql``) and of the bodies' table ``hits``."""

    def __init__(self, dsn: str) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True)

    def rows(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        return self.conn.execute(query, params).fetchall()  # type: ignore[arg-type]

    def live_nodes(self) -> set[str]:
        return {
            r[0]
            for r in self.rows(
                "SELECT node_id FROM tasksql.nodes WHERE lease_state = 'live' AND lease_until > now()"
            )
        }

    def placements(self) -> dict[str, str | None]:
        """Task name -> the node holding it (its current epoch only)."""
        return dict(
            self.rows(
                "SELECT t.name, n.node_id FROM tasksql.placements p JOIN tasksql.tasks t ON t.id = p.task_id"
                " LEFT JOIN tasksql.nodes n ON n.node_id = p.node_id AND n.epoch = p.epoch"
                " AND n.lease_state IN ('live', 'draining')"
            )
        )

    def runs(self) -> list[tuple[str, datetime, str, str, datetime | None]]:
        """(task, scheduled instant, node, state, start) of every scheduled run."""
        return self.rows(  # type: ignore[return-value]
            "SELECT name, scheduled_time, node_id, state, query_start_time FROM tasksql.runs"
            " WHERE scheduled_from = 'SCHEDULE' ORDER BY scheduled_time"
        )

    def hits(self) -> list[tuple[str, datetime]]:
        """(task, scheduled instant) of every body's write."""
        return [
            (str(name).rsplit(".", 1)[-1].lower(), _instant(str(at)))
            for name, at in self.rows("SELECT task, scheduled FROM hits")
        ]


def _instant(text: str) -> datetime:
    at = datetime.fromisoformat(text.replace(" ", "T"))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def cli_sql(env: dict[str, str], data: Path, text: str) -> None:
    done = subprocess.run(
        [*TASKSQL, "--data", str(data), "sql", text],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def nodes() -> Iterator[list[Node]]:
    started: list[Node] = []
    yield started
    for node in started:
        node.kill()


def test_three_nodes_run_each_instant_once_and_take_over_a_killed_node(
    tmp_path: Path, pg_database: PgDatabase, nodes: list[Node]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSQL_")}
    env.update(TASKSQL_CATALOG=pg_database.url, TASKSQL_CATALOG_SCHEMA="tasksql", TASKSQL_LOG_LEVEL="INFO")
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE hits (task text, scheduled text)")
    cli_sql(env, tmp_path / "admin", f"CREATE WAREHOUSE wh TYPE = postgres URL = '{pg_database.url}'")
    cluster = Cluster(pg_database.dsn)

    for i in (1, 2, 3):
        nodes.append(Node(f"n{i}", tmp_path / f"n{i}", env))
    wait_for(
        lambda: all(n.alive() for n in nodes) and cluster.live_nodes() == {"n1", "n2", "n3"},
        timeout=WAIT,
        what="three live nodes",
    )
    script = "".join(
        f"CREATE TASK {t} WAREHOUSE = wh SCHEDULE = '1 SECOND' AS INSERT INTO hits {BODY}; ALTER TASK {t} RESUME;"
        for t in TASKS
    )
    cli_sql(env, tmp_path / "admin", script)

    # every task placed, on more than one node, and running
    placed = wait_for(
        lambda: (p := cluster.placements()) and all(p.get(t) for t in TASKS) and p,
        timeout=WAIT,
        what="every task placed",
    )
    spread = Counter(placed.values())
    print("placement:", dict(spread))
    assert len(spread) >= 2, f"every task on one node: {placed}"
    wait_for(
        lambda: {r[0] for r in cluster.runs() if r[3] == "SUCCEEDED"} >= set(TASKS),
        timeout=WAIT,
        what="a run of every task",
    )
    steady_from = datetime.now(UTC)
    time.sleep(3)  # a few instants of every task in the steady state (the window checked below)

    # kill -9 the node holding the most tasks: its tasks run elsewhere within the failover limit
    victim_id = spread.most_common(1)[0][0]
    assert victim_id is not None
    victim = next(n for n in nodes if n.node_id == victim_id)
    its_tasks = {t for t, n in placed.items() if n == victim_id}
    killed_at = datetime.now(UTC)
    victim.kill()

    def taken_over() -> dict[str, datetime] | None:
        first: dict[str, datetime] = {}
        for name, instant, node, _, start in cluster.runs():
            if name in its_tasks and node != victim_id and instant > killed_at and start is not None:
                first.setdefault(name, start)
        return first if set(first) == its_tasks else None

    first_runs = wait_for(taken_over, timeout=WAIT, what=f"{victim_id}'s tasks to run on another node")
    failover = max((at - killed_at).total_seconds() for at in first_runs.values())
    print(f"failover after kill -9 of {victim_id} ({len(its_tasks)} tasks): {failover:.2f} s")
    assert failover < FAILOVER_LIMIT_S

    time.sleep(2)
    # SIGTERM drains a second node: its tasks go to the last one
    survivors = [n for n in nodes if n is not victim]
    drained, last = survivors
    termed_at = datetime.now(UTC)
    drained.proc.terminate()
    assert drained.proc.wait(timeout=30) == 0
    wait_for(
        lambda: all(n == last.node_id for n in cluster.placements().values()),
        timeout=WAIT,
        what=f"every task placed on {last.node_id}",
    )
    wait_for(
        lambda: (
            {
                r[0]
                for r in cluster.runs()
                if r[2] == last.node_id and r[1] > termed_at and r[3] == "SUCCEEDED"
            }
            >= set(TASKS)
        ),
        timeout=WAIT,
        what=f"every task to run on {last.node_id}",
    )
    ended_at = datetime.now(UTC)
    last.proc.terminate()
    assert last.proc.wait(timeout=30) == 0

    # no instant ran twice: neither in the bodies' writes nor in the history
    hits = cluster.hits()
    twice = [k for k, c in Counter(hits).items() if c > 1]
    assert not twice, f"instants whose body ran twice: {twice[:5]}"
    runs = cluster.runs()
    twice_runs = [k for k, c in Counter((r[0], r[1]) for r in runs).items() if c > 1]
    assert not twice_runs
    ran = {(r[0], r[1]) for r in runs if r[3] == "SUCCEEDED"}
    assert ran <= set(hits) | {(r[0], r[1]) for r in runs if r[2] == victim_id}
    # every instant of the steady state (before the kill) ran: a task's instants one second apart
    seconds = int((killed_at - steady_from).total_seconds())
    for task in TASKS:
        mine = sorted(at for t, at in set(hits) if t == task and steady_from <= at <= killed_at)
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(mine)]
        assert len(mine) >= seconds - 1 and all(abs(g - 1) < 0.01 for g in gaps), (task, mine)
    nodes_ran = {r[2] for r in runs if r[3] == "SUCCEEDED"}
    assert nodes_ran == {"n1", "n2", "n3"}
    assert ended_at > termed_at


BURST = 1000


def test_a_burst_of_a_thousand_due_instants_never_costs_the_node_its_lease(
    tmp_path: Path, pg_database: PgDatabase, nodes: list[Node]
) -> None:
    """The lease renewals of a node do not queue behind its runs: 1,000 tasks due at the same
    instant, twice, and the node keeps the epoch it joined with (a lost lease is a new epoch)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSQL_")}
    env.update(TASKSQL_CATALOG=pg_database.url, TASKSQL_CATALOG_SCHEMA="tasksql", TASKSQL_LOG_LEVEL="INFO")
    cli_sql(env, tmp_path / "admin", "SHOW TASKS")  # the catalog's schema, before the node reads it
    cluster = Cluster(pg_database.dsn)
    nodes.append(Node("n1", tmp_path / "n1", env))
    wait_for(lambda: nodes[0].alive() and cluster.live_nodes() == {"n1"}, timeout=WAIT, what="a live node")
    [(epoch,)] = cluster.rows("SELECT epoch FROM tasksql.nodes WHERE node_id = 'n1'")
    # every 10 s on the second, so that all of them are due at the same instant
    script = "".join(
        f"CREATE TASK b{i} SCHEDULE = 'USING CRON */10 * * * * * UTC' AS SELECT {i}; ALTER TASK b{i} RESUME;"
        for i in range(BURST)
    )
    cli_sql(env, tmp_path / "admin", script)

    def bursts() -> int:
        [(count,)] = cluster.rows(
            "SELECT count(*) FROM (SELECT scheduled_time FROM tasksql.runs WHERE state = 'SUCCEEDED'"
            " GROUP BY scheduled_time HAVING count(*) = %s) AS full_bursts",
            BURST,
        )
        return int(count)

    wait_for(lambda: nodes[0].alive() and bursts() >= 2, timeout=2 * WAIT, what="two bursts to run in full")
    # on failure, the node's own account of its lease (renewals late, lost, joined again)
    said = [
        line
        for line in nodes[0].log.read_text().splitlines()
        if any(word in line.lower() for word in ("lease", "epoch", "fenc", "join", "catalog"))
    ]
    assert cluster.rows("SELECT epoch, lease_state FROM tasksql.nodes WHERE node_id = 'n1'") == [
        (epoch, "live")
    ], "\n".join(said[-40:])
    assert "stops firing" not in nodes[0].log.read_text()


def test_a_killed_members_run_is_settled_at_the_takeover_and_retried_on_the_survivor(
    tmp_path: Path, pg_database: PgDatabase, nodes: list[Node]
) -> None:
    """kill -9 of the node running a slow body: the node taking its tasks over settles the run
    (FAILED, NODE_LOST) within seconds, not after the heartbeat reaper's wait, and runs the
    retry its policy asks for."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSQL_")}
    env.update(TASKSQL_CATALOG=pg_database.url, TASKSQL_CATALOG_SCHEMA="tasksql", TASKSQL_LOG_LEVEL="INFO")
    cli_sql(env, tmp_path / "admin", f"CREATE WAREHOUSE wh TYPE = postgres URL = '{pg_database.url}'")
    cluster = Cluster(pg_database.dsn)
    for i in (1, 2):
        nodes.append(Node(f"n{i}", tmp_path / f"n{i}", env))
    wait_for(
        lambda: all(n.alive() for n in nodes) and cluster.live_nodes() == {"n1", "n2"},
        timeout=WAIT,
        what="two live nodes",
    )
    cli_sql(
        env,
        tmp_path / "admin",
        "CREATE TASK slow WAREHOUSE = wh SCHEDULE = '2 SECONDS' TASK_AUTO_RETRY_ATTEMPTS = 1"
        " AS SELECT pg_sleep(60); ALTER TASK slow RESUME",
    )

    def executing() -> tuple[int, str] | None:
        rows = cluster.rows("SELECT run_id, node_id FROM tasksql.runs WHERE state = 'EXECUTING'")
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    run_id, victim_id = wait_for(executing, timeout=WAIT, what="a run of slow executing")
    victim = next(n for n in nodes if n.node_id == victim_id)
    survivor = next(n for n in nodes if n is not victim)
    killed = time.monotonic()
    victim.kill()

    def settled() -> tuple[str, str | None] | None:
        [(state, code)] = cluster.rows("SELECT state, error_code FROM tasksql.runs WHERE run_id = %s", run_id)
        return None if state == "EXECUTING" else (state, code)

    outcome = wait_for(settled, timeout=WAIT, what=f"run {run_id} of the killed node to be settled")
    took = time.monotonic() - killed
    print(f"run of the killed node settled after {took:.2f} s")
    assert outcome == ("FAILED", "NODE_LOST")
    assert took < 6, f"settled after {took:.1f} s: the heartbeat reaper's wait, not the takeover"
    # the retry runs on the survivor (attempt 2 of the same instant)
    retry = wait_for(
        lambda: cluster.rows(
            "SELECT r.node_id, r.state FROM tasksql.runs r JOIN tasksql.runs f"
            " ON f.task_id = r.task_id AND f.scheduled_time = r.scheduled_time"
            " WHERE f.run_id = %s AND r.attempt_number = 2 AND r.scheduled_from = 'RETRY'",
            run_id,
        ),
        timeout=WAIT,
        what="the retry of the lost run",
    )
    assert retry[0][0] == survivor.node_id and retry[0][1] in ("SCHEDULED", "EXECUTING"), retry
    survivor.alive()
