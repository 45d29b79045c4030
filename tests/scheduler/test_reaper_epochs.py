"""The heartbeat reaper judges a node by its epoch, as the takeover does: a node id that joins again
between the reaper's reading of the nodes and its settling keeps every run (those of its new epoch
are its own); a node still gone when the settling commits is settled. On the SQLite catalog, which
has the same protocol."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import datetime
from pathlib import Path

from sched_harness import Harness, make_harness
from test_lost_nodes import exited_pid

from tasksql import __version__
from tasksql.model import RunState, ScheduledFrom, TaskRecord, TaskState
from tasksql.model.cluster import Fence, Membership
from tasksql.model.run import NewRun, NodeRecord, RunRecord

PID = exited_pid()  # node a's process: on this host and gone, so the reaper judges a lost at once


def joining(lease: float) -> Membership:
    return Membership(
        node_id="a",
        host=socket.gethostname(),
        pid=PID,
        version=__version__,
        started_at=datetime.now().astimezone(),
        lease_seconds=lease,
        capacity=4,
    )


async def run_of_a(h: Harness, record: TaskRecord, fence: Fence, at: datetime) -> RunRecord:
    name = record.definition.name
    new = NewRun(
        task_id=record.id,
        task_version=record.version,
        name=name.name,
        database_name=name.database or "",
        schema_name=name.schema or "",
        scheduled_time=at,
        state=RunState.EXECUTING,
        scheduled_from=ScheduledFrom.EXECUTE_TASK,
        query_start_time=at,
        query_text="SELECT 1",
        warehouse="default",
        node_id="a",
    )
    run = await h.engine.catalog.fire_leased(new, fence)
    assert run is not None
    return run


async def lease_ran_out(h: Harness) -> None:
    for _ in range(100):
        if not next(m for m in await h.engine.catalog.cluster_members() if m.node_id == "a").live:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("node a's lease did not run out")


async def states(h: Harness, *runs: RunRecord) -> list[tuple[str, str | None]]:
    out = []
    for run in runs:
        stored = await h.engine.catalog.get_run(run.run_id)
        assert stored is not None
        out.append((stored.state.value, stored.error_code))
    return out


async def test_the_reaper_leaves_a_node_that_joined_again_after_it_was_judged_dead(tmp_path: Path) -> None:
    h = await make_harness(tmp_path, claim_ahead_s=0)
    try:
        catalog = h.engine.catalog
        await h.sql("CREATE TASK t SCHEDULE = '1 HOUR' AS SELECT 1")
        [record] = [r for r in await catalog.list_tasks() if r.state is TaskState.SUSPENDED]
        first = await catalog.join(joining(lease=0.3))
        old = await run_of_a(h, record, first.fence, h.clock.now())
        await lease_ran_out(h)

        # a joins again (and starts a run) right after the reaper read the nodes and judged it dead
        read = catalog.list_nodes
        fresh: list[RunRecord] = []

        async def then_a_joins_again(now: datetime) -> list[NodeRecord]:
            nodes = await read(now)
            again = await catalog.join(joining(lease=60))
            fresh.append(await run_of_a(h, record, again.fence, h.clock.now()))
            return nodes

        catalog.list_nodes = then_a_joins_again  # type: ignore[method-assign]
        assert await h.scheduler.housekeeper.reap() == 0
        catalog.list_nodes = read  # type: ignore[method-assign]
        assert await states(h, old, *fresh) == [("EXECUTING", None), ("EXECUTING", None)]

        # the epoch still gone when the settling commits: everything the node id left is settled
        await catalog.join(joining(lease=0.3))
        await lease_ran_out(h)
        assert await h.scheduler.housekeeper.reap() == 2
        assert await states(h, old, *fresh) == [("FAILED", "NODE_LOST"), ("FAILED", "NODE_LOST")]
    finally:
        await h.scheduler.stop()
        await h.engine.close()


async def test_the_reaper_settles_a_node_that_never_joined(tmp_path: Path) -> None:
    h = await make_harness(tmp_path, claim_ahead_s=0)
    try:
        catalog = h.engine.catalog
        await h.sql("CREATE TASK t SCHEDULE = '1 HOUR' AS SELECT 1")
        now = h.clock.now()
        # an embedded EXECUTE TASK of a process that then died: registered only (epoch 0)
        node = NodeRecord(
            node_id="a",
            host=socket.gethostname(),
            pid=PID,
            role="embedded",
            version="0",
            started_at=now,
            heartbeat_at=now,
        )
        await catalog.register_node(node)
        [run] = await catalog.fire([_embedded(await catalog.list_tasks(), now)], [])
        assert run is not None
        assert await h.scheduler.housekeeper.reap() == 1
        assert await states(h, run) == [("FAILED", "NODE_LOST")]
        assert os.getpid() != PID
    finally:
        await h.scheduler.stop()
        await h.engine.close()


def _embedded(records: list[TaskRecord], at: datetime) -> NewRun:
    [record] = records
    name = record.definition.name
    return NewRun(
        task_id=record.id,
        task_version=record.version,
        name=name.name,
        database_name=name.database or "",
        schema_name=name.schema or "",
        scheduled_time=at,
        state=RunState.EXECUTING,
        scheduled_from=ScheduledFrom.EXECUTE_TASK,
        query_start_time=at,
        query_text="SELECT 1",
        warehouse="default",
        node_id="a",
    )
