"""Run records: what the scheduler writes and history shows (model-level values, no I/O).

A run is one execution of one task version for one instant (or a manual or retry trigger). It is
inserted when its instant is fired (``EXECUTING``, or ``SKIPPED`` with the reason, or ``SCHEDULED``
when it waits), and settled once with its outcome. Columns follow Snowflake's TASK_HISTORY.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tasksql.model import RunState, ScheduledFrom, SuspendReason, TaskState


@dataclass(frozen=True, slots=True, kw_only=True)
class NewRun:
    """A run to insert. Scheduled runs (``scheduled_from`` SCHEDULE, attempt 1, no graph run) are
    fenced by UNIQUE (task_id, scheduled_time): inserting the same instant twice yields nothing."""

    task_id: int
    task_version: int
    name: str  #: task name (last part)
    database_name: str
    schema_name: str
    scheduled_time: datetime
    state: RunState
    scheduled_from: ScheduledFrom = ScheduledFrom.SCHEDULE
    attempt_number: int = 1
    query_start_time: datetime | None = None
    completed_time: datetime | None = None
    error_code: str | None = None
    error_message: str | None = None
    query_text: str | None = None
    condition_text: str | None = None
    warehouse: str | None = None
    node_id: str | None = None
    graph_run_group_id: str | None = None
    root_task_id: int | None = None
    graph_version: int | None = None
    config: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """A stored run: every TASK_HISTORY column."""

    run_id: int
    task_id: int
    task_version: int
    name: str
    database_name: str
    schema_name: str
    scheduled_time: datetime
    state: RunState
    scheduled_from: ScheduledFrom
    attempt_number: int
    query_start_time: datetime | None
    completed_time: datetime | None
    error_code: str | None
    error_message: str | None
    query_text: str | None
    condition_text: str | None
    warehouse: str | None
    node_id: str | None
    graph_run_group_id: str | None
    root_task_id: int | None
    graph_version: int | None
    config: str | None
    rows_produced: int | None = None
    rows_inserted: int | None = None
    return_value: str | None = None
    query_id: str | None = None

    @property
    def duration_ms(self) -> float | None:
        if self.query_start_time is None or self.completed_time is None:
            return None
        return (self.completed_time - self.query_start_time).total_seconds() * 1000.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutcome:
    """How a run ended (or that it started executing, when ``state`` is EXECUTING)."""

    run_id: int
    state: RunState
    completed_time: datetime | None = None
    query_start_time: datetime | None = None
    error_code: str | None = None
    error_message: str | None = None
    rows_produced: int | None = None
    rows_inserted: int | None = None
    return_value: str | None = None
    query_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRuntime:
    """Scheduler-owned task fields, written without a version check and without a new version:
    they never conflict with DDL. ``None`` leaves a field as stored (use ``clear_next_fire``)."""

    task_id: int
    next_fire_at: datetime | None = None
    clear_next_fire: bool = False
    consecutive_failures: int | None = None
    state: TaskState | None = None
    suspend_reason: SuspendReason | None = None
    schedule_anchor: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeRecord:
    node_id: str
    host: str
    pid: int
    role: str
    version: str
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None = None

    @property
    def state(self) -> str:
        return "stopped" if self.stopped_at is not None else "running"
