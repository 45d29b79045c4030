"""The catalog contract for run bookkeeping written in batches: many outcomes settled together and
many runtime updates in one call give each row what it would get alone, in call order.

The PostgreSQL catalog writes such a batch as one statement over arrays when its rows name
different runs (or tasks), and one statement per row otherwise (``catalog/postgres/sets.py``);
these tests hold both ways, on every backend.
"""

from __future__ import annotations

import asyncio

from catalog_support import NOW, create, ended, fire_run, later, member, new_run, state_and_times

from tasksql.catalog import Catalog
from tasksql.model import RunState, TaskState
from tasksql.model.run import RunOutcome, TaskRuntime


async def test_outcomes_settled_together_each_get_their_own_fields(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    runs = [await fire_run(catalog, record, later(i)) for i in range(4)]
    waiting = await fire_run(catalog, record, later(9), state=RunState.SCHEDULED)
    done = await fire_run(catalog, record, later(10))
    assert await catalog.finish_run(ended(done), None)

    futures = [
        catalog.settle_later(ended(runs[0])),
        catalog.settle_later(
            ended(runs[1], RunState.FAILED, error_code="22012", error_message="Division by zero!")
        ),
        catalog.settle_later(ended(runs[2], rows_produced=3, rows_inserted=2, query_id="q2")),
        catalog.settle_later(ended(done, RunState.FAILED)),  # settled before: stays as it is
        catalog.settle_later(
            RunOutcome(run_id=waiting.run_id, state=RunState.EXECUTING, query_start_time=later(11))
        ),
        catalog.settle_later(ended(runs[3], return_value="ok")),
    ]

    settled = [await asyncio.wait_for(f, 10) for f in futures]
    assert settled == [True, True, True, False, True, True]
    stored = {r.run_id: await catalog.get_run(r.run_id) for r in [*runs, waiting, done]}
    first, failed, counted, last = (stored[r.run_id] for r in runs)
    assert first is not None and (first.state, first.error_code) == (RunState.SUCCEEDED, None)
    assert first.query_start_time == runs[0].query_start_time  # not named by the outcome: kept
    assert failed is not None
    assert (failed.state, failed.error_code, failed.error_message) == (
        RunState.FAILED,
        "22012",
        "Division by zero!",
    )
    assert counted is not None
    assert (counted.rows_produced, counted.rows_inserted, counted.query_id) == (3, 2, "q2")
    assert last is not None and (last.state, last.return_value) == (RunState.SUCCEEDED, "ok")
    assert last.completed_time == later(3.042)
    kept, started = stored[done.run_id], stored[waiting.run_id]
    assert kept is not None and kept.state is RunState.SUCCEEDED
    assert started is not None and (started.state, started.query_start_time) == (
        RunState.EXECUTING,
        later(11),
    )


async def test_outcomes_of_one_run_settled_together_apply_in_call_order(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    run = await fire_run(catalog, record, state=RunState.SCHEDULED)
    other = await fire_run(catalog, record, later(1))

    futures = [
        catalog.settle_later(
            RunOutcome(run_id=run.run_id, state=RunState.EXECUTING, query_start_time=later(1))
        ),
        catalog.settle_later(ended(other)),
        catalog.settle_later(ended(run, query_start_time=None, completed_time=later(2))),
        catalog.settle_later(ended(run, RunState.FAILED)),  # after its outcome: refused
    ]

    assert [await asyncio.wait_for(f, 10) for f in futures] == [True, True, True, False]
    assert await state_and_times(catalog, run.run_id) == (
        RunState.SUCCEEDED,
        later(1),
        later(2),
    )


async def test_runtime_updates_of_many_tasks_in_one_call_each_apply(catalog: Catalog) -> None:
    tasks = [await create(catalog, f"t{i}", state=TaskState.STARTED) for i in range(3)]

    await catalog.fire(
        [new_run(tasks[0])],
        [
            TaskRuntime(task_id=tasks[0].id, next_fire_at=later(120), consecutive_failures=2),
            TaskRuntime(task_id=tasks[1].id, clear_next_fire=True),
            TaskRuntime(task_id=tasks[2].id, next_fire_at=later(30), guard=(2, None)),  # not its version
        ],
    )
    await catalog.set_task_runtime(
        [
            TaskRuntime(task_id=tasks[1].id, next_fire_at=later(5)),
            TaskRuntime(task_id=tasks[1].id, consecutive_failures=4),  # the same task again: both apply
            TaskRuntime(task_id=tasks[2].id, consecutive_failures=1, guard=(1, None)),
        ]
    )

    stored = [await catalog.get_task_by_id(t.id) for t in tasks]
    assert [(s.next_fire_at, s.consecutive_failures) for s in stored if s is not None] == [
        (later(120), 2),
        (later(5), 4),
        (later(60), 1),
    ]


async def test_runs_fired_together_get_ids_in_call_order_and_the_fence_keeps_the_first(
    catalog: Catalog,
) -> None:
    tasks = [await create(catalog, f"t{i}", state=TaskState.STARTED) for i in range(3)]
    [taken] = await catalog.fire([new_run(tasks[2], later(1))], [])

    records = await catalog.fire(
        [
            new_run(tasks[1], later(1)),
            new_run(tasks[0], later(1), config='{"k": 1}'),
            new_run(tasks[0], later(1), node="node-b"),  # the same instant: the fence holds the first
            new_run(tasks[2], later(1)),  # fired before
            new_run(tasks[0], later(2), state=RunState.SCHEDULED),
        ],
        [],
    )

    assert taken is not None
    assert [r is None for r in records] == [False, False, True, True, False]
    ids = [r.run_id for r in records if r is not None]
    assert ids == sorted(ids) and ids[0] > taken.run_id
    for record in records:
        if record is not None:
            stored = await catalog.get_run(record.run_id)
            assert stored is not None
            assert (stored.task_id, stored.scheduled_time, stored.state, stored.config) == (
                record.task_id,
                record.scheduled_time,
                record.state,
                record.config,
            )
    again = await catalog.fire([new_run(tasks[0], later(1)), new_run(tasks[0], later(1))], [])
    assert again == [None, None]  # one key twice: one statement per row, both held by the fence


async def test_fenced_batches_write_only_the_runs_and_tasks_the_fence_holds(catalog: Catalog) -> None:
    placed = [await create(catalog, f"t{i}", state=TaskState.STARTED) for i in range(3)]
    unplaced = await create(catalog, "u", state=TaskState.STARTED)
    lease = await catalog.join(member("a"))
    await catalog.pin_tasks({unplaced.id: "elsewhere"})
    assert sorted(await catalog.claim_placements(lease.fence, capacity=4, warehouses=None)) == sorted(
        t.id for t in placed
    )

    records = await catalog.fire(
        [
            new_run(placed[0], NOW, node="a"),
            new_run(unplaced, NOW, node="a"),  # not this node's: refused
            new_run(placed[1], NOW, node="a", state=RunState.SCHEDULED),
            new_run(placed[2], NOW, node="a", state=RunState.SCHEDULED),
        ],
        [
            TaskRuntime(task_id=placed[0].id, next_fire_at=later(90)),
            TaskRuntime(task_id=unplaced.id, next_fire_at=later(90)),  # not this node's: unchanged
        ],
        fence=lease.fence,
    )
    assert [r is None for r in records] == [False, True, False, False]
    first, _, waiting, other = records
    assert first is not None and waiting is not None and other is not None
    await catalog.pin_tasks({placed[2].id: "elsewhere"})  # its start is refused, its end is not
    futures = [
        catalog.settle_later(ended(first), fence=lease.fence),
        catalog.settle_later(
            RunOutcome(run_id=waiting.run_id, state=RunState.EXECUTING, query_start_time=later(1)),
            fence=lease.fence,
        ),
        catalog.settle_later(
            RunOutcome(run_id=other.run_id, state=RunState.EXECUTING, query_start_time=later(1)),
            fence=lease.fence,
        ),
    ]

    assert [await asyncio.wait_for(f, 10) for f in futures] == [True, True, False]
    tasks = [await catalog.get_task_by_id(t.id) for t in (placed[0], unplaced)]
    assert [t.next_fire_at for t in tasks if t is not None] == [later(90), later(60)]
