"""Triggered tasks (Snowflake): a task without SCHEDULE whose WHEN is SYSTEM$STREAM_HAS_DATA runs
when its stream gets data, no more often than USER_TASK_MINIMUM_TRIGGER_INTERVAL_IN_SECONDS, with
scheduled_from 'TRIGGER'. Driven by a fake clock (offsets are seconds from the harness's START),
plus one test in real time."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path

from sched_harness import START, Harness

from tasksql.engine import Engine
from tasksql.model import RunState, ScheduledFrom
from tasksql.model.run import NewRun
from tasksql.settings import Settings
from tasksql.testing import FakeClock

SETUP = """
CREATE TABLE orders (id INT);
CREATE STREAM orders_changes ON TABLE orders;
CREATE TABLE facts (id INT, action TEXT);
"""
TASK = """
CREATE TASK load_facts
  WAREHOUSE = 'default'
  {props}
  WHEN SYSTEM$STREAM_HAS_DATA('orders_changes')
AS INSERT INTO facts SELECT id, METADATA$ACTION FROM orders_changes;
ALTER TASK load_facts RESUME;
"""


async def step(h: Harness, advance: float) -> None:
    """Move the clock, tick, and wait for the trigger checks, the runs and their bookkeeping."""
    h.clock.advance(advance)
    await h.scheduler.tick()
    await h.scheduler.triggers.idle()
    await h.scheduler.bookkeeping_written()
    await h.scheduler.drain()


async def facts(h: Harness) -> list[int]:
    return [r[0] for r in await h.rows("SELECT id FROM facts ORDER BY id")]


async def test_runs_when_the_stream_gets_data_at_most_once_per_interval(harness: Harness) -> None:
    await harness.engine.execute(SETUP)
    await harness.engine.execute(TASK.format(props="USER_TASK_MINIMUM_TRIGGER_INTERVAL_IN_SECONDS = 10"))
    for _ in range(3):  # no data: checked every second, nothing recorded
        await step(harness, 1)
    assert await harness.history("load_facts") == []
    await harness.sql("INSERT INTO orders VALUES (1)")
    await step(harness, 1)
    assert await harness.history("load_facts") == [(4.0, "SUCCEEDED", None, "TRIGGER")]
    assert await facts(harness) == [1]
    await harness.sql("INSERT INTO orders VALUES (2)")
    for _ in range(9):  # data, but within 10 s of the last trigger instant
        await step(harness, 1)
    assert await facts(harness) == [1]
    await step(harness, 1)  # 14 s: 10 s after the first
    assert await harness.history("load_facts") == [
        (4.0, "SUCCEEDED", None, "TRIGGER"),
        (14.0, "SUCCEEDED", None, "TRIGGER"),
    ]
    assert await facts(harness) == [1, 2]
    for _ in range(15):  # consumed: no more runs
        await step(harness, 1)
    assert len(await harness.history("load_facts")) == 2
    # the interval is kept in the task's row (written by the flush of next instants)
    await harness.scheduler.flush_next_fires()
    [(nxt,)] = await harness.rows("SELECT next_scheduled_time FROM system.tasks WHERE name = 'load_facts'")
    assert nxt == FakeClock(START).now() + timedelta(seconds=24)


async def test_default_interval_is_30_seconds(harness: Harness) -> None:
    await harness.engine.execute(SETUP)
    await harness.engine.execute(TASK.format(props=""))
    await harness.sql("INSERT INTO orders VALUES (1)")
    await step(harness, 0)
    await harness.sql("INSERT INTO orders VALUES (2)")
    for _ in range(29):
        await step(harness, 1)
    assert await facts(harness) == [1]
    await step(harness, 1)
    assert await facts(harness) == [1, 2]
    assert [h[0] for h in await harness.history("load_facts")] == [0.0, 30.0]


async def test_suspended_task_is_not_triggered_and_resumes(harness: Harness) -> None:
    await harness.engine.execute(SETUP)
    await harness.engine.execute(TASK.format(props="USER_TASK_MINIMUM_TRIGGER_INTERVAL_IN_SECONDS = 10"))
    await harness.sql("ALTER TASK load_facts SUSPEND")
    await harness.sql("INSERT INTO orders VALUES (1)")
    for _ in range(3):
        await step(harness, 1)
    assert await harness.history("load_facts") == []
    await harness.sql("ALTER TASK load_facts RESUME")
    await step(harness, 1)
    assert [h[1:] for h in await harness.history("load_facts")] == [("SUCCEEDED", None, "TRIGGER")]
    assert await facts(harness) == [1]


async def test_a_failing_check_is_recorded_as_the_runs_error(harness: Harness) -> None:
    await harness.engine.execute(SETUP)
    await harness.engine.execute(TASK.format(props="USER_TASK_MINIMUM_TRIGGER_INTERVAL_IN_SECONDS = 10"))
    await harness.sql("DROP STREAM orders_changes")
    await step(harness, 1)
    [(_, state, code, source)] = await harness.history("load_facts")
    assert (state, code, source) == ("FAILED", "STREAM_NOT_FOUND", "TRIGGER")
    await step(harness, 1)  # not again before the interval
    assert len(await harness.history("load_facts")) == 1


async def test_a_triggered_root_starts_its_graph(harness: Harness) -> None:
    await harness.engine.execute(SETUP)
    await harness.engine.execute(TASK.format(props=""))
    await harness.engine.execute(
        "CREATE TABLE done (n INT);"
        " CREATE TASK after_load AFTER load_facts AS INSERT INTO done SELECT count(*) FROM facts;"
        " ALTER TASK after_load RESUME;"
    )
    await harness.sql("INSERT INTO orders VALUES (1)")
    await step(harness, 1)
    await harness.scheduler.drain()
    assert await harness.rows("SELECT n FROM done") == [(1,)]
    [(source, group)] = await harness.rows(
        "SELECT scheduled_from, graph_run_group_id FROM task_history(task_name => 'after_load')"
    )
    assert source == "TRIGGER" and group is not None


async def test_a_trigger_instant_is_fenced(harness: Harness) -> None:
    """The catalog admits one first attempt per (task, trigger instant), whoever inserts it."""
    await harness.engine.execute(SETUP)
    await harness.engine.execute(TASK.format(props=""))
    [(task_id,)] = await harness.rows("SELECT id FROM system.tasks WHERE name = 'load_facts'")
    at = harness.clock.now() + timedelta(hours=1)

    def run() -> NewRun:
        return NewRun(
            task_id=task_id,
            task_version=1,
            name="load_facts",
            database_name="",
            schema_name="",
            scheduled_time=at,
            state=RunState.SKIPPED,
            scheduled_from=ScheduledFrom.TRIGGER,
            completed_time=at,
        )

    catalog = harness.engine.catalog
    first = await catalog.fire([run()], ())
    second = await catalog.fire([run()], ())
    assert first[0] is not None and second == [None]


async def test_real_time_end_to_end(tmp_path: Path) -> None:
    """A running scheduler on the system clock: the rows inserted before are loaded once, by a run
    triggered at once, and the next trigger instant is the interval after it."""
    async with Engine(Settings.load(data_dir=tmp_path / "data", grace_period_s=2.0)) as engine:

        async def rows(sql: str) -> list[tuple[object, ...]]:
            return (await engine.execute(sql))[-1].rows

        await engine.execute(SETUP)
        await engine.execute("INSERT INTO orders VALUES (1), (2)")
        await engine.execute(TASK.format(props="USER_TASK_MINIMUM_TRIGGER_INTERVAL_IN_SECONDS = 10"))
        await engine.start_scheduler()
        deadline = time.monotonic() + 10
        history: list[tuple[object, ...]] = []
        while time.monotonic() < deadline:
            history = await rows(
                "SELECT scheduled_time, state, scheduled_from FROM task_history(task_name => 'load_facts')"
            )
            if history and history[0][1] == "SUCCEEDED":
                break
            await asyncio.sleep(0.05)
        [(instant, state, source)] = history
        assert (state, source) == ("SUCCEEDED", "TRIGGER")
        assert await rows("SELECT id, action FROM facts ORDER BY id") == [(1, "INSERT"), (2, "INSERT")]
        assert isinstance(instant, datetime)
        wanted = instant + timedelta(seconds=10)
        nxt = None
        while time.monotonic() < deadline and nxt != wanted:  # written by the next flush (1 s)
            [(nxt,)] = await rows("SELECT next_scheduled_time FROM system.tasks WHERE name = 'load_facts'")
            await asyncio.sleep(0.05)
        assert nxt == wanted
