"""The catalog contract for work on several nodes: RUN ON HOSTS runs fenced per node, sub-tasks
(taken once, settled once, cancelled, lost with their node) and placements moved by a rebalance.

Written against the :class:`~tasksql.catalog.Catalog` interface only; every backend runs it. Two
nodes are two catalog objects on one catalog, as two processes would be.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from catalog_support import NOW, SHORT, create, eventually, expired, fire_run, later, member, new_run

from conftest import CatalogFactory
from tasksql.catalog import Catalog
from tasksql.catalog.records import TaskUpdate
from tasksql.errors import CatalogError
from tasksql.model import RunOn, RunState, ScheduledFrom, TaskState
from tasksql.model.cluster import Fence
from tasksql.model.run import TaskRuntime
from tasksql.model.subtask import NewSubtask, SubtaskState


@pytest.fixture
async def other(catalog: Catalog, catalog_factory: CatalogFactory) -> AsyncIterator[Catalog]:
    """A second catalog object on the same catalog: another node's view."""
    async with catalog_factory() as opened:
        yield opened


# --- RUN ON HOSTS ----------------------------------------------------------------------------------


async def test_host_runs_are_fenced_per_node_and_the_ordinary_fence_still_holds(
    catalog: Catalog, other: Catalog
) -> None:
    a = await catalog.join(member("a"))
    b = await other.join(member("b"))
    record = await create(catalog, "everywhere", state=TaskState.STARTED)
    run = new_run(record, NOW, scheduled_from=ScheduledFrom.SCHEDULE, node="whoever")

    first_a = await catalog.fire_on_host(run, a.fence)
    first_b = await other.fire_on_host(run, b.fence)
    again_a = await other.fire_on_host(run, a.fence)  # a restarted process of a: the same node

    assert first_a is not None and first_b is not None and again_a is None
    assert (first_a.node_id, first_b.node_id) == ("a", "b")
    rows = await catalog.list_runs(task_id=record.id)
    assert sorted((r.node_id, r.scheduled_time) for r in rows) == [("a", NOW), ("b", NOW)]
    # an ordinary scheduled run of the same instant is fenced on its own, once
    assert (await catalog.fire([new_run(record, NOW)], []))[0] is not None
    assert (await catalog.fire([new_run(record, NOW, node="node-b")], []))[0] is None


async def test_list_host_tasks_reads_run_on_hosts_from_definitions(catalog: Catalog) -> None:
    hosts = await create(catalog, "hosts", run_on=RunOn.HOSTS)
    await create(catalog, "database", run_on=RunOn.DATABASE)
    await create(catalog, "plain", comment='"run_on":"HOSTS"')  # the text alone is not enough
    dropped = await create(catalog, "dropped", run_on=RunOn.HOSTS)
    await catalog.update_tasks([TaskUpdate(task_id=dropped.id, expected_version=1, drop=True)], now=later(1))

    assert [r.id for r in await catalog.list_host_tasks()] == [hosts.id]


async def test_a_host_run_needs_a_live_lease(catalog: Catalog, other: Catalog) -> None:
    gone = await other.join(member("gone", lease=SHORT))
    record = await create(catalog, "everywhere", state=TaskState.STARTED)
    await eventually(lambda: expired(catalog, "gone"))

    assert await other.fire_on_host(new_run(record, NOW), gone.fence) is None
    assert await catalog.list_runs(task_id=record.id) == []


async def test_a_node_writes_the_failure_policy_of_its_host_runs_whoever_holds_the_task(
    catalog: Catalog, other: Catalog
) -> None:
    hosts = await create(catalog, "everywhere", state=TaskState.STARTED, run_on=RunOn.HOSTS)
    plain = await create(catalog, "plain", state=TaskState.STARTED)
    a = await catalog.join(member("a"))
    await catalog.claim_placements(a.fence, capacity=4, warehouses=None)
    b = await other.join(member("b"))
    gone = await other.join(member("gone", lease=SHORT))
    assert await other.list_placements(node_id="b") == []

    def failures(n: int, *task_ids: int) -> list[TaskRuntime]:
        return [TaskRuntime(task_id=t, consecutive_failures=n) for t in task_ids]

    async def counts() -> list[int]:
        return [r.consecutive_failures for r in await catalog.get_tasks_by_ids([hosts.id, plain.id])]

    # b runs its share of the host task: its failure count is written; not that of a task it does
    # not hold (only its holder's is)
    await other.set_task_runtime(failures(2, hosts.id, plain.id), fence=b.fence)
    assert await counts() == [2, 0]
    suspend = TaskRuntime(
        task_id=hosts.id, consecutive_failures=3, state=TaskState.SUSPENDED, clear_next_fire=True
    )
    await other.set_task_runtime([suspend], fence=b.fence)
    [stored] = await catalog.get_tasks_by_ids([hosts.id])
    assert (stored.state, stored.consecutive_failures) == (TaskState.SUSPENDED, 3)
    # without a live lease, nothing
    await eventually(lambda: expired(catalog, "gone"))
    await other.set_task_runtime(failures(7, hosts.id), fence=gone.fence)
    assert await counts() == [3, 0]


