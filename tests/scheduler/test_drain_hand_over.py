"""A draining member's graph run ends on it, then a second live node takes its tasks over.

Two servers (schedulers with their loops, housekeeping and leases) share one PostgreSQL catalog
(whatever ``--catalog`` says: a cluster needs it) and one injected clock. Node n1 holds a graph's
root ``r`` and member ``c`` and an independent task ``t``; n2 holds nothing. n1 is stopped while
the root's body runs: it drains, hands ``t`` over at once, and keeps the placements of ``r`` and
``c`` (the members of the graph run it coordinates) until it leaves, so the root's step inserts and
starts ``c`` on n1 within the grace period and the graph run ends SUCCEEDED there. Only then does
n2 take ``r`` and ``c`` (and it took ``t`` meanwhile), and it fires their next instants: each
instant has one run, on the node that held its task then.

Leases are judged by the server's clock (2.5 s, renewed every 0.5 s in real time); the schedules
follow the injected clock.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sched_harness import START

from pgserver import PgServer
from tasksql.engine import Engine
from tasksql.model import RunState
from tasksql.scheduler.service import Scheduler
from tasksql.settings import Settings
from tasksql.testing import FakeClock

pytestmark = pytest.mark.postgres

#: Seconds of real time the root's body takes: the stop comes while it runs.
ROOT_BODY_S = 2


async def until(check: Callable[[], Awaitable[bool]], *, within: float = 30.0) -> None:
    """Poll ``check`` until it holds, failing after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def runs_by_task(engine: Engine) -> dict[str, list[tuple[float, RunState, str | None]]]:
    """Task name -> (seconds after START, state, node) of its runs, oldest first."""
    start = FakeClock(START).now()
    out: dict[str, list[tuple[float, RunState, str | None]]] = {}
    for r in sorted(await engine.catalog.list_runs(limit=1000), key=lambda r: r.run_id):
        at = (r.scheduled_time - start).total_seconds()
        out.setdefault(r.name.lower(), []).append((at, r.state, r.node_id))
    return out


async def holders(engine: Engine) -> dict[str, str | None]:
    """Task name -> the node that holds its placement."""
    names = {r.id: r.definition.name.name.lower() for r in await engine.catalog.list_tasks()}
    return {names[p.task_id]: p.node_id for p in await engine.catalog.list_placements()}


async def test_a_second_node_takes_over_the_tasks_a_draining_member_kept_for_its_graph_run(
    tmp_path: Path, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKSQL_CATALOG", pg_server.url)
    monkeypatch.setenv("TASKSQL_CATALOG_SCHEMA", f"t_{uuid.uuid4().hex[:12]}")
    clock = FakeClock(START)
    engines: list[Engine] = []
    schedulers: list[Scheduler] = []

    async def server(name: str) -> tuple[Engine, Scheduler]:
        engine = Engine(Settings.load(data_dir=tmp_path / name, grace_period_s=10.0), clock=clock)
        await engine.open()
        engines.append(engine)
        scheduler = engine.new_scheduler(node_id=name)
        await scheduler.start()
        schedulers.append(scheduler)
        return engine, scheduler

    try:
        one, n1 = await server("n1")
        await one.execute(
            # r's body runs long enough for the stop to come while its graph run goes on
            f"CREATE TASK r SCHEDULE = '10 SECONDS' AS SELECT SYSTEM$WAIT({ROOT_BODY_S});"
            "CREATE TASK c AFTER r AS SELECT 1;"
            "CREATE TASK t SCHEDULE = '10 SECONDS' AS SELECT 1;"
            "SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('r'); ALTER TASK t RESUME"
        )
        assert n1.member is not None
        await until(lambda: _placed(one, {"r": "n1", "c": "n1", "t": "n1"}))
        two, n2 = await server("n2")  # joins after n1 took every task: it holds none
        assert n2.member is not None and n2.member.placed == set()

        clock.advance(10)  # r and t fire on n1; r's graph run begins
        await until(lambda: _state(one, "r", 10.0, RunState.EXECUTING))

        stopping = asyncio.create_task(n1.stop(grace=10.0))
        # n1 drains: t goes to n2 at once; r and c stay n1's while its graph run goes on
        await until(lambda: _placed(two, {"t": "n2"}))
        placed = await holders(two)
        assert (placed["r"], placed["c"]) == ("n1", "n1"), placed
        assert not stopping.done()

        await asyncio.wait_for(stopping, 30)  # the graph run ended within the grace period
        history = await runs_by_task(two)
        assert history["r"] == [(10.0, RunState.SUCCEEDED, "n1")], history
        assert history["c"] == [(10.0, RunState.SUCCEEDED, "n1")], history
        assert history["t"][0] == (10.0, RunState.SUCCEEDED, "n1"), history
        [graph] = await two.catalog.list_graph_runs()
        assert (graph.state, graph.node_id) == ("SUCCEEDED", "n1")

        # n1 left: n2 takes r and c, and fires the next instants of all three, once each
        await until(lambda: _placed(two, {"r": "n2", "c": "n2", "t": "n2"}))
        clock.advance(10)
        await until(lambda: _state(two, "c", 20.0, RunState.SUCCEEDED))
        await until(lambda: _state(two, "t", 20.0, RunState.SUCCEEDED))
        clock.advance(10)
        await until(lambda: _state(two, "c", 30.0, RunState.SUCCEEDED))
        await until(lambda: _state(two, "t", 30.0, RunState.SUCCEEDED))

        history = await runs_by_task(two)
        for name in ("r", "c", "t"):
            done = [(at, state, node) for at, state, node in history[name] if state is not RunState.SCHEDULED]
            assert done == [
                (10.0, RunState.SUCCEEDED, "n1"),
                (20.0, RunState.SUCCEEDED, "n2"),
                (30.0, RunState.SUCCEEDED, "n2"),
            ], (name, history)
        graphs = sorted((g.scheduled_time, g.state, g.node_id) for g in await two.catalog.list_graph_runs())
        assert [(state, node) for _, state, node in graphs] == [
            ("SUCCEEDED", "n1"),
            ("SUCCEEDED", "n2"),
            ("SUCCEEDED", "n2"),
        ]
    finally:
        for scheduler in reversed(schedulers):
            await scheduler.stop(grace=2.0)
        for engine in reversed(engines):
            await engine.close()


async def _placed(engine: Engine, expected: dict[str, str]) -> bool:
    placed = await holders(engine)
    return all(placed.get(name) == node for name, node in expected.items())


async def _state(engine: Engine, task: str, at: float, state: RunState) -> bool:
    return any(a == at and s is state for a, s, _ in (await runs_by_task(engine)).get(task, []))
