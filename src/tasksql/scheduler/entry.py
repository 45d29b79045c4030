"""The scheduler's view of one task: its record, built schedule, policy and in-flight runs."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tasksql.model import (
    DEFAULT_CATCH_UP_WINDOW_MS,
    DEFAULT_MAX_CONCURRENT_RUNS,
    CatchUp,
    DelaySchedule,
    IntervalSchedule,
    OverlapPolicy,
    Spelling,
    TaskDef,
    TaskRecord,
    effective_overlap,
)
from tasksql.runs import RunRecord
from tasksql.scheduler import claims
from tasksql.scheduler.planner import Policy
from tasksql.schedules.base import PreviousRun, Schedule

MISFIRE_GRACE = timedelta(seconds=5)


@dataclass(eq=False, slots=True)
class Entry:
    """The scheduler's view of one task (slotted: one per task, 100,000 of them at scale)."""

    record: TaskRecord
    schedule: Schedule | None
    policy: Policy
    next_fire: datetime | None
    running: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    #: Runs waiting for their turn (catch-up ALL); a list, not a deque: 56 bytes when empty, not 624.
    queue: list[RunRecord] = field(default_factory=list)
    claim: claims.Claim | None = None  #: the next instant, claimed ahead (see scheduler.claims)
    last_end: datetime | None = None
    last_result: PreviousRun | None = None
    heap_seq: int | None = None
    failures: int = 0

    @property
    def task(self) -> TaskDef:
        return self.record.definition


def policy_for(record: TaskRecord) -> Policy:
    """The planner's policy for a task: overlap, catch-up, and whether its next instant counts from
    the end of a run (fixed delay; VoltDB EVERY defers while a run is executing)."""
    task = record.definition
    overlap = effective_overlap(task) is not OverlapPolicy.NO_OVERLAP
    defer = isinstance(task.schedule, DelaySchedule) or (
        record.spelling is Spelling.VOLTDB and isinstance(task.schedule, IntervalSchedule)
    )
    return _policy(
        overlap,
        task.max_concurrent_runs or DEFAULT_MAX_CONCURRENT_RUNS if overlap else 1,
        task.catch_up or CatchUp.NONE,
        task.catch_up_window_ms or DEFAULT_CATCH_UP_WINDOW_MS,
        defer,
        isinstance(task.schedule, DelaySchedule),
    )


@functools.lru_cache(maxsize=1024)
def _policy(
    overlap: bool, max_concurrent: int, catch_up: CatchUp, window_ms: int, defer: bool, from_end: bool
) -> Policy:
    # Policies are immutable and few distinct ones exist: tasks share them (100,000 tasks, one object).
    return Policy(
        overlap_allowed=overlap,
        max_concurrent=max_concurrent,
        catch_up=catch_up,
        catch_up_window=timedelta(milliseconds=window_ms),
        misfire_grace=MISFIRE_GRACE,
        defer_while_running=defer,
        next_from_end=from_end,
    )
