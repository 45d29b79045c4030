"""A lost node's runs whose body committed: found by their completion marker, recorded SUCCEEDED.

The node "dies" between its body's commit and its outcome's: the pieces are driven directly on a
real catalog and a real warehouse (the run row written as the node would, the body run by the
runner with the run's marker, the outcome never written), then the node's row is pointed at an
exited process (lost at once) and the reaper runs. test_lost_markers_process.py kills a real
``tasksql serve`` instead.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

from sched_harness import START, Harness, make_harness
from test_lost_nodes import kill, restart, runs

from tasksql.model import RunState, ScheduledFrom, TaskDef
from tasksql.model.run import RunRecord
from tasksql.scheduler import lost, markers, outcomes
from tasksql.scheduler.runner import RunContext, run_attempt
from tasksql.scheduler.service import Scheduler
from tasksql.shell.schema import DUCKDB_DDL_QUERY, INFORMATION_SCHEMA_QUERY, relations_from
from tasksql.testing import FakeClock

BODY = "INSERT INTO log VALUES (SYSTEM$TASK_RUNTIME_INFO('CURRENT_RUN_ID'))"


def at(seconds: float) -> datetime:
    return FakeClock(START).now() + timedelta(seconds=seconds)


async def setup(h: Harness, extra: str = "") -> None:
    await h.sql("CREATE TABLE log (run_id BIGINT)")
    await h.sql(f"CREATE TASK t SCHEDULE 10s {extra} AS {BODY}")


async def logged(h: Harness) -> list[int]:
    return [r[0] for r in await h.rows("SELECT run_id FROM log ORDER BY run_id")]


async def executing_run(h: Harness, node: str, seconds: float) -> RunRecord:
    """The EXECUTING row of instant ``seconds`` that node ``node`` writes before the body starts."""
    [record] = await h.engine.catalog.list_tasks()
    new = outcomes.new_run(
        record,
        scheduled_time=at(seconds),
        state=RunState.EXECUTING,
        scheduled_from=ScheduledFrom.SCHEDULE,
        node_id=node,
        now=h.clock.now(),
    )
    [rec] = await h.engine.catalog.fire([new], ())
    assert rec is not None
    return rec


async def body_only(h: Harness, rec: RunRecord, sched: Scheduler) -> None:
    """Run ``rec``'s body as ``sched`` does (with its marker), and write nothing to the catalog."""
    task: TaskDef = await h.engine.catalog.get_task_version(rec.task_id, rec.task_version)
    ctx = RunContext(
        run=rec,
        task=task,
        warehouse=await h.engine.warehouse(rec.warehouse),
        clock=h.clock,
        introspection=h.engine.introspection_factory(),
        markers=sched.markers,
    )
    outcome = await run_attempt(ctx)
    assert outcome.state is RunState.SUCCEEDED, outcome


async def test_a_started_run_whose_body_committed_is_recorded_succeeded_not_lost(harness: Harness) -> None:
    await setup(harness)
    doomed = harness.engine.new_scheduler(node_id="doomed")
    await doomed.start(background=False)
    harness.clock.advance(10)
    rec = await executing_run(harness, "doomed", 10)
    await body_only(harness, rec, doomed)  # committed; the node dies before its outcome is written
    await kill(harness, "doomed")
    assert await harness.scheduler.reap() == 1
    [(offset, state, code, node, message)] = await runs(harness)
    assert (offset, state, code, node) == (10.0, "SUCCEEDED", None, "doomed")
    assert message == lost.COMMITTED_MESSAGE.format(node="doomed")
    stored = await harness.engine.catalog.get_run(rec.run_id)
    assert stored is not None and stored.completed_time == at(10)  # the marker's time
    # not run again: the live node finds the instant taken
    await harness.tick(advance=0.5)
    assert await logged(harness) == [rec.run_id]
    # the reaper deleted the marker it used; the task's failures are untouched
    wh = await harness.engine.warehouse()
    assert await wh.find_markers(doomed.markers.scope, [rec.run_id]) == {}  # type: ignore[union-attr]
    [record] = await harness.engine.catalog.list_tasks()
    assert record.consecutive_failures == 0


async def test_a_started_run_whose_body_did_not_commit_is_lost(harness: Harness) -> None:
    await setup(harness)
    harness.clock.advance(10)
    await executing_run(harness, "doomed", 10)  # the node died before the body committed
    await kill(harness, "doomed")
    assert await harness.scheduler.reap() == 1
    assert [r[:4] for r in await runs(harness)] == [(10.0, "FAILED", "NODE_LOST", "doomed")]
    assert await logged(harness) == []


