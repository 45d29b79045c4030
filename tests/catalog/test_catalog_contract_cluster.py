"""The catalog contract for cluster coordination: joining and leases (judged by the catalog's clock),
placements claimed with SKIP LOCKED, pins, drains and hand-overs, and fenced run writes.

Written against the :class:`~tasksql.catalog.Catalog` interface only; every backend runs it (see the
``catalog`` fixture in ``conftest.py``). Two nodes are two catalog objects on one catalog, as two
processes would be.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta

import pytest
from catalog_support import (
    LONG,
    NOW,
    SHORT,
    create,
    ended,
    eventually,
    expired,
    fire_run,
    later,
    member,
    new_run,
)

from conftest import CatalogFactory
from tasksql.catalog import Catalog
from tasksql.catalog.cluster import LEASE_LOST
from tasksql.clock import SYSTEM_CLOCK
from tasksql.errors import CatalogError
from tasksql.model import RunState, ScheduledFrom, TaskState, WarehouseDef
from tasksql.model.cluster import Fence, LeaseState, Member
from tasksql.model.run import NodeRecord, RunOutcome, TaskRuntime


async def members_by_id(catalog: Catalog) -> dict[str, Member]:
    return {m.node_id: m for m in await catalog.cluster_members()}


async def placed(catalog: Catalog) -> dict[int, str | None]:
    return {p.task_id: p.node_id for p in await catalog.list_placements()}


@pytest.fixture
async def other(catalog: Catalog, catalog_factory: CatalogFactory) -> AsyncIterator[Catalog]:
    """A second catalog object on the same catalog: another node's view."""
    async with catalog_factory() as opened:
        yield opened


# --- joining and leases --------------------------------------------------------------------------


async def test_every_join_is_a_new_epoch_and_the_member_reads_back(catalog: Catalog, other: Catalog) -> None:
    a = await catalog.join(member("a", warehouses=("default", "pg")))
    b = await other.join(member("b"))
    again = await catalog.join(member("a"))

    assert a.fence.node_id == "a" and 0 < a.fence.epoch < b.fence.epoch < again.fence.epoch
    nodes = await members_by_id(other)
    assert set(nodes) == {"a", "b"}
    node = nodes["a"]
    assert (node.epoch, node.lease_state, node.live, node.capacity, node.running) == (
        again.fence.epoch,
        LeaseState.LIVE,
        True,
        4,
        0,
    )
    assert (node.address, node.warehouses, node.host, node.placed) == ("http://a:8801", None, "host-a", 0)
    assert node.lease_until is not None and node.lease_until == again.expires_at
    # the lease runs out a lease from now in the catalog's clock (the machine's here), not the fake
    # clock's NOW the catalog object was given
    ahead = again.expires_at - SYSTEM_CLOCK.now()
    assert timedelta(seconds=LONG - 5) < ahead <= timedelta(seconds=LONG)


async def test_a_node_that_only_registered_has_no_lease(catalog: Catalog) -> None:
    await catalog.register_node(
        NodeRecord(
            node_id="old", host="h", pid=1, role="scheduler", version="0", started_at=NOW, heartbeat_at=NOW
        )
    )

    [node] = await catalog.cluster_members()

    assert (node.epoch, node.lease_state, node.live, node.lease_until) == (0, LeaseState.NONE, False, None)
    assert not await catalog.renew_lease(Fence("old", 0), running=0)


async def test_renewal_extends_a_live_lease_and_records_the_runs_executing(catalog: Catalog) -> None:
    lease = await catalog.join(member("a"))

    assert await catalog.renew_lease(lease.fence, running=3)

    [node] = await catalog.cluster_members()
    assert node.running == 3 and node.lease_until is not None and node.lease_until >= lease.expires_at


async def test_a_lease_that_ran_out_is_never_renewed_and_the_node_joins_again(catalog: Catalog) -> None:
    lease = await catalog.join(member("a", lease=SHORT))

    await eventually(lambda: expired(catalog, "a"))

    assert not await catalog.renew_lease(lease.fence, running=0)  # nobody revoked it: still lost
    with pytest.raises(CatalogError) as lost:
        await catalog.claim_placements(lease.fence, capacity=4, warehouses=None)
    assert lost.value.code == LEASE_LOST
    again = await catalog.join(member("a"))
    assert again.fence.epoch > lease.fence.epoch
    assert await catalog.renew_lease(again.fence, running=0)


