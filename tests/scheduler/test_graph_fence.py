"""A graph run under a cluster member's fence: its member runs are inserted only while the node holds
the root's placement. A node that lost the root (here: the root is pinned elsewhere right before the
step that ends its run is written) starts no member of that graph run and gives the graph run up (FAILED, NODE_LOST); the
root's own outcome is still recorded. On the SQLite catalog, which has the same protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sched_harness import make_harness
from test_membership import Monotonic

from tasksql.model import RunState
from tasksql.model.run import RunRecord
from tasksql.scheduler.graph_coordinator import Launch


async def test_a_node_that_lost_the_roots_placement_starts_no_member_and_gives_the_graph_run_up(
    tmp_path: Path,
) -> None:
    h = await make_harness(tmp_path, claim_ahead_s=0)
    try:
        await h.sql("CREATE TASK r SCHEDULE = '10 SECONDS' AS SELECT 1")
        await h.sql("CREATE TASK a AFTER r AS SELECT 1")
        await h.sql("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('r')")
        await h.scheduler.reload()
        await h.scheduler.join_cluster(monotonic=Monotonic())
        graphs = h.scheduler.graphs
        step = graphs.step

        async def moved_first(rec: RunRecord, *args: Any, **kwargs: Any) -> list[Launch] | None:
            # the root is pinned to another node while its run executes: this node's epoch no
            # longer holds it (and so no longer holds its graph's runs)
            await h.engine.catalog.pin_tasks({rec.task_id: "elsewhere"})
            return await step(rec, *args, **kwargs)

        graphs.step = moved_first  # type: ignore[method-assign]
        await h.tick(advance=10)

        runs = await h.engine.catalog.list_runs()
        assert [(r.name, r.state) for r in runs] == [("r", RunState.SUCCEEDED)]  # no member started
        group = runs[0].graph_run_group_id
        assert group is not None
        graph = await h.engine.catalog.get_graph_run(group)
        assert graph is not None
        assert (graph.state, graph.first_error_code) == ("FAILED", "NODE_LOST")
        assert not graphs.active
    finally:
        await h.scheduler.stop()
        await h.engine.close()
