"""The catalog contract for instants claimed ahead in a cluster: a claim starts only while it is its
node's row (and, fenced, while its lease and the task's placement are held), and the node that
gains a task takes over the claims others hold of its instants, come or to come.

Written against the :class:`~tasksql.catalog.Catalog` interface only; every backend runs it (see the
``catalog`` fixture in ``conftest.py``). Two nodes are two catalog objects on one catalog.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from catalog_support import NOW, SHORT, create, eventually, expired, later, member, new_run, task_def

from conftest import CatalogFactory
from tasksql.catalog import Catalog
from tasksql.catalog.records import TaskUpdate
from tasksql.errors import CatalogError
from tasksql.model import RunState, ScheduledFrom, TaskRecord, TaskState
from tasksql.model.cluster import Fence
from tasksql.model.run import RunRecord, TaskRuntime


@pytest.fixture
async def other(catalog: Catalog, catalog_factory: CatalogFactory) -> AsyncIterator[Catalog]:
    """A second catalog object on the same catalog: another node's view."""
    async with catalog_factory() as opened:
        yield opened


async def claim(
    catalog: Catalog, record: TaskRecord, seconds: float, node: str, fence: Fence | None = None
) -> RunRecord:
    """A claim of ``record``'s instant ``later(seconds)`` by ``node`` (a committed SCHEDULED row)."""
    [run] = await catalog.record_fires(
        node,
        [],
        [],
        [new_run(record, later(seconds), state=RunState.SCHEDULED, node=node)],
        urgent=True,
        fence=fence,
    )
    assert run is not None
    return run


async def states(catalog: Catalog, task_id: int) -> dict[float, tuple[RunState, str | None]]:
    """Seconds after NOW -> (state, node) of every run of the task."""
    return {
        (r.scheduled_time - NOW).total_seconds(): (r.state, r.node_id)
        for r in await catalog.list_runs(task_id=task_id)
    }


# --- starting claims -----------------------------------------------------------------------------