async def test_a_superseded_epoch_holds_nothing(catalog: Catalog, other: Catalog) -> None:
    old = await catalog.join(member("a"))
    record = await create(catalog, "t", state=TaskState.STARTED)
    assert await catalog.claim_placements(old.fence, capacity=4, warehouses=None) == [record.id]

    new = await other.join(member("a"))  # the same node id started again elsewhere

    assert not await catalog.renew_lease(old.fence, running=0)
    assert await catalog.fire([new_run(record, NOW, node="a")], [], fence=old.fence) == [None]
    assert await other.claim_placements(new.fence, capacity=4, warehouses=None) == [record.id]
    assert await other.fire([new_run(record, NOW, node="a")], [], fence=new.fence) != [None]


async def test_leave_ends_the_lease_and_releases_the_placements(catalog: Catalog) -> None:
    lease = await catalog.join(member("a"))
    record = await create(catalog, "t")
    await catalog.claim_placements(lease.fence, capacity=4, warehouses=None)

    assert await catalog.leave(lease.fence)

    [node] = await catalog.cluster_members()
    assert (node.lease_state, node.live, node.placed) == (LeaseState.LEFT, False, 0)
    assert await placed(catalog) == {record.id: None}
    assert not await catalog.leave(lease.fence)
    assert not await catalog.renew_lease(lease.fence, running=0)


async def test_bad_memberships_are_refused_before_anything_is_written(catalog: Catalog) -> None:
    for make in (
        lambda: member("a", lease=0),
        lambda: member("a", capacity=0),
        lambda: member(""),
    ):
        with pytest.raises(CatalogError) as bad:
            make()
        assert bad.value.code == "INVALID_ARGUMENT"
    lease = await catalog.join(member("a"))
    with pytest.raises(CatalogError) as bad:
        await catalog.claim_placements(lease.fence, capacity=0, warehouses=None)
    assert bad.value.code == "INVALID_ARGUMENT"
    assert [m.node_id for m in await catalog.cluster_members()] == ["a"]


# --- placement -----------------------------------------------------------------------------------


async def test_live_nodes_share_the_tasks_in_proportion_to_their_slots(
    catalog: Catalog, other: Catalog
) -> None:
    ids = [(await create(catalog, f"t{i}")).id for i in range(12)]
    a = await catalog.join(member("a", capacity=2))
    b = await other.join(member("b", capacity=4))

    mine = await catalog.claim_placements(a.fence, capacity=2, warehouses=None)
    theirs = await other.claim_placements(b.fence, capacity=4, warehouses=None)

    assert len(mine) == 4 and len(theirs) == 8  # ceil(12 * 2 / 6), ceil(12 * 4 / 6)
    assert sorted(mine + theirs) == ids
    assert await catalog.claim_placements(a.fence, capacity=2, warehouses=None) == []  # nothing left
    nodes = await members_by_id(catalog)
    assert (nodes["a"].placed, nodes["b"].placed) == (4, 8)
    assert [p.task_id for p in await catalog.list_placements(node_id="a")] == mine


async def test_concurrent_claims_never_give_a_task_to_two_nodes(
    catalog: Catalog, catalog_factory: CatalogFactory
) -> None:
    ids = {(await create(catalog, f"t{i}")).id for i in range(60)}
    async with AsyncExitStack() as stack:
        nodes = [await stack.enter_async_context(catalog_factory()) for _ in range(3)]
        leases = [await node.join(member(f"n{i}")) for i, node in enumerate(nodes)]

        rounds = await asyncio.gather(
            *(
                node.claim_placements(lease.fence, capacity=4, warehouses=None)
                for node, lease in zip(nodes, leases, strict=True)
            )
        )

        taken = [task for claimed in rounds for task in claimed]
        assert len(taken) == len(set(taken))  # no task twice
        while len(taken) < len(ids):  # what a round left (rows another claimer held) comes next
            more = await asyncio.gather(
                *(
                    node.claim_placements(lease.fence, capacity=4, warehouses=None)
                    for node, lease in zip(nodes, leases, strict=True)
                )
            )
            new = [task for claimed in more for task in claimed]
            assert new and not set(new) & set(taken)
            taken += new
        assert set(taken) == ids and len(taken) == len(ids)
        holders = await placed(catalog)
        for node, lease, claimed in zip(nodes, leases, rounds, strict=True):
            assert all(holders[task] == lease.fence.node_id for task in claimed), node


