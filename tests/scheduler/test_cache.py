"""The scheduler's cache: entries load cold, warm before their instant, cool after a far-off run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from sched_harness import Harness, make_harness

from tasksql.model import TaskRecord, TaskState
from tasksql.scheduler.entry import COOL_AFTER, WARM_AHEAD


def _hourly(name: str, value: int, every: str = "1 HOURS") -> list[str]:
    """A started task that logs ``value``."""
    return [
        f"CREATE TASK {name} SCHEDULE = '{every}' AS INSERT INTO log VALUES ({value})",
        f"ALTER TASK {name} RESUME",
    ]


@asynccontextmanager
async def _scheduler(
    tmp_path: Path, *statements: str, restart: bool = True, run_for: float = 0.0, down_for: float = 0.0
) -> AsyncIterator[Harness]:
    """A harness whose catalog holds a ``log`` table and ``statements``; with ``restart``, seen by a
    new engine and scheduler (nothing cached), as after a restart ``down_for`` seconds after the
    first scheduler ran for ``run_for`` seconds (one tick)."""
    h = await make_harness(tmp_path)
    await h.sql("CREATE TABLE log (i INT)")
    for statement in statements:
        await h.sql(statement)
    if run_for:
        await h.tick(advance=run_for)
    if restart:
        h.clock.advance(down_for)
        at = h.clock.now().isoformat()
        await h.scheduler.stop()
        await h.engine.close()
        h = await make_harness(tmp_path, start=at)
    try:
        yield h
    finally:
        await h.scheduler.stop()
        await h.engine.close()


async def _settle_background(h: Harness) -> None:
    """Let the scheduler's background reads (warming ahead) finish."""
    await h.scheduler.warmed()
    assert not h.scheduler.background_busy


async def test_a_restarted_scheduler_loads_every_task_cold_and_runs_them_on_time(tmp_path: Path) -> None:
    tasks = [s for i in range(3) for s in _hourly(f"t{i}", i, "10 MINUTES")]
    async with _scheduler(tmp_path, *tasks) as h:
        entries = list(h.scheduler.entries.values())
        assert len(entries) == 3
        assert all(e.cold for e in entries)
        assert all(e.next_fire is not None for e in entries)
        await h.tick(advance=600)
        assert sorted(r[0] for r in await h.rows("SELECT i FROM log")) == [0, 1, 2]
        assert [s for _, s, _, _ in await h.history("t0")] == ["SUCCEEDED"]


async def test_a_cold_entry_is_warmed_before_its_instant_and_starts_on_it(tmp_path: Path) -> None:
    async with _scheduler(tmp_path, *_hourly("t", 1, "10 MINUTES")) as h:
        [entry] = h.scheduler.entries.values()
        assert entry.cold and entry.next_fire is not None
        ahead = (entry.next_fire - h.clock.now() - WARM_AHEAD / 2).total_seconds()
        await h.tick(advance=ahead)  # within WARM_AHEAD of the instant: read, not run
        await _settle_background(h)
        assert not entry.cold
        assert await h.rows("SELECT i FROM log") == []
        await h.tick(advance=(WARM_AHEAD / 2).total_seconds())
        assert await h.rows("SELECT i FROM log") == [(1,)]
        [(state, started, scheduled)] = await h.rows(
            "SELECT state, query_start_time, scheduled_time FROM task_history(task_name => 't')"
        )
        assert state == "SUCCEEDED" and started == scheduled  # the fake clock: no lag at all


async def test_an_entry_goes_cold_after_a_run_when_its_next_instant_is_far(tmp_path: Path) -> None:
    tasks = [*_hourly("hourly", 1), *_hourly("often", 2, "30 SECONDS")]
    async with _scheduler(tmp_path, *tasks, restart=False) as h:
        await h.tick()  # reload: both cold
        await h.tick(advance=3600)  # both due (often: its missed instants summarised)
        hourly, often = sorted(h.scheduler.entries.values(), key=lambda e: e.task_id)
        assert hourly.cold  # next instant an hour away: idle and cold again
        assert not often.cold  # next instant 30 s away (< COOL_AFTER), and claimed ahead
        assert hourly.next_fire - h.clock.now() > COOL_AFTER  # type: ignore[operator]
        await h.tick(advance=3600)
        assert [s for _, s, _, _ in await h.history("hourly")] == ["SUCCEEDED", "SUCCEEDED"]


async def test_a_change_to_a_cold_task_moves_its_next_instant(tmp_path: Path) -> None:
    async with _scheduler(tmp_path, *_hourly("t", 1)) as h:
        [entry] = h.scheduler.entries.values()
        assert entry.cold
        await h.sql("ALTER TASK t SUSPEND")
        await h.sql("ALTER TASK t SET SCHEDULE = '5 MINUTES'")
        await h.sql("ALTER TASK t RESUME")
        await h.tick()
        [entry] = h.scheduler.entries.values()
        assert entry.cold and entry.version > 1
        assert entry.next_fire == h.clock.now() + timedelta(minutes=5)
        await h.tick(advance=300)
        assert await h.rows("SELECT i FROM log") == [(1,)]


