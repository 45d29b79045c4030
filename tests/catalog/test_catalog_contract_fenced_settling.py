"""The catalog contract for settling and graph steps under leases: a lost node is settled only while
the catalog still judges the epoch that was read gone (a node that joins again meanwhile keeps its
runs), a node settles its own earlier epochs' runs only under its live fence, a graph's member
runs, their outcomes, graph ends and retried attempts are fenced by the root's placement, and a
manual run (EXECUTE TASK) is inserted and settled only under its node's live lease, wherever its
task is placed.

Two nodes are two catalog objects on one catalog, as two processes would be; every backend runs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from catalog_support import NOW, SHORT, create, ended, eventually, expired, later, member, new_run, qname

from conftest import CatalogFactory
from tasksql.catalog import Catalog
from tasksql.model import RunState, ScheduledFrom, TaskRecord, TaskState
from tasksql.model.cluster import Fence
from tasksql.model.run import GraphRunEnd, NewGraphRun, NewRun, RunRecord

GROUP = "0b3f8f0e-5a1d-4f52-9d7e-2a9c6e1f4b21"


@pytest.fixture
async def other(catalog: Catalog, catalog_factory: CatalogFactory) -> AsyncIterator[Catalog]:
    """A second catalog object on the same catalog: another node's view."""
    async with catalog_factory() as opened:
        yield opened


async def states(catalog: Catalog, *runs: RunRecord) -> list[tuple[str, str | None]]:
    out = []
    for run in runs:
        stored = await catalog.get_run(run.run_id)
        assert stored is not None
        out.append((stored.state.value, stored.error_code))
    return out


async def placed_run(catalog: Catalog, fence: Fence, record: TaskRecord, seconds: float) -> RunRecord:
    [run] = await catalog.fire([new_run(record, later(seconds), node=fence.node_id)], [], fence=fence)
    assert run is not None
    return run


# --- a lost node, judged by its epoch -------------------------------------------------------------


async def test_a_node_that_joined_again_after_it_was_judged_gone_keeps_its_runs(
    catalog: Catalog, other: Catalog
) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    first = await catalog.join(member("a", lease=SHORT))
    await catalog.claim_placements(first.fence, capacity=4, warehouses=None)
    old = await placed_run(catalog, first.fence, record, 1)
    await eventually(lambda: expired(other, "a"))
    # node b reads the members: a's epoch is gone ...
    [gone] = [m for m in await other.cluster_members() if m.node_id == "a"]
    assert not gone.live
    # ... and a joins again before b's settling transaction, and starts a run at once
    again = await catalog.join(member("a"))
    await catalog.claim_placements(again.fence, capacity=4, warehouses=None)
    fresh = await placed_run(catalog, again.fence, record, 2)

    settled = await other.settle_lost_runs(["a"], later(3), "node a was lost", epochs={"a": gone.epoch})

    assert settled == {}
    assert await states(catalog, old, fresh) == [("EXECUTING", None), ("EXECUTING", None)]
    # the epoch still gone when the settling commits: its runs are settled
    lost = await catalog.join(member("a", lease=SHORT))
    await eventually(lambda: expired(other, "a"))
    settled = await other.settle_lost_runs(["a"], later(4), "node a was lost", epochs={"a": lost.fence.epoch})
    assert settled["a"].failed == 2
    assert await states(catalog, old, fresh) == [("FAILED", "NODE_LOST"), ("FAILED", "NODE_LOST")]