async def test_a_node_takes_only_tasks_of_warehouses_it_serves(catalog: Catalog, other: Catalog) -> None:
    await catalog.put_warehouse(WarehouseDef(name="pg"), replace=False, now=NOW)
    plain = [(await create(catalog, f"d{i}")).id for i in range(4)]
    on_pg = [(await create(catalog, f"p{i}", warehouse="pg")).id for i in range(4)]
    a = await catalog.join(member("a"))  # every warehouse
    b = await other.join(member("b", warehouses=("default",)))

    theirs = await other.claim_placements(b.fence, capacity=4, warehouses=("default",))
    mine = await catalog.claim_placements(a.fence, capacity=4, warehouses=None)

    assert set(theirs) <= set(plain) and len(theirs) == 4  # its share: ceil(8 / 2)
    # only a serves pg: it takes all four beyond its share; the rest of default was taken
    assert sorted(mine) == on_pg
    assert {m.node_id: m.warehouses for m in await catalog.cluster_members()} == {
        "a": None,
        "b": ("default",),
    }


async def test_a_node_with_full_slots_takes_nothing_while_another_has_room(
    catalog: Catalog, other: Catalog
) -> None:
    ids = [(await create(catalog, f"t{i}")).id for i in range(4)]
    a = await catalog.join(member("a", capacity=2))
    b = await other.join(member("b", capacity=2))
    assert await catalog.renew_lease(a.fence, running=2)

    assert await catalog.claim_placements(a.fence, capacity=2, warehouses=None) == []
    # b has room: beyond its share it takes what the saturated a leaves, so nothing waits for a
    assert await other.claim_placements(b.fence, capacity=2, warehouses=None) == ids
    assert await catalog.renew_lease(a.fence, running=1)
    assert await catalog.claim_placements(a.fence, capacity=2, warehouses=None) == []
    assert set((await placed(catalog)).values()) == {"b"}


async def test_a_lost_nodes_tasks_are_all_taken_in_one_round_when_the_others_are_full(
    catalog: Catalog, catalog_factory: CatalogFactory
) -> None:
    """The stuck state of a takeover: a is saturated (it defers to b) and b holds its share, so
    before, the orphans beyond b's share waited until a had a free slot, however long that was."""
    ids = [(await create(catalog, f"t{i}")).id for i in range(6)]
    async with catalog_factory() as other, catalog_factory() as third:
        a = await catalog.join(member("a", capacity=1))
        b = await other.join(member("b", capacity=1))
        c = await third.join(member("c", capacity=1, lease=SHORT))
        held = {
            name: await node.claim_placements(lease.fence, capacity=1, warehouses=None)
            for name, node, lease in (("a", catalog, a), ("b", other, b), ("c", third, c))
        }
        assert [len(tasks) for tasks in held.values()] == [2, 2, 2]  # ceil(6 / 3) each
        assert await catalog.renew_lease(a.fence, running=1)  # a's one slot is busy, b's is free

        await eventually(lambda: expired(catalog, "c"))  # c is paused: it renews no more
        # one round: a defers to b, which has room; b takes every orphan, beyond its share of 3
        assert await catalog.claim_placements(a.fence, capacity=1, warehouses=None) == []
        assert await other.claim_placements(b.fence, capacity=1, warehouses=None) == held["c"]
        holders = await placed(catalog)
        assert sorted(holders) == ids and None not in holders.values()
        assert [t for t, node in holders.items() if node == "b"] == sorted(held["b"] + held["c"])


async def test_orphans_are_taken_when_every_live_node_is_full(
    catalog: Catalog, catalog_factory: CatalogFactory
) -> None:
    ids = [(await create(catalog, f"t{i}")).id for i in range(5)]
    async with catalog_factory() as other:
        a = await catalog.join(member("a", capacity=1))
        b = await other.join(member("b", capacity=1))
        assert await catalog.renew_lease(a.fence, running=1)
        assert await other.renew_lease(b.fence, running=1)

        mine = await catalog.claim_placements(a.fence, capacity=1, warehouses=None)
        theirs = await other.claim_placements(b.fence, capacity=1, warehouses=None)

        assert (len(mine), len(theirs)) == (3, 2)  # slots limit runs, not placements: the shares
        assert sorted(mine + theirs) == ids


