"""Fixed-rate schedules (SCHEDULE = '10 MINUTES', SCHEDULE 5s, EVERY n unit), as wall-clock sequences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tasksql.errors import ScheduleError
from tasksql.model import IntervalSchedule, RunState
from tasksql.schedules import FixedRate, PreviousRun, build, next_runs
from tasksql.schedules.durations import MAX_MS


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def utc_list(schedule: FixedRate, after: str, n: int) -> list[str]:
    out: list[str] = []
    when = at(after)
    for _ in range(n):
        nxt = schedule.next_fire(when)
        assert nxt is not None
        out.append(nxt.isoformat())
        when = nxt
    return out


def test_resumed_at_0903_every_10_minutes_runs_at_0913_0923() -> None:
    # Snowflake: the interval counts from the moment the task is resumed, not from the hour.
    schedule = build(IntervalSchedule(600_000), anchor=at("2025-06-02T09:03:00+00:00"))
    assert isinstance(schedule, FixedRate)
    assert utc_list(schedule, "2025-06-02T09:03:00+00:00", 3) == [
        "2025-06-02T09:13:00+00:00",
        "2025-06-02T09:23:00+00:00",
        "2025-06-02T09:33:00+00:00",
    ]


def test_after_exactly_on_an_instant_gives_the_next_one() -> None:
    schedule = FixedRate(600_000, anchor=at("2025-06-02T09:03:00+00:00"))
    assert schedule.next_fire(at("2025-06-02T09:13:00+00:00")) == at("2025-06-02T09:23:00+00:00")
    # One microsecond earlier, 09:13 itself is still ahead.
    assert schedule.next_fire(at("2025-06-02T09:12:59.999999+00:00")) == at("2025-06-02T09:13:00+00:00")


def test_after_before_the_anchor_gives_the_first_instant() -> None:
    schedule = FixedRate(600_000, anchor=at("2025-06-02T09:03:00+00:00"))
    assert schedule.next_fire(at("2025-06-01T00:00:00+00:00")) == at("2025-06-02T09:13:00+00:00")
    # The anchor itself is not a run instant (k >= 1).
    assert schedule.next_fire(at("2025-06-02T09:03:00+00:00")) == at("2025-06-02T09:13:00+00:00")


def test_late_caller_skips_to_the_grid_instant_after_now() -> None:
    # The scheduler asks with after = now; if it was away for 35 minutes, the grid is kept.
    schedule = FixedRate(600_000, anchor=at("2025-06-02T09:03:00+00:00"))
    assert schedule.next_fire(at("2025-06-02T09:38:12+00:00")) == at("2025-06-02T09:43:00+00:00")


def test_sub_second_interval_of_100_ms() -> None:
    schedule = FixedRate(100, anchor=at("2025-06-02T12:00:00+00:00"))
    assert utc_list(schedule, "2025-06-02T12:00:00+00:00", 3) == [
        "2025-06-02T12:00:00.100000+00:00",
        "2025-06-02T12:00:00.200000+00:00",
        "2025-06-02T12:00:00.300000+00:00",
    ]
    assert schedule.next_fire(at("2025-06-02T12:00:00.250+00:00")) == at("2025-06-02T12:00:00.300+00:00")


def test_millisecond_grid_stays_exact_centuries_from_the_anchor() -> None:
    schedule = FixedRate(7, anchor=at("2000-01-01T00:00:00+00:00"))
    when = schedule.next_fire(at("2999-07-15T13:14:15.123456+00:00"))
    assert when is not None
    assert (when - schedule.anchor) % timedelta(milliseconds=7) == timedelta(0)
    assert when - timedelta(milliseconds=7) <= at("2999-07-15T13:14:15.123456+00:00") < when


def test_huge_intervals() -> None:
    every_30_days = FixedRate(30 * 86_400_000, anchor=at("2025-01-01T00:00:00+00:00"))
    assert utc_list(every_30_days, "2025-01-01T00:00:00+00:00", 2) == [
        "2025-01-31T00:00:00+00:00",
        "2025-03-02T00:00:00+00:00",
    ]
    # The longest interval accepted: its first instant is past year 9999, so there is none.
    assert (
        FixedRate(MAX_MS, anchor=at("2025-01-01T00:00:00+00:00")).next_fire(at("2025-01-01T00:00Z")) is None
    )


def test_last_end_and_last_result_do_not_move_the_grid() -> None:
    schedule = FixedRate(600_000, anchor=at("2025-06-02T09:03:00+00:00"))
    failed = PreviousRun(state=RunState.FAILED, error="boom")
    # A run of 09:13 that overran to 09:25 does not shift the grid: next is 09:33.
    nxt = schedule.next_fire(
        at("2025-06-02T09:25:00+00:00"), last_end=at("2025-06-02T09:25:00Z"), last_result=failed
    )
    assert nxt == at("2025-06-02T09:33:00+00:00")


def test_naive_datetimes_are_taken_as_utc() -> None:
    schedule = FixedRate(600_000, anchor=datetime(2025, 6, 2, 9, 3))
    assert schedule.next_fire(datetime(2025, 6, 2, 9, 13)) == datetime(2025, 6, 2, 9, 23, tzinfo=UTC)


def test_fixed_rate_across_spring_forward_in_los_angeles_is_unaffected() -> None:
    # America/Los_Angeles 2025-03-09: at 02:00 PST (10:00Z) clocks jump to 03:00 PDT.
    # The grid is in UTC: runs stay one hour apart; the local clock reads 01:00, 03:00, 04:00.
    la = ZoneInfo("America/Los_Angeles")
    runs = next_runs(IntervalSchedule(3_600_000), 3, after=at("2025-03-09T08:00:00+00:00"))
    assert [(r.utc.isoformat(), r.utc.astimezone(la).isoformat()) for r in runs] == [
        ("2025-03-09T09:00:00+00:00", "2025-03-09T01:00:00-08:00"),
        ("2025-03-09T10:00:00+00:00", "2025-03-09T03:00:00-07:00"),
        ("2025-03-09T11:00:00+00:00", "2025-03-09T04:00:00-07:00"),
    ]
    assert [r.local.isoformat() for r in runs] == [r.utc.isoformat() for r in runs]
    assert all(r.note is None for r in runs)


def test_fixed_rate_across_fall_back_in_berlin_is_unaffected() -> None:
    # Europe/Berlin 2025-10-26: at 03:00 CEST (01:00Z) clocks go back to 02:00 CET.
    # Every 30 minutes in UTC: the local clock shows 02:30 twice, once per offset.
    berlin = ZoneInfo("Europe/Berlin")
    runs = next_runs(IntervalSchedule(1_800_000), 4, after=at("2025-10-26T00:00:00+00:00"))
    assert [r.utc.astimezone(berlin).isoformat() for r in runs] == [
        "2025-10-26T02:30:00+02:00",
        "2025-10-26T02:00:00+01:00",
        "2025-10-26T02:30:00+01:00",
        "2025-10-26T03:00:00+01:00",
    ]


@pytest.mark.parametrize("every_ms", [0, -1, -600_000, MAX_MS + 1])
def test_invalid_intervals(every_ms: int) -> None:
    with pytest.raises(ScheduleError) as err:
        FixedRate(every_ms, anchor=at("2025-01-01T00:00:00+00:00"))
    assert err.value.code == "INVALID_INTERVAL"


def test_a_bool_is_not_an_interval() -> None:
    with pytest.raises(ScheduleError) as err:
        FixedRate(True, anchor=at("2025-01-01T00:00:00+00:00"))
    assert err.value.code == "INVALID_INTERVAL"


@pytest.mark.parametrize(
    ("every_ms", "text"),
    [
        (100, "every 100 milliseconds"),
        (1_000, "every 1 second"),
        (5_000, "every 5 seconds"),
        (600_000, "every 10 minutes"),
        (5_400_000, "every 90 minutes"),
        (3_600_000, "every 1 hour"),
        (2 * 86_400_000, "every 2 days"),
        (1_500, "every 1500 milliseconds"),
    ],
)
def test_describe(every_ms: int, text: str) -> None:
    assert FixedRate(every_ms, anchor=at("2025-01-01T00:00:00+00:00")).describe() == text