async def test_a_live_epoch_is_not_settled_whatever_was_read(catalog: Catalog, other: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    lease = await catalog.join(member("a"))
    await catalog.claim_placements(lease.fence, capacity=4, warehouses=None)
    run = await placed_run(catalog, lease.fence, record, 1)

    assert await other.settle_lost_runs(["a"], later(2), "lost", epochs={"a": lease.fence.epoch}) == {}
    assert await states(catalog, run) == [("EXECUTING", None)]


# --- a node's own earlier epochs --------------------------------------------------------------------


async def test_a_node_settles_only_the_runs_it_names_and_only_under_its_live_fence(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    first = await catalog.join(member("a"))
    await catalog.claim_placements(first.fence, capacity=4, warehouses=None)
    left = await placed_run(catalog, first.fence, record, 1)
    kept = await placed_run(catalog, first.fence, record, 2)
    again = await catalog.join(member("a"))  # the earlier epoch is superseded
    await catalog.claim_placements(again.fence, capacity=4, warehouses=None)
    fresh = await placed_run(catalog, again.fence, record, 3)

    # a superseded fence settles nothing
    assert (
        await catalog.settle_lost_runs(["a"], later(4), "lost", fence=first.fence, only=[left.run_id]) == {}
    )
    settled = await catalog.settle_lost_runs(
        ["a"], later(4), "node a lost its lease during the run", fence=again.fence, only=[left.run_id]
    )

    assert settled["a"].failed == 1
    assert await states(catalog, left, kept, fresh) == [
        ("FAILED", "NODE_LOST"),
        ("EXECUTING", None),
        ("EXECUTING", None),
    ]


# --- graph runs under the fence -------------------------------------------------------------------


def graph_run(root: TaskRecord, node: str) -> NewGraphRun:
    return NewGraphRun(
        graph_run_group_id=GROUP,
        root_task_id=root.id,
        root_task_name=root.definition.name.name,
        database_name="tasksql",
        schema_name="public",
        graph_version=1,
        scheduled_from=ScheduledFrom.SCHEDULE,
        scheduled_time=NOW,
        query_start_time=later(0.005),
        attempt_number=1,
        config=None,
        node_id=node,
    )


async def test_graph_member_runs_retries_and_ends_are_fenced_by_the_roots_placement(
    catalog: Catalog, other: Catalog
) -> None:
    root = await create(catalog, "root", state=TaskState.STARTED)
    child = await create(catalog, "child", after=(qname("root"),), schedule=None)
    a = await catalog.join(member("a", lease=SHORT))
    await catalog.claim_placements(a.fence, capacity=4, warehouses=None)
    tag = {"graph_run_group_id": GROUP, "root_task_id": root.id, "graph_version": 1}
    [root_run] = await catalog.fire(
        [new_run(root, NOW, node="a", **tag)], [], [graph_run(root, "a")], fence=a.fence
    )
    assert root_run is not None
    # a holds the root: its member run is inserted, and an outcome is written under its fence
    [child_run] = await catalog.settle_graph_step(
        ended(root_run), None, [new_run(child, NOW, node="a", **tag)], None, fence=a.fence
    )
    assert child_run is not None
    assert await states(catalog, root_run) == [("SUCCEEDED", None)]

    # a's lease runs out and b takes the root over
    await eventually(lambda: expired(other, "a"))
    b = await other.join(member("b"))
    assert await other.claim_placements(b.fence, capacity=4, warehouses=None) == [root.id, child.id]
    retry = new_run(child, NOW, node="a", attempt_number=2, scheduled_from=ScheduledFrom.RETRY, **tag)
    # a can neither record the member's failure, nor insert its next attempt, nor end the graph run
    failed = ended(child_run, RunState.FAILED, error_code="E", error_message="boom")
    end = GraphRunEnd(graph_run_group_id=GROUP, state="FAILED", completed_time=later(1))
    assert await catalog.settle_graph_step(failed, None, [retry], end, fence=a.fence) == [None]
    assert await states(catalog, child_run) == [("EXECUTING", None)]
    stored = await catalog.get_graph_run(GROUP)
    assert stored is not None and stored.state == "EXECUTING"
    # a node whose lease is live but that does not hold the root inserts no member run either
    assert await other.settle_graph_step(None, None, [retry], None, fence=Fence("a", b.fence.epoch)) == [None]
    # the root's holder does
    b_retry = new_run(child, NOW, node="b", attempt_number=2, scheduled_from=ScheduledFrom.RETRY, **tag)
    [inserted] = await other.settle_graph_step(None, None, [b_retry], None, fence=b.fence)
    assert inserted is not None and inserted.node_id == "b"


# --- manual runs under the lease ------------------------------------------------------------------


def manual_run(record: TaskRecord, node: str, seconds: float) -> NewRun:
    return new_run(record, later(seconds), node=node, scheduled_from=ScheduledFrom.EXECUTE_TASK)


async def run_count(catalog: Catalog) -> int:
    return len(await catalog.list_runs())


async def test_a_manual_run_is_inserted_only_under_a_live_lease_wherever_the_task_is_placed(
    catalog: Catalog, other: Catalog
) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    b = await other.join(member("b"))
    assert await other.claim_placements(b.fence, capacity=4, warehouses=None) == [record.id]
    a = await catalog.join(member("a"))

    # a does not hold the task: a scheduled run is refused, a manual run (asked of a) is not
    assert await catalog.fire([new_run(record, later(1), node="a")], [], fence=a.fence) == [None]
    run = await catalog.fire_leased(manual_run(record, "a", 1), a.fence)
    assert run is not None and run.node_id == "a" and run.state is RunState.EXECUTING
    assert await states(other, run) == [("EXECUTING", None)]

    # a superseded epoch, an ended lease: nothing is inserted
    again = await catalog.join(member("a"))
    assert await catalog.fire_leased(manual_run(record, "a", 2), a.fence) is None
    assert await catalog.leave(again.fence)
    assert await catalog.fire_leased(manual_run(record, "a", 3), again.fence) is None
    assert await run_count(other) == 1


async def test_a_manual_run_is_neither_started_nor_settled_by_a_node_whose_lease_ran_out(
    catalog: Catalog, other: Catalog
) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    a = await catalog.join(member("a", lease=SHORT))
    run = await catalog.fire_leased(manual_run(record, "a", 1), a.fence)
    assert run is not None
    await eventually(lambda: expired(other, "a"))

    # a paused past its lease, unaware: it can start no manual run and commit no outcome
    assert await catalog.fire_leased(manual_run(record, "a", 2), a.fence) is None
    assert not await catalog.finish_run(ended(run), None, fence=a.fence)
    assert await states(other, run) == [("EXECUTING", None)]
    assert await run_count(other) == 1
    # the run is another node's to settle, judged by a's epoch
    settled = await other.settle_lost_runs(["a"], later(3), "node a was lost", epochs={"a": a.fence.epoch})
    assert settled["a"].failed == 1
    assert await states(other, run) == [("FAILED", "NODE_LOST")]
