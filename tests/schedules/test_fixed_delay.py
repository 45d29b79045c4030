"""Fixed-delay schedules (VoltDB DELAY): the next run starts a delay after the previous one ended."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tasksql.errors import ScheduleError
from tasksql.model import DelaySchedule
from tasksql.schedules import FixedDelay, build, next_runs


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


ANCHOR = at("2025-06-02T09:00:00+00:00")


def test_first_run_is_a_delay_after_the_anchor() -> None:
    schedule = build(DelaySchedule(5_000), anchor=ANCHOR)
    assert schedule.next_fire(ANCHOR) == at("2025-06-02T09:00:05+00:00")


def test_next_run_is_a_delay_after_the_previous_end() -> None:
    # A run started 09:00:05 and took 12.5 s: it ended 09:00:17.5, the next starts 09:00:22.5.
    schedule = FixedDelay(5_000, anchor=ANCHOR)
    nxt = schedule.next_fire(
        at("2025-06-02T09:00:17.500+00:00"), last_end=at("2025-06-02T09:00:17.500+00:00")
    )
    assert nxt is not None
    assert nxt.isoformat() == "2025-06-02T09:00:22.500000+00:00"


def test_asked_late_the_next_run_keeps_the_rhythm_of_the_previous_end() -> None:
    # The previous run ended 09:00:17 but the scheduler asks only at 09:10:00 (it was down):
    # 09:00:22 has passed; the next run is the next step of 09:00:17 + k * 5 s, 09:10:02.
    schedule = FixedDelay(5_000, anchor=ANCHOR)
    nxt = schedule.next_fire(at("2025-06-02T09:10:00+00:00"), last_end=at("2025-06-02T09:00:17+00:00"))
    assert nxt is not None
    assert nxt.isoformat() == "2025-06-02T09:10:02+00:00"


def test_walking_instants_without_last_end_steps_one_delay_at_a_time() -> None:
    # A planner that walks next_fire(previous) sees one run per delay, never a burst.
    schedule = FixedDelay(5_000, anchor=ANCHOR)
    walked = []
    when = ANCHOR
    for _ in range(3):
        nxt = schedule.next_fire(when)
        assert nxt is not None
        walked.append(nxt.isoformat())
        when = nxt
    assert walked == ["2025-06-02T09:00:05+00:00", "2025-06-02T09:00:10+00:00", "2025-06-02T09:00:15+00:00"]


def test_after_exactly_on_the_instant_gives_a_later_one() -> None:
    schedule = FixedDelay(5_000, anchor=ANCHOR)
    end = at("2025-06-02T09:00:17+00:00")
    assert schedule.next_fire(at("2025-06-02T09:00:05+00:00")) == at("2025-06-02T09:00:10+00:00")
    assert schedule.next_fire(at("2025-06-02T09:00:22+00:00"), last_end=end) == at(
        "2025-06-02T09:00:27+00:00"
    )


def test_next_runs_assumes_runs_end_when_they_start() -> None:
    runs = next_runs(DelaySchedule(90_000), 3, after=ANCHOR)
    assert [r.utc.isoformat() for r in runs] == [
        "2025-06-02T09:01:30+00:00",
        "2025-06-02T09:03:00+00:00",
        "2025-06-02T09:04:30+00:00",
    ]


def test_delay_across_fall_back_in_los_angeles_counts_real_time() -> None:
    # America/Los_Angeles 2025-11-02: at 02:00 PDT (09:00Z) clocks go back to 01:00 PST.
    # A run ending 01:59 PDT plus 2 minutes starts 01:01 PST: two real minutes later.
    la = ZoneInfo("America/Los_Angeles")
    end = at("2025-11-02T01:59:00-07:00")
    nxt = FixedDelay(120_000, anchor=ANCHOR).next_fire(end, last_end=end)
    assert nxt is not None
    assert (nxt.isoformat(), nxt.astimezone(la).isoformat()) == (
        "2025-11-02T09:01:00+00:00",
        "2025-11-02T01:01:00-08:00",
    )


def test_delay_across_spring_forward_in_berlin_counts_real_time() -> None:
    # Europe/Berlin 2025-03-30: at 02:00 CET (01:00Z) clocks jump to 03:00 CEST.
    berlin = ZoneInfo("Europe/Berlin")
    end = at("2025-03-30T01:58:00+01:00")
    nxt = FixedDelay(300_000, anchor=ANCHOR).next_fire(end, last_end=end)
    assert nxt is not None
    assert (nxt.isoformat(), nxt.astimezone(berlin).isoformat()) == (
        "2025-03-30T01:03:00+00:00",
        "2025-03-30T03:03:00+02:00",
    )


@pytest.mark.parametrize("delay_ms", [0, -5])
def test_invalid_delays(delay_ms: int) -> None:
    with pytest.raises(ScheduleError) as err:
        FixedDelay(delay_ms, anchor=ANCHOR)
    assert err.value.code == "INVALID_INTERVAL"


def test_describe() -> None:
    assert FixedDelay(5_000, anchor=ANCHOR).describe() == "5 seconds after each run ends"