async def test_live_nodes_name_their_cluster_and_warehouses(catalog: Catalog, other: Catalog) -> None:
    await catalog.join(member("a", warehouses=("default",)))
    await other.join(member("b"))
    await other.set_node_cluster("b", "east")
    gone = await other.join(member("c", lease=SHORT))
    await eventually(lambda: expired(catalog, gone.fence.node_id))

    nodes = {n.node_id: n for n in await catalog.live_nodes()}
    assert set(nodes) == {"a", "b"}
    assert (nodes["a"].cluster_id, nodes["b"].cluster_id) == (None, "east")
    assert nodes["a"].serves("default") and not nodes["a"].serves("pg") and nodes["b"].serves("pg")


# --- sub-tasks -------------------------------------------------------------------------------------


async def test_subtasks_are_taken_once_progress_and_settle_once(catalog: Catalog, other: Catalog) -> None:
    record = await create(catalog, "rebuild", state=TaskState.STARTED)
    run = await fire_run(catalog, record)
    made = await catalog.create_subtasks(
        run,
        task_type="rebuild",
        location="SYSTEM",
        subtasks=[NewSubtask(node_id="a"), NewSubtask(node_id="b", items_total=4, detail='{"x":1}')],
        now=NOW,
    )
    assert [(s.node_id, s.state, s.items_total, s.run_id) for s in made] == [
        ("a", SubtaskState.PENDING, 0, run.run_id),
        ("b", SubtaskState.PENDING, 4, run.run_id),
    ]
    assert made[1].detail == '{"x":1}' and made[0].task_name == run.name

    [taken] = await other.take_subtasks("b", now=later(1))
    assert await catalog.take_subtasks("b", now=later(1)) == []  # taken once
    assert (taken.subtask_id, taken.state, taken.started_at) == (
        made[1].subtask_id,
        SubtaskState.RUNNING,
        later(1),
    )
    assert await other.progress_subtask(taken.subtask_id, 2)
    [seen] = await catalog.list_subtasks(node_id="b")
    assert (seen.items_done, seen.progress) == (2, 0.5)

    assert await other.settle_subtask(taken.subtask_id, SubtaskState.SUCCEEDED, now=later(2), items_done=4)
    assert not await other.settle_subtask(taken.subtask_id, SubtaskState.FAILED, now=later(3))
    assert not await other.progress_subtask(taken.subtask_id, 1)
    [done] = await catalog.list_subtasks(node_id="b")
    assert (done.state, done.items_done, done.progress, done.completed_time) == (
        SubtaskState.SUCCEEDED,
        4,
        1.0,
        later(2),
    )
    assert [s.node_id for s in await catalog.list_subtasks(run_id=run.run_id, open_only=True)] == ["a"]
    with pytest.raises(CatalogError) as err:
        await catalog.settle_subtask(made[0].subtask_id, SubtaskState.RUNNING, now=NOW)
    assert err.value.code == "INVALID_ARGUMENT"


async def test_cancel_subtasks_of_a_task_leaves_settled_ones(catalog: Catalog) -> None:
    record = await create(catalog, "check", state=TaskState.STARTED)
    other_task = await create(catalog, "other", state=TaskState.STARTED)
    run = await fire_run(catalog, record)
    kept = await fire_run(catalog, other_task)
    made = await catalog.create_subtasks(
        run,
        task_type="check_disk",
        location="SYSTEM",
        subtasks=[NewSubtask(node_id=n) for n in "abc"],
        now=NOW,
    )
    await catalog.create_subtasks(
        kept, task_type="check_disk", location="SYSTEM", subtasks=[NewSubtask(node_id="a")], now=NOW
    )
    await catalog.take_subtasks("b", now=NOW)
    await catalog.settle_subtask(made[2].subtask_id, SubtaskState.SUCCEEDED, now=NOW)

    cancelled = await catalog.cancel_subtasks(
        task_id=record.id, now=later(1), reason="cancelled: CANCEL TASK"
    )

    assert cancelled == [made[0].subtask_id, made[1].subtask_id]
    states = {s.node_id: (s.state, s.error_code) for s in await catalog.list_subtasks(task_id=record.id)}
    assert states == {
        "a": (SubtaskState.CANCELLED, "CANCELLED"),
        "b": (SubtaskState.CANCELLED, "CANCELLED"),
        "c": (SubtaskState.SUCCEEDED, None),
    }
    assert [s.state for s in await catalog.list_subtasks(task_id=other_task.id)] == [SubtaskState.PENDING]
    assert await catalog.cancel_subtasks(now=NOW, reason="nothing named") == []


