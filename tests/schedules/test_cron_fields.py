"""Cron features as wall-clock sequences: fields, names, L, nL, #, LW, ?, macros, time zones."""

from __future__ import annotations

from datetime import datetime

import pytest

from tasksql.model import CronSchedule, DstPolicy
from tasksql.schedules import CronRule, build, next_runs


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def utc_runs(expr: str, after: str, n: int, timezone: str = "UTC") -> list[str]:
    return [r.utc.isoformat() for r in next_runs(CronSchedule(expr, timezone), n, after=at(after))]


def local_runs(expr: str, after: str, n: int, timezone: str) -> list[str]:
    return [r.local.isoformat() for r in next_runs(CronSchedule(expr, timezone), n, after=at(after))]


def test_five_fields_minute_first() -> None:
    assert utc_runs("*/15 * * * *", "2025-01-01T00:07:00+00:00", 3) == [
        "2025-01-01T00:15:00+00:00",
        "2025-01-01T00:30:00+00:00",
        "2025-01-01T00:45:00+00:00",
    ]


def test_six_fields_seconds_first() -> None:
    assert utc_runs("*/20 * * * * *", "2025-01-01T00:00:05+00:00", 3) == [
        "2025-01-01T00:00:20+00:00",
        "2025-01-01T00:00:40+00:00",
        "2025-01-01T00:01:00+00:00",
    ]
    # VoltDB's example: ON SCHEDULE CRON 0 0 * * * * runs on the hour, every hour.
    assert utc_runs("0 0 * * * *", "2025-01-01T00:00:00+00:00", 2) == [
        "2025-01-01T01:00:00+00:00",
        "2025-01-01T02:00:00+00:00",
    ]


def test_tokyo_at_nine_every_day() -> None:
    # Databend: SCHEDULE = USING CRON '0 0 9 * * *' 'Asia/Tokyo' (Tokyo is UTC+9, no DST).
    runs = next_runs(CronSchedule("0 0 9 * * *", "Asia/Tokyo"), 2, after=at("2025-01-30T12:00:00+09:00"))
    assert [(r.utc.isoformat(), r.local.isoformat(), r.note) for r in runs] == [
        ("2025-01-31T00:00:00+00:00", "2025-01-31T09:00:00+09:00", None),
        ("2025-02-01T00:00:00+00:00", "2025-02-01T09:00:00+09:00", None),
    ]


def test_tokyo_at_midnight_seed_example() -> None:
    # Databend seed: SCHEDULE = USING CRON '0 0 0 * * *' 'Asia/Tokyo' runs at 15:00 UTC.
    assert utc_runs("0 0 0 * * *", "2025-01-30T00:00:00+00:00", 2, "Asia/Tokyo") == [
        "2025-01-30T15:00:00+00:00",
        "2025-01-31T15:00:00+00:00",
    ]


def test_month_and_day_names() -> None:
    assert utc_runs("0 9 * JAN,jul MON", "2025-01-01T00:00:00+00:00", 3) == [
        "2025-01-06T09:00:00+00:00",
        "2025-01-13T09:00:00+00:00",
        "2025-01-20T09:00:00+00:00",
    ]
    assert utc_runs("0 9 * * MON-FRI", "2025-01-03T10:00:00+00:00", 2) == [  # Friday 10:00
        "2025-01-06T09:00:00+00:00",
        "2025-01-07T09:00:00+00:00",
    ]


@pytest.mark.parametrize("sunday", ["0", "7", "SUN"])
def test_sunday_is_0_7_or_sun(sunday: str) -> None:
    assert utc_runs(f"0 0 * * {sunday}", "2025-01-01T00:00:00+00:00", 2) == [
        "2025-01-05T00:00:00+00:00",
        "2025-01-12T00:00:00+00:00",
    ]


def test_ranges_with_steps() -> None:
    assert utc_runs("0 9-17/4 * * *", "2025-01-01T00:00:00+00:00", 4) == [
        "2025-01-01T09:00:00+00:00",
        "2025-01-01T13:00:00+00:00",
        "2025-01-01T17:00:00+00:00",
        "2025-01-02T09:00:00+00:00",
    ]
    assert utc_runs("5/20 * * * *", "2025-01-01T00:00:00+00:00", 3) == [
        "2025-01-01T00:05:00+00:00",
        "2025-01-01T00:25:00+00:00",
        "2025-01-01T00:45:00+00:00",
    ]


def test_last_day_of_month_l() -> None:
    assert utc_runs("0 0 L * *", "2024-01-15T00:00:00+00:00", 4) == [
        "2024-01-31T00:00:00+00:00",
        "2024-02-29T00:00:00+00:00",  # leap year
        "2024-03-31T00:00:00+00:00",
        "2024-04-30T00:00:00+00:00",
    ]


def test_last_friday_5l() -> None:
    assert utc_runs("0 0 * * 5L", "2025-01-01T00:00:00+00:00", 3) == [
        "2025-01-31T00:00:00+00:00",
        "2025-02-28T00:00:00+00:00",
        "2025-03-28T00:00:00+00:00",
    ]


