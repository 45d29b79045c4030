"""check() and build(): the entry points the SQL parser and the engine call."""

from __future__ import annotations

from datetime import datetime

import pytest

from tasksql.errors import ScheduleError, ValidationError
from tasksql.model import CronSchedule, CustomSchedule, DelaySchedule, DstPolicy, IntervalSchedule
from tasksql.schedules import KINDS, CronRule, FixedDelay, FixedRate, PythonSchedule, build, check

ANCHOR = datetime.fromisoformat("2025-01-01T00:00:00+00:00")


@pytest.mark.parametrize(
    "spec",
    [
        IntervalSchedule(1),
        IntervalSchedule(86_400_000),
        DelaySchedule(5_000),
        CronSchedule("0 0 9 * * *", "Asia/Tokyo"),
        CronSchedule("@daily"),
        CronSchedule("*/5 * * * *", "Etc/UTC"),
        CustomSchedule("tasksql.schedules.examples.Backoff", ("60", "3600")),
    ],
)
@pytest.mark.parametrize("policy", [None, DstPolicy.STANDARD, DstPolicy.SNOWFLAKE])
def test_valid_specs_pass_check_and_build(
    spec: IntervalSchedule | DelaySchedule | CronSchedule | CustomSchedule, policy: DstPolicy | None
) -> None:
    assert check(spec, policy) is None
    schedule = build(spec, anchor=ANCHOR, dst_policy=policy)
    assert KINDS[schedule.kind] is type(schedule)
    nxt = schedule.next_fire(ANCHOR)
    assert nxt is not None
    assert nxt > ANCHOR


def test_kinds() -> None:
    assert {"interval": FixedRate, "delay": FixedDelay, "cron": CronRule, "custom": PythonSchedule} == KINDS


@pytest.mark.parametrize(
    ("spec", "code", "message"),
    [
        (IntervalSchedule(0), "INVALID_INTERVAL", "the interval must be positive, got 0 ms"),
        (IntervalSchedule(-60_000), "INVALID_INTERVAL", "the interval must be positive, got -60000 ms"),
        (DelaySchedule(0), "INVALID_INTERVAL", "the delay must be positive, got 0 ms"),
        (CronSchedule("* * * *"), "INVALID_CRON", "expected 5, 6 or 7 fields, got 4"),
        (
            CronSchedule("0 0 9 * *", "Asia/Tokio"),
            "UNKNOWN_TIMEZONE",
            "unknown time zone 'Asia/Tokio'; did you mean 'Asia/Tokyo'?",
        ),
        (
            CronSchedule("0 0 9 * *", "europe/berlin"),
            "UNKNOWN_TIMEZONE",
            "unknown time zone 'europe/berlin'; did you mean 'Europe/Berlin'?",
        ),
        (
            CronSchedule("0 0 9 * *", "Mars/Olympus_Mons"),
            "UNKNOWN_TIMEZONE",
            "unknown time zone 'Mars/Olympus_Mons'",
        ),
        (CronSchedule("0 0 9 * *", ""), "UNKNOWN_TIMEZONE", "unknown time zone ''"),
        (CronSchedule("0 0 9 * *", "America"), "UNKNOWN_TIMEZONE", "unknown time zone 'America'"),
        (CronSchedule("0 0 9 * *", "../etc/passwd"), "UNKNOWN_TIMEZONE", "unknown time zone '../etc/passwd'"),
    ],
)
def test_invalid_specs(
    spec: IntervalSchedule | DelaySchedule | CronSchedule, code: str, message: str
) -> None:
    for attempt in (lambda: check(spec), lambda: build(spec, anchor=ANCHOR)):
        with pytest.raises(ScheduleError) as err:
            attempt()
        assert err.value.code == code
        assert err.value.message == message
        assert isinstance(err.value, ValidationError)


def test_unknown_time_zone_has_no_span_but_a_cron_error_does() -> None:
    with pytest.raises(ScheduleError) as err:
        check(CronSchedule("0 0 9 * *", "Asia/Tokio"))
    assert err.value.span is None
    with pytest.raises(ScheduleError) as err:
        check(CronSchedule("0 0 9 * 8", "UTC"))
    assert err.value.span is not None


def test_a_bad_expression_is_reported_before_the_time_zone() -> None:
    with pytest.raises(ScheduleError) as err:
        check(CronSchedule("0 0 99 * *", "Asia/Tokio"))
    assert err.value.code == "INVALID_CRON"


def test_unknown_spec_type() -> None:
    with pytest.raises(ScheduleError) as err:
        check("every day")  # type: ignore[arg-type]
    assert err.value.code == "INVALID_SCHEDULE"
    with pytest.raises(ScheduleError):
        build(42, anchor=ANCHOR)  # type: ignore[arg-type]


def test_dst_policy_names_are_accepted_and_unknown_ones_refused() -> None:
    spec = CronSchedule("30 1 * * *", "America/Los_Angeles")
    rule = build(spec, anchor=ANCHOR, dst_policy="snowflake")  # type: ignore[arg-type]
    assert isinstance(rule, CronRule)
    assert rule.policy is DstPolicy.SNOWFLAKE
    for attempt in (
        lambda: check(spec, "DEBIAN"),  # type: ignore[arg-type]
        lambda: build(IntervalSchedule(1_000), anchor=ANCHOR, dst_policy="DEBIAN"),  # type: ignore[arg-type]
    ):
        with pytest.raises(ScheduleError) as err:
            attempt()
        assert err.value.code == "INVALID_SCHEDULE"
        assert err.value.message == "unknown DST policy 'DEBIAN'; expected STANDARD or SNOWFLAKE"
