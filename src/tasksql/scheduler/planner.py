"""What to do when a task's instant comes: pure decisions, no I/O.

Given a task's schedule, its stored next instant and ``now``, :func:`plan_fires` lists every instant
that has come (normally one; several after a gap such as a server restart), decides for each whether
it runs or is recorded as SKIPPED (missed, or overlapping a run still executing), and computes the
next instant.

Rules (docs/scheduling.md):

- an instant is *due* while ``now - instant <= misfire_grace``: it runs, however late the loop woke;
- older instants were *missed* (the server was down or stalled); the task's CATCH_UP policy decides:
  NONE (default) records them SKIPPED and runs none; LATEST runs the most recent one within the
  catch-up window; ALL runs every one within the window, one after another;
- missed instants older than the window are always SKIPPED; at most ``max_missed_rows`` of them get a
  row of their own, the rest one summary row;
- overlap: when a run of the task is executing and overlap is not allowed, a due instant is SKIPPED
  with the reason; when overlap is allowed, runs beyond ``max_concurrent`` are SKIPPED;
- ``defer_while_running`` (fixed-delay schedules, VoltDB EVERY) means an instant that comes while a
  run executes is not recorded at all: the schedule restarts from the end of that run;
  ``next_from_end`` (fixed delay) means a started run leaves no next instant until it ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from tasksql.model import CatchUp
from tasksql.model.slots import fast_init
from tasksql.schedules.base import Schedule

#: Instants enumerated at most per plan; beyond this a gap is summarised, not walked.
MAX_ENUMERATED = 10_000


class Action(StrEnum):
    RUN = "run"  #: start a run for this instant now
    QUEUE = "queue"  #: run after the runs before it finish (catch-up ALL)
    SKIP = "skip"  #: record SKIPPED with code and message


@fast_init  # built for every due instant (see tasksql.model.slots)
@dataclass(frozen=True, slots=True)
class Decision:
    instant: datetime
    action: Action
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class MissedSummary:
    """Missed instants that get one summary row instead of one row each."""

    count: int
    first: datetime
    last: datetime


@fast_init  # built for every due instant (see tasksql.model.slots)
@dataclass(frozen=True, slots=True)
class FirePlan:
    decisions: list[Decision] = field(default_factory=list)
    next_fire: datetime | None = None
    summary: MissedSummary | None = None
    deferred: bool = False  #: the instant came while a run executes; wait for it to end

    @property
    def runs(self) -> list[Decision]:
        return [d for d in self.decisions if d.action is not Action.SKIP]


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    overlap_allowed: bool = False
    max_concurrent: int = 1
    catch_up: CatchUp = CatchUp.NONE
    catch_up_window: timedelta = timedelta(hours=1)
    misfire_grace: timedelta = timedelta(seconds=5)
    max_missed_rows: int = 100
    defer_while_running: bool = False
    next_from_end: bool = False  #: fixed delay: the next instant is computed when the run ends


def due_instants(
    schedule: Schedule, first: datetime, now: datetime
) -> tuple[list[datetime], int, datetime | None]:
    """Instants from ``first`` (itself due) up to ``now``: (listed, uncounted, next after now).

    Walks at most MAX_ENUMERATED instants; ``uncounted`` is how many more were skipped over by
    jumping straight to the first instant after ``now``.
    """
    instants = [first]
    nxt = schedule.next_fire(first)
    while nxt is not None and nxt <= now and len(instants) < MAX_ENUMERATED:
        instants.append(nxt)
        nxt = schedule.next_fire(nxt)
    uncounted = 0
    if nxt is not None and nxt <= now:
        uncounted = -1  # too many to count cheaply; the summary says "at least"
        nxt = schedule.next_fire(now)
    return instants, uncounted, nxt


def plan_fires(
    schedule: Schedule,
    *,
    next_fire: datetime,
    now: datetime,
    running: int,
    policy: Policy,
) -> FirePlan:
    """Decide what to do with the instants from ``next_fire`` up to ``now`` (``next_fire <= now``)."""
    if policy.defer_while_running and running:
        return FirePlan(next_fire=None, deferred=True)
    # The common case, decided without building lists: one instant came, on time, nothing in the way.
    free = not running or (policy.overlap_allowed and running < policy.max_concurrent)
    if free and now - next_fire <= policy.misfire_grace:
        following = schedule.next_fire(next_fire)
        if following is None or following > now:
            return FirePlan(
                decisions=[Decision(next_fire, Action.RUN)],
                next_fire=None if policy.next_from_end else following,
            )
    instants, uncounted, nxt = due_instants(schedule, next_fire, now)
    latest = instants[-1]
    due = [latest] if now - latest <= policy.misfire_grace else []
    missed = instants[: len(instants) - len(due)]
    decisions: list[Decision] = []
    summary: MissedSummary | None = None
    window_start = now - policy.catch_up_window
    catch: list[datetime] = []
    if missed and policy.catch_up is not CatchUp.NONE:
        in_window = [m for m in missed if m >= window_start]
        if policy.catch_up is CatchUp.ALL:
            catch = in_window
        elif in_window and not due:
            catch = [in_window[-1]]
    skipped = [m for m in missed if m not in set(catch)]
    if uncounted or len(skipped) > policy.max_missed_rows:
        keep = skipped[-policy.max_missed_rows :] if policy.max_missed_rows else []
        rest = skipped[: len(skipped) - len(keep)]
        if rest or uncounted:
            first = rest[0] if rest else skipped[0]
            last = rest[-1] if rest else skipped[0]
            summary = MissedSummary(len(rest) if not uncounted else -1, first, last)
        skipped = keep
    for m in skipped:
        decisions.append(Decision(m, Action.SKIP, "MISSED", "instant missed: the scheduler was not running"))
    to_run = catch + due
    decisions.extend(_apply_overlap(to_run, running, policy))
    decisions.sort(key=lambda d: d.instant)
    if policy.next_from_end and any(d.action is not Action.SKIP for d in decisions):
        nxt = None
    return FirePlan(decisions=decisions, next_fire=nxt, summary=summary)


def _apply_overlap(instants: list[datetime], running: int, policy: Policy) -> list[Decision]:
    out: list[Decision] = []
    if not policy.overlap_allowed:
        for i, instant in enumerate(instants):
            if running:
                out.append(
                    Decision(
                        instant,
                        Action.SKIP,
                        "OVERLAP",
                        "skipped: the previous run of the task was still executing",
                    )
                )
            else:
                # catch-up ALL: later instants wait for the earlier ones instead of overlapping them
                out.append(Decision(instant, Action.RUN if i == 0 else Action.QUEUE))
        return out
    active = running
    for instant in instants:
        if active >= policy.max_concurrent:
            out.append(
                Decision(
                    instant,
                    Action.SKIP,
                    "MAX_CONCURRENT_RUNS",
                    f"skipped: {active} runs of the task were executing "
                    f"(MAX_CONCURRENT_RUNS = {policy.max_concurrent})",
                )
            )
            continue
        out.append(Decision(instant, Action.RUN))
        active += 1
    return out
