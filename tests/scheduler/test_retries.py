"""Automatic retries, failure counting and error policies, on a fake clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sched_harness import Harness

from tasksql.model import QualifiedName, RunState, SqlBody, TaskDef
from tasksql.model.run import RunOutcome
from tasksql.scheduler.retry import matches, retry_delay


async def attempts(h: Harness, task: str) -> list[tuple[float, int, str, str]]:
    """(offset of query start in s, attempt, scheduled_from, state) of every run, in order."""
    rows = await h.rows(
        "SELECT query_start_time, attempt_number, scheduled_from, state FROM system.task_history "
        f"WHERE name = '{task}' ORDER BY run_id"
    )
    start = h.clock.now().replace(hour=12, minute=0, second=0, microsecond=0)
    return [(round((r[0] - start).total_seconds(), 3), r[1], r[2], r[3]) for r in rows]


async def test_failed_runs_are_retried_each_attempt_its_own_row(harness: Harness) -> None:
    await harness.sql(
        "CREATE TASK t SCHEDULE = '1 HOURS' TASK_AUTO_RETRY_ATTEMPTS = 2 AS SELECT * FROM missing"
    )
    await harness.sql("EXECUTE TASK t")
    await harness.scheduler.drain()
    assert [a[1:] for a in await attempts(harness, "t")] == [
        (1, "EXECUTE TASK", "FAILED"),
        (2, "RETRY", "FAILED"),
        (3, "RETRY", "FAILED"),
    ]
    # the three attempts are one failed run for SUSPEND_TASK_AFTER_NUM_FAILURES
    assert harness.scheduler.entries[1].failures == 1


async def test_retry_delay_with_exponential_backoff_and_cap(harness: Harness) -> None:
    await harness.sql(
        "CREATE TASK t SCHEDULE = '1 HOURS' TASK_AUTO_RETRY_ATTEMPTS = 3 TASK_AUTO_RETRY_DELAY = '10 SECONDS' "
        "TASK_AUTO_RETRY_BACKOFF = 2 TASK_AUTO_RETRY_MAX_DELAY = '15 SECONDS' AS SELECT * FROM missing"
    )
    await harness.sql("EXECUTE TASK t")
    for step in (10, 15, 15):
        # the clock moves once the retry waits on it (its instant: the failure's time plus the delay)
        until = await asyncio.wait_for(harness.clock.sleeper(), 60)
        assert until == harness.clock.now() + timedelta(seconds=step)
        harness.clock.advance(step)
    await harness.scheduler.drain()
    got = await attempts(harness, "t")
    assert [(a[0], a[1], a[3]) for a in got] == [
        (0.0, 1, "FAILED"),
        (10.0, 2, "FAILED"),  # 10 s
        (25.0, 3, "FAILED"),  # 20 s, capped at 15 s
        (40.0, 4, "FAILED"),  # 40 s, capped at 15 s
    ]


async def test_a_retry_that_succeeds_ends_the_run(harness: Harness) -> None:
    await harness.sql("CREATE TABLE flag (ok BOOLEAN)")
    await harness.sql(
        "CREATE TASK flaky SCHEDULE = '1 HOURS' TASK_AUTO_RETRY_ATTEMPTS = 5 TASK_AUTO_RETRY_DELAY = '10 SECONDS' "
        "AS SELECT CASE WHEN (SELECT count(*) FROM flag) = 0 THEN error('no flag yet') ELSE 1 END"
    )
    await harness.sql("EXECUTE TASK flaky")
    until = await asyncio.wait_for(harness.clock.sleeper(), 60)
    assert until == harness.clock.now() + timedelta(seconds=10)
    await harness.sql("INSERT INTO flag VALUES (TRUE)")  # the condition clears while the retry waits
    harness.clock.advance(10)
    await harness.scheduler.drain()
    assert [(a[1], a[3]) for a in await attempts(harness, "flaky")] == [(1, "FAILED"), (2, "SUCCEEDED")]
    assert harness.scheduler.entries[1].failures == 0


async def test_a_failed_script_attempt_leaves_nothing_behind(harness: Harness) -> None:
    await harness.sql("CREATE TABLE tries (n INTEGER)")
    await harness.sql(
        "CREATE TASK flaky SCHEDULE = '1 HOURS' TASK_AUTO_RETRY_ATTEMPTS = 5 AS "
        "BEGIN INSERT INTO tries VALUES (1); SELECT CASE WHEN (SELECT count(*) FROM tries) < 3 "
        "THEN error('not yet') ELSE 1 END; END"
    )
    await harness.sql("EXECUTE TASK flaky")
    await harness.scheduler.drain()
    # BEGIN ... END is one transaction: a failed attempt leaves no row behind
    assert [a[3] for a in await attempts(harness, "flaky")] == ["FAILED"] * 5 + ["FAILED"]
    assert await harness.rows("SELECT count(*) FROM tries") == [(0,)]


async def test_retry_on_limits_retries_to_matching_errors(harness: Harness) -> None:
    await harness.sql(
        "CREATE TASK t SCHEDULE = '1 HOURS' TASK_AUTO_RETRY_ATTEMPTS = 3 TASK_AUTO_RETRY_ON = ('%deadlock%') "
        "AS SELECT * FROM missing"
    )
    await harness.sql("EXECUTE TASK t")
    await harness.scheduler.drain()
    assert [a[1] for a in await attempts(harness, "t")] == [1]


async def test_timeouts_count_as_failures_and_are_retried(harness: Harness) -> None:
    await harness.sql(
        "CREATE TASK slow SCHEDULE = '1 HOURS' TIMEOUT 1s TASK_AUTO_RETRY_ATTEMPTS = 1 "
        "AS SELECT sum(hash(i)) FROM range(100000000000) t(i)"
    )
    await harness.sql("EXECUTE TASK slow")
    await harness.scheduler.drain()
    rows = await harness.rows(
        "SELECT attempt_number, state, error_code FROM system.task_history ORDER BY run_id"
    )
    assert rows == [(1, "FAILED", "TIMEOUT_EXCEEDED"), (2, "FAILED", "TIMEOUT_EXCEEDED")]


async def test_on_error_log_keeps_the_task_running(harness: Harness) -> None:
    await harness.sql("CREATE TASK v ON SCHEDULE EVERY 1 SECONDS PROCEDURE missing_macro ON ERROR LOG")
    for _ in range(12):
        await harness.tick(advance=1)
    assert len(await attempts(harness, "v")) == 12  # never auto-suspended (ON ERROR LOG turns that off)
    [(state,)] = await harness.rows("SELECT state FROM system.tasks")
    assert state == "started"


def test_retry_pattern_matching() -> None:
    assert matches((), "42P01", "x")
    assert matches(("'40'",), "40001", "serialization failure")
    assert matches(("57014",), "57014", "canceled")
    assert matches(("TIMEOUT_EXCEEDED",), "TIMEOUT_EXCEEDED", "timed out")
    assert matches(("%Deadlock%",), "XX", "a deadlock was detected")
    assert not matches(("%deadlock%", "40"), "42P01", "no such table")


def test_retry_delay_stops_after_the_last_attempt() -> None:
    task = TaskDef(name=QualifiedName("t"), body=SqlBody("x"), auto_retry_attempts=2)
    failed = RunOutcome(run_id=1, state=RunState.FAILED, error_code="X")
    assert retry_delay(task, 1, failed) == 0.0
    assert retry_delay(task, 2, failed) == 0.0
    assert retry_delay(task, 3, failed) is None
    assert retry_delay(task, 1, RunOutcome(run_id=1, state=RunState.CANCELLED)) is None
