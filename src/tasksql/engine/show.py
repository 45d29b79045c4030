"""SHOW TASKS, SHOW CREATE TASK and DESCRIBE TASK (its rows: :mod:`tasksql.engine.describe`)."""

from __future__ import annotations

import fnmatch
from typing import Any

import pyarrow as pa

from tasksql.engine.core import Engine
from tasksql.engine.describe import DESCRIBE_COLUMNS, describe_rows
from tasksql.engine.privileges import visible_tasks
from tasksql.engine.results import Result
from tasksql.engine.tasks_ddl import get_task_or_raise
from tasksql.errors import TasksqlError
from tasksql.model import TaskRecord
from tasksql.model.joins import is_graph_child
from tasksql.sql import render_task
from tasksql.sql import statements as st
from tasksql.sysviews.liveness import scheduler_column
from tasksql.sysviews.placement import task_nodes
from tasksql.sysviews.relations import TASKS_SCHEMA, with_databend_columns
from tasksql.sysviews.tables import table_from_rows
from tasksql.sysviews.taskrows import (
    TASK_COLUMNS,
    TERSE_COLUMNS,
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
    "node",
    "wait_reason",
    "predecessors",
    "warehouse",
    "comment",
)


async def show_tasks(engine: Engine, stmt: st.ShowTasks) -> Result:
    records = await visible_tasks(engine, await engine.catalog.list_tasks())
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
            if kind == "DATABASE" and scope is None and name.database != engine.user.database:
                continue
            if kind == "SCHEMA":
                want_schema = scope.name if scope else engine.user.schema
                want_db = (scope.schema if scope else None) or engine.user.database
                if name.schema != want_schema or name.database != want_db:
                    continue
        if stmt.root_only and is_graph_child(rec.definition):
            continue
        if stmt.from_name is not None and name.name < stmt.from_name:
            continue
        selected.append(rec)
    selected.sort(key=lambda r: (r.name.database or "", r.name.schema or "", r.name.name))
    if stmt.where is not None:
        selected = await _where(engine, selected, stmt.where, records)
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
    this_node = engine.scheduler.node_id if engine.scheduler is not None else None
    # graph members run where their root runs: the walk needs every task, not only those shown
    nodes = await task_nodes(engine.catalog, records, now, this_node=this_node)
    rows = [task_row(r, last.get(r.id), now, scheduler=live, node=nodes[r.id]) for r in selected]
    return Result(TASK_COLUMNS, rows, "SHOW TASKS", table_columns=SHOW_TASKS_TABLE_COLUMNS)


async def _where(
    engine: Engine, selected: list[TaskRecord], condition: str, records: list[TaskRecord]
) -> list[TaskRecord]:
    """The tasks whose SHOW TASKS row satisfies ``condition`` (Databend's ``SHOW TASKS WHERE``),
    evaluated by the default warehouse over the rows, registered as a table."""
    last = await last_runs(engine)
    now = engine.now()
    live = await scheduler_column(engine.catalog, now, in_process=engine.scheduler is not None)
    this_node = engine.scheduler.node_id if engine.scheduler is not None else None
    nodes = await task_nodes(engine.catalog, records, now, this_node=this_node)
    rows = [
        with_databend_columns(
            r.definition, task_row(r, last.get(r.id), now, scheduler=live, node=nodes[r.id])
        )
        for r in selected
    ]
    # the row's position rides along, so the answer names the rows and nothing is converted back
    table = table_from_rows(TASKS_SCHEMA, rows).append_column("__tasksql_row", pa.array(range(len(rows))))
    warehouse = await engine.warehouse()
    relation = "__tasksql_show_tasks"
    try:
        rs = await warehouse.execute(
            f"SELECT __tasksql_row FROM {relation} WHERE {condition}", tables={relation: table}
        )
    except TasksqlError as err:  # the warehouse's words, about the user's condition
        err.message = f"SHOW TASKS WHERE {condition}: {err.message}"
        err.args = (err.message, *err.args[1:])
        raise
    kept = {int(row[0]) for row in rs.rows}
    return [rec for i, rec in enumerate(selected) if i in kept]


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
        name=task.name.relative_to(engine.user.database, engine.user.schema),
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


async def describe_task(engine: Engine, stmt: st.DescribeTask) -> Result:
    """One row per fact and per property: name, effective value, whether it is the default (see
    :mod:`tasksql.engine.describe`)."""
    rec = await get_task_or_raise(engine, stmt.name, stmt)
    return Result.table(DESCRIBE_COLUMNS, await describe_rows(engine, rec), "DESCRIBE TASK")
