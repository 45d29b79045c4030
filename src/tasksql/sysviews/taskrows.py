"""The row of a task as SHOW TASKS and ``system.tasks`` print it (one definition, two users)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tasksql import schedules
from tasksql.errors import TasksqlError
from tasksql.model import (
    ClassBody,
    CronSchedule,
    CustomSchedule,
    DayNumbering,
    DelaySchedule,
    IntervalSchedule,
    MaintenanceBody,
    OverlapPolicy,
    ProcedureBody,
    ScheduleSpec,
    SqlBody,
    TaskDef,
    TaskRecord,
    TaskState,
    effective_overlap,
)
from tasksql.schedules.custom import class_problem
from tasksql.sql.render import render_body, render_interval

TASK_COLUMNS = (
    "created_on",
    "name",
    "id",
    "database_name",
    "schema_name",
    "owner",
    "comment",
    "warehouse",
    "schedule",
    "predecessors",
    "state",
    "definition",
    "condition",
    "allow_overlapping_execution",
    "error_integration",
    "success_integration",
    "last_committed_on",
    "last_suspended_on",
    "last_suspended_reason",
    "config",
    "overlap_policy",
    "finalize",
    "version",
    "spelling",
    "next_scheduled_time",
    "last_run_state",
    "last_run_time",
    "scheduler",
    "node",
    "wait_reason",
)
TERSE_COLUMNS = ("created_on", "name", "kind", "database_name", "schema_name", "schedule")


def schedule_text(spec: ScheduleSpec | None) -> str | None:
    """The schedule as SHOW TASKS prints it: ``5 SECONDS``, ``USING CRON 0 9 * * * Asia/Tokyo``, ...

    A cron expression whose days are numbered as Databend numbers them (1-7, Sunday = 1) is
    printed as Databend's SHOW TASKS prints it, ``CRON 0 0 9 * * 2 TIMEZONE UTC``, so that its
    reader cannot take the numbers for Unix ones.
    """
    if spec is None:
        return None
    if isinstance(spec, IntervalSchedule):
        return render_interval(spec.every_ms)
    if isinstance(spec, DelaySchedule):
        return "DELAY " + render_interval(spec.delay_ms)
    if isinstance(spec, CronSchedule):
        if spec.day_numbering is DayNumbering.DATABEND:
            return f"CRON {spec.expr} TIMEZONE {spec.timezone}"
        return f"USING CRON {spec.expr} {spec.timezone}"
    if isinstance(spec, CustomSchedule):
        return f"FROM CLASS {spec.class_path}"
    raise TypeError(type(spec).__name__)


def definition_text(task: TaskDef) -> str:
    if isinstance(task.body, SqlBody):
        return task.body.text
    return render_body(task.body)


def next_time(rec: TaskRecord, now: datetime) -> datetime | None:
    """When the task runs next: for a started task the stored next instant, recomputed from the
    schedule when the stored one has passed (the scheduler writes it lazily, about once a second);
    for a suspended one, when it would first run if it were resumed at ``now`` (so SHOW TASKS
    answers "when would this run?" before RESUME)."""
    task = rec.definition
    if task.schedule is None or task.after or task.finalize is not None:
        return rec.next_fire_at if rec.state is TaskState.STARTED else None
    if rec.state is TaskState.STARTED:
        if rec.next_fire_at is not None and rec.next_fire_at >= now:
            return rec.next_fire_at
        anchor = rec.resumed_on or rec.created_on
    else:
        anchor = now
    try:
        return schedules.build(task.schedule, anchor=anchor, dst_policy=task.dst_policy).next_fire(now)
    except TasksqlError:
        return rec.next_fire_at


def task_row(
    rec: TaskRecord,
    last: tuple[str, Any] | None,
    now: datetime,
    *,
    scheduler: str,
    node: tuple[str | None, str | None] = (None, None),
) -> tuple[Any, ...]:
    """One row of TASK_COLUMNS; ``scheduler`` is the :mod:`~tasksql.sysviews.liveness` column value
    (``live`` or ``none``: whether any scheduler runs the started tasks); ``node`` the node that
    runs the task and why it waits for one (:mod:`~tasksql.sysviews.placement`)."""
    task = rec.definition
    overlap = effective_overlap(task)
    if node[1] is None:
        node = (node[0], class_wait_reason(task))
    return (
        rec.created_on,
        task.name.name,
        rec.id,
        task.name.database,
        task.name.schema,
        rec.owner,
        task.comment,
        task.warehouse,
        schedule_text(task.schedule),
        json.dumps([str(p) for p in task.after]),
        rec.state.value,
        definition_text(task),
        task.when,
        overlap is not OverlapPolicy.NO_OVERLAP,
        task.error_integration,
        task.success_integration,
        rec.last_committed_on,
        rec.last_suspended_on,
        rec.suspend_reason.value if rec.suspend_reason else None,
        task.config,
        overlap.value,
        str(task.finalize) if task.finalize else None,
        rec.version,
        rec.spelling.value,
        next_time(rec, now),
        last[0] if last else None,
        last[1] if last else None,
        scheduler,
        *node,
    )


def literal_text(literal: str) -> str:
    """A session parameter's SQL literal as its value: a string's contents, else as written."""
    if len(literal) >= 2 and literal[0] == literal[-1] == "'":
        return literal[1:-1].replace("''", "'")
    return literal


def class_wait_reason(task: TaskDef) -> str | None:
    """Why a task that names a Python class (custom schedule, action generator) cannot run now: the
    class cannot be loaded (a VoltDB Java class name, a package not installed yet); else None."""
    spec, body = task.schedule, task.body
    if isinstance(spec, CustomSchedule):
        problem = class_problem(spec.class_path)
        if problem is not None:
            return f"not scheduled until its schedule's class can be loaded: {problem}"
    if isinstance(body, ClassBody):
        problem = class_problem(body.class_path)
        if problem is not None:
            return f"its class cannot be loaded: {problem}"
    return None


def body_kind(task: TaskDef) -> str:
    body = task.body
    if isinstance(body, SqlBody):
        return "SCRIPT" if body.is_script else "SQL"
    if isinstance(body, ProcedureBody):
        return "PROCEDURE"
    if isinstance(body, ClassBody):
        return "CLASS"
    if isinstance(body, MaintenanceBody):
        return "MAINTENANCE"
    raise TypeError(type(body).__name__)