async def test_subtasks_of_a_lost_node_fail_node_lost(catalog: Catalog, other: Catalog) -> None:
    await catalog.join(member("a"))
    await other.join(member("gone", lease=SHORT))
    record = await create(catalog, "rebuild", state=TaskState.STARTED)
    run = await fire_run(catalog, record)
    made = await catalog.create_subtasks(
        run,
        task_type="rebuild",
        location="SYSTEM",
        subtasks=[NewSubtask(node_id="a"), NewSubtask(node_id="gone")],
        now=NOW,
    )
    await other.take_subtasks("gone", now=NOW)
    assert await catalog.settle_lost_subtasks(now=NOW) == []  # its lease is still live
    await eventually(lambda: expired(catalog, "gone"))

    assert await catalog.settle_lost_subtasks(now=later(5)) == [made[1].subtask_id]
    lost = {s.node_id: s for s in await catalog.list_subtasks(run_id=run.run_id)}
    assert (lost["gone"].state, lost["gone"].error_code) == (SubtaskState.FAILED, "NODE_LOST")
    assert "gone" in (lost["gone"].error_message or "")
    assert lost["a"].state is SubtaskState.PENDING


async def test_a_restarted_node_fails_its_running_subtasks_only(catalog: Catalog) -> None:
    record = await create(catalog, "rebuild", state=TaskState.STARTED)
    run = await fire_run(catalog, record)
    made = await catalog.create_subtasks(
        run,
        task_type="rebuild",
        location="SYSTEM",
        subtasks=[NewSubtask(node_id="a"), NewSubtask(node_id="a")],
        now=NOW,
    )
    await catalog.take_subtasks("a", now=NOW)
    await catalog.create_subtasks(
        run, task_type="rebuild", location="SYSTEM", subtasks=[NewSubtask(node_id="a")], now=NOW
    )

    assert await catalog.settle_lost_subtasks(now=later(1), restarted="a") == [s.subtask_id for s in made]
    assert [s.state for s in await catalog.list_subtasks(node_id="a", open_only=True)] == [
        SubtaskState.PENDING
    ]


# --- moving placements -----------------------------------------------------------------------------


async def test_move_placements_hands_unpinned_tasks_and_unstarted_claims_over(
    catalog: Catalog, other: Catalog
) -> None:
    first = await create(catalog, "t1", state=TaskState.STARTED)
    second = await create(catalog, "t2", state=TaskState.STARTED)
    pinned = await create(catalog, "t3", state=TaskState.STARTED, node="a")
    a = await catalog.join(member("a"))
    assert await catalog.claim_placements(a.fence, capacity=4, warehouses=None) == [
        first.id,
        second.id,
        pinned.id,
    ]
    claims = [
        new_run(first, later(60), state=RunState.SCHEDULED, node="a"),
        new_run(first, later(120), state=RunState.SCHEDULED, node="a"),
    ]
    await catalog.record_fires("a", [], [], claims, urgent=True, fence=a.fence)
    await catalog.set_task_runtime([TaskRuntime(task_id=first.id, next_fire_at=later(180))], fence=a.fence)
    b = await other.join(member("b"))

    moved = await catalog.move_placements(a.fence, {first.id: "b", pinned.id: "b", second.id: "nobody"})

    assert moved == [first.id]
    holders = {p.task_id: (p.node_id, p.epoch) for p in await other.list_placements()}
    assert holders[first.id] == ("b", b.fence.epoch)
    assert holders[second.id] == ("a", a.fence.epoch) and holders[pinned.id] == ("a", a.fence.epoch)
    # the instants a had claimed for the moved task are b's to run: its next instant is the first
    assert await other.list_runs(task_id=first.id) == []
    task = await other.get_task_by_id(first.id)
    assert task is not None and task.next_fire_at == later(60)
    [mine] = await other.fire([new_run(first, later(60), node="b")], [], fence=b.fence)
    assert mine is not None
    # a fence that does not hold its lease moves nothing
    assert await other.move_placements(Fence("a", a.fence.epoch + 1000), {second.id: "b"}) == []
