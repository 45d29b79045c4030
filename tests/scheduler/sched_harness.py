"""The scheduler test harness: an engine with a fake clock and a scheduler driven tick by tick."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasksql.engine import Engine, Result
from tasksql.scheduler.service import Scheduler
from tasksql.settings import Settings
from tasksql.testing import FakeClock

START = "2026-03-01T12:00:00+00:00"


@dataclass
class Harness:
    engine: Engine
    clock: FakeClock
    scheduler: Scheduler

    async def sql(self, text: str) -> Result:
        return (await self.engine.execute(text))[-1]

    async def rows(self, text: str) -> list[tuple[Any, ...]]:
        return (await self.sql(text)).rows

    async def tick(self, *, advance: float = 0.0, drain: bool = True) -> None:
        """Move the clock, run one scheduler iteration, and (by default) wait for its runs."""
        if advance:
            self.clock.advance(advance)
        await self.scheduler.tick()
        await self.scheduler.warmed()  # the tasks due soon are warm before the clock moves on
        await self.scheduler.bookkeeping_written()  # lazy writes of the tick: visible before asserting
        if drain:
            await self.scheduler.drain()

    async def run_once(
        self, name: str, body: str, *, options: str = "", columns: str = "state, return_value, error_message"
    ) -> tuple[Any, ...]:
        """Create task ``name`` (``options``, a one-minute schedule, AS ``body``), resume it, let one
        instant come and run, suspend it; ``columns`` of its one finished run."""
        await self.sql(f"CREATE TASK {name} {options} SCHEDULE = '1 MINUTE' AS {body}")
        await self.sql(f"ALTER TASK {name} RESUME")
        await asyncio.wait_for(self.tick(advance=60), timeout=120)
        await self.sql(f"ALTER TASK {name} SUSPEND")
        [row] = await self.rows(
            f"SELECT {columns} FROM task_history(task_name => '{name}') WHERE state <> 'SCHEDULED'"
        )
        return row

    async def history(self, task: str, *, claims: bool = False) -> list[tuple[Any, ...]]:
        """(scheduled offset in seconds from START, state, error_code, scheduled_from) oldest first;
        without ``claims``, runs claimed for instants still to come are left out."""
        rows = await self.rows(
            "SELECT scheduled_time, state, error_code, scheduled_from FROM task_history("
            f"task_name => '{task}', result_limit => 10000) ORDER BY scheduled_time, run_id"
        )
        start, now = FakeClock(START).now(), self.clock.now()
        return [
            (round((r[0] - start).total_seconds(), 3), r[1], r[2], r[3])
            for r in rows
            if claims or not (r[1] == "SCHEDULED" and r[0] > now)
        ]


async def make_harness(data_dir: Path, *, start: str = START, **settings: Any) -> Harness:
    clock = FakeClock(start)
    engine = Engine(Settings.load(data_dir=data_dir, grace_period_s=2.0, **settings), clock=clock)
    await engine.open()
    scheduler = engine.new_scheduler(node_id="test-node")
    await scheduler.start(background=False)
    engine.scheduler = scheduler
    return Harness(engine, clock, scheduler)
