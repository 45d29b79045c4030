"""Work on several nodes, with real ``tasksql serve`` nodes on a private PostgreSQL catalog:

* ``RUN ON HOSTS``: each instant runs once on every live node (one run row per node, never two for a
  node); a node killed with -9 runs nothing more and nobody runs its instants;
* ``TYPE rebuild`` (``LOCATION SYSTEM``) fans out into one sub-task per node, each executed by its
  node on its own DuckDB file; all settle and ``system.subtasks`` lists them; ``LOCATION CLUSTER``
  picks the nodes of that cluster;
* ``CANCEL TASK`` cancels the sub-tasks of a run that is blocked on every node, and the run ends
  CANCELLED;
* ``TYPE rebalance`` after a third node joined moves tasks to it, with no instant missed or run twice.
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
from serve_support import ServerProcess, sql, wait_for

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
    admin = tmp_path / "admin"

    def start(node_id: str, cluster: str) -> ServerProcess:
        server = ServerProcess(tmp_path / node_id, TASKSQL_NODE_ID=node_id, TASKSQL_CLUSTER_ID=cluster)
        servers.append(server)
        return server

    def live() -> set[str]:
        rows = db.execute(
            "SELECT node_id FROM tasksql.nodes WHERE lease_state = 'live' AND lease_until > clock_timestamp()"
        )
        return {r[0] for r in rows}

    def query(text: str) -> list[dict[str, Any]]:
        return sql(admin, text)[-1]

    n1 = start("n1", "east")
    start("n2", "west")
    wait_for(lambda: live() == {"n1", "n2"}, timeout=30, what="two live nodes")

    # --- RUN ON HOSTS: one run per live node and instant --------------------------------------
    sql(
        admin,
        "CREATE TASK everywhere SCHEDULE = '1 SECOND' RUN ON HOSTS AS SELECT 1; ALTER TASK everywhere RESUME",
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
        timeout=20,
        what="runs on both",
    )
    runs = host_runs()
    assert all(len(nodes) == len(set(nodes)) for nodes in runs.values())  # never two for a node
    both = sorted(at for at, nodes in runs.items() if sorted(nodes) == ["n1", "n2"])
    assert all(sorted(runs[at]) == ["n1", "n2"] for at in runs if both[0] <= at <= both[-1])
    shown = query("SELECT node_id FROM task_history(task_name => 'everywhere')")
    assert {r["node_id"] for r in shown} == {"n1", "n2"}

    # --- LOCATION SYSTEM: one sub-task per node, each on its node's own DuckDB file ------------
    sql(admin, "CREATE TASK rebuild TYPE rebuild SCHEDULE = '1 SECOND'; ALTER TASK rebuild RESUME")

    rebuilt = wait_for(lambda: last_settled(db, "rebuild"), timeout=20, what="a settled rebuild run")
    sql(admin, "ALTER TASK rebuild SUSPEND")
    assert rebuilt["state"] == "SUCCEEDED", rebuilt
    subtasks = query(f"SELECT * FROM system.subtasks WHERE run_id = {rebuilt['run_id']}")
    assert sorted((s["node_id"], s["state"], s["progress"]) for s in subtasks) == [
        ("n1", "SUCCEEDED", 1.0),
        ("n2", "SUCCEEDED", 1.0),
    ]
    assert {(s["task_type"], s["location"]) for s in subtasks} == {("rebuild", "SYSTEM")}
    sql(admin, "CREATE TASK east_only TYPE check_disk LOCATION CLUSTER east SCHEDULE = '1 SECOND'")
    sql(admin, "ALTER TASK east_only RESUME")
    checked = wait_for(lambda: last_settled(db, "east_only"), timeout=20, what="a settled check_disk run")
    sql(admin, "ALTER TASK east_only SUSPEND")
    assert checked["state"] == "SUCCEEDED", checked
    east = query(f"SELECT node_id FROM system.subtasks WHERE run_id = {checked['run_id']}")
    assert [s["node_id"] for s in east] == ["n1"]

    # --- a killed node's host runs stop; nobody runs its instants ---------------------------------
    n1.kill()
    killed = datetime.now(UTC)
    wait_for(lambda: "n1" not in live(), timeout=10, what="n1's lease to run out")
    after = datetime.now(UTC) + timedelta(seconds=2)
    wait_for(lambda: any(at > after for at in host_runs()), timeout=10, what="instants after the kill")
    late = [at for at, nodes in host_runs().items() if "n1" in nodes and at > killed + timedelta(seconds=1)]
    assert late == []
    assert all(nodes == ["n2"] for at, nodes in host_runs().items() if at > after)


def test_cancel_task_and_rebalance(
    tmp_path: Path, pg_database: PgDatabase, servers: list[ServerProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in os.environ if k.startswith("TASKSQL_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("TASKSQL_CATALOG", pg_database.url)
    db = psycopg.connect(pg_database.dsn, autocommit=True)
    admin = tmp_path / "admin"

    def start(node_id: str, cluster: str) -> ServerProcess:
        server = ServerProcess(tmp_path / node_id, TASKSQL_NODE_ID=node_id, TASKSQL_CLUSTER_ID=cluster)
        servers.append(server)
        return server

    def live() -> set[str]:
        rows = db.execute(
            "SELECT node_id FROM tasksql.nodes WHERE lease_state = 'live' AND lease_until > clock_timestamp()"
        )
        return {r[0] for r in rows}

    def query(text: str) -> list[dict[str, Any]]:
        return sql(admin, text)[-1]

    start("n1", "east")
    start("n2", "west")
    wait_for(lambda: live() == {"n1", "n2"}, timeout=30, what="two live nodes")
    # --- CANCEL TASK: sub-tasks blocked on every node are cancelled ---------------------------
    sql(admin, f"CREATE WAREHOUSE pg TYPE = postgres URL = '{pg_database.url}'")
    db.execute("CREATE TABLE blocker (x int)")
    holder = psycopg.connect(pg_database.dsn)
    holder.execute("LOCK TABLE blocker IN ACCESS EXCLUSIVE MODE")  # VACUUM of the database waits for it
    try:
        sql(
            admin,
            "CREATE TASK vacuum_all WAREHOUSE = pg TYPE rebuild SCHEDULE = '1 SECOND'; ALTER TASK vacuum_all RESUME",
        )

        def running() -> list[tuple[int, str]] | None:
            rows = db.execute(
                "SELECT run_id, state FROM tasksql.subtasks WHERE task_name = 'vacuum_all'"
            ).fetchall()
            return rows if sorted(r[1] for r in rows) == ["RUNNING", "RUNNING"] else None

        blocked = wait_for(running, timeout=20, what="two running VACUUM sub-tasks")
        cancelled = sql(admin, "ALTER TASK vacuum_all SUSPEND; CANCEL TASK vacuum_all")
        assert "2 sub-task(s) cancelled" in str(cancelled)
        run_id = blocked[0][0]
        ended = wait_for(lambda: last_settled(db, "vacuum_all"), timeout=30, what="the vacuum run to end")
        assert (ended["run_id"], ended["state"], ended["error_code"]) == (run_id, "CANCELLED", "CANCELLED")
        states = db.execute("SELECT state FROM tasksql.subtasks WHERE run_id = %s", (run_id,)).fetchall()
        assert [r[0] for r in states] == ["CANCELLED", "CANCELLED"]
    finally:
        holder.rollback()
        holder.close()

    # --- rebalance after a third node joined ---------------------------------------------------
    names = [f"steady{i}" for i in range(6)]
    sql(
        admin,
        "".join(f"CREATE TASK {n} SCHEDULE = '1 SECOND' AS SELECT 1; ALTER TASK {n} RESUME;" for n in names),
    )

    def holders() -> dict[str, str | None]:
        rows = db.execute(
            "SELECT t.name, p.node_id FROM tasksql.placements p JOIN tasksql.tasks t ON t.id = p.task_id "
            "WHERE t.dropped_on IS NULL AND t.name LIKE 'steady%'"
        )
        return dict(rows.fetchall())

    wait_for(lambda: len(holders()) == 6 and None not in holders().values(), timeout=20, what="steady placed")
    start("n3", "east")
    wait_for(lambda: live() == {"n1", "n2", "n3"}, timeout=30, what="three live nodes")
    assert "n3" not in holders().values()  # nothing moves to a new node by itself
    began = datetime.now(UTC)
    sql(admin, "CREATE TASK rebalance TYPE rebalance SCHEDULE = '1 SECOND'; ALTER TASK rebalance RESUME")
    balanced = wait_for(lambda: last_settled(db, "rebalance"), timeout=20, what="a settled rebalance run")
    sql(admin, "ALTER TASK rebalance SUSPEND")
    assert balanced["state"] == "SUCCEEDED", balanced
    wait_for(lambda: "n3" in holders().values(), timeout=10, what="a task held by n3")
    moved = [n for n, node in holders().items() if node == "n3"]
    wait_for(
        lambda: (
            db.execute(
                "SELECT count(*) FROM tasksql.runs WHERE node_id = 'n3' AND name LIKE 'steady%' AND state = 'SUCCEEDED'"
            ).fetchone()[0]
            >= 3
        ),
        timeout=15,
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
