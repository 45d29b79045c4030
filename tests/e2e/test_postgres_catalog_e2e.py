"""The whole engine and scheduler on a PostgreSQL catalog: a task created through
``tasksql.connect(..., catalog_url=...)`` runs on schedule, and its history is plain rows in the
catalog's schema that any PostgreSQL client can read; while ``tasksql serve`` runs, a client that
talks to it and one that reads the catalog itself from another data directory see the same."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql as pgsql
from serve_support import TASKSQL, ServerProcess, sql, wait_for

import tasksql
from pgserver import PgServer

pytestmark = pytest.mark.postgres


def test_a_scheduled_task_runs_and_its_history_is_in_postgresql(pg_server: PgServer, tmp_path: Path) -> None:
    schema = f"e2e_{uuid.uuid4().hex[:8]}"
    runs = pgsql.SQL(
        "SELECT name, state, scheduled_time FROM {}.runs WHERE state = 'SUCCEEDED' ORDER BY scheduled_time"
    ).format(pgsql.Identifier(schema))

    with tasksql.connect(tmp_path / "data", catalog_url=pg_server.url, catalog_schema=schema) as con:
        con.sql("CREATE TABLE ticks (ts TIMESTAMP)")
        con.sql("CREATE TASK tick SCHEDULE = '1 SECOND' AS INSERT INTO ticks SELECT now()")
        con.sql("ALTER TASK tick RESUME")
        con.start()
        with psycopg.connect(pg_server.dsn, autocommit=True) as pg:
            deadline = time.monotonic() + 20
            while len(rows := pg.execute(runs).fetchall()) < 2:
                assert time.monotonic() < deadline, f"2 SUCCEEDED runs expected, history has {rows}"
                time.sleep(0.1)
        con.stop()

    assert [(name, state) for name, state, _ in rows[:2]] == [("tick", "SUCCEEDED")] * 2
    assert rows[1][2] > rows[0][2]
    assert not (tmp_path / "data" / "catalog.db").exists()  # the catalog is in PostgreSQL only


#: What a client reads; through the server and straight from the catalog, each must be the same.
SAME_VIEWS = (
    "SHOW TASKS",
    "DESCRIBE TASK yearly",
    "SELECT * FROM task_history(result_limit => 10000) ORDER BY scheduled_time, name, attempt_number",
    "SELECT * FROM system.task_versions ORDER BY name, version",
    "SELECT * FROM system.graph_runs ORDER BY scheduled_time",
    "SELECT name, state, next_scheduled_time FROM system.tasks WHERE state = 'started' ORDER BY name",
    "SELECT * FROM next_runs('yearly', 3)",
    "SHOW WAREHOUSES",
)


@pytest.mark.realtime
def test_clients_through_the_server_or_straight_to_the_catalog_read_the_same(
    pg_server: PgServer,
    tmp_path: Path,
    spawn: Callable[..., ServerProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``tasksql serve`` on a PostgreSQL catalog with data directory A; ``tasksql --data A sql``
        talks to it, ``tasksql --catalog URL --data B sql`` uses the catalog itself: what B writes, the
    server runs; what both read is the same rows."""
    monkeypatch.setenv("TASKSQL_CATALOG", pg_server.url)
    monkeypatch.setenv("TASKSQL_CATALOG_SCHEMA", f"e2e_{uuid.uuid4().hex[:8]}")
    served, apart = tmp_path / "a", tmp_path / "b"
    server = spawn(served)
    try:
        sql(
            served,
            "CREATE TABLE ticks (n INTEGER);"
            "CREATE TASK tick SCHEDULE = '1 SECOND' AS INSERT INTO ticks VALUES (1);"
            "CREATE TASK after_tick AFTER tick AS INSERT INTO ticks VALUES (2);"
            "CREATE TASK broken SCHEDULE = '1 SECOND' AS SELECT * FROM no_such_table;"
            "CREATE TASK yearly SCHEDULE = 'USING CRON 0 0 1 1 * UTC' COMMENT = 'kept' AS SELECT 1;"
            "ALTER TASK after_tick RESUME; ALTER TASK tick RESUME; ALTER TASK broken RESUME;"
            "ALTER TASK yearly RESUME",
        )
        # written straight to the catalog: the server hears of it and runs it
        straight_sql(apart, "CREATE TASK apart SCHEDULE = '1 SECOND' AS SELECT 2; ALTER TASK apart RESUME")

        def ran() -> bool:
            [[row]] = sql(served, "SELECT count(*) AS n FROM task_history() WHERE state = 'SUCCEEDED'")
            [[failed]] = sql(served, "SELECT count(*) AS n FROM task_history() WHERE state = 'FAILED'")
            [[made]] = sql(
                served, "SELECT count(*) AS n FROM task_history('apart') WHERE state = 'SUCCEEDED'"
            )
            return bool(row["n"] >= 4 and failed["n"] >= 1 and made["n"] >= 1)

        wait_for(ran, timeout=60, what="runs of the graph, of the task made apart and a failed run")
        # history stops growing, so that both ways read one state; yearly stays started
        straight_sql(apart, "ALTER TASK tick SUSPEND; ALTER TASK broken SUSPEND; ALTER TASK apart SUSPEND")

        def settled() -> bool:
            [rows] = sql(
                served,
                "SELECT count(*) AS n FROM task_history() WHERE state IN ('EXECUTING', 'SCHEDULED')",
            )
            return bool(rows[0]["n"] == 0)

        wait_for(settled, timeout=30, what="the runs in flight to end")

        with tasksql.connect(served) as through, tasksql.connect(apart) as straight:
            assert through.remote and not straight.remote  # the server's directory; a directory of its own
        script = ";\n".join(SAME_VIEWS)
        via_server, direct = timeless(sql(served, script)), timeless(straight_sql(apart, script))
        assert len(via_server) == len(direct) == len(SAME_VIEWS)
        for view, server_rows, direct_rows in zip(SAME_VIEWS, via_server, direct, strict=True):
            differ = [
                (i, k, d.get(k), s.get(k))
                for i, (d, s) in enumerate(zip(direct_rows, server_rows, strict=False))
                for k in d.keys() | s.keys()
                if d.get(k) != s.get(k)
            ]
            assert direct_rows == server_rows, (view, differ)
            assert server_rows, view
        assert not (apart / "server.json").exists() and server.proc.poll() is None
    finally:
        assert server.stop() == 0


def timeless(results: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    """``results`` without the next instant of suspended tasks: when each would run if it were
    resumed at the moment it is read."""
    return [
        [
            {
                k: v
                for k, v in row.items()
                if not (k == "next_scheduled_time" and row.get("state") == "suspended")
            }
            for row in rows
        ]
        for rows in results
    ]


def straight_sql(data: Path, text: str) -> list[list[dict[str, Any]]]:
    """``tasksql --catalog URL --data DATA --format json sql TEXT`` (the catalog named on the
    command line, no server in DATA): one list of row objects per result set."""
    env = {k: v for k, v in os.environ.items() if k != "TASKSQL_CATALOG"}
    url = os.environ["TASKSQL_CATALOG"]
    done = subprocess.run(
        [*TASKSQL, "--catalog", url, "--data", str(data), "--format", "json", "sql", text],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
