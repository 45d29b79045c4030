"""Cluster members claim instants ahead (on the SQLite catalog, which has the same coordination
protocol as PostgreSQL's): a claimed run starts only once its start is committed under the node's
fence, and when a task moves to another node with claims outstanding, the new holder runs those
instants and the old one runs none of them; each instant runs once."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sched_harness import START, Harness, make_harness

from tasksql import __version__
from tasksql.errors import CatalogError
from tasksql.model import RunState
from tasksql.model.cluster import Membership
from tasksql.model.run import RunRecord, TaskRuntime
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


async def runs(h: Harness) -> dict[float, list[tuple[RunState, str | None]]]:
    """Seconds after START -> (state, node) of each run of ``t`` at that instant, oldest first."""
    start = FakeClock(START).now()
    out: dict[float, list[tuple[RunState, str | None]]] = {}
    rows: list[RunRecord] = await h.engine.catalog.list_runs(task_id=await task_id(h))
    for r in sorted(rows, key=lambda r: r.run_id):
        out.setdefault((r.scheduled_time - start).total_seconds(), []).append((r.state, r.node_id))
    return out


async def task_id(h: Harness) -> int:
    [record] = await h.engine.catalog.list_tasks()
    return record.id


async def second_node(h: Harness) -> Scheduler:
    """Another scheduler on the same catalog (node n2), started as the harness's is."""
    other = h.engine.new_scheduler(node_id="n2")
    await other.start(background=False)
    return other


async def tick_both(h: Harness, other: Scheduler, advance: float) -> tuple[int, int]:
    """Advance the clock and tick both nodes, their leases renewed first (the catalog judges them
    by the machine's clock); no round claims placements. The runs each tick started."""
    h.clock.advance(advance)
    for scheduler in (h.scheduler, other):
        if scheduler.fence.current is not None:
            await h.engine.catalog.renew_lease(scheduler.fence.current, running=0)
    started: list[int] = []
    for scheduler in (h.scheduler, other):
        started.append((await scheduler.tick()).started)
        await scheduler.bookkeeping_written()
    for scheduler in (h.scheduler, other):
        await scheduler.drain(timeout=10)
        await scheduler.bookkeeping_written()  # the outcomes, written lazily
    return started[0], started[1]


async def tick_one(h: Harness, scheduler: Scheduler, advance: float) -> None:
    """Advance the clock and tick ``scheduler`` alone (its lease renewed first), waiting for its runs."""
    h.clock.advance(advance)
    assert scheduler.fence.current is not None
    await h.engine.catalog.renew_lease(scheduler.fence.current, running=0)
    await scheduler.tick()
    await scheduler.bookkeeping_written()
    await scheduler.drain(timeout=10)
    await scheduler.bookkeeping_written()


async def test_a_member_claims_ahead_and_starts_its_claim_under_its_fence(tmp_path: Path) -> None:
    h = await make_harness(tmp_path, cluster_claims=True)
    try:
        await h.sql(TASK)
        await h.scheduler.reload()
        member = await h.scheduler.join_cluster(monotonic=Monotonic())
        assert member.placed == {await task_id(h)}

        await h.tick(advance=1)
        assert await runs(h) == {
            1.0: [(RunState.SUCCEEDED, "test-node")],
            2.0: [(RunState.SCHEDULED, "test-node")],  # the next instant, claimed
        }
        await h.tick(advance=1)
        assert await runs(h) == {
            1.0: [(RunState.SUCCEEDED, "test-node")],
            2.0: [(RunState.SUCCEEDED, "test-node")],  # the claim, started and settled
            3.0: [(RunState.SCHEDULED, "test-node")],
        }
    finally:
        await h.scheduler.stop()
        await h.engine.close()


async def test_a_task_pinned_elsewhere_with_a_claim_outstanding_runs_each_instant_once(
    tmp_path: Path,
) -> None:
    h = await make_harness(tmp_path, cluster_claims=True)
    other: Scheduler | None = None
    try:
        await h.sql(TASK)
        await h.scheduler.reload()
        a = await h.scheduler.join_cluster(monotonic=Monotonic())
        other = await second_node(h)
        b = await other.join_cluster(monotonic=Monotonic())
        assert a.placed == {await task_id(h)} and b.placed == set()
        await tick_both(h, other, 1)
        assert (await runs(h))[2.0] == [(RunState.SCHEDULED, "test-node")]

        # the task moves to n2 while test-node holds the claim of its next instant; test-node has
        # not noticed yet (no round of its own since), so its tick still fires the task
        await h.engine.catalog.pin_tasks({await task_id(h): "n2"})
        await b.beat()
        assert b.placed == {await task_id(h)}
        started = [await tick_both(h, other, 1) for _ in range(3)]
        assert started == [(0, 1), (0, 1), (0, 1)]  # test-node started no body
        await a.beat()
        assert a.placed == set()
        await tick_both(h, other, 1)

        assert await runs(h) == {
            1.0: [(RunState.SUCCEEDED, "test-node")],
            2.0: [(RunState.SUCCEEDED, "n2")],
            3.0: [(RunState.SUCCEEDED, "n2")],
            4.0: [(RunState.SUCCEEDED, "n2")],
            5.0: [(RunState.SUCCEEDED, "n2")],
            6.0: [(RunState.SCHEDULED, "n2")],
        }
    finally:
        if other is not None:
            await other.stop()
        await h.scheduler.stop()
        await h.engine.close()


