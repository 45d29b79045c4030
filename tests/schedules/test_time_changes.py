"""Clock changes of more than three hours under the STANDARD policy (Debian cron: a correction to
the clock or time zone, used immediately, not caught up), with the tz database's real zones."""

from __future__ import annotations

from datetime import UTC, datetime

from tasksql.model import CronSchedule, DstPolicy
from tasksql.schedules.cron import CronRule
from tasksql.schedules.nextruns import next_runs


def _runs(expr: str, zone: str, after: datetime, n: int) -> list[tuple[str, str, str | None]]:
    return [
        (r.utc.isoformat(), r.local.isoformat(), r.note)
        for r in next_runs(CronSchedule(expr, zone), n, after=after, dst_policy=DstPolicy.STANDARD)
    ]


def test_samoa_skipped_day_invents_no_run_and_runs_noon_once() -> None:
    # Pacific/Apia went from -10:00 to +14:00 at the end of 29 December 2011: the 30th never was.
    runs = _runs("0 12 * * *", "Pacific/Apia", datetime(2011, 12, 29, tzinfo=UTC), 3)
    assert runs == [
        ("2011-12-29T22:00:00+00:00", "2011-12-29T12:00:00-10:00", None),
        (
            "2011-12-30T22:00:00+00:00",
            "2011-12-31T12:00:00+14:00",
            "time change: 2011-12-30 12:00 did not exist (the clock moved more than 3 hours), skipped",
        ),
        ("2011-12-31T22:00:00+00:00", "2012-01-01T12:00:00+14:00", None),
    ]


def test_samoa_midnight_runs_once_on_the_31st() -> None:
    runs = _runs("0 0 * * *", "Pacific/Apia", datetime(2011, 12, 29, 12, tzinfo=UTC), 2)
    assert [r[1] for r in runs] == ["2011-12-31T00:00:00+14:00", "2012-01-01T00:00:00+14:00"]
    assert runs[0][2] is not None and runs[0][2].startswith("time change: 2011-12-30 00:00")


def test_next_fire_used_by_the_scheduler_agrees() -> None:
    rule = CronRule("0 12 * * *", "Pacific/Apia")
    after = datetime(2011, 12, 29, 22, tzinfo=UTC)  # the noon run of the 29th has just started
    assert rule.next_fire(after) == datetime(2011, 12, 30, 22, tzinfo=UTC)  # noon on the 31st


def test_a_dst_gap_is_still_caught_up_for_fixed_time_jobs() -> None:
    # One hour (America/Los_Angeles, 9 March 2025) is a DST change: 02:30 runs at 03:00.
    runs = _runs("30 2 * * *", "America/Los_Angeles", datetime(2025, 3, 9, tzinfo=UTC), 1)
    assert runs[0][1] == "2025-03-09T03:00:00-07:00"


def test_a_day_repeated_by_a_time_change_runs_again() -> None:
    # America/Sitka moved back a whole day on 18 October 1867: noon of the 19th happened twice.
    runs = _runs("0 12 * * *", "America/Sitka", datetime(1867, 10, 18, 12, tzinfo=UTC), 2)
    assert [r[2] for r in runs] == [
        "time change: first of two 1867-10-19 12:00",
        "time change: second of two 1867-10-19 12:00",
    ]


def test_snowflake_policy_skips_the_day_too() -> None:
    runs = next_runs(
        CronSchedule("0 12 * * *", "Pacific/Apia"),
        2,
        after=datetime(2011, 12, 29, tzinfo=UTC),
        dst_policy=DstPolicy.SNOWFLAKE,
    )
    assert [r.local.isoformat() for r in runs] == ["2011-12-29T12:00:00-10:00", "2011-12-31T12:00:00+14:00"]
