"""The pure planner: due vs missed instants, catch-up policies, overlap decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tasksql import schedules
from tasksql.model import CatchUp, CronSchedule, IntervalSchedule
from tasksql.scheduler.planner import Action, Policy, plan_fires

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def every(seconds: float, anchor: datetime = T0) -> schedules.Schedule:
    return schedules.build(IntervalSchedule(int(seconds * 1000)), anchor=anchor)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def iso(ds: list[datetime]) -> list[str]:
    return [d.isoformat() for d in ds]


def test_one_due_instant_runs_and_next_is_after_now() -> None:
    plan = plan_fires(every(10), next_fire=at(10), now=at(10.003), running=0, policy=Policy())
    assert [(d.instant, d.action) for d in plan.decisions] == [(at(10), Action.RUN)]
    assert plan.next_fire == at(20)
    assert plan.summary is None


def test_late_wakeup_within_grace_still_runs() -> None:
    plan = plan_fires(every(10), next_fire=at(10), now=at(14), running=0, policy=Policy())
    assert [d.action for d in plan.decisions] == [Action.RUN]


def test_instant_older_than_grace_is_missed_not_run() -> None:
    # server down from 9 s to 25 s: instants 10 and 20 were missed; none replayed (CATCH_UP NONE)
    plan = plan_fires(every(10), next_fire=at(10), now=at(26), running=0, policy=Policy())
    assert [(d.instant, d.action, d.code) for d in plan.decisions] == [
        (at(10), Action.SKIP, "MISSED"),
        (at(20), Action.SKIP, "MISSED"),
    ]
    assert plan.next_fire == at(30)


def test_gap_ending_on_a_due_instant_runs_only_that_one() -> None:
    plan = plan_fires(every(10), next_fire=at(10), now=at(30.5), running=0, policy=Policy())
    assert [(d.instant, d.action) for d in plan.decisions] == [
        (at(10), Action.SKIP),
        (at(20), Action.SKIP),
        (at(30), Action.RUN),
    ]


def test_catch_up_latest_runs_the_most_recent_missed_instant() -> None:
    policy = Policy(catch_up=CatchUp.LATEST)
    plan = plan_fires(every(10), next_fire=at(10), now=at(26), running=0, policy=policy)
    assert [(d.instant, d.action) for d in plan.decisions] == [(at(10), Action.SKIP), (at(20), Action.RUN)]


def test_catch_up_all_queues_every_instant_within_the_window() -> None:
    policy = Policy(catch_up=CatchUp.ALL, catch_up_window=timedelta(seconds=25))
    plan = plan_fires(every(10), next_fire=at(10), now=at(36), running=0, policy=policy)
    # window starts at 11 s: instant 10 is outside and is skipped; 20 and 30 run, one after the other
    assert [(d.instant, d.action) for d in plan.decisions] == [
        (at(10), Action.SKIP),
        (at(20), Action.RUN),
        (at(30), Action.QUEUE),
    ]


def test_overlap_skips_with_reason_when_a_run_is_executing() -> None:
    plan = plan_fires(every(1), next_fire=at(1), now=at(1), running=1, policy=Policy())
    [decision] = plan.decisions
    assert decision.action is Action.SKIP
    assert decision.code == "OVERLAP"
    assert "still executing" in (decision.message or "")
    assert plan.next_fire == at(2)


def test_allowed_overlap_is_bounded_by_max_concurrent() -> None:
    policy = Policy(overlap_allowed=True, max_concurrent=2)
    assert (
        plan_fires(every(1), next_fire=at(1), now=at(1), running=1, policy=policy).decisions[0].action
        is Action.RUN
    )
    capped = plan_fires(every(1), next_fire=at(1), now=at(1), running=2, policy=policy).decisions[0]
    assert (capped.action, capped.code) == (Action.SKIP, "MAX_CONCURRENT_RUNS")


def test_defer_while_running_records_nothing() -> None:
    plan = plan_fires(
        every(1), next_fire=at(1), now=at(1), running=1, policy=Policy(defer_while_running=True)
    )
    assert plan.deferred and not plan.decisions and plan.next_fire is None


def test_long_gap_is_summarised_beyond_max_rows() -> None:
    # a 100 ms task, server down from 0 s to 70.05 s: instants 0.1 .. 70.0; the last one is due and
    # runs, the 699 before it were missed: 5 rows of their own (the latest) and one summary row
    policy = Policy(max_missed_rows=5)
    plan = plan_fires(every(0.1), next_fire=at(0.1), now=at(70.05), running=0, policy=policy)
    skipped = [d for d in plan.decisions if d.action is Action.SKIP]
    assert [d.code for d in skipped] == ["MISSED"] * 5
    assert skipped[-1].instant == at(69.9)
    assert [d.instant for d in plan.runs] == [at(70.0)]
    assert plan.summary is not None and plan.summary.count == 699 - 5
    assert plan.summary.first == at(0.1)
    assert plan.next_fire == at(70.1)


def test_cron_instants_in_local_time() -> None:
    sched = schedules.build(CronSchedule("0 9 * * *", "Asia/Tokyo"), anchor=T0)
    first = sched.next_fire(T0)
    assert first is not None and first.isoformat() == "2026-03-02T00:00:00+00:00"  # 09:00 JST
    plan = plan_fires(
        sched, next_fire=first, now=first + timedelta(milliseconds=2), running=0, policy=Policy()
    )
    assert iso([d.instant for d in plan.runs]) == ["2026-03-02T00:00:00+00:00"]
    assert plan.next_fire is not None and plan.next_fire.isoformat() == "2026-03-03T00:00:00+00:00"
