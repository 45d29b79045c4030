"""The catalog contract for task graphs: graph versions, graph runs started with their root's run,
steps that settle a member run and start the next, the end of a graph run, retries and lost nodes.

Written against the :class:`~tasksql.catalog.Catalog` interface only; every backend runs it.
"""

from __future__ import annotations

import asyncio

from catalog_support import NOW, create, ended, item, later, new_run, qname

from tasksql.catalog import Catalog
from tasksql.model import RunState, ScheduledFrom, TaskRecord, TaskState
from tasksql.model.run import GraphRunEnd, NewGraphRun, RunRecord, TaskRuntime

GROUP = "6f1c1f9e-0d5e-4a53-a6c2-7b1e3f0b5a11"


def graph_run(root: TaskRecord, *, group: str = GROUP, version: int = 1, **changes: object) -> NewGraphRun:
    fields: dict[str, object] = {
        "graph_run_group_id": group,
        "root_task_id": root.id,
        "root_task_name": root.definition.name.name,
        "database_name": "tasksql",
        "schema_name": "public",
        "graph_version": version,
        "scheduled_from": ScheduledFrom.SCHEDULE,
        "scheduled_time": NOW,
        "query_start_time": later(0.005),
        "node_id": "node-a",
        "config": '{"env": "prod"}',
        **changes,
    }
    return NewGraphRun(**fields)  # type: ignore[arg-type]


async def graph(catalog: Catalog) -> tuple[TaskRecord, TaskRecord, TaskRecord]:
    root = await create(catalog, "root", state=TaskState.STARTED)
    child = await create(catalog, "child", after=(qname("root"),), schedule=None)
    other = await create(catalog, "other", after=(qname("root"),), schedule=None)
    return root, child, other


async def start(catalog: Catalog, root: TaskRecord) -> RunRecord:
    """The root's run and its graph run, in one fire."""
    [run] = await catalog.fire(
        [new_run(root, NOW, graph_run_group_id=GROUP, root_task_id=root.id, graph_version=1)],
        [TaskRuntime(task_id=root.id, next_fire_at=later(60))],
        [graph_run(root)],
    )
    assert run is not None
    return run


# --- graph versions ------------------------------------------------------------------------------


async def test_a_member_set_keeps_its_version_and_a_new_one_gets_the_next(catalog: Catalog) -> None:
    root, child, other = await graph(catalog)
    first = {root.id: 1, child.id: 1}
    second = {root.id: 1, child.id: 2, other.id: 1}

    assert await catalog.graph_version(root.id, first) == 1
    assert await catalog.graph_version(root.id, dict(reversed(first.items()))) == 1  # order does not count
    assert await catalog.graph_version(root.id, second) == 2
    assert await catalog.graph_version(root.id, first) == 1
    assert await catalog.graph_version(other.id, first) == 1  # numbered per root

    assert await catalog.graph_version_members(root.id, 2) == second
    assert await catalog.graph_version_members(root.id, 3) is None


async def test_concurrent_requests_for_a_new_member_set_agree_on_one_version(catalog: Catalog) -> None:
    root, child, _ = await graph(catalog)
    members = {root.id: 1, child.id: 1}

    versions = await asyncio.gather(*(catalog.graph_version(root.id, members) for _ in range(5)))

    assert versions == [1] * 5


# --- graph runs ----------------------------------------------------------------------------------


async def test_a_graph_run_starts_with_its_roots_run(catalog: Catalog) -> None:
    root, _, _ = await graph(catalog)

    run = await start(catalog, root)

    stored = await catalog.get_graph_run(GROUP)
    assert stored is not None
    assert (stored.root_task_id, stored.root_task_name, stored.graph_version) == (root.id, "root", 1)
    assert (stored.state, stored.scheduled_time, stored.query_start_time) == ("EXECUTING", NOW, later(0.005))
    assert (stored.root_run_id, stored.attempt_number, stored.node_id) == (run.run_id, 1, "node-a")
    assert (stored.completed_time, stored.first_error_code, stored.config) == (None, None, '{"env": "prod"}')
    assert await catalog.graph_run_runs(GROUP) == [run]
    assert await catalog.get_graph_run("no-such-group") is None


async def test_a_graph_run_is_not_started_when_its_roots_instant_was_taken(catalog: Catalog) -> None:
    root, _, _ = await graph(catalog)
    await start(catalog, root)

    [again] = await catalog.fire(
        [new_run(root, NOW, graph_run_group_id="other-group", root_task_id=root.id, graph_version=1)],
        [],
        [graph_run(root, group="other-group")],
    )

    assert again is None
    assert await catalog.get_graph_run("other-group") is None
    assert [g.graph_run_group_id for g in await catalog.list_graph_runs()] == [GROUP]


