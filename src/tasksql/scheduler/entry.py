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
from tasksql.model.run import RunRecord
from tasksql.scheduler import claims
from tasksql.scheduler.planner import Policy
from tasksql.schedules.base import PreviousRun, Schedule

MISFIRE_GRACE = timedelta(seconds=5)
#: A cold entry is warmed (its record read and decoded) this long before its next instant.
WARM_AHEAD = timedelta(seconds=2)
#: After a run, an idle entry whose next instant is further off than this goes cold.
COOL_AFTER = timedelta(seconds=60)


#: The run map and queue of every entry without runs: 100,000 idle tasks share these two instead of
#: holding 120 bytes of empty containers each. Never mutated: :class:`Entry` replaces them first.
NO_RUNS: dict[int, asyncio.Task[None]] = {}
NO_QUEUE: list[RunRecord] = []


@dataclass(eq=False, slots=True)
class Entry:
    """The scheduler's view of one task (slotted: one per task, 100,000 of them at scale).

    An entry is *warm* (its record, schedule and policy at hand) or *cold*: only the id, the next
    instant and what outlives a definition reload. A scheduler loads every entry cold (no definition
    is decoded) and warms an entry shortly before it is due; an entry whose next instant is far off
    goes cold again after its run (see :data:`COOL_AFTER`).
    """

    task_id: int
    #: The task's record while the entry is warm (None: cold); :attr:`record` asserts it is there.
    warm_record: TaskRecord | None
    schedule: Schedule | None
    #: The planner's policy while the entry is warm; :attr:`policy` asserts it is there.
    warm_policy: Policy | None
    next_fire: datetime | None
    version: int  #: of the record the entry was built from (a cold entry is warmed at this version)
    #: In-flight runs by run id (shared empty until the first: see :meth:`add_run`).
    running: dict[int, asyncio.Task[None]] = field(default_factory=lambda: NO_RUNS)
    #: Runs waiting for their turn (catch-up ALL; shared empty until the first: see :meth:`enqueue`).
    queue: list[RunRecord] = field(default_factory=lambda: NO_QUEUE)
    claim: claims.Claim | None = None  #: the next instant, claimed ahead (see scheduler.claims)
    last_end: datetime | None = None
    last_result: PreviousRun | None = None
    heap_seq: int | None = None
    failures: int = 0

    def add_run(self, run_id: int, task: asyncio.Task[None]) -> None:
        if self.running is NO_RUNS:
            self.running = {}
        self.running[run_id] = task

    def enqueue(self, rec: RunRecord) -> None:
        if self.queue is NO_QUEUE:
            self.queue = []
        self.queue.append(rec)

    def forget_runs(self) -> None:
        """Back to the shared empty run map and queue (both must be empty)."""
        assert not self.running and not self.queue
        self.running, self.queue = NO_RUNS, NO_QUEUE

    @property
    def cold(self) -> bool:
        return self.warm_record is None

    @property
    def record(self) -> TaskRecord:
        """The task's record; only for a warm entry."""
        rec = self.warm_record
        assert rec is not None, f"task {self.task_id}: its entry is cold"
        return rec

    @record.setter
    def record(self, rec: TaskRecord) -> None:
        self.warm_record = rec

    @property
    def task(self) -> TaskDef:
        return self.record.definition

    @property
    def policy(self) -> Policy:
        """The task's policy; only for a warm entry."""
        pol = self.warm_policy
        assert pol is not None, f"task {self.task_id}: its entry is cold"
        return pol


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
