"""A run whose attempt raises something other than a TasksqlError (a bug in tasksql, or a module
loaded from another version) is recorded FAILED with the error, instead of ending its task with
the row EXECUTING and the run counted as running: the task's next instants would be skipped as
overlapping, and a graph member's graph run would never go on nor end."""

from __future__ import annotations

from typing import Any

import pytest
from sched_harness import Harness

from tasksql.scheduler import inflight


async def history(h: Harness) -> list[tuple[str, str, str | None]]:
    """(task, state, error_code) of every run but the claims of instants to come, in run order."""
    rows = await h.rows("SELECT name, state, error_code FROM system.task_history ORDER BY run_id")
    return [(r[0], r[1], r[2]) for r in rows if r[1] != "SCHEDULED"]


@pytest.mark.parametrize("member", [False, True], ids=["task", "graph-member"])
async def test_a_run_whose_attempt_raises_a_bug_is_recorded_failed_and_the_task_goes_on(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, member: bool
) -> None:
    h = harness
    await h.sql("CREATE TASK r SCHEDULE = '10 SECONDS' AS SELECT 1")
    if member:
        await h.sql("CREATE TASK a AFTER r AS SELECT 2")
        await h.sql("ALTER TASK a RESUME")
    await h.sql("ALTER TASK r RESUME")
    real = inflight.run_attempt
    calls = 0

    async def run_attempt(ctx: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == (2 if member else 1):
            raise AttributeError("'RunContext' object has no attribute 'x'")
        return await real(ctx)

    monkeypatch.setattr(inflight, "run_attempt", run_attempt)
    await h.tick(advance=10)
    await h.tick(advance=10)
    first = [("r", "SUCCEEDED", None)] if member else []
    again = [("r", "SUCCEEDED", None), ("a", "SUCCEEDED", None)] if member else [("r", "SUCCEEDED", None)]
    assert await history(h) == [*first, ("a" if member else "r", "FAILED", "INTERNAL_ERROR"), *again]
