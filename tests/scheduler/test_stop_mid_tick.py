"""A scheduler stopped while its loop is in the middle of a tick's catalog write.

The write is on its way (the catalog's writer has it, and commits it whether or not anyone still
waits), so the runs it inserts EXECUTING must start and be settled like any other run in flight:
a stop never leaves a row EXECUTING whose body never started. The catalog is a real SQLite file;
its ``fire`` is wrapped only to hold the tick at the moment the write was handed to the writer.

The root's run ends during the stop's grace period, so its graph step inserts the child's run
EXECUTING and starts it then: the stop waits for that run too (within the grace period, then it is
cancelled), and returns only once its outcome is committed. On a PostgreSQL catalog the scheduler
is a cluster member, which drains as the stop begins: it keeps the placements of the graph's
members until it leaves, so the child's fenced insert is not refused when the root ends after the
drain (the graph run ended FAILED, NODE_LOST, and the child never ran, before). Either way the
graph run ends with its members' outcome, never given up.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sched_harness import START

from tasksql.engine import Engine
from tasksql.settings import Settings
from tasksql.testing import FakeClock


async def _stop_mid_tick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, child_body: str, grace: float
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Stop a scheduler while its tick's write of root ``t``'s run is held; the runs' (name, state)
    and the ended graph runs' (state, first error code) as the catalog shows them once the stop
    returned."""
    clock = FakeClock(START)
    engine = Engine(Settings.load(data_dir=tmp_path / "data", grace_period_s=2.0), clock=clock)
    await engine.open()
    try:
        await engine.execute(
            "CREATE TASK t SCHEDULE = '1 SECOND' AS SELECT 1; ALTER TASK t RESUME;"
            f"CREATE TASK child AFTER t AS {child_body}; SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('t')"
        )
        catalog = engine.catalog
        real_fire = catalog.fire
        writing, release = asyncio.Event(), asyncio.Event()

        async def fire(*args: Any, **kwargs: Any) -> Any:
            write = asyncio.ensure_future(real_fire(*args, **kwargs))  # the writer has it now
            writing.set()
            await release.wait()  # the stop comes while the tick waits for its write
            return await write

        monkeypatch.setattr(catalog, "fire", fire)
        scheduler = engine.new_scheduler(node_id="stopping-node")
        await scheduler.start()
        clock.advance(1)
        await asyncio.wait_for(writing.wait(), 10)

        stopping = asyncio.create_task(scheduler.stop(grace=grace))
        await asyncio.sleep(0.05)
        assert not stopping.done()  # it waits for the tick rather than cutting it off
        release.set()
        await asyncio.wait_for(stopping, 30)

        runs = await engine.execute(
            "SELECT name, state FROM task_history(result_limit => 100) ORDER BY run_id"
        )
        graphs = await engine.execute("SELECT state, first_error_code FROM complete_task_graphs()")
        return runs[-1].rows, graphs[-1].rows
    finally:
        await engine.close()


async def test_a_stop_during_a_ticks_catalog_write_lets_the_runs_it_inserted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows, graphs = await _stop_mid_tick(tmp_path, monkeypatch, child_body="SELECT 2", grace=5)
    assert rows, "the tick's write was committed"
    assert [state for _, state in rows if state in ("SCHEDULED", "EXECUTING")] == [], rows
    assert ("t", "SUCCEEDED") in rows  # the root's body ran
    assert ("child", "SUCCEEDED") in rows  # and the child its graph step started during the stop
    assert graphs == [("SUCCEEDED", None)], graphs


async def test_a_graph_member_started_during_the_stop_is_cancelled_after_the_grace_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the child's body outlasts the grace period: the stop cancels it rather than returning while
    # it executes (its row was left EXECUTING, the node recorded stopped)
    rows, graphs = await _stop_mid_tick(
        tmp_path, monkeypatch, child_body="SELECT SYSTEM$WAIT(1, 'HOURS')", grace=0.3
    )
    assert rows == [("t", "SUCCEEDED"), ("child", "CANCELLED")], rows
    assert graphs == [("CANCELLED", "CANCELLED")], graphs  # not given up (FAILED, NODE_LOST)
