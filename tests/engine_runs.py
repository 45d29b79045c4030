"""Helpers for tests that run tasks on an engine with its scheduler started and read what the runs
left (the maintenance tests: rebuild, check_disk)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from tasksql.engine import Engine


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = 20.0) -> None:
    """Wait until ``check()`` is true, polling; AssertionError naming ``what`` after ``within`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    """The rows of the last result set of ``sql``."""
    return list((await engine.execute(sql))[-1].rows)


async def last_run(engine: Engine, name: str) -> tuple[str, str | None, str | None]:
    """(state, error_code, error_message) of task ``name``'s latest run, once the scheduler has
    nothing left to do."""
    assert engine.scheduler is not None
    await engine.scheduler.drain()
    found = await rows(
        engine, f"SELECT state, error_code, error_message FROM task_history(task_name => '{name}')"
    )
    return found[0]
