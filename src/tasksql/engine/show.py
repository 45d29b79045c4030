"""SHOW TASKS, SHOW CREATE TASK, DESCRIBE TASK, and the rows of ``system.tasks``."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import fields
from typing import Any

from tasksql.engine.core import Engine
from tasksql.engine.results import Result
from tasksql.engine.tasks_ddl import get_task_or_raise
from tasksql.model import (
    DEFAULT_CATCH_UP_WINDOW_MS,
    DEFAULT_MAX_CONCURRENT_RUNS,
    DstPolicy,
    TaskDef,
    TaskRecord,
    effective_overlap,
    effective_suspend_after,
    effective_timeout_ms,
    effective_warehouse,
)
from tasksql.sql import render_task
from tasksql.sql import statements as st
from tasksql.sysviews.liveness import scheduler_column
from tasksql.sysviews.taskrows import (
    TASK_COLUMNS,
    TERSE_COLUMNS,
    body_kind,
    definition_text,
    schedule_text,
    task_row,
)


async def last_runs(engine: Engine) -> dict[int, tuple[str, Any]]:
    """task id -> (state, time) of each task's latest run."""
    return dict(await engine.catalog.last_run_states(engine.clock.now()))


#: The columns an aligned SHOW TASKS table shows when not all fit, most important first (as many
#: as fit the terminal); expanded, CSV and JSON output and ``system.tasks`` have all of TASK_COLUMNS.
SHOW_TASKS_TABLE_COLUMNS = (
    "name",
    "state",
    "schedule",
    "last_run_state",
    "next_scheduled_time",
    "last_run_time",
    "scheduler",
    "predecessors",
    "warehouse",
    "comment",
)


async def show_tasks(engine: Engine, stmt: st.ShowTasks) -> Result:
    records = await engine.catalog.list_tasks()
    selected: list[TaskRecord] = []
    for rec in records:
        name = rec.name
        if stmt.like is not None and not like(name.name, stmt.like):
            continue
        if stmt.starts_with is not None and not name.name.startswith(stmt.starts_with):
            continue
        if stmt.in_scope is not None:
            kind, scope = stmt.in_scope
            if kind == "DATABASE" and scope is not None and name.database != scope.name:
                continue
            if kind == "DATABASE" and scope is None and name.database != engine.session.database:
                continue
            if kind == "SCHEMA":
                want_schema = scope.name if scope else engine.session.schema
                want_db = (scope.schema if scope else None) or engine.session.database
                if name.schema != want_schema or name.database != want_db:
                    continue
        if stmt.root_only and (rec.definition.after or rec.definition.finalize is not None):
            continue
        if stmt.from_name is not None and name.name < stmt.from_name:
            continue
        selected.append(rec)
    selected.sort(key=lambda r: (r.name.database or "", r.name.schema or "", r.name.name))
    if stmt.limit is not None:
        selected = selected[: stmt.limit]
    if stmt.terse:
        rows = [
            (
                r.created_on,
                r.name.name,
                "TASK",
                r.name.database,
                r.name.schema,
                schedule_text(r.definition.schedule),
            )
            for r in selected
        ]
        return Result.table(TERSE_COLUMNS, rows, "SHOW TASKS")
    last = await last_runs(engine)
    now = engine.now()
    live = await scheduler_column(engine.catalog, now, in_process=engine.scheduler is not None)
    rows = [task_row(r, last.get(r.id), now, scheduler=live) for r in selected]
    return Result(TASK_COLUMNS, rows, "SHOW TASKS", table_columns=SHOW_TASKS_TABLE_COLUMNS)


def like(value: str, pattern: str) -> bool:
    """SQL LIKE, case-insensitive (as Snowflake's SHOW ... LIKE)."""
    glob = "".join(
        "*" if c == "%" else "?" if c == "_" else "[" + c + "]" if c in "[]*?" else c for c in pattern
    )
    return fnmatch.fnmatchcase(value.lower(), glob.lower())


async def show_create_task(engine: Engine, stmt: st.ShowCreateTask) -> Result:
    rec = await get_task_or_raise(engine, stmt.name, stmt)
    task = rec.definition
    shown = task.with_changes(
        name=task.name.relative_to(engine.session.database, engine.session.schema),
        after=tuple(p.relative_to(task.name.database or "", task.name.schema or "") for p in task.after),
        finalize=task.finalize.relative_to(task.name.database or "", task.name.schema or "")
        if task.finalize
        else None,
    )
    return Result.table(
        ("name", "create_statement"),
        [(engine.display_name(rec.name), render_task(shown))],
        "SHOW CREATE TASK",
    )


def _effective(task: TaskDef) -> dict[str, Any]:
    """Every property with the value the engine applies (defaults filled in)."""
    return {
        "warehouse": effective_warehouse(task),
        "user_task_timeout_ms": effective_timeout_ms(task),
        "overlap_policy": effective_overlap(task).value,
        "suspend_task_after_num_failures": effective_suspend_after(task),
        "task_auto_retry_attempts": task.auto_retry_attempts or 0,
        "max_concurrent_runs": task.max_concurrent_runs or DEFAULT_MAX_CONCURRENT_RUNS,
        "dst_policy": (task.dst_policy or DstPolicy.STANDARD).value,
        "catch_up": (task.catch_up.value if task.catch_up else "NONE"),
        "catch_up_window_ms": task.catch_up_window_ms or DEFAULT_CATCH_UP_WINDOW_MS,
    }


async def describe_task(engine: Engine, stmt: st.DescribeTask) -> Result:
    """One row per property: name, effective value, whether it is the default."""
    rec = await get_task_or_raise(engine, stmt.name, stmt)
    task = rec.definition
    effective = _effective(task)
    rows: list[tuple[str, Any, bool]] = [
        ("name", engine.display_name(rec.name), False),
        ("id", rec.id, False),
        ("state", rec.state.value, False),
        ("owner", rec.owner, False),
        ("version", rec.version, False),
        ("spelling", rec.spelling.value, False),
        ("created_on", rec.created_on, False),
        ("last_committed_on", rec.last_committed_on, False),
        ("last_suspended_on", rec.last_suspended_on, rec.last_suspended_on is None),
        ("last_suspended_reason", rec.suspend_reason.value if rec.suspend_reason else None, False),
        ("next_scheduled_time", rec.next_fire_at, rec.next_fire_at is None),
        ("schedule", schedule_text(task.schedule), task.schedule is None),
        ("body_kind", body_kind(task), False),
        ("definition", definition_text(task), False),
    ]
    for f in fields(task):
        if f.name in ("name", "body", "schedule"):
            continue
        value = getattr(task, f.name)
        key = _DESCRIBE_KEYS.get(f.name, f.name)
        is_default = value == f.default
        if key in effective and is_default:
            value = effective[key]
        elif isinstance(value, tuple):
            value = json.dumps([str(v) if not isinstance(v, tuple) else list(v) for v in value])
        elif value is not None and hasattr(value, "value"):
            value = value.value
        elif value is not None and not isinstance(value, str | int | float | bool):
            value = str(value)
        rows.append((key, value, is_default))
    return Result.table(("property", "value", "is_default"), rows, "DESCRIBE TASK")


_DESCRIBE_KEYS = {
    "timeout_ms": "user_task_timeout_ms",
    "suspend_after_failures": "suspend_task_after_num_failures",
    "auto_retry_attempts": "task_auto_retry_attempts",
    "managed_warehouse_size": "user_task_managed_initial_warehouse_size",
    "min_trigger_interval_s": "user_task_minimum_trigger_interval_in_seconds",
    "when": "condition",
    "after": "predecessors",
}
