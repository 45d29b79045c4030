"""The builders of tasksql's virtual relations: one function per relation, Arrow out.

``system.tasks``, ``system.cluster``, ``system.warehouses``, ``system.notification_integrations``
(and Databend's ``system.notifications``),
``system.task_versions``, ``system.task_history`` / ``task_history(...)`` and ``next_runs(...)``.
Column names and types are part of the public interface (docs/sql-reference.md lists them).
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from tasksql import schedules
from tasksql.display import mask_url
from tasksql.errors import TaskNotFound, ValidationError
from tasksql.model import TaskDef
from tasksql.sysviews import graphs
from tasksql.sysviews.audit import audit_table
from tasksql.sysviews.cluster import cluster_table
from tasksql.sysviews.liveness import scheduler_column
from tasksql.sysviews.notifications import notification_history_table
from tasksql.sysviews.placement import task_nodes
from tasksql.sysviews.storage_checks import storage_checks_table
from tasksql.sysviews.subtasks import subtasks_table
from tasksql.sysviews.tables import (
    Introspection,
    RelationBuilder,
    int_arg,
    table_from_rows,
    task_name_arg,
    timestamp_arg,
)
from tasksql.sysviews.taskrows import TASK_COLUMNS, literal_text, task_row

TS = pa.timestamp("us", tz="UTC")

_TASK_TYPES: dict[str, pa.DataType] = {
    "created_on": TS,
    "id": pa.int64(),
    "allow_overlapping_execution": pa.bool_(),
    "last_committed_on": TS,
    "last_suspended_on": TS,
    "version": pa.int64(),
    "next_scheduled_time": TS,
    "last_run_time": TS,
}
#: system.tasks also has Databend's system.tasks columns, under Databend's names (databendlabs/databend
#: src/query/storages/system/src/tasks_table.rs), which Databend's own task tests select.
DATABEND_TASK_COLUMNS = (
    ("condition_text", pa.string()),  # the WHEN condition ("" without one)
    ("after", pa.string()),  # the predecessors' names joined by commas ("" without any)
    ("suspend_task_after_num_failures", pa.int64()),  # as written; NULL when not given
    ("next_schedule_time", TS),
    ("session_parameters", pa.string()),  # a JSON object of the session parameters
)
TASKS_SCHEMA = pa.schema(
    [(c, _TASK_TYPES.get(c, pa.string())) for c in TASK_COLUMNS] + list(DATABEND_TASK_COLUMNS)
)


async def _tasks(ctx: Introspection, named: dict[str, object], positional: list[object]) -> pa.Table:
    last = await ctx.catalog.last_run_states(ctx.now)
    in_process = ctx.node.role == "server"
    live = await scheduler_column(ctx.catalog, ctx.now, in_process=in_process)
    records = await ctx.catalog.list_tasks()
    nodes = await task_nodes(
        ctx.catalog, records, ctx.now, this_node=ctx.node.node_id if in_process else None
    )
    rows = [
        with_databend_columns(
            rec.definition, task_row(rec, last.get(rec.id), ctx.now, scheduler=live, node=nodes[rec.id])
        )
        for rec in records
    ]
    return table_from_rows(TASKS_SCHEMA, rows)


_NEXT_TIME = TASK_COLUMNS.index("next_scheduled_time")


def with_databend_columns(task: TaskDef, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row of TASK_COLUMNS (:func:`~tasksql.sysviews.taskrows.task_row`) with the values of
    :data:`DATABEND_TASK_COLUMNS` after it: a row of :data:`TASKS_SCHEMA`."""
    return (
        *row,
        task.when or "",
        ",".join(p.name for p in task.after),
        task.suspend_after_failures,
        row[_NEXT_TIME],
        json.dumps({key: literal_text(literal) for key, literal in task.session_params}),
    )


WAREHOUSES_SCHEMA = pa.schema(
    [
        ("name", pa.string()),
        ("type", pa.string()),
        ("url", pa.string()),
        ("max_concurrency", pa.int64()),
        ("comment", pa.string()),
        ("created_on", TS),
        ("role_mapping", pa.string()),
    ]
)


async def _warehouses(ctx: Introspection, named: dict[str, object], positional: list[object]) -> pa.Table:
    from tasksql.warehouses import role_mapping
    from tasksql.warehouses.registry import shown_url

    rows = [
        (
            r.definition.name,
            r.definition.type.value,
            shown_url(r.definition.url) if r.definition.url else None,
            r.definition.max_concurrency,
            r.definition.comment,
            r.created_on,
            role_mapping.shown(r.definition.role_mapping),
        )
        for r in await ctx.catalog.list_warehouses()
    ]
    return table_from_rows(WAREHOUSES_SCHEMA, rows)


INTEGRATIONS_SCHEMA = pa.schema(
    [
        ("name", pa.string()),
        ("type", pa.string()),
        ("enabled", pa.bool_()),
        ("url", pa.string()),
        ("method", pa.string()),
        ("comment", pa.string()),
        ("created_on", TS),
    ]
)


async def _integrations(ctx: Introspection, named: dict[str, object], positional: list[object]) -> pa.Table:
    rows = []
    for r in await ctx.catalog.list_integrations():
        d = r.definition
        rows.append(
            (
                d.name,
                d.type,
                d.enabled,
                mask_url(d.webhook.url) if d.webhook else None,  # tokens in URLs are secrets
                d.webhook.method if d.webhook else None,
                d.comment,
                r.created_on,
            )
        )
    return table_from_rows(INTEGRATIONS_SCHEMA, rows)


