"""Manual runs (EXECUTE TASK, FOR WINDOW, RETRY LAST) of a cluster member are under its lease: a
member whose lease ran out unnoticed (here: the catalog handed its node id a newer epoch behind its
back, as a paused process finds when it resumes) starts nothing and commits no outcome; a member
runs a manual run of a task held by another node, but not of a task pinned elsewhere, nor a graph
whose root another node holds. On the SQLite catalog, which has the same protocol."""

from __future__ import annotations

from pathlib import Path

import pytest
from sched_harness import Harness, make_harness
from test_membership import LONG_QUERY, Monotonic, supersede

from tasksql.errors import TasksqlError


async def manual_runs(h: Harness) -> list[tuple[object, ...]]:
    """(name, state, error_code, node_id) of every manual run, oldest first."""
    return await h.rows(
        "SELECT name, state, error_code, node_id FROM system.task_history"
        " WHERE scheduled_from IN ('EXECUTE TASK', 'RETRY') ORDER BY run_id"
    )


async def refused(h: Harness, statement: str) -> str | None:
    with pytest.raises(TasksqlError) as err:
        await h.sql(statement)
    return err.value.code


async def test_a_member_whose_lease_ran_out_starts_no_manual_run_and_commits_no_outcome(
    tmp_path: Path,
) -> None:
    h = await make_harness(tmp_path, claim_ahead_s=0)
    try:
        await h.sql("CREATE TASK t SCHEDULE = '1 HOUR' AS SELECT 1")
        await h.sql(f"CREATE TASK slow SCHEDULE = '1 HOUR' AS {LONG_QUERY}")
        member = await h.scheduler.join_cluster(monotonic=Monotonic())
        await h.sql("EXECUTE TASK t")
        await h.scheduler.drain()
        assert await manual_runs(h) == [("t", "SUCCEEDED", None, "test-node")]

        await supersede(h)  # the lease is gone; this process has not noticed yet
        assert await refused(h, "EXECUTE TASK t") == "LEASE_LOST"
        window = "EXECUTE TASK t FOR WINDOW '2026-02-01' TO '2026-02-03' STEP '1 DAY'"
        assert await refused(h, window) == "LEASE_LOST"
        assert len(await manual_runs(h)) == 1  # nothing was written

        # joined again: manual runs start again
        await member.beat()
        await h.sql("EXECUTE TASK slow")
        assert (await manual_runs(h))[-1] == ("slow", "EXECUTING", None, "test-node")
        # its lease is lost while it runs: its outcome is not committed under the lost lease
        await supersede(h)
        await h.sql("CANCEL TASK slow")
        await h.scheduler.drain(timeout=10)
        await h.scheduler.bookkeeping_written()
        assert (await manual_runs(h))[-1] == ("slow", "EXECUTING", None, "test-node")
        assert h.scheduler.runs.refused_mark == 1
    finally:
        await h.scheduler.stop()
        await h.engine.close()


async def test_a_member_runs_a_task_held_elsewhere_but_not_one_pinned_elsewhere_nor_a_graph_held_elsewhere(
    tmp_path: Path,
) -> None:
    h = await make_harness(tmp_path, claim_ahead_s=0)
    try:
        catalog = h.engine.catalog
        await h.sql("CREATE TASK t SCHEDULE = '1 HOUR' AS SELECT 1")
        await h.sql("CREATE TASK p NODE = 'n9' SCHEDULE = '1 HOUR' AS SELECT 1")
        await h.sql("CREATE TABLE counts (task VARCHAR)")
        await h.sql("CREATE TASK r SCHEDULE = '1 HOUR' AS INSERT INTO counts VALUES ('r')")
        await h.sql("CREATE TASK a AFTER r AS INSERT INTO counts SELECT 'a' FROM needed")
        await h.sql("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('r'); ALTER TASK t RESUME")
        await h.scheduler.join_cluster(monotonic=Monotonic())
        [t, r] = [(await h.rows(f"SELECT id FROM system.tasks WHERE name = '{n}'"))[0][0] for n in ("t", "r")]
        await h.sql("EXECUTE TASK r")  # this node holds the root: the graph runs (a fails)
        await h.scheduler.drain()
        await catalog.pin_tasks({t: "elsewhere", r: "elsewhere"})  # neither is held here any more

        await h.sql("EXECUTE TASK t")  # a manual run runs where it is asked for
        await h.scheduler.drain()
        assert (await manual_runs(h))[-1] == ("t", "SUCCEEDED", None, "test-node")
        before = await manual_runs(h)
        assert await refused(h, "EXECUTE TASK p") == "NOT_PLACED_HERE"
        assert await refused(h, "EXECUTE TASK r") == "NOT_PLACED_HERE"
        assert await refused(h, "EXECUTE TASK r RETRY LAST") == "NOT_PLACED_HERE"
        assert await manual_runs(h) == before  # nothing was written
        graphs = await h.rows("SELECT root_task_name, state FROM complete_task_graphs()")
        assert [g for g in graphs if g[0] == "r"] == [("r", "FAILED")]  # no graph run was added
    finally:
        await h.scheduler.stop()
        await h.engine.close()
