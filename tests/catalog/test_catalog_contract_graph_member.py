"""The catalog contract for a graph member's outcome and the step that follows from it
(:meth:`~tasksql.catalog.Catalog.settle_graph_member`): all or nothing on the outcome. When the
fence refuses the outcome (the lease is gone, or the run was settled elsewhere), nothing of the step
is written (no runtime change, run, end or notification) and the call says so; otherwise it writes
what :meth:`~tasksql.catalog.Catalog.settle_graph_step` writes.

Two nodes are two catalog objects on one catalog, as two processes would be; every backend runs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from catalog_support import (
    NOW,
    SHORT,
    create,
    ended,
    eventually,
    expired,
    item,
    later,
    member,
    new_run,
    qname,
)

from conftest import CatalogFactory
from tasksql.catalog import Catalog
from tasksql.model import RunState, ScheduledFrom, TaskRecord, TaskState
from tasksql.model.cluster import Lease
from tasksql.model.run import GraphRunEnd, NewGraphRun, RunRecord, TaskRuntime

GROUP = "5d0c9a34-8e1f-4c6b-a2f7-1b9e4d3c8a70"


@pytest.fixture
async def other(catalog: Catalog, catalog_factory: CatalogFactory) -> AsyncIterator[Catalog]:
    """A second catalog object on the same catalog: another node's view."""
    async with catalog_factory() as opened:
        yield opened


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


async def started_graph(
    catalog: Catalog, lease: float
) -> tuple[Lease, TaskRecord, TaskRecord, TaskRecord, RunRecord, dict[str, object]]:
    """Node a holds root r (children c1, c2); its root run and graph run are written."""
    root = await create(catalog, "r", state=TaskState.STARTED)
    first = await create(catalog, "c1", after=(qname("r"),), schedule=None)
    second = await create(catalog, "c2", after=(qname("r"),), schedule=None)
    a = await catalog.join(member("a", lease=lease))
    await catalog.claim_placements(a.fence, capacity=4, warehouses=None)
    tag: dict[str, object] = {"graph_run_group_id": GROUP, "root_task_id": root.id, "graph_version": 1}
    [root_run] = await catalog.fire(
        [new_run(root, NOW, node="a", **tag)], [], [graph_run(root, "a")], fence=a.fence
    )
    assert root_run is not None
    return a, root, first, second, root_run, tag


async def test_an_applied_outcome_writes_the_step(catalog: Catalog) -> None:
    a, root, first, second, root_run, tag = await started_graph(catalog, 60.0)

    written = await catalog.settle_graph_member(
        ended(root_run),
        TaskRuntime(task_id=root.id, consecutive_failures=0),
        [new_run(first, NOW, node="a", **tag), new_run(second, NOW, node="a", **tag)],
        None,
        fence=a.fence,
    )

    assert written is not None and all(run is not None for run in written)
    runs = {r.task_id: r.state for r in await catalog.graph_run_runs(GROUP)}
    assert runs == {root.id: RunState.SUCCEEDED, first.id: RunState.EXECUTING, second.id: RunState.EXECUTING}


async def test_a_refused_outcome_writes_nothing_of_the_step(catalog: Catalog, other: Catalog) -> None:
    a, _, first, _, root_run, tag = await started_graph(catalog, SHORT)
    [child_run] = await catalog.settle_graph_step(
        ended(root_run), None, [new_run(first, NOW, node="a", **tag)], None, fence=a.fence
    )
    assert child_run is not None
    await eventually(lambda: expired(other, "a"))  # a's lease runs out (a was paused)
    end = GraphRunEnd(graph_run_group_id=GROUP, state="SUCCEEDED", completed_time=later(1))

    # the last member's outcome, the graph run's end, the task's runtime and a notification
    written = await catalog.settle_graph_member(
        ended(child_run),
        TaskRuntime(task_id=first.id, consecutive_failures=0, next_fire_at=later(120)),
        [],
        end,
        [item()],
        fence=a.fence,
    )

    assert written is None
    stored = await other.get_run(child_run.run_id)
    assert stored is not None and stored.state is RunState.EXECUTING
    graph = await other.get_graph_run(GROUP)
    assert graph is not None and graph.state == "EXECUTING"
    assert await other.list_notifications() == []


async def test_an_outcome_of_a_run_settled_elsewhere_writes_nothing_of_the_step(catalog: Catalog) -> None:
    a, root, first, _, root_run, tag = await started_graph(catalog, 60.0)
    # the run was settled already (by a node that took it over while a was away, then a joined
    # again: its fence is live, the run is not open any more)
    await catalog.finish_run(ended(root_run, RunState.FAILED, error_code="NODE_LOST"), None)

    written = await catalog.settle_graph_member(
        ended(root_run), None, [new_run(first, NOW, node="a", **tag)], None, fence=a.fence
    )

    assert written is None
    assert {r.task_id for r in await catalog.graph_run_runs(GROUP)} == {root.id}