async def test_a_claimed_run_that_committed_before_its_start_was_written_is_not_re_planned(
    harness: Harness,
) -> None:
    await setup(harness)
    doomed = harness.engine.new_scheduler(node_id="doomed")
    await doomed.start(background=False)
    harness.clock.advance(10)
    await doomed.tick()  # runs 10 s and claims 20 s
    await doomed.drain()
    await doomed.bookkeeping_written()
    [claim] = [r for r in await runs(harness) if r[0] == 20]
    assert claim[1] == "SCHEDULED"
    [claimed] = [r for r in await harness.engine.catalog.list_runs(task_id=1) if r.scheduled_time == at(20)]
    harness.clock.advance(10)
    await body_only(harness, claimed, doomed)  # started at once; its start never reached the catalog
    await kill(harness, "doomed")
    # 22 s: a claim of 20 s that never started would be re-planned (within the misfire grace)
    fresh = await restart(harness, after=2)
    history = [r[:4] for r in await runs(harness) if r[0] <= 22]
    assert history == [(10.0, "SUCCEEDED", None, "doomed"), (20.0, "SUCCEEDED", None, "doomed")]
    assert len(await logged(harness)) == 2  # 10 s and 20 s, each once
    await fresh.tick()
    await fresh.drain()
    assert len(await logged(harness)) == 2


async def test_a_claimed_run_that_never_committed_is_re_planned_and_runs_once(harness: Harness) -> None:
    await setup(harness)
    doomed = harness.engine.new_scheduler(node_id="doomed")
    await doomed.start(background=False)
    harness.clock.advance(10)
    await doomed.tick()
    await doomed.drain()
    await doomed.bookkeeping_written()
    await kill(harness, "doomed")
    await restart(harness, after=12)
    history = [r[:4] for r in await runs(harness) if r[0] <= 22]
    assert history == [(10.0, "SUCCEEDED", None, "doomed"), (20.0, "SUCCEEDED", None, "fresh")]
    assert len(await logged(harness)) == 2


async def test_runs_whose_warehouse_cannot_be_asked_wait_then_are_settled_without_markers(
    harness: Harness, tmp_path: Path
) -> None:
    where = tmp_path / "lite"
    where.mkdir()
    await harness.sql(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{where}/w.db'")
    await harness.sql(f"CREATE TASK t SCHEDULE 10s WAREHOUSE = lite AS {BODY}")
    harness.clock.advance(10)
    rec = await executing_run(harness, "doomed", 10)
    assert rec.warehouse == "lite"
    shutil.rmtree(where)  # the warehouse cannot be opened: whether the body committed is unknown
    harness.engine.invalidate_warehouses()
    await kill(harness, "doomed")
    assert await harness.scheduler.reap() == 0
    assert [r[1] for r in await runs(harness)] == ["EXECUTING"]  # left for the next reaping
    harness.clock.advance(markers.LOOKUP_PATIENCE.total_seconds())
    assert await harness.scheduler.reap() == 1
    assert [r[:4] for r in await runs(harness)] == [(10.0, "FAILED", "NODE_LOST", "doomed")]


async def test_markers_of_settled_runs_are_pruned_and_those_of_open_runs_kept(harness: Harness) -> None:
    await setup(harness)
    book = harness.scheduler.markers
    assert book is not None
    for _ in range(3):
        await harness.tick(advance=10)  # 10, 20, 30 s: marked, settled
    settled = [
        r.run_id for r in await harness.engine.catalog.list_runs(task_id=1) if r.state is RunState.SUCCEEDED
    ]
    wh = await harness.engine.warehouse()
    assert sorted(await wh.find_markers(book.scope, settled)) == sorted(settled)
    # a run still in flight on this node: its body committed, its outcome not yet
    in_flight = await executing_run(harness, "test-node", 35)
    await body_only(harness, in_flight, harness.scheduler)
    assert await markers.sweep(book, harness.engine.catalog, harness.clock) == len(settled)
    assert await wh.marker_ids(book.scope, 100) == [in_flight.run_id]


async def test_with_completion_markers_off_bodies_write_none(tmp_path: Path) -> None:
    h = await make_harness(tmp_path / "data", completion_markers=False)
    try:
        await setup(h)
        await h.tick(advance=10)
        assert h.scheduler.markers is None
        assert len(await logged(h)) == 1
        assert await h.rows("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'tasksql_markers'") == [
            (0,)
        ]
    finally:
        await h.engine.close()


async def test_the_shell_does_not_list_the_marker_table(harness: Harness) -> None:
    await setup(harness)
    await harness.tick(advance=10)  # a marked body: the marker table exists now
    result = await harness.sql(INFORMATION_SCHEMA_QUERY)
    assert ("tasksql_markers", "run_markers") in {(r[0], r[1]) for r in result.rows}
    assert [r.name for r in relations_from(result)] == ["log"]
    ddl = await harness.rows(DUCKDB_DDL_QUERY)
    assert [r[1] for r in ddl] == ["log"]