async def test_the_node_that_takes_over_a_lost_members_task_runs_its_claimed_instants(
    tmp_path: Path,
) -> None:
    h = await make_harness(tmp_path, cluster_claims=True)
    other: Scheduler | None = None
    try:
        await h.sql(TASK)
        await h.scheduler.reload()
        a = await h.scheduler.join_cluster(monotonic=Monotonic())
        other = await second_node(h)
        b = await other.join_cluster(monotonic=Monotonic())
        await tick_both(h, other, 1)
        assert (await runs(h))[2.0] == [(RunState.SCHEDULED, "test-node")]

        # test-node's lease is taken from it (another process joined under its id, as after a
        # pause): n2 takes the task over at its next claim, with the claim of the instant to come
        stale = a.fence
        await h.engine.catalog.join(a_membership(h))
        await b.beat()
        assert b.placed == {await task_id(h)}
        assert 2.0 not in await runs(h)  # taken over: the instant is n2's to run
        # test-node still believes it holds the task (its own deadline has not passed): its tick
        # tries to start its claim, and the catalog refuses it; n2 runs the instant
        assert a.fence == stale and a.may_fire() and a.placed == {await task_id(h)}
        started = [await tick_both(h, other, 1) for _ in range(2)]

        assert started == [(0, 1), (0, 1)]  # test-node started no body

        assert await runs(h) == {
            1.0: [(RunState.SUCCEEDED, "test-node")],
            2.0: [(RunState.SUCCEEDED, "n2")],
            3.0: [(RunState.SUCCEEDED, "n2")],
            4.0: [(RunState.SCHEDULED, "n2")],
        }
    finally:
        if other is not None:
            await other.stop()
        await h.scheduler.stop()
        await h.engine.close()


async def test_a_claim_of_an_instant_that_came_while_its_node_was_down_runs_on_the_node_that_took_the_task(
    tmp_path: Path,
) -> None:
    """kill -9 of a member with a claim outstanding, its instant coming while the node is down; the
    node is started again with the same id after another node took its task over. The instant of a
    CATCH_UP = ALL task must run: it used to be left to the settling of the lost node's runs, which
    the restarted process did (it settles what its earlier process left) after the new holder had
    built its entry past that instant, so the rewind of the task's next instant in the catalog
    reached no one and the instant had no row at all (the kill -9 chaos test, seed 668418)."""
    h = await make_harness(tmp_path, cluster_claims=True)
    other: Scheduler | None = None
    restarted: Scheduler | None = None
    try:
        await h.sql("CREATE TASK t SCHEDULE = '1 SECOND' CATCH_UP = ALL AS SELECT 1; ALTER TASK t RESUME")
        await h.scheduler.reload()
        await h.scheduler.join_cluster(monotonic=Monotonic())
        other = await second_node(h)
        b = await other.join_cluster(monotonic=Monotonic())
        await tick_both(h, other, 1)
        assert (await runs(h))[2.0] == [(RunState.SCHEDULED, "test-node")]

        # test-node is killed: it ticks no more, and its lease goes (stand-in for the lease running
        # out: a process, gone since, joined under its id); the claimed instant comes meanwhile
        await h.engine.catalog.join(a_membership(h, pid=gone_pid()))
        h.clock.advance(1.5)
        await b.beat()  # n2 takes the task over after the claimed instant came
        assert b.placed == {await task_id(h)}
        await tick_one(h, other, 0)
        # test-node is started again: before it joins, it settles what its killed process left
        restarted = h.engine.new_scheduler(node_id="test-node")
        await restarted.start(background=False)
        for _ in range(3):
            await tick_one(h, other, 1)

        history = await runs(h)
        assert history[2.0] == [(RunState.SUCCEEDED, "n2")]  # it had no row at all
        assert [history[at] for at in (1.0, 3.0, 4.0, 5.0)] == [
            [(RunState.SUCCEEDED, "test-node")],
            [(RunState.SUCCEEDED, "n2")],
            [(RunState.SUCCEEDED, "n2")],
            [(RunState.SUCCEEDED, "n2")],
        ]
    finally:
        for scheduler in (other, restarted):
            if scheduler is not None:
                await scheduler.stop()
        await h.scheduler.stop()
        await h.engine.close()


