"""Schedules in plain words (tasksql.schedules.words), as the tasks page shows them."""

from __future__ import annotations

import pytest

from tasksql.model import CronSchedule, CustomSchedule, DelaySchedule, IntervalSchedule
from tasksql.schedules.words import cron_words, schedule_words, words_for_text


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("5 SECONDS", "every 5 seconds"),
        ("1 SECOND", "every second"),
        ("90 MINUTES", "every 90 minutes"),
        ("500 MILLISECONDS", "every 500 milliseconds"),
        ("DELAY 10 MINUTES", "10 minutes after each run ends"),
        ("USING CRON 0 9 * * 1-5 Europe/Berlin", "at 09:00 on weekdays, Europe/Berlin"),
        ("USING CRON 0 9 * * MON-FRI Europe/Berlin", "at 09:00 on weekdays, Europe/Berlin"),
        ("USING CRON */15 * * * * UTC", "every 15 minutes, UTC"),
        ("USING CRON * * * * * UTC", "every minute, UTC"),
        ("USING CRON 0 * * * * UTC", "every hour, UTC"),
        ("USING CRON 5 * * * * UTC", "at minute 5 of every hour, UTC"),
        ("USING CRON 0 */2 * * * UTC", "every 2 hours, UTC"),
        ("USING CRON */10 * * * * * UTC", "every 10 seconds, UTC"),
        ("USING CRON @daily Asia/Tokyo", "at 00:00 every day, Asia/Tokyo"),
        ("USING CRON 0 0 1 1 * UTC", "at 00:00 on 1 January, UTC"),
        ("USING CRON 0 2 L * * UTC", "at 02:00 on the last day of the month, UTC"),
        ("USING CRON 0 2 LW * * UTC", "at 02:00 on the last weekday of the month, UTC"),
        ("USING CRON 15 9,17 * * MON UTC", "at 09:15 and 17:15 on Mondays, UTC"),
        ("USING CRON */5 9-17 * * 1-5 UTC", "every 5 minutes during 09:00-17:59 on weekdays, UTC"),
        ("USING CRON 0 9 * * 5L UTC", "at 09:00 on the last Friday of the month, UTC"),
        ("USING CRON 0 9 * * 5#2 UTC", "at 09:00 on the second Friday of the month, UTC"),
        ("USING CRON 0 9 1,15 * * UTC", "at 09:00 on the 1st and 15th of the month, UTC"),
        ("USING CRON 0 9 * * 0,6 UTC", "at 09:00 on weekends, UTC"),
        ("USING CRON 0 9 * * 6,7 UTC", "at 09:00 on weekends, UTC"),
        ("USING CRON 0 9 * * 2-4 UTC", "at 09:00 from Tuesday through Thursday, UTC"),
        ("USING CRON 0 9 * 1,7 * UTC", "at 09:00 in January and July, UTC"),
        ("USING CRON 0 9 13 * 5 UTC", "at 09:00 on the 13th of the month or on Fridays, UTC"),
        ("FROM CLASS pkg.Hourly", "computed by pkg.Hourly"),
    ],
)
def test_words_for_the_text_show_tasks_prints(text: str, words: str) -> None:
    assert words_for_text(text) == words


def test_no_schedule_is_none_and_unknown_text_is_kept() -> None:
    assert words_for_text(None) is None
    assert words_for_text("something else") == "something else"


def test_shapes_without_a_phrase_of_ours_fall_back_to_cronsim_then_the_expression() -> None:
    # many times of day: cronsim's rule, not a list of 12 times
    assert (
        cron_words("0,30 8-13 * * *", "UTC") == "at minutes 0 and 30 past every hour from 8 through 13, UTC"
    )
    assert cron_words("1-59/2 * * * *", "UTC").startswith("every second minute from 1 through 59")
    # an expression the parser refuses (never stored; shown as it is, never raising)
    assert cron_words("61 * * * *", "UTC") == "cron 61 * * * *, UTC"


def test_specs() -> None:
    assert schedule_words(IntervalSchedule(60_000)) == "every minute"
    assert schedule_words(DelaySchedule(1000)) == "1 second after each run ends"
    assert (
        schedule_words(CronSchedule("30 6 * * *", "America/New_York"))
        == "at 06:30 every day, America/New_York"
    )
    assert schedule_words(CustomSchedule("m:C", ("1",))) == "computed by m:C"