async def test_steps_settle_members_start_the_next_and_end_the_graph_run(catalog: Catalog) -> None:
    root, child, other = await graph(catalog)
    root_run = await start(catalog, root)
    members = [
        new_run(m, NOW, graph_run_group_id=GROUP, root_task_id=root.id, graph_version=1)
        for m in (child, other)
    ]

    started = await catalog.settle_graph_step(ended(root_run), None, members, None)

    assert None not in started
    again = await catalog.settle_graph_step(None, None, members[:1], None)
    assert again == [None]  # each task runs once per graph run and attempt
    child_run, other_run = started
    assert child_run is not None and other_run is not None
    await catalog.settle_graph_step(ended(child_run), None, [], None)
    end = GraphRunEnd(
        graph_run_group_id=GROUP,
        state="FAILED",
        completed_time=later(1),
        first_error_task_name="other",
        first_error_code="22012",
        first_error_message="Division by zero!",
    )
    await catalog.settle_graph_step(
        ended(other_run, RunState.FAILED, error_code="22012"),
        TaskRuntime(task_id=other.id, consecutive_failures=1),
        [],
        end,
        [item()],
    )

    stored = await catalog.get_graph_run(GROUP)
    assert stored is not None
    assert (stored.state, stored.completed_time, stored.first_error_task_name) == (
        "FAILED",
        later(1),
        "other",
    )
    assert (stored.first_error_code, stored.first_error_message) == ("22012", "Division by zero!")
    runs = await catalog.graph_run_runs(GROUP)
    assert [r.task_id for r in runs] == [root.id, child.id, other.id]
    assert [r.state for r in runs] == [RunState.SUCCEEDED, RunState.SUCCEEDED, RunState.FAILED]
    assert [r.run_id for r in await catalog.list_runs(root_task_id=root.id)] == [
        other_run.run_id,
        child_run.run_id,
        root_run.run_id,
    ]
    failed_task = await catalog.get_task_by_id(other.id)
    assert failed_task is not None and failed_task.consecutive_failures == 1
    assert len(await catalog.list_notifications()) == 1
    assert await catalog.wait_for_notifications(0)
    # an ended graph run stays ended
    await catalog.settle_graph_step(
        None, None, [], GraphRunEnd(graph_run_group_id=GROUP, state="SUCCEEDED", completed_time=later(2))
    )
    stored = await catalog.get_graph_run(GROUP)
    assert stored is not None and stored.state == "FAILED"


async def test_a_retry_continues_the_group_with_the_next_attempt(catalog: Catalog) -> None:
    root, child, _ = await graph(catalog)
    root_run = await start(catalog, root)
    [child_run] = await catalog.settle_graph_step(
        ended(root_run),
        None,
        [new_run(child, NOW, graph_run_group_id=GROUP, root_task_id=root.id, graph_version=1)],
        None,
    )
    assert child_run is not None
    await catalog.settle_graph_step(
        ended(child_run, RunState.FAILED),
        None,
        [],
        GraphRunEnd(graph_run_group_id=GROUP, state="FAILED", completed_time=later(1), first_error_code="X"),
    )

    retry = graph_run(
        root, scheduled_from=ScheduledFrom.RETRY, attempt_number=2, root_run_index=None, version=2
    )
    [retried] = await catalog.fire(
        [
            new_run(
                child,
                NOW,
                scheduled_from=ScheduledFrom.RETRY,
                attempt_number=2,
                graph_run_group_id=GROUP,
                root_task_id=root.id,
                graph_version=2,
            )
        ],
        [],
        [retry],
    )

    assert retried is not None
    stored = await catalog.get_graph_run(GROUP)
    assert stored is not None
    assert (stored.state, stored.attempt_number, stored.graph_version) == ("EXECUTING", 2, 2)
    assert (stored.completed_time, stored.first_error_code) == (None, None)
    assert stored.root_run_id == root_run.run_id  # the group's root run is kept
    assert len(await catalog.graph_run_runs(GROUP)) == 3


async def test_list_graph_runs_by_root_state_and_limit(catalog: Catalog) -> None:
    root, _, other = await graph(catalog)
    groups = []
    for i in range(3):
        group = f"g{i}"
        await catalog.fire(
            [new_run(root, later(60 * i), graph_run_group_id=group, root_task_id=root.id, graph_version=1)],
            [],
            [graph_run(root, group=group, scheduled_time=later(60 * i))],
        )
        groups.append(group)
    await catalog.fire([], [], [graph_run(other, group="solo", root_run_index=None)])
    await catalog.settle_graph_step(
        None, None, [], GraphRunEnd(graph_run_group_id="g0", state="SUCCEEDED", completed_time=later(1))
    )

    assert [g.graph_run_group_id for g in await catalog.list_graph_runs(root_task_id=root.id)] == [
        "g2",
        "g1",
        "g0",
    ]
    assert [g.graph_run_group_id for g in await catalog.list_graph_runs(states=["SUCCEEDED"])] == ["g0"]
    assert [g.graph_run_group_id for g in await catalog.list_graph_runs(states=["EXECUTING"], limit=2)] == [
        "g2",
        "g1",
    ]
    assert await catalog.list_graph_runs(states=[]) == []
    assert len(await catalog.list_graph_runs()) == 4


async def test_a_lost_nodes_graph_runs_fail(catalog: Catalog) -> None:
    root, _, _ = await graph(catalog)
    await start(catalog, root)

    await catalog.settle_lost_runs(["node-a"], later(30), "node node-a was lost")

    stored = await catalog.get_graph_run(GROUP)
    assert stored is not None
    assert (stored.state, stored.first_error_code, stored.first_error_message, stored.completed_time) == (
        "FAILED",
        "NODE_LOST",
        "node node-a was lost",
        later(30),
    )