async def test_a_claim_starts_once_and_only_as_its_nodes(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    mine = await claim(catalog, record, 60, "a")
    theirs = await claim(catalog, record, 120, "b")
    manual = await catalog.fire(
        [new_run(record, later(180), state=RunState.SCHEDULED, node="a", scheduled_from=ScheduledFrom.RETRY)],
        [],
    )
    assert manual[0] is not None

    started = await catalog.start_claims("a", [theirs.run_id, mine.run_id, 987654], later(60))

    assert started == [mine.run_id]
    stored = await catalog.get_run(mine.run_id)
    assert stored is not None and (stored.state, stored.query_start_time) == (RunState.EXECUTING, later(60))
    assert await states(catalog, record.id) == {
        60: (RunState.EXECUTING, "a"),
        120: (RunState.SCHEDULED, "b"),  # b's claim is not a's to start
        180: (RunState.SCHEDULED, "a"),
    }
    # a second start of the same claim starts nothing: the run is started once; the same call
    # repeated (its commit cut off) gives the same answer and changes nothing
    assert await catalog.start_claims("a", [mine.run_id], later(61)) == []
    assert await catalog.start_claims("a", [mine.run_id], later(60)) == [mine.run_id]
    assert await catalog.start_claims("b", [mine.run_id], later(60)) == []
    again = await catalog.get_run(mine.run_id)
    assert again is not None and (again.state, again.query_start_time) == (RunState.EXECUTING, later(60))
    assert await catalog.start_claims("a", [], later(60)) == []


async def test_a_fenced_start_needs_the_lease_and_the_placement(catalog: Catalog, other: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    elsewhere = await create(catalog, "u", state=TaskState.STARTED)
    a = await catalog.join(member("a", lease=SHORT))
    await catalog.pin_tasks({elsewhere.id: "b"})
    assert await catalog.claim_placements(a.fence, capacity=4, warehouses=None) == [record.id]
    first = await claim(catalog, record, 60, "a", a.fence)
    second = await claim(catalog, record, 120, "a", a.fence)
    unplaced = await claim(catalog, elsewhere, 60, "a")  # written unfenced: its task is not a's

    assert await catalog.start_claims("a", [first.run_id, unplaced.run_id], later(60), fence=a.fence) == [
        first.run_id
    ]
    with pytest.raises(CatalogError) as wrong:
        await catalog.start_claims("b", [second.run_id], later(120), fence=a.fence)
    assert wrong.value.code == "INVALID_ARGUMENT"

    await eventually(lambda: expired(other, "a"))  # a is paused: its lease runs out
    assert await catalog.start_claims("a", [second.run_id], later(120), fence=a.fence) == []
    assert (await states(catalog, record.id))[120] == (RunState.SCHEDULED, "a")
    assert (await states(catalog, elsewhere.id))[60] == (RunState.SCHEDULED, "a")


async def test_a_claim_handed_over_with_its_task_cannot_start_on_the_old_holder(
    catalog: Catalog, other: Catalog
) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    a = await catalog.join(member("a"))
    assert await catalog.claim_placements(a.fence, capacity=4, warehouses=None) == [record.id]
    held = await claim(catalog, record, 60, "a", a.fence)
    b = await other.join(member("b"))

    await other.pin_tasks({record.id: "b"})  # the task moves while a's claim is outstanding

    assert await catalog.start_claims("a", [held.run_id], later(60), fence=a.fence) == []
    assert await other.claim_placements(b.fence, capacity=4, warehouses=None) == [record.id]
    [run] = await other.fire([new_run(record, later(60), node="b")], [], fence=b.fence)
    assert run is not None
    assert await states(other, record.id) == {60: (RunState.EXECUTING, "b")}


# --- taking claims over --------------------------------------------------------------------------


async def test_the_gaining_node_takes_over_the_claims_of_its_instants_come_or_to_come(
    catalog: Catalog, other: Catalog
) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    await catalog.set_task_runtime([TaskRuntime(task_id=record.id, next_fire_at=later(50))])
    kept = await create(catalog, "k", state=TaskState.STARTED)
    a = await catalog.join(member("a", lease=SHORT))
    assert await catalog.claim_placements(a.fence, capacity=4, warehouses=None) == [record.id, kept.id]
    # more than a minute before the task's next instant: left to the settling of a's runs
    await claim(catalog, record, -75, "a", a.fence)
    past = await claim(catalog, record, 0, "a", a.fence)  # its instant came while a was away
    started = await claim(catalog, record, 30, "a", a.fence)
    assert await catalog.start_claims("a", [started.run_id], later(30), fence=a.fence) == [started.run_id]
    first = await claim(catalog, record, 60, "a", a.fence)
    await claim(catalog, record, 120, "a", a.fence)
    await claim(catalog, kept, 60, "a", a.fence)
    await catalog.pin_tasks({kept.id: "a"})
    b = await other.join(member("b"))
    assert await other.take_over_claims(b.fence, [record.id]) == []  # not b's yet

    await eventually(lambda: expired(other, "a"))
    assert await other.claim_placements(b.fence, capacity=4, warehouses=None) == [record.id]
    taken = await other.take_over_claims(b.fence, [record.id, kept.id])

    assert taken == [record.id]
    # every claim that never started is taken, the one whose instant came too: were it left to the
    # settling of a's runs, a settling by a node that does not hold the task could delete it after
    # b planned past its instant, and the instant would run nowhere
    assert await states(other, record.id) == {
        -75.0: (RunState.SCHEDULED, "a"),
        30.0: (RunState.EXECUTING, "a"),  # started: never taken
    }
    assert (await states(other, kept.id))[60] == (RunState.SCHEDULED, "a")  # still a's task
    task = await other.get_task_by_id(record.id)
    assert task is not None and task.next_fire_at == later(0)  # b runs (or skips) from the earliest
    # a (paused, now awake) cannot start what it claimed; b runs each instant once
    for run in (past, first):
        assert await catalog.start_claims("a", [run.run_id], later(60), fence=a.fence) == []
        assert await catalog.start_claims("a", [run.run_id], later(60)) == []  # not a's row any more
    [run] = await other.fire([new_run(record, later(60), node="b")], [], fence=b.fence)
    assert run is not None
    assert await other.take_over_claims(b.fence, [record.id]) == []  # nothing left


async def test_a_fence_without_its_lease_takes_nothing_over(catalog: Catalog, other: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    b = await other.join(member("b", lease=SHORT))
    assert await other.claim_placements(b.fence, capacity=4, warehouses=None) == [record.id]
    await claim(catalog, record, 60, "a")

    await eventually(lambda: expired(other, "b"))

    assert await other.take_over_claims(b.fence, [record.id]) == []
    assert await states(other, record.id) == {60: (RunState.SCHEDULED, "a")}


# --- releasing claims ----------------------------------------------------------------------------


async def release(
    catalog: Catalog, record: TaskRecord, seconds: float, node: str, fence: Fence | None
) -> None:
    """``node``'s release of its claim of ``record``'s instant ``later(seconds)``, committed."""
    await catalog.record_fires(node, [], [(record.id, later(seconds))], [], urgent=True, fence=fence)


async def test_a_fenced_release_deletes_the_claim_while_the_lease_and_the_placement_are_held(
    catalog: Catalog,
) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    a = await catalog.join(member("a"))
    assert await catalog.claim_placements(a.fence, capacity=4, warehouses=None) == [record.id]
    await claim(catalog, record, 60, "a", a.fence)
    await claim(catalog, record, 120, "a", a.fence)

    await release(catalog, record, 60, "a", a.fence)
    await release(catalog, record, 120, "b", a.fence)  # not the fence's node: nothing

    assert await states(catalog, record.id) == {120: (RunState.SCHEDULED, "a")}


async def test_a_release_after_the_lease_was_lost_leaves_the_claim_to_the_new_holder(
    catalog: Catalog, other: Catalog
) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    a = await catalog.join(member("a", lease=SHORT))
    assert await catalog.claim_placements(a.fence, capacity=4, warehouses=None) == [record.id]
    await claim(catalog, record, 60, "a", a.fence)
    # a planned past its claim (the row's next instant is the one after it)
    await catalog.set_task_runtime([TaskRuntime(task_id=record.id, next_fire_at=later(120))], fence=a.fence)
    b = await other.join(member("b"))
    await eventually(lambda: expired(other, "a"))
    assert await other.claim_placements(b.fence, capacity=4, warehouses=None) == [record.id]

    # a, paused past its lease and awake again, releases its claim (its task changed, it stops)
    # before b took the claims over: the release is refused, so b's take-over finds the claim and
    # runs the instant; deleted, the instant would have run nowhere (the row's next instant is past it)
    await release(catalog, record, 60, "a", a.fence)
    assert await states(other, record.id) == {60: (RunState.SCHEDULED, "a")}

    assert await other.take_over_claims(b.fence, [record.id]) == [record.id]
    task = await other.get_task_by_id(record.id)
    assert task is not None and task.next_fire_at == later(60)
    [run] = await other.fire([new_run(record, later(60), node="b")], [], fence=b.fence)
    assert run is not None
    assert await states(other, record.id) == {60: (RunState.EXECUTING, "b")}


async def test_a_release_of_a_task_rejoined_under_a_new_epoch_is_refused(
    catalog: Catalog, other: Catalog
) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    a = await catalog.join(member("a"))
    assert await catalog.claim_placements(a.fence, capacity=4, warehouses=None) == [record.id]
    await claim(catalog, record, 60, "a", a.fence)
    again = await other.join(member("a"))  # the node id joined again: the old epoch holds nothing

    await release(catalog, record, 60, "a", a.fence)
    assert await states(catalog, record.id) == {60: (RunState.SCHEDULED, "a")}
    # the new epoch (once it holds the task) releases it
    assert await other.claim_placements(again.fence, capacity=4, warehouses=None) == [record.id]
    await release(other, record, 60, "a", again.fence)
    assert await states(catalog, record.id) == {}


async def test_a_release_of_a_task_pinned_elsewhere_is_left_to_the_hand_over(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    a = await catalog.join(member("a"))
    assert await catalog.claim_placements(a.fence, capacity=4, warehouses=None) == [record.id]
    await claim(catalog, record, 60, "a", a.fence)
    # ALTER TASK ... SET NODE = 'b': the placement is still a's until a's next claim hands it over
    moved = task_def("t", node="b")
    await catalog.update_tasks(
        [TaskUpdate(task_id=record.id, expected_version=record.version, definition=moved)], now=later(1)
    )

    await release(catalog, record, 60, "a", a.fence)
    assert await states(catalog, record.id) == {60: (RunState.SCHEDULED, "a")}
    # the hand-over deletes it and moves the task's next instant back to it, for the next holder
    await catalog.claim_placements(a.fence, capacity=4, warehouses=None)
    assert await states(catalog, record.id) == {}


async def test_a_fenced_release_of_a_dropped_tasks_claim_deletes_it(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    a = await catalog.join(member("a"))
    assert await catalog.claim_placements(a.fence, capacity=4, warehouses=None) == [record.id]
    await claim(catalog, record, 60, "a", a.fence)
    await catalog.update_tasks([TaskUpdate(task_id=record.id, expected_version=1, drop=True)], now=later(1))
    await catalog.claim_placements(a.fence, capacity=4, warehouses=None)  # forgets its placement

    await release(catalog, record, 60, "a", a.fence)

    assert await states(catalog, record.id) == {}
