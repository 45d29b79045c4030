"""A scheduler as a cluster member (on the SQLite catalog, which has the same coordination
protocol): it fires only while it holds its lease by its own clock, joins again under a new epoch
when the lease is lost, and a write refused by the fence abandons the run without crashing."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

from sched_harness import Harness, make_harness

from tasksql import __version__
from tasksql.model.cluster import Membership
from tasksql.scheduler.membership import LEASE_S
from tasksql.scheduler.service import TickReport

TASK = "CREATE TASK t SCHEDULE = '1 SECOND' AS SELECT 1; ALTER TASK t RESUME"


class Monotonic:
    """The node's own clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def supersede(h: Harness) -> None:
    """The catalog hands this node id a newer epoch (as when another process joined under it)."""
    await h.engine.catalog.join(
        Membership(
            node_id="test-node",
            host=socket.gethostname(),
            pid=os.getpid(),
            version=__version__,
            started_at=h.clock.now(),
            lease_seconds=LEASE_S,
            capacity=1,
        )
    )


async def ran(h: Harness) -> list[tuple[object, ...]]:
    return [r for r in await h.history("t") if r[1] == "SUCCEEDED"]


async def test_a_member_fires_only_under_its_lease_and_joins_again_when_it_is_lost(tmp_path: Path) -> None:
    h = await make_harness(tmp_path, claim_ahead_s=0)
    try:
        await h.sql(TASK)
        await h.scheduler.reload()
        task_id = next(iter(h.scheduler.entries))
        mono = Monotonic()
        member = await h.scheduler.join_cluster(monotonic=mono)
        first = member.fence
        assert first is not None
        assert member.placed == {task_id}
        await h.tick(advance=1)
        assert len(await ran(h)) == 1

        # past its own deadline (no renewal came through): nothing fires, though the catalog may
        # not have revoked the lease yet
        mono.now += LEASE_S
        assert not member.may_fire()
        await h.tick(advance=1)
        assert len(await ran(h)) == 1
        # the next round joins again under a newer epoch and takes the task back
        await member.beat()
        second = member.fence
        assert second is not None and second.epoch > first.epoch and member.joins == 2
        assert member.placed == {task_id}
        await h.tick(advance=1)
        assert len(await ran(h)) > 1

        # the catalog hands the node id a newer epoch behind this process's back (as when another
        # process joined under it): the stale fence's insert is refused, nothing runs, no crash
        before = await h.history("t")
        await supersede(h)
        assert member.may_fire()
        await h.tick(advance=1)
        assert await h.history("t") == before
        assert h.scheduler.in_flight == 0
        # its next round learns that the lease is lost, forgets the task and joins again
        await member.beat()
        third = member.fence
        assert third is not None and third.epoch > second.epoch + 1 and member.joins == 3
        assert member.placed == {task_id}
        await h.tick(advance=1)
        assert len(await ran(h)) > len([r for r in before if r[1] == "SUCCEEDED"])
    finally:
        await h.scheduler.stop()
        await h.engine.close()


LONG_QUERY = "SELECT sum(hash(i)) FROM range(100000000000) t(i)"


async def test_an_outcome_refused_under_a_lost_lease_is_written_once_the_node_joined_again(
    tmp_path: Path,
) -> None:
    h = await make_harness(tmp_path, claim_ahead_s=0)
    try:
        await h.sql(f"CREATE TASK t SCHEDULE = '1 SECOND' AS {LONG_QUERY}; ALTER TASK t RESUME")
        await h.scheduler.reload()
        member = await h.scheduler.join_cluster(monotonic=Monotonic())
        await h.tick(advance=1, drain=False)
        assert [r[1] for r in await h.history("t")] == ["EXECUTING"]
        await supersede(h)
        # the run ends (cancelled) after its lease was lost: its outcome is refused, kept, and the
        # node is asked to look at its lease
        await h.sql("CANCEL TASK t")
        await h.scheduler.drain(timeout=10)
        await h.scheduler.bookkeeping_written()
        assert [r[1] for r in await h.history("t")] == ["EXECUTING"]
        assert h.scheduler.runs.refused_mark == 1
        # the next round finds the lease lost, joins again and writes the outcome under the new epoch
        await member.beat()
        assert member.joins == 2
        assert [r[1] for r in await h.history("t")] == ["CANCELLED"]
        assert h.scheduler.runs.refused_mark == 0
    finally:
        await h.scheduler.stop()
        await h.engine.close()


async def test_a_member_past_its_deadline_with_instants_due_waits_for_its_lease_without_spinning(
    tmp_path: Path,
) -> None:
    h = await make_harness(tmp_path, claim_ahead_s=0)
    scheduler = h.scheduler
    loop_task: asyncio.Task[None] | None = None
    try:
        await h.sql(TASK)
        await scheduler.reload()
        mono = Monotonic()
        member = await scheduler.join_cluster(monotonic=mono)
        reports: list[TickReport] = []
        tick = scheduler.tick

        async def counted() -> TickReport:
            report = await tick()
            reports.append(report)
            if len(reports) >= 1000:
                scheduler._stopping = True  # a spinning loop ends itself: the test fails, not hangs
            return report

        scheduler.tick = counted  # type: ignore[method-assign]
        # an instant is due while the node's own deadline has passed (its renewals were held up)
        h.clock.advance(1)
        mono.now += LEASE_S
        loop_task = asyncio.create_task(scheduler.run())
        deadline = time.monotonic() + 5
        while not any(r.held for r in reports):
            assert time.monotonic() < deadline, "the loop never ticked"
            await asyncio.sleep(0.01)
        # the held loop sleeps: everything else on the event loop runs (the renewals among it)
        for _ in range(100):
            await asyncio.sleep(0)
        assert not loop_task.done() and len(reports) < 5, f"{len(reports)} ticks: the loop spins"
        assert await ran(h) == []
        # the next round joins again: the loop is woken and fires the instant held back
        await member.beat()
        assert member.joins == 2 and member.may_fire()
        while not await ran(h):
            assert time.monotonic() < deadline, "the held instant never fired"
            await asyncio.sleep(0.01)
        assert len(reports) < 20
    finally:
        await scheduler.stop()
        if loop_task is not None:
            await asyncio.wait([loop_task], timeout=5)
        await h.engine.close()
