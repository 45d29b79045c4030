"""Run records: what the scheduler writes and history shows (model-level values, no I/O).

A run is one execution of one task version for one instant (or a manual or retry trigger). It is
inserted when its instant is fired (``EXECUTING``, or ``SKIPPED`` with the reason, or ``SCHEDULED``
when it waits), and settled once with its outcome. Columns follow Snowflake's TASK_HISTORY.

Every change of a run's state, by the scheduler and by every catalog backend, is checked against
one table, :data:`TRANSITIONS`, with :func:`transition`: an illegal change is a bug of tasksql and
raises :class:`InvalidTransition` before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from tasksql.display import timedelta_ms
from tasksql.errors import TasksqlError
from tasksql.model.slots import copier, fast_init
from tasksql.model.task import SuspendReason, TaskState


class RunState(StrEnum):
    """A run's state, in Snowflake's TASK_HISTORY vocabulary."""

    SCHEDULED = "SCHEDULED"
    EXECUTING = "EXECUTING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"
    FAILED_AND_AUTO_SUSPENDED = "FAILED_AND_AUTO_SUSPENDED"

    @property
    def terminal(self) -> bool:
        return self not in _LIVE


#: The states of a run that has not ended (a set: looking members up on the class is slow).
_LIVE = frozenset({RunState.SCHEDULED, RunState.EXECUTING})


class ScheduledFrom(StrEnum):
    """What started a run (Snowflake SCHEDULED_FROM)."""

    SCHEDULE = "SCHEDULE"
    EXECUTE_TASK = "EXECUTE TASK"
    RETRY = "RETRY"
    #: a triggered task's run: its stream got data (see :mod:`tasksql.model.trigger`)
    TRIGGER = "TRIGGER"


_S = RunState

#: state -> the states a run may move to; ``None`` is a run not written yet (the states it may be
#: inserted in). Terminal states move nowhere. A SCHEDULED run may be settled without having been
#: EXECUTING in the catalog: its start was replaced by its outcome before either was written
#: (:mod:`tasksql.catalog.held_starts`), or its node was lost after the body committed, or it was
#: cancelled or skipped before it started. Releasing a claim deletes its SCHEDULED row: that is no
#: change of state.
TRANSITIONS: dict[RunState | None, frozenset[RunState]] = {
    None: frozenset({_S.SCHEDULED, _S.EXECUTING, _S.SKIPPED}),
    _S.SCHEDULED: frozenset(
        {_S.EXECUTING, _S.SUCCEEDED, _S.FAILED, _S.CANCELLED, _S.SKIPPED, _S.FAILED_AND_AUTO_SUSPENDED}
    ),
    _S.EXECUTING: frozenset(
        {_S.SUCCEEDED, _S.FAILED, _S.CANCELLED, _S.SKIPPED, _S.FAILED_AND_AUTO_SUSPENDED}
    ),
    _S.SUCCEEDED: frozenset(),
    _S.FAILED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.SKIPPED: frozenset(),
    _S.FAILED_AND_AUTO_SUSPENDED: frozenset(),
}
#: The states of a run that is not settled: the rows a settling write may change.
OPEN_STATES = (_S.SCHEDULED, _S.EXECUTING)
#: What an open run may move to, whichever of the open states it is in (see :func:`settling`).
_FROM_OPEN = TRANSITIONS[_S.SCHEDULED] | TRANSITIONS[_S.EXECUTING]


class InvalidTransition(TasksqlError):
    """A run was about to change state in a way :data:`TRANSITIONS` forbids: a bug of tasksql."""

    default_code = "INVALID_TRANSITION"
    http_status = 500


def transition(old: RunState | None, new: RunState) -> RunState:
    """``new``, when a run in state ``old`` (``None``: not written yet) may move to it.

    :raises InvalidTransition: the table forbids it (nothing must be written then).
    """
    if new not in TRANSITIONS[old]:
        was = "a new run" if old is None else f"a run in state {old.value}"
        raise InvalidTransition(f"internal error: {was} cannot move to {new.value}")
    return new


def settling(new: RunState) -> RunState:
    """:func:`transition` for a write that changes an open run (SCHEDULED or EXECUTING, whichever it
    is: the write's SQL changes only open runs, so a settled run is never changed)."""
    if new not in _FROM_OPEN:
        raise InvalidTransition(f"internal error: an open run cannot move to {new.value}")
    return new


@fast_init
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


@fast_init
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
        return timedelta_ms(self.completed_time - self.query_start_time)


@fast_init
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


@fast_init
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
    #: Apply only while the stored task still has this version and anchor (``resumed_on``): a
    #: lazily flushed next instant must not overwrite one that DDL wrote in the meantime.
    guard: tuple[int, datetime | None] | None = None


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


@dataclass(frozen=True, slots=True, kw_only=True)
class NewGraphRun:
    """A graph run to start together with its root's run: ``root_run_index`` is the position of the
    root's :class:`NewRun` in the same :meth:`Catalog.fire` call (None for a retry, which starts
    without a new root run); the graph run is inserted only when that run is."""

    graph_run_group_id: str
    root_task_id: int
    root_task_name: str
    database_name: str
    schema_name: str
    graph_version: int
    scheduled_from: ScheduledFrom
    scheduled_time: datetime
    query_start_time: datetime | None
    attempt_number: int = 1
    config: str | None = None
    node_id: str | None = None
    root_run_index: int | None = 0
    state: str = "EXECUTING"


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphRunRecord:
    """A stored graph run: Snowflake's COMPLETE_TASK_GRAPHS / CURRENT_TASK_GRAPHS columns."""

    graph_run_group_id: str
    root_task_id: int
    root_task_name: str
    database_name: str
    schema_name: str
    graph_version: int
    state: str
    scheduled_from: ScheduledFrom
    scheduled_time: datetime
    query_start_time: datetime | None
    completed_time: datetime | None
    attempt_number: int
    root_run_id: int | None
    first_error_task_name: str | None
    first_error_code: str | None
    first_error_message: str | None
    config: str | None
    node_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphRunEnd:
    """How a graph run ended: written with the outcome of its last run."""

    graph_run_group_id: str
    state: str
    completed_time: datetime
    first_error_task_name: str | None = None
    first_error_code: str | None = None
    first_error_message: str | None = None


#: Copiers of run records by the fields they change (see :func:`evolve`); a few distinct sets.
_EVOLVERS: dict[tuple[str, ...], Callable[..., RunRecord]] = {}


def evolve(rec: RunRecord, **changes: Any) -> RunRecord:
    """``dataclasses.replace`` for the scheduler's hot path: a copy made by a function generated once
    per set of changed fields (:func:`~tasksql.model.slots.copier`), without ``__init__``'s
    per-field cost."""
    key = tuple(changes)
    copy = _EVOLVERS.get(key)
    if copy is None:
        copy = _EVOLVERS[key] = copier(RunRecord, key)
    return copy(rec, *changes.values())


_STARTED = copier(RunRecord, ("state", "query_start_time"))


def started(rec: RunRecord, now: datetime) -> RunRecord:
    """``rec`` moved to EXECUTING at ``now`` (checked with :func:`transition`): :func:`evolve`
    without its keyword arguments, for the start of every claimed run.

    :raises InvalidTransition: ``rec`` may not start (nothing must be written then).
    """
    return _STARTED(rec, transition(rec.state, _S.EXECUTING), now)
