"""Cron expression syntax: what is accepted, how it is normalised, and every error with its span."""

from __future__ import annotations

import pytest

from tasksql.errors import ScheduleError, Span
from tasksql.model import CronSchedule
from tasksql.schedules import check, parse_cron


@pytest.mark.parametrize(
    ("text", "normalized", "seconds"),
    [
        ("*/5 * * * *", "0 */5 * * * *", False),
        ("0 0 9 * * *", "0 0 9 * * *", True),
        ("0  9\t* *  *", "0 0 9 * * *", False),
        (" 0 0 0 * 1 *  ", "0 0 0 * 1 *", True),
        ("0 9 * JAN-MAR MON-FRI", "0 0 9 * 1-3 1-5", False),
        ("0 9 * jan,Jul mon", "0 0 9 * 1,7 1", False),
        ("0 0 ? * MON", "0 0 0 * * 1", False),
        ("0 0 1 * ?", "0 0 0 1 * *", False),
        ("0 0 L * *", "0 0 0 L * *", False),
        ("0 0 lw * *", "0 0 0 LW * *", False),
        ("0 0 * * 5L", "0 0 0 * * 5L", False),
        ("0 0 * * FRIL", "0 0 0 * * 5L", False),
        ("0 0 * * 5#2", "0 0 0 * * 5#2", False),
        ("0 0 * * fri#2", "0 0 0 * * 5#2", False),
        ("0 0 * * 7", "0 0 0 * * 7", False),
        ("5/15 9-17/4 * * *", "0 5/15 9-17/4 * * *", False),
        ("0 0 29 2 *", "0 0 0 29 2 *", False),
        ("@hourly", "0 0 * * * *", False),
        ("@DAILY", "0 0 0 * * *", False),
        ("@midnight", "0 0 0 * * *", False),
        ("@weekly", "0 0 0 * * 0", False),
        ("@monthly", "0 0 0 1 * *", False),
        ("@yearly", "0 0 0 1 1 *", False),
        ("@annually", "0 0 0 1 1 *", False),
        # Databend's own task tests (task_ddl_test.test): seconds first, '?' and a year.
        ("0 0 0 1 1 ? 2100", "0 0 0 1 1 *", True),
        ("0 0 0 ? * MON *", "0 0 0 * * 1", True),
    ],
)
def test_accepted_and_normalised(text: str, normalized: str, seconds: bool) -> None:
    expr = parse_cron(text)
    assert expr.normalized == normalized
    assert expr.has_seconds is seconds
    assert expr.text == text


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        ("30 2 * * *", True),
        ("0 1-3 * * *", True),
        ("*/30 * * * *", False),
        ("0 * * * *", False),
        ("0 */2 * * *", False),
        ("*/10 30 2 * * *", True),
        ("0 0 * 2 * *", False),
    ],
)
def test_fixed_time_follows_debian_cron(text: str, fixed: bool) -> None:
    # Debian cron: a job is "fixed time" unless its minute or hour field starts with '*'.
    assert parse_cron(text).fixed_time is fixed