@pytest.mark.parametrize("seed", range(4))
async def test_after_one_claim_of_each_live_node_no_orphan_it_may_run_is_left(
    catalog: Catalog, catalog_factory: CatalogFactory, seed: int
) -> None:
    """Whatever the slots, the runs executing, the warehouses served and the order of the claims:
    once every live node has claimed once, every task some live node serves is placed."""
    rng = random.Random(seed)
    await catalog.put_warehouse(WarehouseDef(name="pg"), replace=False, now=NOW)
    warehouse_of: dict[int, str] = {}
    for i in range(9):
        warehouse = rng.choice(("default", "pg"))
        warehouse_of[(await create(catalog, f"t{i}", warehouse=warehouse)).id] = warehouse
    async with AsyncExitStack() as stack:
        views = [catalog, *[await stack.enter_async_context(catalog_factory()) for _ in range(2)]]
        for _ in range(3):  # each trial: every node joins again, so every placement is an orphan
            nodes = []
            for i, view in enumerate(views):
                capacity = rng.randint(1, 3)
                served = rng.choice((None, ("default",), ("pg",), ("default", "pg")))
                lease = await view.join(member(f"n{i}", capacity=capacity, warehouses=served))
                assert await view.renew_lease(lease.fence, running=rng.randint(0, capacity))
                nodes.append((view, lease, capacity, served))
            for view, lease, capacity, served in rng.sample(nodes, len(nodes)):
                await view.claim_placements(lease.fence, capacity=capacity, warehouses=served)

            holders = await placed(catalog)
            servable = {w for *_, served in nodes for w in (served or ("default", "pg"))}
            left = [t for t in warehouse_of if warehouse_of[t] in servable and holders.get(t) is None]
            assert not left, (seed, [(capacity, served) for _, _, capacity, served in nodes], left)


async def test_orphans_beyond_the_shares_of_the_nodes_serving_their_warehouse_are_taken(
    catalog: Catalog, catalog_factory: CatalogFactory
) -> None:
    """a serves only pg, so its share of the default tasks is nobody's: before, b and c took their
    shares (2 of 6 each) and 2 tasks stayed unplaced for good, though two live nodes serve them."""
    await catalog.put_warehouse(WarehouseDef(name="pg"), replace=False, now=NOW)
    ids = [(await create(catalog, f"t{i}")).id for i in range(6)]
    async with catalog_factory() as other, catalog_factory() as third:
        a = await catalog.join(member("a", warehouses=("pg",)))
        b = await other.join(member("b"))
        c = await third.join(member("c"))

        assert await catalog.claim_placements(a.fence, capacity=4, warehouses=("pg",)) == []
        theirs = await other.claim_placements(b.fence, capacity=4, warehouses=None)
        rest = await third.claim_placements(c.fence, capacity=4, warehouses=None)

        assert theirs == ids[:2]  # its share, ceil(6 / 3): c, below its share, would take more
        assert rest == ids[2:]  # c's share, then what neither a nor b would take
        assert await other.claim_placements(b.fence, capacity=4, warehouses=None) == []


async def test_the_tasks_of_a_node_whose_lease_ran_out_are_taken_over(
    catalog: Catalog, other: Catalog
) -> None:
    ids = [(await create(catalog, f"t{i}")).id for i in range(6)]
    a = await catalog.join(member("a", lease=SHORT))
    b = await other.join(member("b"))
    mine = await catalog.claim_placements(a.fence, capacity=4, warehouses=None)
    theirs = await other.claim_placements(b.fence, capacity=4, warehouses=None)
    assert len(mine) == len(theirs) == 3

    await eventually(lambda: expired(other, "a"))  # a is paused: it renews no more
    taken = await other.claim_placements(b.fence, capacity=4, warehouses=None)

    assert taken == mine
    assert set((await placed(other)).values()) == {"b"} and sorted(await placed(other)) == ids
    assert (await members_by_id(other))["a"].lease_state is LeaseState.LOST
    assert not await catalog.renew_lease(a.fence, running=0)