async def test_graph_members_are_loaded_whole_and_the_graph_runs(tmp_path: Path) -> None:
    graph = [
        "CREATE TASK root SCHEDULE = '10 MINUTES' AS INSERT INTO log VALUES (0)",
        "CREATE TASK child AFTER root AS INSERT INTO log VALUES (1)",
        "CREATE TASK fin FINALIZE = root AS INSERT INTO log VALUES (2)",
        "SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('root')",
    ]
    async with _scheduler(tmp_path, *graph) as h:
        by_name = {r.name.name: h.scheduler.entries[r.id] for r in await h.engine.catalog.list_tasks()}
        assert by_name["root"].cold  # a root has no predecessor: cold until due
        assert not by_name["child"].cold and not by_name["fin"].cold  # the graph index needs them
        assert h.scheduler.cache.children_of(by_name["child"].task.after[0]) == [by_name["child"].task_id]
        await h.tick(advance=600)
        for _ in range(3):
            await h.tick()
        assert sorted(r[0] for r in await h.rows("SELECT i FROM log")) == [0, 1, 2]
        assert not by_name["root"].cold  # a root never goes cold: its graph run outlives its run


async def test_execute_task_on_a_cold_task_reads_it_and_runs_it(tmp_path: Path) -> None:
    async with _scheduler(tmp_path, *_hourly("t", 7)) as h:
        [entry] = h.scheduler.entries.values()
        assert entry.cold
        await h.sql("EXECUTE TASK t")
        await h.scheduler.drain()
        assert await h.rows("SELECT i FROM log") == [(7,)]
        assert [f for _, _, _, f in await h.history("t")] == ["EXECUTE TASK"]


async def test_warming_a_task_changed_since_it_was_loaded_waits_for_the_reload(tmp_path: Path) -> None:
    async with _scheduler(tmp_path, *_hourly("t", 1)) as h:
        [entry] = h.scheduler.entries.values()
        # another process changes the definition (this scheduler is not told): not reloaded yet
        h.engine.scheduler = None
        await h.engine.execute("ALTER TASK t MODIFY AS INSERT INTO log VALUES (2)")
        h.engine.scheduler = h.scheduler
        assert not h.scheduler.cache.stale
        assert await h.scheduler.cache.warm([entry]) == []
        assert entry.cold and h.scheduler.cache.stale  # not warmed with the new body at the old version
        await h.tick(advance=3600)
        assert await h.rows("SELECT i FROM log") == [(2,)]


async def test_reloads_update_cold_entries_in_place_without_growing_the_heap(tmp_path: Path) -> None:
    tasks = [s for i in range(20) for s in _hourly(f"t{i}", i)]
    async with _scheduler(tmp_path, *tasks, restart=False) as h:
        await h.tick()
        before = {task_id: id(e) for task_id, e in h.scheduler.entries.items()}
        _, heap = h.scheduler.cache.heap_sizes()
        for i in range(5):  # five more definition changes: five reloads
            await h.sql(f"CREATE TASK extra{i} AS SELECT 1")
            await h.tick()
        assert all(id(h.scheduler.entries[t]) == ident for t, ident in before.items())
        assert h.scheduler.cache.heap_sizes()[1] == heap  # no stale items left behind by the reloads


async def test_after_downtime_a_cold_task_is_read_and_its_missed_instants_settled(tmp_path: Path) -> None:
    async with _scheduler(tmp_path, *_hourly("t", 1, "1 MINUTES"), run_for=60, down_for=600) as h:
        [entry] = h.scheduler.entries.values()
        assert entry.cold
        await h.tick()
        states = [s for _, s, _, _ in await h.history("t")]
        # the run before the downtime, the missed instants in one SKIPPED summary, then the latest
        assert states[0] == "SUCCEEDED" and "SKIPPED" in states[1:] and states[-1] == "SUCCEEDED"
        assert await h.rows("SELECT count(*) FROM log") == [(2,)]


async def test_a_reload_asked_while_another_runs_sees_the_changes_committed_meanwhile(
    tmp_path: Path,
) -> None:
    """Two reloads at once (the loop's and EXECUTE TASK's) run one after the other: the later one
    reads the catalog after the change it was asked for, and the earlier one, which read the rows
    before that change, cannot apply them last."""
    h = await make_harness(tmp_path)
    try:
        await h.sql("CREATE TASK root SCHEDULE = '1 HOURS' AS SELECT 1")
        await h.sql("CREATE TASK child AFTER root AS SELECT 2")
        cache = h.scheduler.cache
        await cache.reload()
        [child] = [e for e in cache.entries.values() if not e.cold and e.record.name.name == "child"]
        assert child.record.state is TaskState.SUSPENDED

        catalog = cache._catalog
        real_read = catalog.get_tasks_by_ids
        read_once = asyncio.Event()
        go_on = asyncio.Event()

        async def read_then_wait(ids: list[int]) -> list[TaskRecord]:
            records = await real_read(ids)
            if not read_once.is_set():
                read_once.set()
                await go_on.wait()  # the first reload holds rows read before the change
            return records

        catalog.get_tasks_by_ids = read_then_wait  # type: ignore[method-assign]
        try:
            cache.mark_stale()
            first = asyncio.create_task(cache.reload())
            await read_once.wait()
            await h.sql("ALTER TASK child RESUME")
            second = asyncio.create_task(cache.reload())
            for _ in range(20):  # let the second reload run as far as it can
                await asyncio.sleep(0)
            go_on.set()
            await asyncio.gather(first, second)
        finally:
            del catalog.get_tasks_by_ids
        assert cache.entries[child.task_id].record.state is TaskState.STARTED
    finally:
        await h.scheduler.stop()
        await h.engine.close()
