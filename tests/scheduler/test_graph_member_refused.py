"""A graph member's outcome refused by the fence (on the SQLite catalog, which has the same protocol
as PostgreSQL's): the graph step that follows from it is not written, the graph run is given up on
this node, and the outcome is kept as any refused outcome: the node checks its lease at once and,
having joined again, records the outcome truthfully under its new lease. Before, the coordinator
went on as if the outcome was recorded: a step that started no run (here: the last member, which
ends the graph run) looked written, the outcome was lost and the run was later settled FAILED
NODE_LOST though its body had succeeded."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from sched_harness import Harness, make_harness

from tasksql import __version__
from tasksql.model import RunState
from tasksql.model.cluster import Membership
from tasksql.model.run import RunRecord
from tasksql.scheduler.graph_coordinator import Launch
from tasksql.scheduler.membership import LEASE_S


class Monotonic:
    """A node's own clock, moved by hand (its lease deadline never passes unless moved)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def same_node_id(h: Harness) -> Membership:
    """Another process joining under the harness node's id (as after a pause past its lease)."""
    return Membership(
        node_id="test-node",
        host=socket.gethostname(),
        pid=os.getpid(),
        version=__version__,
        started_at=h.clock.now(),
        lease_seconds=LEASE_S,
        capacity=1,
    )


async def test_a_members_outcome_refused_gives_the_graph_run_up_and_is_recorded_after_the_rejoin(
    tmp_path: Path,
) -> None:
    h = await make_harness(tmp_path, claim_ahead_s=0)
    try:
        await h.sql("CREATE TASK r SCHEDULE = '10 SECONDS' AS SELECT 1")
        await h.sql("CREATE TASK a AFTER r AS SELECT 1")
        await h.sql("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('r')")
        await h.scheduler.reload()
        member = await h.scheduler.join_cluster(monotonic=Monotonic())
        [child] = [
            t for t in await h.engine.catalog.list_tasks() if str(t.definition.name).lower().endswith(".a")
        ]
        graphs = h.scheduler.graphs
        step = graphs.step
        pokes = 0
        poke = member.poke

        def counted_poke() -> None:
            nonlocal pokes
            pokes += 1
            poke()

        h.scheduler.runs.on_refused = counted_poke

        async def lease_lost_first(rec: RunRecord, *args: Any, **kwargs: Any) -> list[Launch] | None:
            if rec.task_id == child.id:
                # the node's lease is taken from it while the last member runs (its id joined
                # again elsewhere); the node does not know yet: its step is written under the old fence
                await h.engine.catalog.join(same_node_id(h))
            return await step(rec, *args, **kwargs)

        graphs.step = lease_lost_first  # type: ignore[method-assign]
        await h.tick(advance=10)

        runs = {r.name.split(".")[-1].lower(): r for r in await h.engine.catalog.list_runs()}
        assert (runs["r"].state, runs["a"].state) == (RunState.SUCCEEDED, RunState.EXECUTING)
        assert not graphs.active  # given up here
        assert pokes == 1  # the refused outcome makes the node check its lease at once

        await member.beat()  # the lease is lost: the node joins again and writes the outcome again
        assert member.joins == 2
        again = await h.engine.catalog.get_run(runs["a"].run_id)
        assert again is not None and again.state is RunState.SUCCEEDED  # truthfully, not NODE_LOST
        group = runs["a"].graph_run_group_id
        assert group is not None
        await h.tick(advance=0.5)  # the first tick after the join settles what the old epoch left
        graph = await h.engine.catalog.get_graph_run(group)
        assert graph is not None and (graph.state, graph.first_error_code) == ("FAILED", "NODE_LOST")
    finally:
        await h.scheduler.stop()
        await h.engine.close()