async def test_a_stale_epochs_fenced_writes_are_refused_and_change_nothing(
    catalog: Catalog, other: Catalog
) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    a = await catalog.join(member("a", lease=SHORT))
    b = await other.join(member("b"))
    assert await catalog.claim_placements(a.fence, capacity=4, warehouses=None) == [record.id]
    running = await fire_run(catalog, record, NOW, node="a")  # started under a's lease
    [claim] = await catalog.record_fires(
        "a",
        [],
        [],
        [new_run(record, later(60), state=RunState.SCHEDULED, node="a")],
        urgent=True,
        fence=a.fence,
    )
    assert claim is not None
    await eventually(lambda: expired(other, "a"))
    assert await other.claim_placements(b.fence, capacity=4, warehouses=None) == [record.id]
    before_runs = await catalog.list_runs(task_id=record.id)
    before_task = await catalog.get_task_by_id(record.id)

    # a wakes up: nothing it writes with its old fence lands
    assert await catalog.fire([new_run(record, later(120), node="a")], [], fence=a.fence) == [None]
    assert not await catalog.finish_run(
        ended(running), TaskRuntime(task_id=record.id, consecutive_failures=5), fence=a.fence
    )
    start = RunOutcome(run_id=claim.run_id, state=RunState.EXECUTING, query_start_time=later(60))
    assert await catalog.record_fires(
        "a",
        [start],
        [],
        [new_run(record, later(180), state=RunState.SCHEDULED, node="a")],
        urgent=True,
        fence=a.fence,
    ) == [None]
    assert not await catalog.settle_later(ended(running, RunState.FAILED), fence=a.fence)
    await catalog.set_task_runtime([TaskRuntime(task_id=record.id, next_fire_at=later(999))], fence=a.fence)

    assert await catalog.list_runs(task_id=record.id) == before_runs
    assert await catalog.get_task_by_id(record.id) == before_task
    # b holds the task now: its writes land, and the UNIQUE fence still holds each instant once
    assert await other.fire([new_run(record, later(120), node="b")], [], fence=b.fence) != [None]
    assert await other.fire([new_run(record, later(60), node="b")], [], fence=b.fence) == [None]


