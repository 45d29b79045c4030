"""Cron schedules across daylight-saving transitions, under both DST policies.

Transitions used (2025):

* America/Los_Angeles, spring forward 03-09: at 02:00 PST (10:00Z) clocks jump to 03:00 PDT;
  02:00-02:59 does not exist.
* America/Los_Angeles, fall back 11-02: at 02:00 PDT (09:00Z) clocks go back to 01:00 PST;
  01:00-01:59 happens twice (-07:00, then -08:00).
* Europe/Berlin, spring forward 03-30: at 02:00 CET (01:00Z) clocks jump to 03:00 CEST;
  02:00-02:59 does not exist.
* Europe/Berlin, fall back 10-26: at 03:00 CEST (01:00Z) clocks go back to 02:00 CET;
  02:00-02:59 happens twice (+02:00, then +01:00).

Each row is (UTC instant, local time, note), compared as isoformat() strings.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from tasksql.model import CronSchedule, DstPolicy
from tasksql.schedules import CronRule, next_runs

STANDARD = DstPolicy.STANDARD
SNOWFLAKE = DstPolicy.SNOWFLAKE
LA = "America/Los_Angeles"
BERLIN = "Europe/Berlin"

Row = tuple[str, str, str | None]


def runs(expr: str, timezone: str, policy: DstPolicy | None, after: str, n: int) -> list[Row]:
    fires = next_runs(CronSchedule(expr, timezone), n, after=datetime.fromisoformat(after), dst_policy=policy)
    return [(f.utc.isoformat(), f.local.isoformat(), f.note) for f in fires]


# --- a fixed time inside the skipped hour -----------------------------------------------------------


def test_la_spring_0230_standard_runs_once_at_the_end_of_the_gap() -> None:
    # LA 2025-03-09 02:00 PST -> 03:00 PDT: 02:30 does not exist; Debian cron runs it at 03:00.
    assert runs("30 2 * * *", LA, STANDARD, "2025-03-08T00:00:00-08:00", 3) == [
        ("2025-03-08T10:30:00+00:00", "2025-03-08T02:30:00-08:00", None),
        (
            "2025-03-09T10:00:00+00:00",
            "2025-03-09T03:00:00-07:00",
            "DST gap: 02:30 does not exist, runs at 03:00",
        ),
        ("2025-03-10T09:30:00+00:00", "2025-03-10T02:30:00-07:00", None),
    ]


def test_la_spring_0230_snowflake_does_not_run() -> None:
    # LA 2025-03-09 02:00 PST -> 03:00 PDT: Snowflake skips a time that does not exist.
    assert runs("30 2 * * *", LA, SNOWFLAKE, "2025-03-08T00:00:00-08:00", 3) == [
        ("2025-03-08T10:30:00+00:00", "2025-03-08T02:30:00-08:00", None),
        ("2025-03-10T09:30:00+00:00", "2025-03-10T02:30:00-07:00", "DST gap: 02:30 does not exist, skipped"),
        ("2025-03-11T09:30:00+00:00", "2025-03-11T02:30:00-07:00", None),
    ]


def test_la_spring_0200_the_snowflake_documentation_example() -> None:
    # Seed 003: "0 2 * * * America/Los_Angeles would not run at all" on the spring change day.
    assert runs("0 2 * * *", LA, SNOWFLAKE, "2025-03-09T00:00:00-08:00", 1) == [
        ("2025-03-10T09:00:00+00:00", "2025-03-10T02:00:00-07:00", "DST gap: 02:00 does not exist, skipped"),
    ]
    assert runs("0 2 * * *", LA, STANDARD, "2025-03-09T00:00:00-08:00", 1) == [
        (
            "2025-03-09T10:00:00+00:00",
            "2025-03-09T03:00:00-07:00",
            "DST gap: 02:00 does not exist, runs at 03:00",
        ),
    ]


def test_la_spring_several_fixed_times_in_the_gap_run_once_under_standard() -> None:
    # LA 2025-03-09: 02:00 and 02:30 both fall in the gap; Debian cron runs the job once at 03:00.
    assert runs("0,30 2 * * *", LA, STANDARD, "2025-03-09T00:00:00-08:00", 2) == [
        (
            "2025-03-09T10:00:00+00:00",
            "2025-03-09T03:00:00-07:00",
            "DST gap: 02:00 to 02:30 do not exist, runs once at 03:00",
        ),
        ("2025-03-10T09:00:00+00:00", "2025-03-10T02:00:00-07:00", None),
    ]


@pytest.mark.parametrize("policy", [STANDARD, SNOWFLAKE])
def test_la_spring_0130_is_not_affected(policy: DstPolicy) -> None:
    # LA 2025-03-09: 01:30 PST exists (the jump is at 02:00).
    assert runs("30 1 * * *", LA, policy, "2025-03-09T00:00:00-08:00", 2) == [
        ("2025-03-09T09:30:00+00:00", "2025-03-09T01:30:00-08:00", None),
        ("2025-03-10T08:30:00+00:00", "2025-03-10T01:30:00-07:00", None),
    ]


def test_berlin_spring_0230_standard_runs_at_0300() -> None:
    # Berlin 2025-03-30 02:00 CET -> 03:00 CEST: 02:30 does not exist.
    assert runs("30 2 * * *", BERLIN, STANDARD, "2025-03-29T00:00:00+01:00", 3) == [
        ("2025-03-29T01:30:00+00:00", "2025-03-29T02:30:00+01:00", None),
        (
            "2025-03-30T01:00:00+00:00",
            "2025-03-30T03:00:00+02:00",
            "DST gap: 02:30 does not exist, runs at 03:00",
        ),
        ("2025-03-31T00:30:00+00:00", "2025-03-31T02:30:00+02:00", None),
    ]


def test_berlin_spring_0230_snowflake_does_not_run() -> None:
    # Berlin 2025-03-30 02:00 CET -> 03:00 CEST: 02:30 does not exist.
    assert runs("30 2 * * *", BERLIN, SNOWFLAKE, "2025-03-29T00:00:00+01:00", 2) == [
        ("2025-03-29T01:30:00+00:00", "2025-03-29T02:30:00+01:00", None),
        ("2025-03-31T00:30:00+00:00", "2025-03-31T02:30:00+02:00", "DST gap: 02:30 does not exist, skipped"),
    ]


# --- a fixed time inside the repeated hour ----------------------------------------------------------


def test_la_fall_0130_standard_runs_once() -> None:
    # LA 2025-11-02 02:00 PDT -> 01:00 PST: 01:30 happens at 08:30Z and 09:30Z; Debian cron runs once.
    assert runs("30 1 * * *", LA, STANDARD, "2025-11-01T00:00:00-07:00", 3) == [
        ("2025-11-01T08:30:00+00:00", "2025-11-01T01:30:00-07:00", None),
        (
            "2025-11-02T08:30:00+00:00",
            "2025-11-02T01:30:00-07:00",
            "DST overlap: first of two 01:30, runs once",
        ),
        ("2025-11-03T09:30:00+00:00", "2025-11-03T01:30:00-08:00", None),
    ]


def test_la_fall_0130_snowflake_runs_twice() -> None:
    # LA 2025-11-02 02:00 PDT -> 01:00 PST: Snowflake runs a repeated time once in each offset.
    assert runs("30 1 * * *", LA, SNOWFLAKE, "2025-11-01T00:00:00-07:00", 4) == [
        ("2025-11-01T08:30:00+00:00", "2025-11-01T01:30:00-07:00", None),
        ("2025-11-02T08:30:00+00:00", "2025-11-02T01:30:00-07:00", "DST overlap: first of two 01:30"),
        ("2025-11-02T09:30:00+00:00", "2025-11-02T01:30:00-08:00", "DST overlap: second of two 01:30"),
        ("2025-11-03T09:30:00+00:00", "2025-11-03T01:30:00-08:00", None),
    ]


def test_la_fall_0100_the_snowflake_documentation_example() -> None:
    # Seed 003: "0 1 * * * America/Los_Angeles would run twice" on the autumn change day.
    assert runs("0 1 * * *", LA, SNOWFLAKE, "2025-11-02T00:00:00-07:00", 2) == [
        ("2025-11-02T08:00:00+00:00", "2025-11-02T01:00:00-07:00", "DST overlap: first of two 01:00"),
        ("2025-11-02T09:00:00+00:00", "2025-11-02T01:00:00-08:00", "DST overlap: second of two 01:00"),
    ]


def test_berlin_fall_0230_standard_runs_once() -> None:
    # Berlin 2025-10-26 03:00 CEST -> 02:00 CET: 02:30 happens at 00:30Z and 01:30Z.
    assert runs("30 2 * * *", BERLIN, STANDARD, "2025-10-25T00:00:00+02:00", 3) == [
        ("2025-10-25T00:30:00+00:00", "2025-10-25T02:30:00+02:00", None),
        (
            "2025-10-26T00:30:00+00:00",
            "2025-10-26T02:30:00+02:00",
            "DST overlap: first of two 02:30, runs once",
        ),
        ("2025-10-27T01:30:00+00:00", "2025-10-27T02:30:00+01:00", None),
    ]


def test_berlin_fall_0230_snowflake_runs_twice() -> None:
    # Berlin 2025-10-26 03:00 CEST -> 02:00 CET: 02:30 happens at 00:30Z and 01:30Z.
    assert runs("30 2 * * *", BERLIN, SNOWFLAKE, "2025-10-25T00:00:00+02:00", 4) == [
        ("2025-10-25T00:30:00+00:00", "2025-10-25T02:30:00+02:00", None),
        ("2025-10-26T00:30:00+00:00", "2025-10-26T02:30:00+02:00", "DST overlap: first of two 02:30"),
        ("2025-10-26T01:30:00+00:00", "2025-10-26T02:30:00+01:00", "DST overlap: second of two 02:30"),
        ("2025-10-27T01:30:00+00:00", "2025-10-27T02:30:00+01:00", None),
    ]


# --- wildcards and steps: both policies agree -------------------------------------------------------


@pytest.mark.parametrize("policy", [STANDARD, SNOWFLAKE])
def test_la_spring_every_30_minutes(policy: DstPolicy) -> None:
    # LA 2025-03-09 02:00 PST -> 03:00 PDT: 02:00 and 02:30 do not exist and are skipped.
    assert runs("*/30 * * * *", LA, policy, "2025-03-09T00:45:00-08:00", 4) == [
        ("2025-03-09T09:00:00+00:00", "2025-03-09T01:00:00-08:00", None),
        ("2025-03-09T09:30:00+00:00", "2025-03-09T01:30:00-08:00", None),
        (
            "2025-03-09T10:00:00+00:00",
            "2025-03-09T03:00:00-07:00",
            "DST gap: 02:00 to 02:30 do not exist, skipped",
        ),
        ("2025-03-09T10:30:00+00:00", "2025-03-09T03:30:00-07:00", None),
    ]


@pytest.mark.parametrize("policy", [STANDARD, SNOWFLAKE])
def test_la_fall_every_30_minutes_runs_in_both_copies(policy: DstPolicy) -> None:
    # LA 2025-11-02 02:00 PDT -> 01:00 PST: 01:00 and 01:30 run in each offset, 30 real minutes apart.
    assert runs("*/30 * * * *", LA, policy, "2025-11-02T00:15:00-07:00", 6) == [
        ("2025-11-02T07:30:00+00:00", "2025-11-02T00:30:00-07:00", None),
        ("2025-11-02T08:00:00+00:00", "2025-11-02T01:00:00-07:00", "DST overlap: first of two 01:00"),
        ("2025-11-02T08:30:00+00:00", "2025-11-02T01:30:00-07:00", "DST overlap: first of two 01:30"),
        ("2025-11-02T09:00:00+00:00", "2025-11-02T01:00:00-08:00", "DST overlap: second of two 01:00"),
        ("2025-11-02T09:30:00+00:00", "2025-11-02T01:30:00-08:00", "DST overlap: second of two 01:30"),
        ("2025-11-02T10:00:00+00:00", "2025-11-02T02:00:00-08:00", None),
    ]


@pytest.mark.parametrize("policy", [STANDARD, SNOWFLAKE])
def test_berlin_spring_every_30_minutes(policy: DstPolicy) -> None:
    # Berlin 2025-03-30 02:00 CET -> 03:00 CEST.
    assert runs("*/30 * * * *", BERLIN, policy, "2025-03-30T01:15:00+01:00", 3) == [
        ("2025-03-30T00:30:00+00:00", "2025-03-30T01:30:00+01:00", None),
        (
            "2025-03-30T01:00:00+00:00",
            "2025-03-30T03:00:00+02:00",
            "DST gap: 02:00 to 02:30 do not exist, skipped",
        ),
        ("2025-03-30T01:30:00+00:00", "2025-03-30T03:30:00+02:00", None),
    ]


@pytest.mark.parametrize("policy", [STANDARD, SNOWFLAKE])
def test_berlin_fall_every_30_minutes_runs_in_both_copies(policy: DstPolicy) -> None:
    # Berlin 2025-10-26 03:00 CEST -> 02:00 CET.
    assert runs("*/30 * * * *", BERLIN, policy, "2025-10-26T01:15:00+02:00", 6) == [
        ("2025-10-25T23:30:00+00:00", "2025-10-26T01:30:00+02:00", None),
        ("2025-10-26T00:00:00+00:00", "2025-10-26T02:00:00+02:00", "DST overlap: first of two 02:00"),
        ("2025-10-26T00:30:00+00:00", "2025-10-26T02:30:00+02:00", "DST overlap: first of two 02:30"),
        ("2025-10-26T01:00:00+00:00", "2025-10-26T02:00:00+01:00", "DST overlap: second of two 02:00"),
        ("2025-10-26T01:30:00+00:00", "2025-10-26T02:30:00+01:00", "DST overlap: second of two 02:30"),
        ("2025-10-26T02:00:00+00:00", "2025-10-26T03:00:00+01:00", None),
    ]


def test_la_spring_stepped_minutes_in_a_fixed_hour_are_wildcards() -> None:
    # LA 2025-03-09: '*/15 2' has a wildcard minute, so Debian cron does not move it: skipped.
    assert runs("*/15 2 * * *", LA, STANDARD, "2025-03-09T00:00:00-08:00", 1) == [
        (
            "2025-03-10T09:00:00+00:00",
            "2025-03-10T02:00:00-07:00",
            "DST gap: 02:00 to 02:45 do not exist, skipped",
        ),
    ]


# --- six fields (seconds first) follow the same policies --------------------------------------------


def test_la_six_fields_spring() -> None:
    # LA 2025-03-09 02:00 PST -> 03:00 PDT.
    assert runs("0 30 2 * * *", LA, STANDARD, "2025-03-09T00:00:00-08:00", 1) == [
        (
            "2025-03-09T10:00:00+00:00",
            "2025-03-09T03:00:00-07:00",
            "DST gap: 02:30 does not exist, runs at 03:00",
        ),
    ]
    assert runs("0 30 2 * * *", LA, SNOWFLAKE, "2025-03-09T00:00:00-08:00", 1) == [
        ("2025-03-10T09:30:00+00:00", "2025-03-10T02:30:00-07:00", "DST gap: 02:30 does not exist, skipped"),
    ]
    # Every 20 seconds of 02:30: a fixed minute and hour, so STANDARD runs it once at 03:00.
    assert runs("*/20 30 2 * * *", LA, STANDARD, "2025-03-09T00:00:00-08:00", 2) == [
        (
            "2025-03-09T10:00:00+00:00",
            "2025-03-09T03:00:00-07:00",
            "DST gap: 02:30 to 02:30:40 do not exist, runs once at 03:00",
        ),
        ("2025-03-10T09:30:00+00:00", "2025-03-10T02:30:00-07:00", None),
    ]


def test_la_six_fields_fall() -> None:
    # LA 2025-11-02 02:00 PDT -> 01:00 PST.
    assert runs("0 30 1 * * *", LA, STANDARD, "2025-11-02T00:00:00-07:00", 2) == [
        (
            "2025-11-02T08:30:00+00:00",
            "2025-11-02T01:30:00-07:00",
            "DST overlap: first of two 01:30, runs once",
        ),
        ("2025-11-03T09:30:00+00:00", "2025-11-03T01:30:00-08:00", None),
    ]
    assert runs("0 30 1 * * *", LA, SNOWFLAKE, "2025-11-02T00:00:00-07:00", 2) == [
        ("2025-11-02T08:30:00+00:00", "2025-11-02T01:30:00-07:00", "DST overlap: first of two 01:30"),
        ("2025-11-02T09:30:00+00:00", "2025-11-02T01:30:00-08:00", "DST overlap: second of two 01:30"),
    ]


@pytest.mark.parametrize("policy", [STANDARD, SNOWFLAKE])
def test_berlin_six_fields_every_20_minutes_in_the_fall(policy: DstPolicy) -> None:
    # Berlin 2025-10-26 03:00 CEST -> 02:00 CET.
    assert runs("0 */20 2 * * *", BERLIN, policy, "2025-10-26T01:59:00+02:00", 6) == [
        ("2025-10-26T00:00:00+00:00", "2025-10-26T02:00:00+02:00", "DST overlap: first of two 02:00"),
        ("2025-10-26T00:20:00+00:00", "2025-10-26T02:20:00+02:00", "DST overlap: first of two 02:20"),
        ("2025-10-26T00:40:00+00:00", "2025-10-26T02:40:00+02:00", "DST overlap: first of two 02:40"),
        ("2025-10-26T01:00:00+00:00", "2025-10-26T02:00:00+01:00", "DST overlap: second of two 02:00"),
        ("2025-10-26T01:20:00+00:00", "2025-10-26T02:20:00+01:00", "DST overlap: second of two 02:20"),
        ("2025-10-26T01:40:00+00:00", "2025-10-26T02:40:00+01:00", "DST overlap: second of two 02:40"),
    ]


# --- asking from inside the repeated hour ------------------------------------------------------------


def test_after_in_the_first_copy_of_the_repeated_hour() -> None:
    # LA 2025-11-02, after = 01:45 PDT (08:45Z): next '*/30' run is 01:00 PST (09:00Z), not 02:00.
    rule = CronRule("*/30 * * * *", LA)
    assert rule.next_fire(datetime.fromisoformat("2025-11-02T01:45:00-07:00")) == datetime.fromisoformat(
        "2025-11-02T09:00:00+00:00"
    )


def test_after_in_the_second_copy_of_the_repeated_hour() -> None:
    # LA 2025-11-02, after = 01:15 PST (09:15Z, the second 01:15).
    after = datetime.fromisoformat("2025-11-02T01:15:00-08:00")
    # STANDARD already ran 01:30 once (at 08:30Z): next is tomorrow.
    assert CronRule("30 1 * * *", LA, STANDARD).next_fire(after) == datetime.fromisoformat(
        "2025-11-03T09:30:00Z"
    )
    # SNOWFLAKE still has the second 01:30 ahead.
    assert CronRule("30 1 * * *", LA, SNOWFLAKE).next_fire(after) == datetime.fromisoformat(
        "2025-11-02T09:30:00Z"
    )
    assert CronRule("*/30 * * * *", LA).next_fire(after) == datetime.fromisoformat("2025-11-02T09:30:00Z")


# --- a half-hour transition --------------------------------------------------------------------------


def test_lord_howe_half_hour_transitions() -> None:
    # Australia/Lord_Howe 2025-10-05: at 02:00 +10:30 clocks jump to 02:30 +11:00 (a 30-minute gap).
    assert runs("15 2 * * *", "Australia/Lord_Howe", STANDARD, "2025-10-05T00:00:00+10:30", 1) == [
        (
            "2025-10-04T15:30:00+00:00",
            "2025-10-05T02:30:00+11:00",
            "DST gap: 02:15 does not exist, runs at 02:30",
        ),
    ]
    # 2025-04-06: at 02:00 +11:00 clocks go back to 01:30 +10:30; 01:45 happens twice, 30 minutes apart.
    assert runs("45 1 * * *", "Australia/Lord_Howe", SNOWFLAKE, "2025-04-06T00:00:00+11:00", 2) == [
        ("2025-04-05T14:45:00+00:00", "2025-04-06T01:45:00+11:00", "DST overlap: first of two 01:45"),
        ("2025-04-05T15:15:00+00:00", "2025-04-06T01:45:00+10:30", "DST overlap: second of two 01:45"),
    ]
