"""Example custom schedules, used by the documentation and the tests::

CREATE TASK report
  ON SCHEDULE FROM CLASS tasksql.schedules.examples.WeekdaysOnly WITH ('09:30', 'Europe/Berlin')
  PROCEDURE build_report;

CREATE TASK sync
  SCHEDULE = FROM CLASS 'tasksql.schedules.examples:Backoff' WITH (60, 3600)
  AS CALL sync_remote();
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tasksql.model import RunState
from tasksql.schedules.base import PreviousRun


class WeekdaysOnly:
    """Runs at one local time (``'HH:MM'``) on Monday to Friday in a time zone.

    A local time that does not exist on a spring-forward day runs at the instant zoneinfo gives it
    (one hour later); it is an example, not a replacement for cron.
    """

    def __init__(self, at: str = "09:00", timezone: str = "UTC") -> None:
        self.at = time.fromisoformat(at)
        self.zone = ZoneInfo(timezone)

    def next_fire(self, after: datetime, *, last_end: datetime | None = None) -> datetime | None:
        day = after.astimezone(self.zone).date()
        while True:
            if day.weekday() < 5:
                candidate = datetime.combine(day, self.at, tzinfo=self.zone).astimezone(UTC)
                if candidate > after:
                    return candidate
            day += timedelta(days=1)

    def describe(self) -> str:
        return f"at {self.at.strftime('%H:%M')} on weekdays ({self.zone.key})"


class Backoff:
    """Runs ``every_s`` seconds after the previous run ended; each failed run in a row doubles the
    wait, up to ``max_s`` seconds; a run that does not fail resets it.

    It uses ``last_result`` (how the previous run ended). The failure count is kept on the
    instance and counted once per previous run (keyed by its end), so asking twice is harmless.
    """

    def __init__(self, every_s: int = 60, max_s: int = 3600) -> None:
        if every_s <= 0 or max_s < every_s:
            raise ValueError("need 0 < every_s <= max_s")
        self.every = timedelta(seconds=every_s)
        self.max = timedelta(seconds=max_s)
        self.failures = 0
        self._counted_end: datetime | None = None

    def next_fire(
        self, after: datetime, *, last_end: datetime | None = None, last_result: PreviousRun | None = None
    ) -> datetime | None:
        if last_end is not None and last_end != self._counted_end:
            self._counted_end = last_end
            failed = last_result is not None and last_result.state in (
                RunState.FAILED,
                RunState.FAILED_AND_AUTO_SUSPENDED,
            )
            self.failures = self.failures + 1 if failed else 0
        wait = min(self.every * 2**self.failures, self.max)
        candidate = (last_end or after) + wait
        return candidate if candidate > after else after + timedelta(milliseconds=1)

    def describe(self) -> str:
        return f"{int(self.every.total_seconds())} s after each run, doubling after failures"
