"""Cluster members claim instants ahead: a node killed with -9 while it holds claims of instants to
come leaves them to the node that takes its tasks over, which runs each of those instants once.

Two real ``tasksql serve`` processes on one private PostgreSQL catalog; six tasks every 10 seconds
on a PostgreSQL warehouse, each body writing its task and scheduled instant into ``hits``. Each
node claims the next instant of its tasks when they fire (a SCHEDULED row, up to 10 s ahead). The
node holding claims is killed; the proof is from the catalog and from the bodies' own writes.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from test_cluster_serve import BODY, WAIT, Cluster, Node, cli_sql, nodes, wait_for

from pgserver import PgDatabase

__all__ = ["nodes"]  # the fixture, shared with test_cluster_serve

TASKS = [f"c{i}" for i in range(6)]
#: How far ahead of the kill a claim must be for its instant to come after the takeover (the
#: failover takes under 5 s: the lease of 2.5 s, a claim round of 0.5 s, the settling).
AHEAD = timedelta(seconds=5)

pytestmark = pytest.mark.timeout(300)


def test_a_node_killed_with_claims_outstanding_leaves_each_instant_to_run_once_on_the_survivor(
    tmp_path: Path, pg_database: PgDatabase, nodes: list[Node]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSQL_")}
    env.update(
        TASKSQL_CATALOG=pg_database.url,
        TASKSQL_CATALOG_SCHEMA="tasksql",
        TASKSQL_LOG_LEVEL="INFO",
        TASKSQL_CLUSTER_CLAIMS="1",
    )
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE hits (task text, scheduled text)")
    cli_sql(env, tmp_path / "admin", f"CREATE WAREHOUSE wh TYPE = postgres URL = '{pg_database.url}'")
    cluster = Cluster(pg_database.dsn)
    for i in (1, 2):
        nodes.append(Node(f"n{i}", tmp_path / f"n{i}", env))
    wait_for(
        lambda: all(n.alive() for n in nodes) and cluster.live_nodes() == {"n1", "n2"},
        timeout=WAIT,
        what="two live nodes",
    )
    script = "".join(
        f"CREATE TASK {t} WAREHOUSE = wh SCHEDULE = '10 SECONDS' AS INSERT INTO hits {BODY};"
        f" ALTER TASK {t} RESUME;"
        for t in TASKS
    )
    cli_sql(env, tmp_path / "admin", script)

    def claims_ahead() -> tuple[str, set[tuple[str, datetime]]] | None:
        """A node and its claims of instants at least AHEAD away, once it holds some."""
        soon = datetime.now(UTC) + AHEAD
        held: dict[str, set[tuple[str, datetime]]] = {}
        for name, instant, node, state, start in cluster.runs():
            if state == "SCHEDULED" and start is None and instant > soon:
                held.setdefault(node, set()).add((name, instant))
        return max(held.items(), key=lambda kv: len(kv[1])) if held else None

    wait_for(
        lambda: {r[0] for r in cluster.runs() if r[3] == "SUCCEEDED"} >= set(TASKS),
        timeout=WAIT,
        what="a run of every task",
    )
    victim_id, claimed = wait_for(claims_ahead, timeout=WAIT, what="claims of instants to come")
    victim = next(n for n in nodes if n.node_id == victim_id)
    survivor = next(n for n in nodes if n is not victim)
    victim.kill()
    killed_at = datetime.now(UTC)
    last = max(at for _, at in claimed)

    def ran_on_survivor() -> bool:
        done = {(r[0], r[1]) for r in cluster.runs() if r[2] == survivor.node_id and r[3] == "SUCCEEDED"}
        return survivor.alive() and claimed <= done

    wait_for(
        ran_on_survivor, timeout=WAIT, what=f"{victim_id}'s claimed instants to run on {survivor.node_id}"
    )
    time.sleep(max(0.0, (last - datetime.now(UTC)).total_seconds()) + 1.5)  # their outcomes are in
    print(
        f"{victim_id} killed at {killed_at:%H:%M:%S.%f} with {len(claimed)} claims ahead: {sorted(claimed)}"
    )

    runs = cluster.runs()
    hits = cluster.hits()
    # each claimed instant ran once, on the survivor, and its body wrote once
    for name, instant in claimed:
        rows = [r for r in runs if (r[0], r[1]) == (name, instant)]
        assert [(r[2], r[3]) for r in rows] == [(survivor.node_id, "SUCCEEDED")], rows
        assert Counter(hits)[(name.lower(), instant)] == 1, (name, instant)
    # nothing ran twice anywhere, and the killed node left no claim behind
    assert not [k for k, c in Counter(hits).items() if c > 1]
    assert not [k for k, c in Counter((r[0], r[1]) for r in runs).items() if c > 1]
    assert not [r for r in runs if r[2] == victim_id and r[3] == "SCHEDULED"]
