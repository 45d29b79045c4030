"""Building run rows and applying failure policy to outcomes (pure functions).

:func:`settle` decides what an outcome does to its task: a success resets the consecutive-failure
count; a failure increments it; ``ON ERROR STOP`` suspends the task at its first failure;
``SUSPEND_TASK_AFTER_NUM_FAILURES`` suspends it after that many consecutive failures, and the run is
then recorded FAILED_AND_AUTO_SUSPENDED. Skipped and cancelled runs leave the count alone.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from tasksql.errors import TasksqlError
from tasksql.model import (
    OnError,
    RunState,
    ScheduledFrom,
    SqlBody,
    SuspendReason,
    TaskDef,
    TaskRecord,
    TaskState,
    effective_suspend_after,
    effective_warehouse,
)
from tasksql.model.run import OPEN_STATES, NewRun, RunOutcome, RunRecord, TaskRuntime, transition
from tasksql.model.slots import copier
from tasksql.scheduler.planner import Action, Decision

if TYPE_CHECKING:
    from tasksql.scheduler.planner import MissedSummary


# Read at every run's end: globals (an enum member read from its class costs several times as much
# on CPython 3.11, whose enum metaclass defines __getattr__).
_SUCCEEDED, _FAILED, _EXECUTING = RunState.SUCCEEDED, RunState.FAILED, RunState.EXECUTING


class _HasFailures(Protocol):
    failures: int


def query_text(task: TaskDef) -> str:
    if isinstance(task.body, SqlBody):
        return task.body.text
    from tasksql.sql.render import render_body

    return render_body(task.body)


def new_run(
    record: TaskRecord,
    *,
    scheduled_time: datetime,
    state: RunState,
    scheduled_from: ScheduledFrom,
    node_id: str,
    now: datetime,
    error_code: str | None = None,
    error_message: str | None = None,
    attempt_number: int = 1,
    config: str | None = None,
    definition: TaskDef | None = None,
    version: int | None = None,
) -> NewRun:
    task = definition or record.definition
    terminal = transition(None, state) not in OPEN_STATES
    return NewRun(
        task_id=record.id,
        task_version=version or record.version,
        name=task.name.name,
        database_name=task.name.database or "",
        schema_name=task.name.schema or "",
        scheduled_time=scheduled_time,
        state=state,
        scheduled_from=scheduled_from,
        attempt_number=attempt_number,
        query_start_time=now if state is _EXECUTING else None,
        completed_time=now if terminal else None,
        error_code=error_code,
        error_message=error_message,
        query_text=query_text(task),
        condition_text=task.when,
        warehouse=effective_warehouse(task),
        node_id=node_id,
        config=config or task.config,
    )


#: The claim rows made lately, by id of the task record: (record, node id, a row of one instant),
#: copied with the instant of each claim (see :func:`claim_run`). Bounded: cleared when full.
_CLAIM_ROWS: dict[int, tuple[TaskRecord, str, NewRun]] = {}
_CLAIM_ROWS_LIMIT = 16384
_at_instant = copier(NewRun, ("scheduled_time",))


def claim_run(record: TaskRecord, instant: datetime, node_id: str, now: datetime) -> NewRun:
    """The claim of ``instant`` (a SCHEDULED row, see :mod:`.claims`): :func:`new_run` with
    ``state`` SCHEDULED, made once per task record and node and copied with each claim's instant
    (nothing else of a SCHEDULED row changes from one instant to the next, ``now`` included).
    The record is kept with its row: a record with the same id is another object, and a miss."""
    hit = _CLAIM_ROWS.get(id(record))
    if hit is not None and hit[0] is record and hit[1] == node_id:
        return _at_instant(hit[2], instant)
    row = new_run(
        record,
        scheduled_time=instant,
        state=RunState.SCHEDULED,
        scheduled_from=ScheduledFrom.SCHEDULE,
        node_id=node_id,
        now=now,
    )
    if len(_CLAIM_ROWS) >= _CLAIM_ROWS_LIMIT:
        _CLAIM_ROWS.clear()
    _CLAIM_ROWS[id(record)] = (record, node_id, row)
    return row


#: The state a scheduled instant's run is inserted in, by the planner's decision.
_INSERTED_AS = {
    Action.RUN: RunState.EXECUTING,
    Action.QUEUE: RunState.SCHEDULED,
    Action.SKIP: RunState.SKIPPED,
}


def scheduled_run(record: TaskRecord, decision: Decision, now: datetime, node_id: str) -> NewRun:
    """The run of a scheduled instant as the planner decided it: EXECUTING, SCHEDULED (queued)
    or SKIPPED (with the decision's code and message)."""
    return new_run(
        record,
        scheduled_time=decision.instant,
        state=_INSERTED_AS[decision.action],
        scheduled_from=ScheduledFrom.SCHEDULE,
        node_id=node_id,
        now=now,
        error_code=decision.code,
        error_message=decision.message,
    )


def missed_summary_run(record: TaskRecord, summary: MissedSummary, now: datetime, node_id: str) -> NewRun:
    count = "more than 10000" if summary.count < 0 else str(summary.count)
    first, last = summary.first.isoformat(), summary.last.isoformat()
    message = f"{count} earlier instants missed between {first} and {last}: the scheduler was not running"
    return new_run(
        record,
        scheduled_time=summary.first,
        state=RunState.SKIPPED,
        scheduled_from=ScheduledFrom.SCHEDULE,
        node_id=node_id,
        now=now,
        error_code="MISSED",
        error_message=message,
    )


def cancelled(rec: RunRecord, now: datetime, reason: str) -> RunOutcome:
    return RunOutcome(
        run_id=rec.run_id,
        state=transition(rec.state, RunState.CANCELLED),
        completed_time=now,
        error_code="CANCELLED",
        error_message=reason,
    )


def failed(rec: RunRecord, now: datetime, err: TasksqlError) -> RunOutcome:
    return RunOutcome(
        run_id=rec.run_id,
        state=transition(rec.state, RunState.FAILED),
        completed_time=now,
        error_code=err.code,
        error_message=err.message,
    )


def settle(
    entry: _HasFailures, task: TaskDef, old: RunState, outcome: RunOutcome
) -> tuple[RunOutcome, TaskRuntime | None]:
    """Apply the failure policy to the outcome of a run in state ``old``: the (possibly re-stated)
    outcome and the task's runtime change.

    :raises InvalidTransition: the run may not move from ``old`` to the outcome's state.
    """
    outcome, runtime = _apply_policy(entry, task, outcome)
    transition(old, outcome.state)
    return outcome, runtime


def _task_id(entry: _HasFailures) -> int:
    return getattr(getattr(entry, "record", None), "id", None) or 0


def _apply_policy(
    entry: _HasFailures, task: TaskDef, outcome: RunOutcome
) -> tuple[RunOutcome, TaskRuntime | None]:
    state = outcome.state
    if state is _SUCCEEDED:
        if entry.failures == 0:
            return outcome, None  # the usual case
        entry.failures = 0
        return outcome, TaskRuntime(task_id=_task_id(entry), consecutive_failures=0)
    if state is not _FAILED:
        return outcome, None
    task_id = _task_id(entry)
    entry.failures += 1
    runtime = TaskRuntime(task_id=task_id, consecutive_failures=entry.failures)
    if task.on_error is OnError.STOP:
        return outcome, replace(
            runtime,
            state=TaskState.SUSPENDED,
            suspend_reason=SuspendReason.ON_ERROR_STOP,
            clear_next_fire=True,
        )
    limit = effective_suspend_after(task)
    if limit and entry.failures >= limit:
        outcome = replace(outcome, state=RunState.FAILED_AND_AUTO_SUSPENDED)
        runtime = replace(
            runtime,
            state=TaskState.SUSPENDED,
            suspend_reason=SuspendReason.AUTO_SUSPENDED,
            clear_next_fire=True,
        )
    return outcome, runtime