async def test_fenced_writes_apply_while_the_lease_and_placement_are_held(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    unplaced = await create(catalog, "u", state=TaskState.STARTED)
    lease = await catalog.join(member("a"))
    await catalog.pin_tasks({unplaced.id: "elsewhere"})
    assert await catalog.claim_placements(lease.fence, capacity=4, warehouses=None) == [record.id]

    [run] = await catalog.fire(
        [new_run(record, NOW, node="a")],
        [TaskRuntime(task_id=record.id, next_fire_at=later(60))],
        fence=lease.fence,
    )
    assert run is not None
    assert await catalog.fire([new_run(unplaced, NOW, node="a")], [], fence=lease.fence) == [None]
    assert await catalog.finish_run(
        ended(run), TaskRuntime(task_id=record.id, consecutive_failures=1), fence=lease.fence
    )

    stored = await catalog.get_run(run.run_id)
    task = await catalog.get_task_by_id(record.id)
    assert stored is not None and stored.state is RunState.SUCCEEDED
    assert task is not None and (task.next_fire_at, task.consecutive_failures) == (later(60), 1)
    # a claim of the instant to come, then its start and a lazy outcome, all fenced
    [claim] = await catalog.record_fires(
        "a",
        [],
        [],
        [new_run(record, later(60), state=RunState.SCHEDULED, node="a")],
        urgent=True,
        fence=lease.fence,
    )
    assert claim is not None
    start = RunOutcome(run_id=claim.run_id, state=RunState.EXECUTING, query_start_time=later(60))
    assert await catalog.record_fires("a", [start], [], [], urgent=True, fence=lease.fence) == []
    assert await catalog.settle_later(ended(claim), fence=lease.fence)
    settled = await catalog.get_run(claim.run_id)
    assert settled is not None and settled.state is RunState.SUCCEEDED


async def test_a_run_cannot_start_on_a_node_that_released_its_task_but_ends_there(
    catalog: Catalog, other: Catalog
) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    a = await catalog.join(member("a"))
    await catalog.claim_placements(a.fence, capacity=4, warehouses=None)
    running = await fire_run(catalog, record, NOW, node="a")
    queued = await fire_run(
        catalog,
        record,
        later(1),
        node="a",
        state=RunState.SCHEDULED,
        scheduled_from=ScheduledFrom.EXECUTE_TASK,
    )

    assert await catalog.drain(a.fence)
    assert (
        await catalog.claim_placements(a.fence, capacity=4, warehouses=None) == []
    )  # draining: takes nothing
    assert await catalog.release_placements(a.fence) == [record.id]

    start = RunOutcome(run_id=queued.run_id, state=RunState.EXECUTING, query_start_time=later(1))
    assert await catalog.record_fires("a", [start], [], [], urgent=True, fence=a.fence) == []
    still = await catalog.get_run(queued.run_id)
    assert still is not None and still.state is RunState.SCHEDULED  # not started: the task is not a's
    assert await catalog.finish_run(ended(running), None, fence=a.fence)  # a draining node's last run ends
    assert await catalog.renew_lease(a.fence, running=0)
    [node] = [m for m in await other.cluster_members() if m.node_id == "a"]
    assert node.lease_state is LeaseState.DRAINING and node.live


async def test_a_drained_nodes_tasks_move_with_their_claimed_instants(
    catalog: Catalog, other: Catalog
) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    kept = await create(catalog, "k", state=TaskState.STARTED)
    a = await catalog.join(member("a"))
    assert await catalog.claim_placements(a.fence, capacity=4, warehouses=None) == [record.id, kept.id]
    claims = [
        new_run(record, later(60), state=RunState.SCHEDULED, node="a"),
        new_run(record, later(120), state=RunState.SCHEDULED, node="a"),
        new_run(kept, later(60), state=RunState.SCHEDULED, node="a"),
    ]
    await catalog.record_fires("a", [], [], claims, urgent=True, fence=a.fence)
    await catalog.set_task_runtime([TaskRuntime(task_id=record.id, next_fire_at=later(180))], fence=a.fence)
    b = await other.join(member("b"))

    assert await catalog.release_placements(a.fence, [record.id]) == [record.id]

    # the instants a had claimed for the released task are b's to run: its next instant is the first
    assert [r.scheduled_time for r in await other.list_runs(task_id=record.id)] == []
    task = await other.get_task_by_id(record.id)
    assert task is not None and task.next_fire_at == later(60)
    assert await other.claim_placements(b.fence, capacity=4, warehouses=None) == [record.id]
    [mine] = await other.fire([new_run(record, later(60), node="b")], [], fence=b.fence)
    assert mine is not None
    assert len(await other.list_runs(task_id=kept.id)) == 1  # the kept task's claim stays a's
    assert (await placed(other)) == {record.id: "b", kept.id: "a"}


async def test_pinned_tasks_run_only_on_their_node_and_wait_while_it_is_down(
    catalog: Catalog, other: Catalog
) -> None:
    pinned = await create(catalog, "p")
    free = await create(catalog, "f")
    b = await other.join(member("b"))
    await catalog.pin_tasks({pinned.id: "a", 987654: "a"})  # an unknown id is left out

    assert await other.claim_placements(b.fence, capacity=4, warehouses=None) == [free.id]
    assert (await placed(other))[pinned.id] is None  # a is down: the task waits
    a = await catalog.join(member("a", lease=SHORT))
    assert await catalog.claim_placements(a.fence, capacity=4, warehouses=None) == [pinned.id]

    await eventually(lambda: expired(other, "a"))
    assert await other.claim_placements(b.fence, capacity=4, warehouses=None) == []  # never moves
    assert (await placed(other))[pinned.id] == "a"
    assert {p.task_id: p.pinned_node for p in await other.list_placements()} == {
        pinned.id: "a",
        free.id: None,
    }
    again = await catalog.join(member("a"))
    assert await catalog.claim_placements(again.fence, capacity=4, warehouses=None) == [pinned.id]


async def test_pinning_a_task_held_elsewhere_hands_it_over(catalog: Catalog, other: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    b = await other.join(member("b"))
    assert await other.claim_placements(b.fence, capacity=4, warehouses=None) == [record.id]
    await other.record_fires(
        "b",
        [],
        [],
        [new_run(record, later(60), state=RunState.SCHEDULED, node="b")],
        urgent=True,
        fence=b.fence,
    )
    a = await catalog.join(member("a"))

    await catalog.pin_tasks({record.id: "a"})

    assert (await placed(catalog))[record.id] is None
    assert await other.list_runs(task_id=record.id) == []  # b's claim of the instant to come is gone
    assert await other.claim_placements(b.fence, capacity=4, warehouses=None) == []
    assert await catalog.claim_placements(a.fence, capacity=4, warehouses=None) == [record.id]
    assert await other.fire([new_run(record, later(60), node="b")], [], fence=b.fence) == [None]
    await catalog.pin_tasks({record.id: None})
    assert [p.pinned_node for p in await catalog.list_placements()] == [None]
