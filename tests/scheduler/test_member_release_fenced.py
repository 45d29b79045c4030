"""A cluster member's release of its claims is fenced (on the SQLite catalog, which has the same
coordination protocol as PostgreSQL's): a member that lost its lease without knowing it yet and
releases the claim of a task that changed leaves the claim to the node that takes the task over,
which runs the instant once."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from sched_harness import START, Harness, make_harness

from tasksql import __version__
from tasksql.model import RunState
from tasksql.model.cluster import Membership
from tasksql.scheduler.membership import LEASE_S
from tasksql.scheduler.service import Scheduler
from tasksql.testing import FakeClock

TASK = "CREATE TASK t SCHEDULE = '1 SECOND' AS SELECT 1; ALTER TASK t RESUME"


class Monotonic:
    """A node's own clock, moved by hand (its lease deadline never passes unless moved)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def task_id(h: Harness) -> int:
    [record] = await h.engine.catalog.list_tasks()
    return record.id


async def runs(h: Harness) -> dict[float, list[tuple[RunState, str | None]]]:
    """Seconds after START -> (state, node) of each run of ``t`` at that instant, oldest first."""
    start = FakeClock(START).now()
    out: dict[float, list[tuple[RunState, str | None]]] = {}
    for r in sorted(await h.engine.catalog.list_runs(task_id=await task_id(h)), key=lambda r: r.run_id):
        out.setdefault((r.scheduled_time - start).total_seconds(), []).append((r.state, r.node_id))
    return out


async def tick(h: Harness, scheduler: Scheduler, advance: float) -> int:
    """Advance the clock and tick ``scheduler`` (its lease renewed first), waiting for its runs and
    their bookkeeping; the runs the tick started."""
    h.clock.advance(advance)
    fence = scheduler.fence.current
    if fence is not None:
        await h.engine.catalog.renew_lease(fence, running=0)
    started = (await scheduler.tick()).started
    await scheduler.bookkeeping_written()
    await scheduler.drain(timeout=10)
    await scheduler.bookkeeping_written()
    return started


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


async def test_a_release_by_a_member_that_lost_its_lease_leaves_the_claim_to_the_new_holder(
    tmp_path: Path,
) -> None:
    h = await make_harness(tmp_path, cluster_claims=True)
    other: Scheduler | None = None
    try:
        await h.sql(TASK)
        await h.scheduler.reload()
        a = await h.scheduler.join_cluster(monotonic=Monotonic())
        other = h.engine.new_scheduler(node_id="n2")
        await other.start(background=False)
        b = await other.join_cluster(monotonic=Monotonic())
        assert a.placed == {await task_id(h)} and b.placed == set()
        await tick(h, h.scheduler, 1)  # the first instant fires, the next is claimed
        assert (await runs(h))[2.0] == [(RunState.SCHEDULED, "test-node")]

        # test-node's lease is taken from it (its id joined again elsewhere) and n2's claim of
        # placements takes the task; test-node has not noticed (no round of its own since)
        stale = a.fence
        await h.engine.catalog.join(same_node_id(h))
        assert b.fence is not None
        assert await h.engine.catalog.claim_placements(b.fence, capacity=4, warehouses=None) == [
            await task_id(h)
        ]
        # the task changes: test-node's reload releases the claim of its next instant, under the
        # fence it believes it holds; the release is refused, the claim stays for n2 to take over
        await h.sql("ALTER TASK t SET COMMENT = 'changed'")
        await h.scheduler.reload()
        assert a.fence == stale
        assert (await runs(h))[2.0] == [(RunState.SCHEDULED, "test-node")]

        await b.beat()  # n2 takes the claim over and runs the instant, once
        assert b.placed == {await task_id(h)}
        assert 2.0 not in await runs(h)
        assert [await tick(h, other, 1) for _ in range(2)] == [1, 1]
        history = await runs(h)
        assert [history[at] for at in (1.0, 2.0, 3.0)] == [
            [(RunState.SUCCEEDED, "test-node")],
            [(RunState.SUCCEEDED, "n2")],
            [(RunState.SUCCEEDED, "n2")],
        ]
    finally:
        if other is not None:
            await other.stop()
        await h.scheduler.stop()
        await h.engine.close()