def gone_pid() -> int:
    """The id of a process that has ended."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def a_membership(h: Harness, *, pid: int | None = None) -> Membership:
    """What another process (``pid``, this one by default) joining under the harness node's id
    declares."""
    return Membership(
        node_id="test-node",
        host=socket.gethostname(),
        pid=os.getpid() if pid is None else pid,
        version=__version__,
        started_at=h.clock.now(),
        lease_seconds=LEASE_S,
        capacity=1,
    )


async def test_a_kept_entry_of_a_task_gained_again_takes_the_rows_next_instant_and_is_fired(
    tmp_path: Path,
) -> None:
    """A task this node lost and gains again while a run of its is still going keeps its entry;
    at the next reload that entry goes back to the next instant of the task's row (which a
    take-over of claims may have moved back) and into the heap. It used to keep its own next
    instant, out of the heap."""
    h = await make_harness(tmp_path)
    going = asyncio.create_task(asyncio.sleep(3600))  # stands for the run still going
    try:
        await h.sql(TASK)
        cache = h.scheduler.cache
        placed: set[int] = set()
        cache.restrict_to(lambda task: task in placed)
        tid = await task_id(h)
        placed.add(tid)
        await h.scheduler.reload()
        for _ in range(3):
            await h.tick(advance=1)
        entry = cache.entries[tid]
        assert entry.next_fire == at(4)

        placed.clear()
        cache.placements_changed(set(), {tid})  # lost, with a run of its still going
        entry.add_run(0, going)
        # meanwhile its row's next instant went back to a claim another node held
        await h.engine.catalog.set_task_runtime([TaskRuntime(task_id=tid, next_fire_at=at(2))])
        placed.add(tid)
        cache.placements_changed({tid}, set())
        await h.scheduler.reload()

        assert cache.entries[tid] is entry  # kept: its run is still going
        assert entry.next_fire == at(2)
        assert cache.pop_due(at(2)) == [entry]
    finally:
        going.cancel()
        await h.scheduler.stop()
        await h.engine.close()


def at(seconds: float) -> datetime:
    """``seconds`` after START."""
    return FakeClock(START).now() + timedelta(seconds=seconds)


class StartFails:
    """Makes the catalog's next ``start_claims`` call raise ``error`` (a failure that is not an
    outage waited out: a constraint error, a bug); the calls after it reach the catalog."""

    def __init__(self, h: Harness, error: Exception) -> None:
        self.real = h.engine.catalog.start_claims
        self.error: Exception | None = error
        self.calls = 0

    async def __call__(self, *args: Any, **kwargs: Any) -> list[int]:
        self.calls += 1
        error, self.error = self.error, None
        if error is not None:
            raise error
        return await self.real(*args, **kwargs)


@pytest.mark.parametrize(
    "error",
    [CatalogError("a constraint was violated", code="CONSTRAINT"), RuntimeError("a bug in the start")],
    ids=["catalog-error", "bug"],
)
async def test_a_claimed_start_that_fails_outright_leaves_no_claim_and_the_instant_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    """The fenced start of a claimed instant raises (not a refusal, not an outage): the claim is
    released and the instant fires the ordinary way at the next tick. It used to stay SCHEDULED
    while the node moved on to the next instants (its next claim already written), so the instant
    ran nowhere and its row was cleaned up only if the node lost its lease one day; a failure
    that is not a TasksqlError ended the tick with the entry out of the heap."""
    h = await make_harness(tmp_path, cluster_claims=True)
    try:
        await h.sql(TASK)
        await h.scheduler.reload()
        member = await h.scheduler.join_cluster(monotonic=Monotonic())
        await h.tick(advance=1)
        assert (await runs(h))[2.0] == [(RunState.SCHEDULED, "test-node")]

        fails = StartFails(h, error)
        monkeypatch.setattr(h.engine.catalog, "start_claims", fails)
        assert member.fence is not None
        await h.engine.catalog.renew_lease(member.fence, running=0)
        await h.tick(advance=1)  # the start of the claim of 2 s fails
        assert fails.calls == 1
        await h.tick()  # the instant, released, fires the ordinary way
        for _ in range(2):
            await h.engine.catalog.renew_lease(member.fence, running=0)
            await h.tick(advance=1)

        assert await runs(h) == {
            1.0: [(RunState.SUCCEEDED, "test-node")],
            2.0: [(RunState.SUCCEEDED, "test-node")],
            3.0: [(RunState.SUCCEEDED, "test-node")],
            4.0: [(RunState.SUCCEEDED, "test-node")],
            5.0: [(RunState.SCHEDULED, "test-node")],
        }
        assert fails.calls == 3  # the claims of 3 s and 4 s were started as before
    finally:
        await h.scheduler.stop()
        await h.engine.close()
