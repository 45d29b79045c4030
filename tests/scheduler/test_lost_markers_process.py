"""Chaos: ``tasksql serve`` killed with SIGKILL again and again under about 20 runs a second.

Every task body writes its own run id and instant into the DuckDB warehouse after a slow query, so
kills land while bodies run and commit. At the end, from the bodies' own writes and from history:
every body that committed is SUCCEEDED in history (never FAILED NODE_LOST), every SUCCEEDED run's
body committed, and no instant ran twice.

The test runs for ``TASKSQL_CHAOS_SECONDS`` of killing (15 by default, the short version CI runs;
at most 60), one kill every 1.5 to 3 seconds.
"""

from __future__ import annotations

import collections
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from test_lost_nodes_process import Serve, cli_sql, wait_for

from catalog_choice import CatalogReadError, catalog_rows
from tasksql.scheduler.lost import COMMITTED_MESSAGE

pytestmark = [pytest.mark.chaos, pytest.mark.realtime, pytest.mark.timeout(180)]

TASKS = 20
SECONDS = min(60.0, float(os.environ.get("TASKSQL_CHAOS_SECONDS", "15")))

#: A body: a query that takes some milliseconds, then the run's own record (a script for odd tasks).
BODY = (
    "INSERT INTO log SELECT '{name}', SYSTEM$TASK_RUNTIME_INFO('CURRENT_RUN_ID'),"
    " SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_SCHEDULED_TIME') FROM (SELECT sum(i) FROM range(400000) t(i))"
)


def runs_of(data: Path, node_id: str) -> int:
    try:
        return int(catalog_rows(data, f"SELECT count(*) FROM runs WHERE node_id = '{node_id}'")[0][0])
    except CatalogReadError:
        return 0


def test_killed_servers_never_lose_a_committed_body_nor_run_an_instant_twice(tmp_path: Path) -> None:
    data = tmp_path / "data"
    script = ["CREATE TABLE log (task VARCHAR, run_id BIGINT, instant VARCHAR);"]
    for i in range(TASKS):
        body = BODY.format(name=f"t{i}")
        if i % 2:
            body = f"BEGIN {body}; UPDATE log SET task = task WHERE false; END"
        script.append(f"CREATE TASK t{i} SCHEDULE 1s AS {body};")
    cli_sql(data, "\n".join(script))
    rng = random.Random(1234)
    killed: list[str] = []
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        server = Serve(data)
        try:
            seen = runs_of(data, server.node_id)
            # running for a while, then killed at a moment nobody chose
            wait_for(lambda s=server, n=seen: runs_of(data, s.node_id) > n + 15, timeout=60, what="runs")
            time.sleep(rng.uniform(0.0, 1.5))
            server.proc.send_signal(signal.SIGKILL)
            killed.append(server.node_id)
        finally:
            server.stop()
    last = Serve(data)  # it settles what the killed ones left, at start
    try:

        def reaped() -> bool:
            nodes = ", ".join(f"'{n}'" for n in killed)
            query = f"SELECT count(*) FROM runs WHERE node_id IN ({nodes}) AND state IN ('SCHEDULED', 'EXECUTING')"
            return catalog_rows(data, query)[0][0] == 0

        wait_for(reaped, timeout=60, what="the killed nodes' runs to be settled")
    finally:
        last.stop()

    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    try:
        written: list[tuple[Any, ...]] = con.execute("SELECT task, run_id, instant FROM log").fetchall()
    finally:
        con.close()
    history = {
        r[0]: r[1:]
        for r in catalog_rows(
            data, "SELECT run_id, state, error_code, error_message, node_id, name, scheduled_time FROM runs"
        )
    }
    committed = collections.Counter(r[1] for r in written)
    assert max(committed.values()) == 1  # a run's body commits once
    per_instant = collections.Counter((task, instant) for task, _, instant in written)
    twice = [k for k, n in per_instant.items() if n > 1]
    assert not twice, f"instants that ran twice: {twice[:5]}"
    not_succeeded = {r: history.get(r) for r in committed if (history.get(r) or ("gone",))[0] != "SUCCEEDED"}
    assert not not_succeeded, f"committed bodies not recorded SUCCEEDED: {list(not_succeeded.items())[:5]}"
    succeeded = {r for r, row in history.items() if row[0] == "SUCCEEDED"}
    assert succeeded <= set(committed), (
        f"SUCCEEDED without a committed body: {sorted(succeeded - set(committed))[:5]}"
    )
    reconciled = [r for r, row in history.items() if row[2] == COMMITTED_MESSAGE.format(node=row[3])]
    lost = [r for r, row in history.items() if row[1] == "NODE_LOST"]
    print(
        f"{len(killed)} kills, {len(committed)} committed bodies, {len(reconciled)} recorded from their"
        f" marker, {len(lost)} NODE_LOST (their bodies had not committed)"
    )
    assert len(killed) >= 2 and len(committed) >= 40
