"""The catalog contract for runs: firing and fences, outcomes, claims booked ahead, lazy settling,
task runtime fields, history queries, lost nodes, nodes and retention.

Written against the :class:`~tasksql.catalog.Catalog` interface only; every backend runs it (see the
``catalog`` fixture in ``conftest.py``).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from catalog_support import NOW, create, ended, fire_run, later, new_run, qname, state_and_times

from conftest import CatalogFactory
from tasksql.catalog import Catalog, TaskUpdate
from tasksql.errors import CatalogError
from tasksql.model import RunState, ScheduledFrom, SuspendReason, TaskState
from tasksql.model.run import NodeRecord, RunOutcome, TaskRuntime

# --- fire and the fences -------------------------------------------------------------------------


async def test_fired_runs_read_back_equal(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    run = new_run(record, NOW, config='{"k": 1}', condition_text="SELECT TRUE")

    [stored] = await catalog.fire([run], [])

    assert stored is not None and stored.run_id > 0
    assert (stored.task_id, stored.task_version, stored.name) == (record.id, 1, "t")
    assert (stored.scheduled_time, stored.query_start_time) == (NOW, NOW + timedelta(milliseconds=5))
    assert (stored.state, stored.scheduled_from, stored.attempt_number) == (
        RunState.EXECUTING,
        ScheduledFrom.SCHEDULE,
        1,
    )
    assert (stored.config, stored.condition_text, stored.node_id) == ('{"k": 1}', "SELECT TRUE", "node-a")
    assert await catalog.get_run(stored.run_id) == stored
    assert await catalog.get_run(stored.run_id + 1000) is None


async def test_an_instant_is_fired_once_whoever_fires_it(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)

    first = await catalog.fire([new_run(record, NOW, node="a")], [])
    again = await catalog.fire([new_run(record, NOW, node="b"), new_run(record, later(60), node="b")], [])

    assert first[0] is not None
    assert again[0] is None and again[1] is not None  # the fence held only the taken instant
    manual = new_run(record, NOW, scheduled_from=ScheduledFrom.EXECUTE_TASK)
    retry = new_run(record, NOW, scheduled_from=ScheduledFrom.RETRY, attempt_number=2)
    assert None not in await catalog.fire([manual, retry], [])  # only first scheduled attempts are fenced
    assert len(await catalog.list_runs(task_id=record.id)) == 4


async def test_fire_applies_runtime_fields_without_a_version_or_a_change(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    gone = await create(catalog, "gone", state=TaskState.STARTED)
    await catalog.update_tasks([TaskUpdate(task_id=gone.id, expected_version=1, drop=True)], now=NOW)
    seq = await catalog.change_seq()

    await catalog.fire(
        [new_run(record)],
        [
            TaskRuntime(task_id=record.id, next_fire_at=later(120), consecutive_failures=2),
            TaskRuntime(task_id=gone.id, next_fire_at=later(120)),  # dropped: ignored
        ],
    )

    stored = await catalog.get_task_by_id(record.id)
    assert stored is not None
    assert (stored.version, stored.next_fire_at, stored.consecutive_failures) == (1, later(120), 2)
    assert await catalog.change_seq() == seq
    assert await catalog.fire([], []) == []


async def test_a_guarded_runtime_update_applies_only_to_the_version_and_anchor_it_names(
    catalog: Catalog,
) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)

    await catalog.set_task_runtime([TaskRuntime(task_id=record.id, next_fire_at=later(10), guard=(2, None))])
    stored = await catalog.get_task_by_id(record.id)
    assert stored is not None and stored.next_fire_at == later(60)  # wrong version: not applied

    await catalog.set_task_runtime([TaskRuntime(task_id=record.id, next_fire_at=later(10), guard=(1, None))])
    stored = await catalog.get_task_by_id(record.id)
    assert stored is not None and stored.next_fire_at == later(10)

    await catalog.set_task_runtime([TaskRuntime(task_id=record.id, clear_next_fire=True)])
    stored = await catalog.get_task_by_id(record.id)
    assert stored is not None and stored.next_fire_at is None


async def test_a_runtime_suspension_is_a_definition_change(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    seq = await catalog.change_seq()

    await catalog.set_task_runtime(
        [
            TaskRuntime(
                task_id=record.id,
                state=TaskState.SUSPENDED,
                suspend_reason=SuspendReason.AUTO_SUSPENDED,
                consecutive_failures=3,
            )
        ]
    )

    stored = await catalog.get_task_by_id(record.id)
    assert stored is not None
    assert (stored.state, stored.suspend_reason, stored.consecutive_failures) == (
        TaskState.SUSPENDED,
        SuspendReason.AUTO_SUSPENDED,
        3,
    )
    assert stored.last_suspended_on == NOW  # the catalog's clock
    assert stored.version == 1
    assert await catalog.change_seq() > seq


# --- outcomes ------------------------------------------------------------------------------------


async def test_a_run_is_settled_once(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    run = await fire_run(catalog, record)
    outcome = ended(
        run,
        RunState.FAILED,
        error_code="22012",
        error_message="Division by zero!",
        rows_produced=0,
        query_id="q1",
    )

    assert await catalog.finish_run(outcome, TaskRuntime(task_id=record.id, consecutive_failures=1))
    assert not await catalog.finish_run(ended(run, completed_time=later(9)), None)

    stored = await catalog.get_run(run.run_id)
    assert stored is not None
    assert (stored.state, stored.error_code, stored.error_message) == (
        RunState.FAILED,
        "22012",
        "Division by zero!",
    )
    assert (stored.completed_time, stored.rows_produced, stored.query_id) == (later(0.042), 0, "q1")
    assert stored.duration_ms == pytest.approx(37.0)
    task = await catalog.get_task_by_id(record.id)
    assert task is not None and task.consecutive_failures == 1


async def test_a_scheduled_run_moves_to_executing_then_settles(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    run = await fire_run(catalog, record, state=RunState.SCHEDULED)
    assert run.state is RunState.SCHEDULED and run.query_start_time is None

    start = RunOutcome(run_id=run.run_id, state=RunState.EXECUTING, query_start_time=later(1))
    assert await catalog.finish_run(start, None)
    assert await catalog.finish_run(ended(run, query_start_time=None, completed_time=later(2)), None)

    assert await state_and_times(catalog, run.run_id) == (
        RunState.SUCCEEDED,
        later(1),  # kept: the outcome did not name one
        later(2),
    )


async def test_settle_later_commits_in_call_order_and_a_settled_run_stays_settled(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    run = await fire_run(catalog, record)

    first = catalog.settle_later(ended(run))  # not a coroutine: queued by the call
    second = catalog.settle_later(ended(run, RunState.FAILED))

    assert await asyncio.wait_for(first, 10) is True
    assert await asyncio.wait_for(second, 10) is False
    stored = await catalog.get_run(run.run_id)
    assert stored is not None and stored.state is RunState.SUCCEEDED


async def test_an_outcome_right_after_its_claimed_start_wins(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    run = await fire_run(catalog, record, state=RunState.SCHEDULED)
    start = RunOutcome(run_id=run.run_id, state=RunState.EXECUTING, query_start_time=later(1))

    batch = catalog.record_fires("node-a", [start], [], [])  # lazy: may be held back
    settled = catalog.settle_later(ended(run, query_start_time=later(1), completed_time=later(2)))

    assert await asyncio.wait_for(settled, 10) is True
    await asyncio.wait_for(batch, 10)
    assert await state_and_times(catalog, run.run_id) == (
        RunState.SUCCEEDED,
        later(1),
        later(2),
    )


async def test_calls_that_return_futures_refuse_a_closed_catalog_at_the_call(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    run = await fire_run(catalog, record)
    await catalog.close()

    with pytest.raises(CatalogError) as info:
        catalog.settle_later(ended(run))
    assert info.value.code == "CATALOG_CLOSED"
    with pytest.raises(CatalogError) as info:
        catalog.record_fires("node-a", [], [], [])
    assert info.value.code == "CATALOG_CLOSED"


# --- claims booked ahead -------------------------------------------------------------------------


async def test_record_fires_starts_releases_and_claims_in_one_call(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    other = await create(catalog, "other", state=TaskState.STARTED)
    [now_claim, kept, done] = await catalog.fire(
        [
            new_run(record, NOW, state=RunState.SCHEDULED),
            new_run(other, later(60), state=RunState.SCHEDULED, node="node-b"),  # another node's
            new_run(other, NOW),
        ],
        [],
    )
    assert now_claim is not None and kept is not None and done is not None
    assert await catalog.finish_run(ended(done), None)
    starts = [
        RunOutcome(run_id=now_claim.run_id, state=RunState.EXECUTING, query_start_time=later(0.001)),
        RunOutcome(run_id=done.run_id, state=RunState.EXECUTING, query_start_time=later(0.001)),
    ]

    results = await asyncio.wait_for(
        catalog.record_fires(
            "node-a",
            starts,
            [(other.id, later(60))],  # not ours: stays
            [
                new_run(record, later(60), state=RunState.SCHEDULED),
                new_run(other, later(60), state=RunState.SCHEDULED),
            ],
            urgent=True,
        ),
        10,
    )

    [claimed, fenced] = results
    assert claimed is not None and claimed.state is RunState.SCHEDULED and claimed.scheduled_time == later(60)
    assert fenced is None  # node-b holds that instant
    started = await catalog.get_run(now_claim.run_id)
    assert started is not None and (started.state, started.query_start_time) == (
        RunState.EXECUTING,
        later(0.001),
    )
    settled = await catalog.get_run(done.run_id)
    assert settled is not None and settled.state is RunState.SUCCEEDED  # a settled run is left alone
    assert await catalog.get_run(kept.run_id) == kept


async def test_a_released_instant_can_be_claimed_again_by_a_later_call(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    first = catalog.record_fires("node-a", [], [], [new_run(record, later(60), state=RunState.SCHEDULED)])
    release = catalog.record_fires("node-a", [], [(record.id, later(60))], [])
    again = catalog.record_fires(
        "node-b", [], [], [new_run(record, later(60), state=RunState.SCHEDULED, node="node-b")]
    )

    [claimed] = await asyncio.wait_for(first, 10)
    assert await asyncio.wait_for(release, 10) == []
    [reclaimed] = await asyncio.wait_for(again, 10)

    assert claimed is not None and reclaimed is not None  # writes apply in call order
    runs = await catalog.list_runs(task_id=record.id)
    assert [(r.run_id, r.node_id) for r in runs] == [(reclaimed.run_id, "node-b")]


async def test_a_release_leaves_a_started_claim(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    run = await fire_run(catalog, record, later(60), state=RunState.SCHEDULED)
    start = RunOutcome(run_id=run.run_id, state=RunState.EXECUTING, query_start_time=later(60))

    await asyncio.wait_for(catalog.record_fires("node-a", [start], [(record.id, later(60))], []), 10)

    stored = await catalog.get_run(run.run_id)
    assert stored is not None and stored.state is RunState.EXECUTING


# --- history -------------------------------------------------------------------------------------


async def test_list_runs_filters_and_orders_newest_first(catalog: Catalog) -> None:
    a = await create(catalog, "a", state=TaskState.STARTED)
    b = await create(catalog, "b", state=TaskState.STARTED)
    runs = [await fire_run(catalog, a, later(60 * i)) for i in range(4)]
    other = await fire_run(catalog, b, later(30))
    await catalog.finish_run(ended(runs[1], RunState.FAILED, error_code="X"), None)
    await catalog.finish_run(ended(runs[2], RunState.FAILED_AND_AUTO_SUSPENDED, error_code="X"), None)

    assert [r.run_id for r in await catalog.list_runs()] == [
        runs[3].run_id,
        runs[2].run_id,
        runs[1].run_id,
        other.run_id,
        runs[0].run_id,
    ]
    assert [r.run_id for r in await catalog.list_runs(task_id=a.id, limit=2)] == [
        runs[3].run_id,
        runs[2].run_id,
    ]
    assert [r.run_id for r in await catalog.list_runs(start=later(30), end=later(120))] == [
        runs[1].run_id,
        other.run_id,
    ]
    assert [r.run_id for r in await catalog.list_runs(error_only=True)] == [runs[2].run_id, runs[1].run_id]
    assert await catalog.list_runs(task_id=a.id, limit=0) == []
    assert await catalog.list_runs(root_task_id=a.id) == []


async def test_list_runs_gives_each_shape_of_filters_what_they_select(catalog: Catalog) -> None:
    # every combination of the filters (each is its own statement) against the same rows filtered here
    a = await create(catalog, "a", state=TaskState.STARTED)
    b = await create(catalog, "b", state=TaskState.STARTED)
    runs = [await fire_run(catalog, a, later(60 * i)) for i in range(5)]
    runs.append(await fire_run(catalog, a, later(120), scheduled_from=ScheduledFrom.EXECUTE_TASK))  # a tie
    runs += [await fire_run(catalog, b, later(60 * i + 30), root_task_id=a.id) for i in range(3)]
    runs.append(await fire_run(catalog, b, later(120), scheduled_from=ScheduledFrom.EXECUTE_TASK))
    failed = {runs[1].run_id, runs[5].run_id, runs[7].run_id}
    for run in runs:
        if run.run_id in failed:
            await catalog.finish_run(ended(run, RunState.FAILED, error_code="X"), None)
    values = {
        "task_id": a.id,
        "start": later(60),
        "end": later(180),
        "error_only": True,
        "root_task_id": a.id,
    }
    key = "task_id", "start", "end", "error_only", "root_task_id"

    for mask in range(2**5):
        given = {k: values[k] for i, k in enumerate(key) if mask >> i & 1}
        expect = sorted(
            (
                r
                for r in runs
                if ("task_id" not in given or r.task_id == a.id)
                and ("start" not in given or r.scheduled_time >= later(60))
                and ("end" not in given or r.scheduled_time < later(180))
                and ("error_only" not in given or r.run_id in failed)
                and ("root_task_id" not in given or r.root_task_id == a.id)
            ),
            key=lambda r: (r.scheduled_time, r.run_id),
            reverse=True,
        )
        for limit in (None, 2):
            found = await catalog.list_runs(**given, limit=limit)  # type: ignore[arg-type]
            assert [r.run_id for r in found] == [r.run_id for r in expect][:limit], (given, limit)


async def test_last_run_states_ignore_claims_of_instants_to_come(catalog: Catalog) -> None:
    a = await create(catalog, "a", state=TaskState.STARTED)
    b = await create(catalog, "b", state=TaskState.STARTED)
    done = await fire_run(catalog, a, NOW)
    await catalog.finish_run(ended(done, RunState.FAILED), None)
    await fire_run(catalog, a, later(60), state=RunState.SCHEDULED)  # a claim, not a run yet
    running = await fire_run(catalog, b, NOW)

    states = await catalog.last_run_states(later(1))

    assert states == {
        a.id: ("FAILED", later(0.042)),
        b.id: ("EXECUTING", running.query_start_time),
    }
    assert (await catalog.last_run_states(later(61)))[a.id] == ("SCHEDULED", later(60))


async def test_last_run_states_give_each_task_its_own_latest_run(catalog: Catalog) -> None:
    assert await catalog.last_run_states(later(1)) == {}
    tasks = [await create(catalog, f"t{i}", state=TaskState.STARTED) for i in range(4)]
    latest = {}
    for step in range(3):  # runs of the tasks interleaved, so run ids do not follow each task
        for i, rec in enumerate(tasks[:3]):
            latest[rec.id] = await fire_run(catalog, rec, later(-600 + 60 * step + i))
    await fire_run(catalog, tasks[3], later(60), state=RunState.SCHEDULED)  # only a claim to come
    await catalog.finish_run(ended(latest[tasks[1].id], RunState.FAILED), None)

    states = await catalog.last_run_states(later(1))

    assert states == {
        tasks[0].id: ("EXECUTING", latest[tasks[0].id].query_start_time),
        tasks[1].id: ("FAILED", latest[tasks[1].id].scheduled_time + timedelta(milliseconds=42)),
        tasks[2].id: ("EXECUTING", latest[tasks[2].id].query_start_time),
    }


# --- nodes and lost runs -------------------------------------------------------------------------


def node(node_id: str, started: float = 0) -> NodeRecord:
    return NodeRecord(
        node_id=node_id,
        host="h1",
        pid=42,
        role="scheduler",
        version="1.0",
        started_at=later(started),
        heartbeat_at=later(started),
    )


async def test_nodes_register_beat_and_stop(catalog: Catalog) -> None:
    await catalog.register_node(node("a", 0))
    await catalog.register_node(node("b", 10))
    await catalog.heartbeat("a", later(20))
    await catalog.stop_node("b", later(30))

    listed = await catalog.list_nodes(later(31))

    assert [n.node_id for n in listed] == ["b", "a"]  # most recently started first
    b, a = listed
    assert (a.heartbeat_at, a.stopped_at, a.state) == (later(20), None, "running")
    assert (b.heartbeat_at, b.stopped_at, b.state) == (later(30), later(30), "stopped")
    assert (a.host, a.pid, a.role, a.version) == ("h1", 42, "scheduler", "1.0")

    await catalog.register_node(node("b", 40))  # a restart with the same id starts afresh
    again = {n.node_id: n for n in await catalog.list_nodes(later(41))}
    assert (again["b"].started_at, again["b"].stopped_at) == (later(40), None)


async def test_open_runs_of_nodes(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    mine = await fire_run(catalog, record, NOW, node="a")
    claim = await fire_run(catalog, record, later(60), node="a", state=RunState.SCHEDULED)
    theirs = await fire_run(catalog, record, later(120), node="b")
    done = await fire_run(catalog, record, later(180), node="a")
    await catalog.finish_run(ended(done), None)

    assert [r.run_id for r in await catalog.open_runs("a")] == [mine.run_id, claim.run_id]
    assert [r.run_id for r in await catalog.open_runs("a", "b")] == [mine.run_id, claim.run_id, theirs.run_id]
    assert await catalog.open_runs() == []


async def test_a_lost_nodes_started_runs_fail_and_its_claims_to_come_are_released(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    started = await fire_run(catalog, record, NOW, node="dead")
    to_come = await fire_run(catalog, record, later(60), node="dead", state=RunState.SCHEDULED)
    alive = await fire_run(catalog, record, later(120), node="alive")

    result = await catalog.settle_lost_runs(["dead", "nobody"], later(30), "node dead stopped answering")

    assert set(result) == {"dead"}
    assert (result["dead"].failed, result["dead"].released) == (1, 1)
    failed = await catalog.get_run(started.run_id)
    assert failed is not None
    assert (failed.state, failed.error_code, failed.error_message, failed.completed_time) == (
        RunState.FAILED,
        "NODE_LOST",
        "node dead stopped answering",
        later(30),
    )
    assert await catalog.get_run(to_come.run_id) is None  # the instant is free for another node
    assert await catalog.get_run(alive.run_id) == alive
    assert await catalog.settle_lost_runs([], later(30), "x") == {}
    again = await catalog.fire([new_run(record, later(60), node="alive")], [])
    assert again[0] is not None


async def test_a_lost_nodes_runs_whose_body_committed_take_their_outcome_and_kept_runs_wait(
    catalog: Catalog,
) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    started = await fire_run(catalog, record, NOW, node="dead")
    claimed = await fire_run(catalog, record, later(10), node="dead", state=RunState.SCHEDULED)
    kept = await fire_run(catalog, record, later(11), node="dead")
    lost = await fire_run(catalog, record, later(12), node="dead")
    alive = await fire_run(catalog, record, later(13), node="alive")
    settled = await fire_run(catalog, record, later(14), node="dead")
    await catalog.finish_run(ended(settled, RunState.FAILED), None)

    def committed(run_id: int, at: int) -> RunOutcome:
        return RunOutcome(
            run_id=run_id, state=RunState.SUCCEEDED, completed_time=later(at), error_message="from its marker"
        )

    result = await catalog.settle_lost_runs(
        ["dead"],
        later(30),
        "node stopped",
        committed=[committed(r.run_id, 20) for r in (started, claimed, alive, settled)],
        keep=[kept.run_id],
    )

    assert (result["dead"].committed, result["dead"].failed, result["dead"].total) == (2, 1, 3)
    for run, start in ((started, started.query_start_time), (claimed, None)):
        got = await catalog.get_run(run.run_id)
        assert got is not None
        assert (got.state, got.error_code, got.error_message, got.completed_time, got.query_start_time) == (
            RunState.SUCCEEDED,
            None,
            "from its marker",
            later(20),
            start,
        )
    assert await catalog.get_run(kept.run_id) == kept  # left as it was
    failed = await catalog.get_run(lost.run_id)
    assert failed is not None and (failed.state, failed.error_code) == (RunState.FAILED, "NODE_LOST")
    assert await catalog.get_run(alive.run_id) == alive  # not a run of the lost node
    done = await catalog.get_run(settled.run_id)
    assert done is not None and (done.state, done.error_message) == (RunState.FAILED, None)  # untouched
    # the kept run is settled by a later call that does not keep it
    again = await catalog.settle_lost_runs(["dead"], later(40), "node stopped")
    assert (again["dead"].failed, again["dead"].total) == (1, 1)


# --- retention -----------------------------------------------------------------------------------


async def test_prune_deletes_settled_runs_before_their_tasks_cutoff(catalog: Catalog) -> None:
    a = await create(catalog, "a", state=TaskState.STARTED)
    b = await create(catalog, "b", state=TaskState.STARTED)
    old_a = await fire_run(catalog, a, NOW)
    new_a = await fire_run(catalog, a, later(3600))
    old_b = await fire_run(catalog, b, NOW)
    mid_b = await fire_run(catalog, b, later(1800))
    unsettled = await fire_run(catalog, a, later(10))
    for run in (old_a, new_a, old_b, mid_b):
        await catalog.finish_run(ended(run), None)

    deleted = await catalog.prune_runs(later(60), {b.id: later(3000)})

    assert deleted == 3
    left = {r.run_id for r in await catalog.list_runs()}
    assert left == {new_a.run_id, unsettled.run_id}


async def test_prune_forgets_nodes_silent_since_before_the_cutoff_unless_they_have_open_runs(
    catalog: Catalog,
) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    for name in ("old", "busy", "recent"):
        await catalog.register_node(node(name, 0))
    await catalog.heartbeat("recent", later(100))
    await fire_run(catalog, record, NOW, node="busy")

    await catalog.prune_runs(later(50), {})

    assert sorted(n.node_id for n in await catalog.list_nodes(later(100))) == ["busy", "recent"]


async def test_settings_are_not_task_history(catalog: Catalog) -> None:
    await catalog.set_setting("history_retention", "7 days")
    await catalog.prune_runs(later(10**6), {})

    assert await catalog.get_setting("history_retention") == "7 days"


# --- one catalog, several catalog objects ----------------------------------------------------------


async def test_another_catalog_object_sees_commits_and_wakes_on_changes(
    catalog: Catalog, catalog_factory: CatalogFactory
) -> None:
    async with catalog_factory() as other:
        seq = await other.change_seq()
        waiter = asyncio.ensure_future(other.wait_for_change(seq, timeout=60))
        await asyncio.sleep(0.01)
        assert not waiter.done()

        record = await create(catalog, "t", state=TaskState.STARTED)

        assert await asyncio.wait_for(waiter, 10) > seq
        assert await other.get_task(qname("t")) == record


async def test_one_sync_commits_each_change_at_once_and_survives_a_failure(
    catalog: Catalog, catalog_factory: CatalogFactory
) -> None:
    with pytest.raises(RuntimeError):
        async with catalog.one_sync():
            first = await create(catalog, "first")
            async with catalog_factory() as other:  # committed and visible inside the context
                assert await other.get_task(qname("first")) == first
            await create(catalog, "second")
            raise RuntimeError("a later statement failed")

    assert [r.name.name for r in await catalog.list_tasks()] == ["first", "second"]
