"""Work on several nodes, with real ``tasksql serve`` nodes on a private PostgreSQL catalog:

* ``RUN ON HOSTS``: each instant runs once on every live node (one run row per node, never two for a
  node); a node killed with -9 runs nothing more and nobody runs its instants;
* ``TYPE rebuild`` (``LOCATION SYSTEM``) fans out into one sub-task per node, each executed by its
  node on its own DuckDB file; all settle and ``system.subtasks`` lists them; ``LOCATION CLUSTER``
  picks the nodes of that cluster; ``LOCATION NODE n1`` has one sub-task, n1's, whichever node
  the statement went through;
* ``CANCEL TASK`` cancels the sub-tasks of a run that is blocked on every node, and the run ends
  CANCELLED;
* a node killed with -9 while its sub-task runs: the sub-task is settled FAILED (``NODE_LOST``) by
  the node that waits for it, and the run ends (FAILED, naming it) once the other sub-task is done;
* ``TYPE rebalance`` after a third node joined moves tasks to it, with no instant missed or run twice.

Servers start at once and statements go through a server's HTTP API (no process per statement),
which keeps the file around half a minute per test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import psycopg
import pytest
from serve_support import ServerProcess, api_sql, wait_for

from pgserver import PgDatabase


def last_settled(db: psycopg.Connection[Any], name: str) -> dict[str, Any] | None:
    """The last run of task ``name`` that ran and settled (not an instant skipped for overlap)."""
    cur = db.cursor(row_factory=psycopg.rows.dict_row)
    rows = cur.execute(
        "SELECT * FROM tasksql.runs WHERE name = %s AND state NOT IN ('EXECUTING', 'SCHEDULED', 'SKIPPED') ORDER BY run_id",
        (name,),
    ).fetchall()
    return rows[-1] if rows else None


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for server in started:
        if server.proc.poll() is None:
            server.kill()


def test_run_on_hosts_and_location_system_fan_out(
    tmp_path: Path, pg_database: PgDatabase, servers: list[ServerProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in os.environ if k.startswith("TASKSQL_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("TASKSQL_CATALOG", pg_database.url)
    db = psycopg.connect(pg_database.dsn, autocommit=True)

    def start(node_id: str, cluster: str) -> ServerProcess:
        server = ServerProcess(
            tmp_path / node_id, wait=False, TASKSQL_NODE_ID=node_id, TASKSQL_CLUSTER_ID=cluster
        )
        servers.append(server)
        return server

    def live() -> set[str]:
        rows = db.execute(
            "SELECT node_id FROM tasksql.nodes WHERE lease_state = 'live' AND lease_until > clock_timestamp()"
        )
        return {r[0] for r in rows}

    n1, n2 = start("n1", "east"), start("n2", "west")
    n2.started()

    def sql(text: str) -> list[list[dict[str, Any]]]:
        return api_sql(n2.url, text)  # n2 lives throughout

    def query(text: str) -> list[dict[str, Any]]:
        return sql(text)[-1]

    n1.started()
    wait_for(lambda: live() == {"n1", "n2"}, timeout=30, what="two live nodes")

    # --- RUN ON HOSTS: one run per live node and instant; LOCATION SYSTEM and CLUSTER ----------
    sql(
        "CREATE TASK everywhere SCHEDULE = '1 SECOND' RUN ON HOSTS AS SELECT 1; ALTER TASK everywhere RESUME;"
        " CREATE TASK rebuild TYPE rebuild SCHEDULE = '1 SECOND'; ALTER TASK rebuild RESUME;"
        " CREATE TASK east_only TYPE check_disk LOCATION CLUSTER east SCHEDULE = '1 SECOND';"
        " ALTER TASK east_only RESUME;"
        " CREATE TASK on_n1 TYPE rebuild LOCATION NODE n1 SCHEDULE = '1 SECOND'; ALTER TASK on_n1 RESUME"
    )

    def host_runs() -> dict[datetime, list[str]]:
        out: dict[datetime, list[str]] = {}
        for at, node in db.execute(
            "SELECT scheduled_time, node_id FROM tasksql.runs WHERE name = 'everywhere'"
        ):
            out.setdefault(at, []).append(node)
        return out

    wait_for(
        lambda: sum(sorted(v) == ["n1", "n2"] for v in host_runs().values()) >= 3,
        timeout=60,
        what="runs on both",
    )
    runs = host_runs()
    assert all(len(nodes) == len(set(nodes)) for nodes in runs.values())  # never two for a node
    both = sorted(at for at, nodes in runs.items() if sorted(nodes) == ["n1", "n2"])
    assert all(sorted(runs[at]) == ["n1", "n2"] for at in runs if both[0] <= at <= both[-1])
    shown = query("SELECT node_id FROM task_history(task_name => 'everywhere')")
    assert {r["node_id"] for r in shown} == {"n1", "n2"}

    # --- LOCATION SYSTEM: one sub-task per node, each on its node's own DuckDB file ------------
    rebuilt = wait_for(lambda: last_settled(db, "rebuild"), timeout=60, what="a settled rebuild run")
    checked = wait_for(lambda: last_settled(db, "east_only"), timeout=60, what="a settled check_disk run")
    pinned = wait_for(lambda: last_settled(db, "on_n1"), timeout=60, what="a settled LOCATION NODE run")
    sql("ALTER TASK rebuild SUSPEND; ALTER TASK east_only SUSPEND; ALTER TASK on_n1 SUSPEND")
    assert rebuilt["state"] == "SUCCEEDED", rebuilt
    subtasks = query(f"SELECT * FROM system.subtasks WHERE run_id = {rebuilt['run_id']}")
    assert sorted((s["node_id"], s["state"], s["progress"]) for s in subtasks) == [
        ("n1", "SUCCEEDED", 1.0),
        ("n2", "SUCCEEDED", 1.0),
    ]
    assert {(s["task_type"], s["location"]) for s in subtasks} == {("rebuild", "SYSTEM")}
    assert checked["state"] == "SUCCEEDED", checked
    east = query(f"SELECT node_id FROM system.subtasks WHERE run_id = {checked['run_id']}")
    assert [s["node_id"] for s in east] == ["n1"]
    assert (pinned["state"], pinned["node_id"]) == ("SUCCEEDED", "n1"), pinned
    alone = query(f"SELECT * FROM system.subtasks WHERE run_id = {pinned['run_id']}")
    assert [(s["node_id"], s["location"], s["state"], s["progress"]) for s in alone] == [
        ("n1", "NODE n1", "SUCCEEDED", 1.0)
    ]

    # --- a killed node's host runs stop; nobody runs its instants ---------------------------------
    n1.kill()
    killed = datetime.now(UTC)
    wait_for(lambda: "n1" not in live(), timeout=60, what="n1's lease to run out")
    after = datetime.now(UTC) + timedelta(seconds=2)
    wait_for(lambda: any(at > after for at in host_runs()), timeout=60, what="instants after the kill")
    late = [at for at, nodes in host_runs().items() if "n1" in nodes and at > killed + timedelta(seconds=1)]
    assert late == []
    assert all(nodes == ["n2"] for at, nodes in host_runs().items() if at > after)


def test_cancel_task_a_node_lost_mid_subtask_and_rebalance(
    tmp_path: Path, pg_database: PgDatabase, servers: list[ServerProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in os.environ if k.startswith("TASKSQL_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("TASKSQL_CATALOG", pg_database.url)
    db = psycopg.connect(pg_database.dsn, autocommit=True)
    nodes: dict[str, ServerProcess] = {}

    def start(node_id: str, cluster: str) -> ServerProcess:
        server = ServerProcess(
            tmp_path / node_id, wait=False, TASKSQL_NODE_ID=node_id, TASKSQL_CLUSTER_ID=cluster
        )
        servers.append(server)
        nodes[node_id] = server
        return server

    def live() -> set[str]:
        rows = db.execute(
            "SELECT node_id FROM tasksql.nodes WHERE lease_state = 'live' AND lease_until > clock_timestamp()"
        )
        return {r[0] for r in rows}

    def sql(text: str) -> list[list[dict[str, Any]]]:
        alive = next(n for n in nodes.values() if n.proc.poll() is None)
        return api_sql(alive.started(), text)

    for server in (start("n1", "east"), start("n2", "west")):
        server.started()
    wait_for(lambda: live() == {"n1", "n2"}, timeout=30, what="two live nodes")

    def subtasks(run_id: int) -> dict[str, tuple[str, str | None]]:
        rows = db.execute(
            "SELECT node_id, state, error_code FROM tasksql.subtasks WHERE run_id = %s", (run_id,)
        )
        return {node: (state, code) for node, state, code in rows}

    def running(after: int) -> int | None:
        """The run of vacuum_all after run ``after`` whose two sub-tasks are running."""
        rows = db.execute(
            "SELECT run_id, array_agg(state) FROM tasksql.subtasks WHERE task_name = 'vacuum_all'"
            " AND run_id > %s GROUP BY run_id",
            (after,),
        ).fetchall()
        return next((r for r, states in rows if sorted(states) == ["RUNNING", "RUNNING"]), None)

    # --- CANCEL TASK: sub-tasks blocked on every node are cancelled ---------------------------
    sql(f"CREATE WAREHOUSE pg TYPE = postgres URL = '{pg_database.url}'")
    db.execute("CREATE TABLE blocker (x int)")
    holder = psycopg.connect(pg_database.dsn)
    holder.execute("LOCK TABLE blocker IN ACCESS EXCLUSIVE MODE")  # VACUUM of the database waits for it
    try:
        sql(
            "CREATE TASK vacuum_all WAREHOUSE = pg TYPE rebuild SCHEDULE = '1 SECOND'; ALTER TASK vacuum_all RESUME"
        )
        run_id = wait_for(lambda: running(0), timeout=60, what="two running VACUUM sub-tasks")
        cancelled = sql("ALTER TASK vacuum_all SUSPEND; CANCEL TASK vacuum_all")
        assert "2 sub-task(s) cancelled" in str(cancelled)
        ended = wait_for(lambda: last_settled(db, "vacuum_all"), timeout=30, what="the vacuum run to end")
        assert (ended["run_id"], ended["state"], ended["error_code"]) == (run_id, "CANCELLED", "CANCELLED")
        assert subtasks(run_id) == {"n1": ("CANCELLED", "CANCELLED"), "n2": ("CANCELLED", "CANCELLED")}
    finally:
        holder.rollback()

    # --- a node killed -9 while its sub-task runs: settled NODE_LOST, the run ends ----------------
    holder.execute("LOCK TABLE blocker IN ACCESS EXCLUSIVE MODE")
    try:
        sql("ALTER TASK vacuum_all RESUME")
        run_id = wait_for(lambda: running(run_id), timeout=60, what="two running VACUUM sub-tasks again")
        sql("ALTER TASK vacuum_all SUSPEND")
        [(parent,)] = db.execute("SELECT node_id FROM tasksql.runs WHERE run_id = %s", (run_id,)).fetchall()
        victim = "n2" if parent == "n1" else "n1"
        nodes[victim].kill()
        wait_for(
            lambda: subtasks(run_id)[victim] == ("FAILED", "NODE_LOST"),
            timeout=60,
            what=f"{victim}'s sub-task to be settled NODE_LOST",
        )
        assert subtasks(run_id)[parent] == ("RUNNING", None)  # the run waits for its other sub-task
    finally:
        holder.rollback()
        holder.close()
    ended = wait_for(
        lambda: (r := last_settled(db, "vacuum_all")) is not None and r["run_id"] == run_id and r,
        timeout=30,
        what="the run to end",
    )
    assert (ended["run_id"], ended["state"], ended["error_code"]) == (run_id, "FAILED", "SUBTASK_FAILED"), (
        ended
    )
    assert f"node {victim}: NODE_LOST" in (ended["error_message"] or ""), ended
    assert subtasks(run_id)[parent] == ("SUCCEEDED", None)
    start(victim, "east" if victim == "n1" else "west").started()  # back for the rebalance
    wait_for(lambda: live() == {"n1", "n2"}, timeout=30, what="two live nodes again")

    # --- rebalance after a third node joined ---------------------------------------------------
    names = [f"steady{i}" for i in range(6)]
    sql("".join(f"CREATE TASK {n} SCHEDULE = '1 SECOND' AS SELECT 1; ALTER TASK {n} RESUME;" for n in names))

    def holders() -> dict[str, str | None]:
        rows = db.execute(
            "SELECT t.name, p.node_id FROM tasksql.placements p JOIN tasksql.tasks t ON t.id = p.task_id "
            "WHERE t.dropped_on IS NULL AND t.name LIKE 'steady%'"
        )
        return dict(rows.fetchall())

    wait_for(lambda: len(holders()) == 6 and None not in holders().values(), timeout=60, what="steady placed")
    start("n3", "east").started()
    wait_for(lambda: live() == {"n1", "n2", "n3"}, timeout=30, what="three live nodes")
    assert "n3" not in holders().values()  # nothing moves to a new node by itself
    began = datetime.now(UTC)
    sql("CREATE TASK rebalance TYPE rebalance SCHEDULE = '1 SECOND'; ALTER TASK rebalance RESUME")
    balanced = wait_for(lambda: last_settled(db, "rebalance"), timeout=60, what="a settled rebalance run")
    sql("ALTER TASK rebalance SUSPEND")
    assert balanced["state"] == "SUCCEEDED", balanced
    wait_for(lambda: "n3" in holders().values(), timeout=60, what="a task held by n3")
    moved = [n for n, node in holders().items() if node == "n3"]
    wait_for(
        lambda: (
            db.execute(
                "SELECT count(*) FROM tasksql.runs WHERE node_id = 'n3' AND name LIKE 'steady%' AND state = 'SUCCEEDED'"
            ).fetchone()[0]
            >= 3
        ),
        timeout=60,
        what="runs of moved tasks on n3",
    )
    # no instant of a moved task missed or run twice around the move
    for name in moved:
        times = [
            r[0]
            for r in db.execute(
                "SELECT scheduled_time FROM tasksql.runs WHERE name = %s AND scheduled_from = 'SCHEDULE' "
                "AND scheduled_time >= %s ORDER BY scheduled_time",
                (name, began - timedelta(seconds=2)),
            )
        ]
        assert len(times) == len(set(times)), times
        gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
        assert gaps and all(g == 1.0 for g in gaps), (name, times)