#: Databend's ``system.notifications``: its columns, ``webhook_options`` a JSON object as Databend
#: prints it (url, method, authorization_header, and body_template when one is set).
DATABEND_NOTIFICATIONS_SCHEMA = pa.schema(
    [
        ("name", pa.string()),
        ("type", pa.string()),
        ("enabled", pa.bool_()),
        ("webhook_options", pa.string()),
        ("comment", pa.string()),
        ("created_on", TS),
    ]
)
#: What stands for a stored authorization header (as DESCRIBE INTEGRATION shows it): secrets are
#: never printed; an integration without one shows "" as Databend does.
_HEADER_MASK = "********"


async def _databend_notifications(
    ctx: Introspection, named: dict[str, object], positional: list[object]
) -> pa.Table:
    rows = []
    for r in await ctx.catalog.list_integrations():
        d = r.definition
        options = None
        if d.webhook is not None:
            hook = d.webhook
            shown: dict[str, str] = {
                "url": mask_url(hook.url),  # tokens in URLs are secrets
                "method": hook.method,
                "authorization_header": _HEADER_MASK if hook.authorization_header else "",
            }
            if hook.body_template is not None:
                shown["body_template"] = hook.body_template
            options = json.dumps(shown, ensure_ascii=False, separators=(",", ":"))
        rows.append((d.name, d.type.lower(), d.enabled, options, d.comment, r.created_on))
    return table_from_rows(DATABEND_NOTIFICATIONS_SCHEMA, rows)


VERSIONS_SCHEMA = pa.schema(
    [
        ("task_id", pa.int64()),
        ("name", pa.string()),
        ("version", pa.int64()),
        ("created_on", TS),
        ("actor", pa.string()),
        ("definition", pa.string()),
    ]
)


async def _task_versions(ctx: Introspection, named: dict[str, object], positional: list[object]) -> pa.Table:
    from tasksql.sql import render_task

    rows = []
    for rec in await ctx.catalog.list_tasks():
        for v in await ctx.catalog.task_versions(rec.id):
            rows.append((rec.id, rec.name.name, v.version, v.created_on, v.actor, render_task(v.definition)))
    return table_from_rows(VERSIONS_SCHEMA, rows)


NEXT_RUNS_SCHEMA = pa.schema(
    [
        ("task_name", pa.string()),
        ("n", pa.int64()),
        ("scheduled_time", TS),
        ("local_time", pa.string()),
        ("timezone", pa.string()),
        ("note", pa.string()),
    ]
)


async def _next_runs(ctx: Introspection, named: dict[str, object], positional: list[object]) -> pa.Table:
    """next_runs('<task>', <n> [, <after timestamp>]): the next n scheduled instants."""
    args = positional + [named[k] for k in ("n", "after") if k in named]
    if "task_name" in named:
        args.insert(0, named["task_name"])
    if not args or not isinstance(args[0], str):
        raise ValidationError(
            "next_runs('<task>', <n> [, <after>]) needs a task name", code="INVALID_ARGUMENT"
        )
    count = int_arg(args[1], "next_runs: n") if len(args) > 1 else 10
    if not 1 <= count <= 10_000:
        raise ValidationError("next_runs: n must be between 1 and 10000", code="INVALID_ARGUMENT")
    name = ctx.resolve(task_name_arg(args[0]))
    rec = await ctx.catalog.get_task(name)
    if rec is None:
        raise TaskNotFound(f"task {args[0]} does not exist")
    after = timestamp_arg(args[2], "next_runs: after") if len(args) > 2 else ctx.now
    task = rec.definition
    rows: list[tuple[Any, ...]] = []
    if task.schedule is not None and not task.after:
        anchor = rec.resumed_on or rec.created_on
        fires = schedules.next_runs(
            task.schedule, count, after=after, anchor=anchor, dst_policy=task.dst_policy
        )
        tz = getattr(task.schedule, "timezone", "UTC")
        for i, f in enumerate(fires, 1):
            rows.append((name.name, i, f.utc, f.local.isoformat(), tz, f.note))
    return table_from_rows(NEXT_RUNS_SCHEMA, rows)


async def _task_history(ctx: Introspection, named: dict[str, object], positional: list[object]) -> pa.Table:
    from tasksql.sysviews.history import history_table

    return await history_table(ctx, named, all_rows=False)


async def _system_task_history(
    ctx: Introspection, named: dict[str, object], positional: list[object]
) -> pa.Table:
    from tasksql.sysviews.history import history_table

    return await history_table(ctx, {}, all_rows=True)


SYSTEM_TABLE_BUILDERS: dict[str, RelationBuilder] = {
    "tasks": _tasks,
    "cluster": cluster_table,
    "warehouses": _warehouses,
    "notification_integrations": _integrations,
    "notifications": _databend_notifications,
    "task_versions": _task_versions,
    "task_history": _system_task_history,
    "notification_history": notification_history_table,
    "graph_runs": graphs.graph_runs,
    "subtasks": subtasks_table,
    "storage_checks": storage_checks_table,
    "audit_log": audit_table,
}
TABLE_FUNCTION_BUILDERS: dict[str, RelationBuilder] = {
    "next_runs": _next_runs,
    "task_history": _task_history,
    "complete_task_graphs": graphs.complete_task_graphs,
    "current_task_graphs": graphs.current_task_graphs,
    "task_dependents": graphs.task_dependents,
}
