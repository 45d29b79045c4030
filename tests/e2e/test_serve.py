"""End to end, in real time, through real processes: ``tasksql serve`` plus ``tasksql sql``.

Bounds are generous (the machine may be busy); these tests check behaviour, never speed.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from serve_support import ServerProcess, sql, wait_for

pytestmark = pytest.mark.realtime

LONG_QUERY = "SELECT sum(hash(i)) FROM range(100000000000) t(i)"


def test_seed_000_example_runs_verbatim(tmp_path: Path, spawn: Callable[..., ServerProcess]) -> None:
    data = tmp_path / "data"
    server = spawn(data)
    try:
        sql(data, "CREATE STREAM node_states (cluster_id string, node_id string, node_state string)")
        sql(
            data,
            "CREATE TASK refresh_node_states SCHEDULE 5s TIMEOUT 2s INTO node_states\n"
            "             AS SELECT cluster_id, node_id, node_state FROM system.cluster",
        )

        def grown() -> int | None:
            [[row]] = sql(data, "SELECT count(*) AS n FROM node_states")
            return row["n"] if row["n"] >= 2 else None

        wait_for(grown, timeout=40, what="two runs of refresh_node_states")
        [history] = sql(
            data,
            "SELECT name, state, scheduled_time, completed_time FROM task_history() "
            "ORDER BY scheduled_time DESC LIMIT 5",
        )
        assert len(history) >= 2
        assert {h["name"] for h in history} == {"refresh_node_states"}
        # the next instant is claimed ahead: its row is SCHEDULED until it comes
        assert {h["state"] for h in history} <= {"SUCCEEDED", "EXECUTING", "SCHEDULED"}
        assert "SUCCEEDED" in {h["state"] for h in history}
        [[node]] = sql(data, "SELECT node_id, node_state FROM node_states LIMIT 1")
        assert node["node_state"] == "running"
    finally:
        assert server.stop() == 0


def test_sigterm_waits_for_in_flight_runs_then_cancels_them(
    tmp_path: Path, spawn: Callable[..., ServerProcess]
) -> None:
    data = tmp_path / "data"
    server = spawn(data, TASKSQL_GRACE_PERIOD="1")
    sql(data, f"CREATE TASK slow SCHEDULE 1s AS {LONG_QUERY}")

    def executing() -> bool:
        [rows] = sql(data, "SELECT state FROM task_history() WHERE state = 'EXECUTING'")
        return bool(rows)

    wait_for(executing, timeout=30, what="a run to be executing")
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=60) == 0
    [rows] = sql(data, "SELECT state, error_code FROM task_history() ORDER BY run_id")
    assert rows[0] == {"state": "CANCELLED", "error_code": "CANCELLED"}
    assert all(r["state"] in ("CANCELLED", "SKIPPED") for r in rows)


def test_kill_9_during_a_run_loses_nothing_and_the_run_is_settled(
    tmp_path: Path, spawn: Callable[..., ServerProcess]
) -> None:
    data = tmp_path / "data"
    server = spawn(data)
    sql(data, "CREATE TABLE ticks (ts TIMESTAMP)")
    sql(data, f"CREATE TASK slow SCHEDULE 1s AS {LONG_QUERY}")
    sql(data, "CREATE TASK tick SCHEDULE 1s AS INSERT INTO ticks SELECT now()")

    def executing() -> int | None:
        [rows] = sql(data, "SELECT run_id FROM task_history(task_name => 'slow') WHERE state = 'EXECUTING'")
        return rows[0]["run_id"] if rows else None

    run_id = wait_for(executing, timeout=30, what="a run of slow to be executing")
    server.kill()  # SIGKILL: no clean shutdown at all

    restarted = spawn(data)
    try:

        def settled() -> dict[str, str] | None:
            [rows] = sql(
                data, f"SELECT state, error_code, error_message FROM task_history() WHERE run_id = {run_id}"
            )
            return rows[0] if rows and rows[0]["state"] != "EXECUTING" else None

        run = wait_for(settled, timeout=30, what="the interrupted run to be settled")
        assert run == {
            "state": "FAILED",
            "error_code": "NODE_LOST",
            "error_message": "node stopped during run",
        }
        [tasks] = sql(data, "SELECT name, state FROM system.tasks ORDER BY name")
        assert tasks == [{"name": "slow", "state": "started"}, {"name": "tick", "state": "started"}]
        [[before]] = sql(data, "SELECT count(*) AS n FROM ticks")

        def continued() -> bool:
            [[now]] = sql(data, "SELECT count(*) AS n FROM ticks")
            return bool(now["n"] > before["n"])

        wait_for(continued, timeout=30, what="the schedules to continue after the restart")
    finally:
        sql(data, "ALTER TASK slow SUSPEND")
        sql(data, "CANCEL TASK slow")
        assert restarted.stop() == 0


def test_statements_go_through_the_server_while_it_runs(
    tmp_path: Path, spawn: Callable[..., ServerProcess]
) -> None:
    data = tmp_path / "data"
    server = spawn(data)
    try:
        sql(data, "CREATE TABLE t AS SELECT 42 AS answer")  # the server owns the DuckDB file
        [[row]] = sql(data, "SELECT answer FROM t")
        assert row == {"answer": 42}
        done = sql(data, "SELEC 1", check=False)
        assert done == []
    finally:
        assert server.stop() == 0
    # embedded again once the server is gone: the same data is there
    [[row]] = sql(data, "SELECT answer FROM t")
    assert row == {"answer": 42}


def test_a_task_graph_runs_end_to_end(tmp_path: Path, spawn: Callable[..., ServerProcess]) -> None:
    data = tmp_path / "data"
    server = spawn(data)
    try:
        sql(
            data,
            """
            CREATE TABLE steps (task VARCHAR, value VARCHAR);
            CREATE TASK root SCHEDULE = '2 SECONDS' CONFIG = $${"target": "steps"}$$
              AS SELECT SYSTEM$SET_RETURN_VALUE('from root');
            CREATE TASK left_branch AFTER root
              AS INSERT INTO steps SELECT 'left', SYSTEM$GET_PREDECESSOR_RETURN_VALUE('root');
            CREATE TASK right_branch AFTER root
              AS INSERT INTO steps SELECT 'right', SYSTEM$GET_TASK_GRAPH_CONFIG('target');
            CREATE TASK joined AFTER left_branch, right_branch AS INSERT INTO steps VALUES ('joined', NULL);
            CREATE TASK finalizer FINALIZE = root AS INSERT INTO steps VALUES ('finalizer', NULL);
            SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('root');
            """,
        )

        def one_graph_run() -> list[dict[str, object]] | None:
            [graphs] = sql(
                data, "SELECT state, graph_run_group_id FROM complete_task_graphs() ORDER BY scheduled_time"
            )
            return graphs if graphs else None

        first = wait_for(one_graph_run, timeout=40, what="a complete graph run")[0]
        assert first["state"] == "SUCCEEDED"
        group = first["graph_run_group_id"]
        [runs] = sql(
            data,
            f"SELECT name, state FROM task_history() WHERE graph_run_group_id = '{group}' ORDER BY run_id",
        )
        names = [r["name"] for r in runs]
        assert names[0] == "root" and names[-1] == "finalizer"
        assert sorted(names[1:3]) == ["left_branch", "right_branch"] and names[3] == "joined"
        assert {r["state"] for r in runs} == {"SUCCEEDED"}
        [steps] = sql(data, "SELECT DISTINCT task, value FROM steps")
        assert {(s["task"], s["value"]) for s in steps} >= {("left", "from root"), ("right", "steps")}
    finally:
        sql(data, "ALTER TASK root SUSPEND")
        assert server.stop() == 0
