"""Logical time of scheduled runs, on a fake clock (offsets in seconds from the harness's START):
``:scheduled_time`` and ``:window_end`` are the instant, ``:window_start`` the schedule's previous
instant, ``:last_success_scheduled_time`` the instant of the last successful run."""

from __future__ import annotations

from datetime import datetime

from sched_harness import START, Harness

from tasksql.model import CronSchedule
from tasksql.scheduler.logical_time import previous_instant
from tasksql.schedules import build
from tasksql.testing import FakeClock


def offset(value: datetime | None) -> float | None:
    start = FakeClock(START).now().replace(tzinfo=None)
    return None if value is None else (value - start).total_seconds()


async def test_scheduled_runs_see_their_window(harness: Harness) -> None:
    await harness.sql(
        "CREATE TABLE marks (st TIMESTAMP, s TIMESTAMP, e TIMESTAMP, last TIMESTAMP, ok BOOLEAN)"
    )
    await harness.sql("CREATE TABLE fail_at (st TIMESTAMP)")
    await harness.sql(
        "CREATE TASK t SCHEDULE = '10 SECONDS'"
        " WHEN :scheduled_time IS NOT NULL"
        " AS INSERT INTO marks SELECT :scheduled_time, :window_start, :window_end,"
        " :last_success_scheduled_time, CASE WHEN :scheduled_time IN (SELECT st FROM fail_at)"
        " THEN error('planned') ELSE TRUE END"
    )
    await harness.sql("INSERT INTO fail_at VALUES (TIMESTAMP '2026-03-01 12:00:20')")
    await harness.sql("ALTER TASK t RESUME")
    for _ in range(3):
        await harness.tick(advance=10)
    got = await harness.rows("SELECT st, s, e, last FROM marks ORDER BY st")
    assert [tuple(offset(v) for v in row) for row in got] == [
        (10.0, None, 10.0, None),  # the first instant of an interval schedule has none before it
        (30.0, 20.0, 30.0, 10.0),  # the run at 20 failed: the last success is still 10
    ]
    assert [h[1] for h in await harness.history("t")] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]


def test_previous_instant_of_a_cron_schedule() -> None:
    schedule = build(CronSchedule(expr="0 6 * * *"), anchor=FakeClock(START).now())
    at = FakeClock("2026-03-05T06:00:00+00:00").now()
    assert previous_instant(schedule, at) == FakeClock("2026-03-04T06:00:00+00:00").now()
    assert previous_instant(schedule, FakeClock("2026-03-05T07:00:00+00:00").now()) == at
