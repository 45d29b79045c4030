"""next_runs: coming runs with local times and DST notes, for every kind."""

from __future__ import annotations

from datetime import datetime

import pytest

from tasksql.errors import ScheduleError
from tasksql.model import CronSchedule, DelaySchedule, DstPolicy, IntervalSchedule
from tasksql.schedules import FireTime, next_runs


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def rows(fires: list[FireTime]) -> list[tuple[str, str, str | None]]:
    return [(f.utc.isoformat(), f.local.isoformat(), f.note) for f in fires]


def test_a_week_of_0130_in_los_angeles_around_fall_back_under_both_policies() -> None:
    # America/Los_Angeles 2025-11-02: at 02:00 PDT (09:00Z) clocks go back to 01:00 PST.
    spec = CronSchedule("30 1 * * *", "America/Los_Angeles")
    after = at("2025-11-01T12:00:00-07:00")
    assert rows(next_runs(spec, 2, after=after)) == [
        (
            "2025-11-02T08:30:00+00:00",
            "2025-11-02T01:30:00-07:00",
            "DST overlap: first of two 01:30, runs once",
        ),
        ("2025-11-03T09:30:00+00:00", "2025-11-03T01:30:00-08:00", None),
    ]
    assert rows(next_runs(spec, 3, after=after, dst_policy=DstPolicy.SNOWFLAKE)) == [
        ("2025-11-02T08:30:00+00:00", "2025-11-02T01:30:00-07:00", "DST overlap: first of two 01:30"),
        ("2025-11-02T09:30:00+00:00", "2025-11-02T01:30:00-08:00", "DST overlap: second of two 01:30"),
        ("2025-11-03T09:30:00+00:00", "2025-11-03T01:30:00-08:00", None),
    ]


def test_local_times_are_in_the_schedule_zone_and_utc_for_intervals() -> None:
    cron = next_runs(CronSchedule("0 9 * * *", "Asia/Tokyo"), 1, after=at("2024-12-31T23:00:00+00:00"))
    assert cron[0].local.isoformat() == "2025-01-01T09:00:00+09:00"
    every = next_runs(IntervalSchedule(60_000), 1, after=at("2025-01-01T00:00:00+00:00"))
    assert every[0].local.isoformat() == every[0].utc.isoformat() == "2025-01-01T00:01:00+00:00"


def test_anchor_defaults_to_after() -> None:
    spec = IntervalSchedule(600_000)
    assert [f.utc.isoformat() for f in next_runs(spec, 2, after=at("2025-06-02T09:03:00+00:00"))] == [
        "2025-06-02T09:13:00+00:00",
        "2025-06-02T09:23:00+00:00",
    ]
    anchored = next_runs(
        spec, 2, after=at("2025-06-02T09:03:00+00:00"), anchor=at("2025-06-02T09:00:00+00:00")
    )
    assert [f.utc.isoformat() for f in anchored] == ["2025-06-02T09:10:00+00:00", "2025-06-02T09:20:00+00:00"]


def test_delay_runs_are_listed_back_to_back() -> None:
    fires = next_runs(DelaySchedule(1_000), 3, after=at("2025-06-02T09:00:00+00:00"))
    assert [f.utc.isoformat() for f in fires] == [
        "2025-06-02T09:00:01+00:00",
        "2025-06-02T09:00:02+00:00",
        "2025-06-02T09:00:03+00:00",
    ]


def test_a_schedule_that_ends_lists_fewer() -> None:
    fires = next_runs(CronSchedule("0 0 1 1 *"), 5, after=at("9997-06-01T00:00:00+00:00"))
    assert [f.utc.isoformat() for f in fires] == ["9998-01-01T00:00:00+00:00", "9999-01-01T00:00:00+00:00"]


def test_zero_runs() -> None:
    assert next_runs(CronSchedule("* * * * *"), 0, after=at("2025-01-01T00:00:00+00:00")) == []


@pytest.mark.parametrize("n", [-1, 100_001])
def test_bad_counts(n: int) -> None:
    with pytest.raises(ScheduleError) as err:
        next_runs(CronSchedule("* * * * *"), n, after=at("2025-01-01T00:00:00+00:00"))
    assert err.value.code == "INVALID_COUNT"


def test_an_invalid_spec_is_reported() -> None:
    with pytest.raises(ScheduleError) as err:
        next_runs(CronSchedule("* * *"), 3, after=at("2025-01-01T00:00:00+00:00"))
    assert err.value.code == "INVALID_CRON"
