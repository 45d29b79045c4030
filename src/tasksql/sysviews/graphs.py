"""Graph relations: ``complete_task_graphs(...)``, ``current_task_graphs(...)``, ``task_dependents(...)``
and ``system.graph_runs``, in Snowflake's shapes.

A standalone task is a graph of one: its runs appear in ``complete_task_graphs`` with a NULL
``graph_run_group_id``. A graph run whose root was skipped (its WHEN was false) has no row, as in
Snowflake.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyarrow as pa

from tasksql.errors import TaskNotFound, ValidationError
from tasksql.model import QualifiedName, TaskState
from tasksql.model.run import GraphRunRecord, RunRecord
from tasksql.sysviews.liveness import scheduler_column
from tasksql.sysviews.tables import Introspection, int_arg, table_from_rows, task_name_arg
from tasksql.sysviews.taskrows import task_row
from tasksql.taskgraph import Graph

TS = pa.timestamp("us", tz="UTC")

GRAPH_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("root_task_name", pa.string()),
    ("database_name", pa.string()),
    ("schema_name", pa.string()),
    ("state", pa.string()),
    ("scheduled_from", pa.string()),
    ("first_error_task_name", pa.string()),
    ("first_error_code", pa.string()),
    ("first_error_message", pa.string()),
    ("scheduled_time", TS),
    ("query_start_time", TS),
    ("next_scheduled_time", TS),
    ("completed_time", TS),
    ("root_task_id", pa.int64()),
    ("graph_version", pa.int64()),
    ("run_id", pa.int64()),
    ("attempt_number", pa.int64()),
    ("config", pa.string()),
    ("graph_run_group_id", pa.string()),
]
COMPLETE_SCHEMA = pa.schema(GRAPH_COLUMNS)
CURRENT_SCHEMA = pa.schema([c for c in GRAPH_COLUMNS if c[0] != "completed_time"])
_DONE = ("SUCCEEDED", "FAILED", "CANCELLED")
CURRENT_WINDOW = timedelta(days=8)


def _limit(named: dict[str, object], default: int) -> int:
    limit = int_arg(named.get("result_limit", default), "result_limit")
    if not 1 <= limit <= 10_000:
        raise ValidationError("result_limit must be between 1 and 10000", code="INVALID_ARGUMENT")
    return limit


async def _root_id(ctx: Introspection, named: dict[str, object]) -> int | None:
    name = named.get("root_task_name")
    if name is None:
        return None
    rec = await ctx.catalog.get_task(ctx.resolve(task_name_arg(name, "root_task_name")))
    return rec.id if rec is not None else -1


def _graph_row(g: GraphRunRecord, next_time: Any, *, complete: bool) -> tuple[Any, ...]:
    row: list[Any] = [
        g.root_task_name,
        g.database_name,
        g.schema_name,
        g.state,
        g.scheduled_from.value,
        g.first_error_task_name,
        g.first_error_code,
        g.first_error_message,
        g.scheduled_time,
        g.query_start_time,
        next_time,
    ]
    if complete:
        row.append(g.completed_time)
    row += [g.root_task_id, g.graph_version, g.root_run_id, g.attempt_number, g.config, g.graph_run_group_id]
    return tuple(row)


def _standalone_row(r: RunRecord, next_time: Any) -> tuple[Any, ...]:
    failed = r.state.value not in ("SUCCEEDED",)
    return (
        r.name,
        r.database_name,
        r.schema_name,
        "FAILED" if r.state.value.startswith("FAILED") else r.state.value,
        r.scheduled_from.value,
        r.name if failed else None,
        r.error_code if failed else None,
        r.error_message if failed else None,
        r.scheduled_time,
        r.query_start_time,
        next_time,
        r.completed_time,
        r.task_id,
        r.task_version,
        r.run_id,
        r.attempt_number,
        r.config,
        None,
    )


async def complete_task_graphs(
    ctx: Introspection, named: dict[str, object], positional: list[object]
) -> pa.Table:
    """complete_task_graphs([result_limit => n] [, root_task_name => 't'] [, error_only => bool])."""
    limit = _limit(named, 1000)
    error_only = bool(named.get("error_only", False))
    root_id = await _root_id(ctx, named)
    nexts = {t.id: t.next_fire_at for t in await ctx.catalog.list_tasks()}
    states = ["FAILED", "CANCELLED"] if error_only else list(_DONE)
    rows = [
        (g.scheduled_time, _graph_row(g, nexts.get(g.root_task_id), complete=True))
        for g in await ctx.catalog.list_graph_runs(root_task_id=root_id, states=states, limit=limit)
    ]
    for r in await ctx.catalog.list_runs(task_id=root_id, error_only=error_only, limit=limit):
        standalone = r.graph_run_group_id is None and r.root_task_id is None
        if standalone and r.state.terminal and r.state.value != "SKIPPED":
            rows.append((r.scheduled_time, _standalone_row(r, nexts.get(r.task_id))))
    rows.sort(key=lambda x: x[0], reverse=True)
    return table_from_rows(COMPLETE_SCHEMA, [r for _, r in rows[:limit]])


async def current_task_graphs(
    ctx: Introspection, named: dict[str, object], positional: list[object]
) -> pa.Table:
    """current_task_graphs([result_limit => n] [, root_task_name => 't']): graph runs executing now, and
    the next scheduled run of every started root within the next 8 days."""
    limit = _limit(named, 1000)
    root_id = await _root_id(ctx, named)
    tasks = await ctx.catalog.list_tasks()
    nexts = {t.id: t.next_fire_at for t in tasks}
    rows: list[tuple[Any, ...]] = []
    for g in await ctx.catalog.list_graph_runs(root_task_id=root_id, states=["EXECUTING"], limit=limit):
        rows.append(_graph_row(g, nexts.get(g.root_task_id), complete=False))
    horizon = ctx.now + CURRENT_WINDOW
    for t in tasks:
        d = t.definition
        if root_id is not None and t.id != root_id:
            continue
        root = t.state is TaskState.STARTED and not d.after and d.finalize is None
        if root and t.next_fire_at is not None and t.next_fire_at <= horizon:
            rows.append(
                (
                    t.name.name,
                    t.name.database,
                    t.name.schema,
                    "SCHEDULED",
                    "SCHEDULE",
                    None,
                    None,
                    None,
                    t.next_fire_at,
                    None,
                    t.next_fire_at,
                    t.id,
                    None,
                    None,
                    1,
                    d.config,
                    None,
                )
            )
    return table_from_rows(CURRENT_SCHEMA, rows[:limit])


async def task_dependents(ctx: Introspection, named: dict[str, object], positional: list[object]) -> pa.Table:
    """task_dependents(task_name => 't' [, recursive => TRUE]): recursive (the default), the tasks
    before it, the task and every task after it; otherwise the task and its children. Tasks that
    join graphs after it (:mod:`tasksql.model.joins`) are among the tasks after it."""
    from tasksql.sysviews.relations import TASKS_SCHEMA, with_databend_columns

    name = named.get("task_name", positional[0] if positional else None)
    if not isinstance(name, str):
        raise ValidationError(
            "task_dependents(task_name => '<task>' [, recursive => bool])", code="INVALID_ARGUMENT"
        )
    recursive = bool(named.get("recursive", positional[1] if len(positional) > 1 else True))
    records = {r.name: r for r in await ctx.catalog.list_tasks()}
    target: QualifiedName = ctx.resolve(task_name_arg(name, "task_dependents: task_name"))
    if target not in records:
        raise TaskNotFound(f"task {name} does not exist")
    graph = Graph({n: r.definition for n, r in records.items()})
    if recursive:
        # Databend lists the whole chain of a child: the tasks before it, roots first, then the
        # task and every task after it (for a root this is Snowflake's list).
        names = [*_ancestors(graph, target), target, *graph.dependents(target)]
    else:
        names = [target, *sorted([*graph.children.get(target, []), *graph.joined.get(target, [])])]
    last_states = await ctx.catalog.last_run_states(ctx.now)
    live = await scheduler_column(ctx.catalog, ctx.now, in_process=ctx.node.role == "server")
    rows = []
    for n in names:
        row = task_row(records[n], last_states.get(records[n].id), ctx.now, scheduler=live)
        rows.append(with_databend_columns(records[n].definition, row))
    return table_from_rows(TASKS_SCHEMA, rows)


def _ancestors(graph: Graph, name: QualifiedName) -> list[QualifiedName]:
    """Every task ``name`` runs after, directly or not, each after its own predecessors."""
    out: dict[QualifiedName, None] = {}

    def visit(n: QualifiedName) -> None:
        for p in graph.predecessors(n):
            if p not in out and p in graph.tasks:
                visit(p)
                out[p] = None

    visit(name)
    out.pop(name, None)
    return list(out)


async def graph_runs(ctx: Introspection, named: dict[str, object], positional: list[object]) -> pa.Table:
    """system.graph_runs: every graph run kept, newest first."""
    nexts = {t.id: t.next_fire_at for t in await ctx.catalog.list_tasks()}
    rows = [
        _graph_row(g, nexts.get(g.root_task_id), complete=True) for g in await ctx.catalog.list_graph_runs()
    ]
    return table_from_rows(COMPLETE_SCHEMA, rows)