# (expression, message, the text the span covers)
ERRORS = [
    ("* * * *", "expected 5, 6 or 7 fields, got 4", "* * * *"),
    ("", "expected 5, 6 or 7 fields, got 0", ""),
    ("0 0 0 1 1 * 2025 1", "expected 5, 6 or 7 fields, got 8", "0 0 0 1 1 * 2025 1"),
    ("0 0 0 1 1 ? 2101", "year 2101 is out of range 1970-2100", "2101"),
    ("0 0 0 1 1 ? 1969-2000", "year 1969 is out of range 1970-2100", "1969-2000"),
    (
        "0 0 0 1 1 ? 2030-2020",
        "year range 2030-2020 is backwards: the start must not exceed the end",
        "2030-2020",
    ),
    ("0 0 0 1 1 ? ?", "year '?' is only allowed in the day-of-month and day-of-week fields", "?"),
    ("0 0 0 1 1 ? L", "year 'L' is not a valid value: expected 1970-2100", "L"),
    ("0 0 0 30 2 ? 2100", "day-of-month 30 never occurs in February", "30"),
    ("60 * * * *", "minute 60 is out of range 0-59", "60"),
    ("0 24 * * *", "hour 24 is out of range 0-23", "24"),
    ("0 0 32 * *", "day-of-month 32 is out of range 1-31", "32"),
    ("0 0 1,32 * *", "day-of-month 32 is out of range 1-31", "1,32"),
    ("0 0 * 13 *", "month 13 is out of range 1-12", "13"),
    ("0 0 * 0 *", "month 0 is out of range 1-12", "0"),
    ("0 0 * * 8", "day-of-week 8 is out of range 0-7", "8"),
    ("61 0 0 * * *", "second 61 is out of range 0-59", "61"),
    ("x * * * *", "minute 'x' is not a valid value: expected 0-59", "x"),
    ("0 0 * FOO *", "month 'FOO' is not a valid value: expected 1-12 or JAN-DEC", "FOO"),
    ("0 0 * * MONDAY", "day-of-week 'MONDAY' is not a valid value: expected 0-7 or SUN-SAT", "MONDAY"),
    ("0 0 * * MON-", "day-of-week '' is not a valid value: expected 0-7 or SUN-SAT", "MON-"),
    ("*/0 * * * *", "minute step 0 is out of range 1-59", "*/0"),
    ("*/90 * * * *", "minute step 90 is out of range 1-59", "*/90"),
    ("*/x * * * *", "minute step 'x' is not a number", "*/x"),
    ("5-1 * * * *", "minute range 5-1 is backwards: the start must not exceed the end", "5-1"),
    ("1,,2 * * * *", "minute '1,,2' has an empty list item", "1,,2"),
    ("0 ? * * *", "hour '?' is only allowed in the day-of-month and day-of-week fields", "?"),
    ("0 0 30 2 *", "day-of-month 30 never occurs in February", "30"),
    ("0 0 31 2,4 *", "day-of-month 31 never occurs in February or April", "31"),
    ("0 0 0 31 4,6,9 *", "day-of-month 31 never occurs in April, June or September", "31"),
    (
        "0 0 15W * MON",
        "day-of-month 15W (the weekday nearest day 15) stands alone in its field, with * or ? for the day of the week",
        "15W",
    ),
    (
        "0 0 1W,15 * *",
        "day-of-month 1W (the weekday nearest day 1) stands alone in its field, with * or ? for the day of the week",
        "1W,15",
    ),
    ("0 0 L-3 * *", "day-of-month 'L-3' is not supported: use L (last day) or LW (last weekday)", "L-3"),
    ("0 0 * * L", "day-of-week L needs a day before it, such as 5L for the last Friday of the month", "L"),
    ("0 0 * * 5#6", "day-of-week 5#6: the number after # must be 1-5", "5#6"),
    ("0 0 * * 5#0", "day-of-week 5#0: the number after # must be 1-5", "5#0"),
    ("0 0 * * 9L", "day-of-week 9 is out of range 0-7", "9L"),
    ("0 0 L * 5L/2", "day-of-week '5L' is not a valid value: expected 0-7 or SUN-SAT", "5L/2"),
    (
        "@reboot",
        "unknown cron macro '@reboot'; expected one of @yearly, @annually, @monthly, @weekly, "
        "@daily, @midnight, @hourly",
        "@reboot",
    ),
    ("@daily 0", "the macro @daily stands alone; remove the text after it", "0"),
]


@pytest.mark.parametrize(("text", "message", "covered"), ERRORS)
def test_errors_name_the_field_and_span_it(text: str, message: str, covered: str) -> None:
    with pytest.raises(ScheduleError) as err:
        parse_cron(text)
    assert err.value.code == "INVALID_CRON"
    assert err.value.message == message
    span = err.value.span
    assert span is not None
    assert text[span.start : span.end] == covered
    assert (span.line, span.column) == (1, span.start + 1)


def test_check_raises_the_same_error_with_a_span_relative_to_the_expression() -> None:
    with pytest.raises(ScheduleError) as err:
        check(CronSchedule("0 0 32 * *", "UTC"))
    assert err.value.code == "INVALID_CRON"
    assert err.value.span == Span(line=1, column=5, start=4, end=6)


def test_the_parser_can_shift_the_span_onto_the_statement() -> None:
    statement = "CREATE TASK t SCHEDULE = USING CRON '0 0 32 * *' 'UTC' AS SELECT 1"
    offset = statement.index("'0 0") + 1
    with pytest.raises(ScheduleError) as err:
        check(CronSchedule("0 0 32 * *"))
    shifted = err.value.with_source(statement, offset)
    assert shifted.span is not None
    assert statement[shifted.span.start : shifted.span.end] == "32"
    assert shifted.render().splitlines()[-1].strip() == "^^"


def test_an_error_renders_with_a_caret_under_the_field() -> None:
    with pytest.raises(ScheduleError) as err:
        parse_cron("0 0 * 13 *")
    assert err.value.render() == (
        "error [INVALID_CRON]: month 13 is out of range 1-12 (line 1, column 7)\n"
        "   1 | 0 0 * 13 *\n"
        "             ^^"
    )