def test_second_friday_5_hash_2() -> None:
    assert utc_runs("0 0 * * 5#2", "2025-01-01T00:00:00+00:00", 3) == [
        "2025-01-10T00:00:00+00:00",
        "2025-02-14T00:00:00+00:00",
        "2025-03-14T00:00:00+00:00",
    ]


def test_last_weekday_lw() -> None:
    assert utc_runs("0 0 LW * *", "2025-05-01T00:00:00+00:00", 4) == [
        "2025-05-30T00:00:00+00:00",  # May 31 is a Saturday
        "2025-06-30T00:00:00+00:00",
        "2025-07-31T00:00:00+00:00",
        "2025-08-29T00:00:00+00:00",  # Aug 31 is a Sunday
    ]


def test_question_mark_means_any_day() -> None:
    # Snowflake/Quartz: '?' in day-of-month with a day of week: Mondays only.
    assert utc_runs("0 0 ? * MON", "2025-01-01T00:00:00+00:00", 3) == [
        "2025-01-06T00:00:00+00:00",
        "2025-01-13T00:00:00+00:00",
        "2025-01-20T00:00:00+00:00",
    ]


def test_day_of_month_or_day_of_week_when_both_are_restricted() -> None:
    # Vixie/Debian cron: the 1st of the month OR any Monday.
    assert utc_runs("0 0 1 * MON", "2024-12-31T00:00:00+00:00", 3) == [
        "2025-01-01T00:00:00+00:00",  # a Wednesday
        "2025-01-06T00:00:00+00:00",
        "2025-01-13T00:00:00+00:00",
    ]


@pytest.mark.parametrize(
    ("macro", "expected"),
    [
        ("@hourly", ["2025-01-01T11:00:00+00:00", "2025-01-01T12:00:00+00:00"]),
        ("@daily", ["2025-01-02T00:00:00+00:00", "2025-01-03T00:00:00+00:00"]),
        ("@midnight", ["2025-01-02T00:00:00+00:00", "2025-01-03T00:00:00+00:00"]),
        ("@weekly", ["2025-01-05T00:00:00+00:00", "2025-01-12T00:00:00+00:00"]),
        ("@monthly", ["2025-02-01T00:00:00+00:00", "2025-03-01T00:00:00+00:00"]),
        ("@yearly", ["2026-01-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"]),
        ("@annually", ["2026-01-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"]),
    ],
)
def test_macros(macro: str, expected: list[str]) -> None:
    assert utc_runs(macro, "2025-01-01T10:30:00+00:00", 2) == expected


def test_strictly_after_even_with_microseconds() -> None:
    rule = CronRule("0 9 * * *")
    assert rule.next_fire(at("2025-01-01T09:00:00+00:00")) == at("2025-01-02T09:00:00+00:00")
    assert rule.next_fire(at("2025-01-01T08:59:59.999999+00:00")) == at("2025-01-01T09:00:00+00:00")
    assert rule.next_fire(at("2025-01-01T09:00:00.000001+00:00")) == at("2025-01-02T09:00:00+00:00")


def test_after_in_another_offset_is_the_same_instant() -> None:
    rule = CronRule("0 9 * * *", "Europe/Berlin")
    assert rule.next_fire(at("2025-01-01T10:00:00+09:00")) == at("2025-01-01T08:00:00+00:00")


def test_no_instant_past_the_end_of_the_calendar() -> None:
    assert CronRule("0 0 1 1 *").next_fire(at("9999-06-01T00:00:00+00:00")) is None
    assert CronRule("0 0 1 1 *", "Asia/Tokyo").next_fire(at("9999-06-01T00:00:00+00:00")) is None


def test_local_times_follow_the_zone() -> None:
    assert local_runs("30 8 * * *", "2025-07-01T00:00:00+00:00", 1, "America/New_York") == [
        "2025-07-01T08:30:00-04:00"
    ]


@pytest.mark.parametrize(
    ("expr", "timezone", "policy", "text"),
    [
        ("0 0 9 * * *", "Asia/Tokyo", None, "at 09:00 every day (Asia/Tokyo)"),
        ("*/5 * * * *", "UTC", None, "every fifth minute of every hour (UTC)"),
        ("0 0 * * 5L", "UTC", None, "at 00:00 on the last Friday of the month (UTC)"),
        (
            "30 2 * * *",
            "America/Los_Angeles",
            DstPolicy.SNOWFLAKE,
            "at 02:30 every day (America/Los_Angeles, SNOWFLAKE DST policy)",
        ),
    ],
)
def test_describe(expr: str, timezone: str, policy: DstPolicy | None, text: str) -> None:
    schedule = build(CronSchedule(expr, timezone), anchor=at("2025-01-01T00:00:00+00:00"), dst_policy=policy)
    assert schedule.describe() == text
    assert schedule.kind == "cron"
