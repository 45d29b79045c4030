"""What the pages show, read from the engine's catalog and SQL; nothing here changes anything.

Lists that grow with the catalog (tasks, runs) are filtered and paged here, and only the rows of
the page shown get their costly columns (next instant, node, last runs): a page of the tasks list
costs the same with 10 or 10,000 tasks apart from one read of the task records. Reads that exist as
SQL (DESCRIBE TASK, SHOW CREATE TASK, ``next_runs``, ``system.cluster``, the notification tables)
go through :meth:`Engine.execute`, like the API. Changes are never made here: the pages' buttons
call the API.

A task is named on the pages by its *key*: database, schema and name as SQL writes them, joined by
dots, each part in double quotes when it needs them (``tasksql.public.load``,
``tasksql.public."a.b"``): the form the API's ``/api/v1/tasks/{name}`` routes accept, unambiguous
for any legal name. Its *label* is the parts joined by dots as they are, for people to read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tasksql.engine import Engine
from tasksql.engine.privileges import visible_task_ids, visible_tasks
from tasksql.engine.results import Result
from tasksql.engine.show import last_runs
from tasksql.model import QualifiedName, RunState, TaskRecord, quote_ident
from tasksql.model.run import GraphRunRecord, RunRecord
from tasksql.schedules.words import words_for_text
from tasksql.server import paging
from tasksql.server.shapes import name_parts
from tasksql.server.upcoming import next_run_rows
from tasksql.server.web.records import TaskRecords
from tasksql.sysviews.liveness import scheduler_column
from tasksql.sysviews.placement import task_nodes
from tasksql.sysviews.taskrows import TASK_COLUMNS, task_row

#: Runs shown as marks in the tasks list, per task.
STRIP_RUNS = 12
RUN_STATES = tuple(s.value for s in RunState)
#: The states the catalog's "failed runs only" read keeps (the history's "errors only").
FAILED_STATES = frozenset({"FAILED", "FAILED_AND_AUTO_SUSPENDED"})


def task_key(rec: TaskRecord) -> str:
    """``database.schema.name`` as SQL text (parts quoted as needed): how the pages and the API
    name the task."""
    return key_of(*rec.name.parts)


def key_of(*parts: str) -> str:
    """The key of the task whose name has these parts (see the module)."""
    return ".".join(quote_ident(p) for p in parts)


def task_label(rec: TaskRecord) -> str:
    """``database.schema.name`` as the parts are, for people to read (not to parse)."""
    return ".".join(rec.name.parts)


def objects(result: Result) -> list[dict[str, Any]]:
    """The rows of a result as column -> value dicts."""
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskFilter:
    """The tasks list's filter: text found in name, comment, warehouse or owner; state; warehouse."""

    search: str = ""
    state: str = ""
    warehouse: str = ""

    def keeps(self, rec: TaskRecord, hay: str) -> bool:
        """Whether the list keeps ``rec``; ``hay``: its searchable text in lower case
        (:meth:`~tasksql.server.web.records.TaskRecords.hay`)."""
        if self.state and rec.state.value != self.state:
            return False
        if self.warehouse and (rec.definition.warehouse or "default") != self.warehouse:
            return False
        return not self.search or self.search.lower() in hay


@dataclass(kw_only=True)
class TaskPage:
    """One page of the tasks list."""

    rows: list[dict[str, Any]]
    total: int
    matched: int
    offset: int
    limit: int
    warehouses: list[str] = field(default_factory=list)


async def task_page(
    engine: Engine, cache: TaskRecords, flt: TaskFilter, *, offset: int, limit: int
) -> TaskPage:
    """The tasks ``flt`` keeps, sorted by name (database, schema, name), rows ``offset`` to
    ``offset + limit``; each row has SHOW TASKS' columns plus ``key``, ``words`` (the schedule in
    words) and ``strip`` (its last runs, oldest first)."""
    records = await visible_tasks(engine, await cache.all())
    kept = [r for r in records if flt.keeps(r, cache.hay(r))]  # in the cache's order: by name
    shown = await cache.fresh(kept[offset : offset + limit])
    now = engine.now()
    last = await last_runs(engine)
    live = await scheduler_column(engine.catalog, now, in_process=engine.scheduler is not None)
    this_node = engine.scheduler.node_id if engine.scheduler is not None else None
    nodes = await task_nodes(engine.catalog, records, now, this_node=this_node)
    rows = []
    for rec in shown:
        row = dict(
            zip(
                TASK_COLUMNS,
                task_row(rec, last.get(rec.id), now, scheduler=live, node=nodes[rec.id]),
                strict=True,
            )
        )
        row["key"] = task_key(rec)
        row["words"] = words_for_text(row["schedule"])
        # a task that never ran has no strip to read (a task's latest runs are an index search)
        strip = await engine.catalog.list_runs(task_id=rec.id, limit=STRIP_RUNS) if rec.id in last else []
        row["strip"] = list(reversed(strip))
        rows.append(row)
    warehouses = sorted({r.definition.warehouse or "default" for r in records})
    return TaskPage(
        rows=rows, total=len(records), matched=len(kept), offset=offset, limit=limit, warehouses=warehouses
    )


async def find_task(engine: Engine, cache: TaskRecords, key: str) -> TaskRecord | None:
    """The task ``key`` names (its key, or its name relative to the current schema), if the caller
    may see it. A label whose parts hold dots is found too, by one look through the list."""
    parts = name_parts(key)
    if parts is not None:
        rec = await engine.catalog.get_task(engine.resolve(QualifiedName.of(*parts)))
        if rec is not None:
            return rec if await visible_tasks(engine, [rec]) else None
    for rec in await visible_tasks(engine, await cache.all()):
        if task_label(rec) == key:
            return rec
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFilter:
    """A history filter: state, scheduled time in [since, until), failed runs only, and text the
    task's label holds (the runs page's task search)."""

    state: str = ""
    since: datetime | None = None
    until: datetime | None = None
    errors_only: bool = False
    task_text: str = ""


@dataclass(kw_only=True)
class RunPage:
    """One page of a run list, newest first; ``next_cursor`` the position after it (None: the
    end). A page may be short and still have a next one: a filter the catalog cannot apply (a
    state, a task search) is applied to at most :data:`~tasksql.server.paging.SCAN_BOUND` rows."""

    runs: list[RunRecord]
    next_cursor: str | None


async def runs(
    engine: Engine,
    flt: RunFilter,
    *,
    task_id: int | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> RunPage:
    """Runs of one task or all that ``flt`` keeps, newest first, after the position ``cursor``
    names (as the API's run lists page: by keyset, so a page costs the same however long the
    history is).

    :raises RequestError: for a cursor that is not one of a run list.
    """
    needle = flt.task_text.strip().lower()
    if needle and task_id is None:
        parts = name_parts(flt.task_text.strip())
        named = (
            None if parts is None else await engine.catalog.get_task(engine.resolve(QualifiedName.of(*parts)))
        )
        if named is not None:  # the text names a task: its own history, read by its id
            task_id, needle = named.id, ""

    def keep(run: RunRecord) -> bool:
        if flt.state and run.state.value != flt.state:
            return False
        return not needle or needle in f"{run.database_name}.{run.schema_name}.{run.name}".lower()

    where = paging.RunFilter(
        task_id=task_id,
        since=flt.since,
        until=flt.until,
        # a failed state: the catalog's own filter of failed runs thins the rows before they are read
        error_only=flt.errors_only or flt.state in FAILED_STATES,
        keep=keep if flt.state or needle else None,
    )
    found, nxt = await paging.runs_page(engine.catalog, where, limit, paging.RunPosition.parse(cursor))
    visible = await visible_task_ids(engine)  # security on: the caller's tasks only
    shown = [r for r in found if visible is None or r.task_id in visible]
    return RunPage(runs=shown, next_cursor=None if nxt is None else nxt.cursor())


async def graph_runs(
    engine: Engine, *, root_task_id: int | None = None, limit: int = 50
) -> list[GraphRunRecord]:
    visible = await visible_task_ids(engine)
    found = await engine.catalog.list_graph_runs(root_task_id=root_task_id, limit=limit)
    return [g for g in found if visible is None or g.root_task_id in visible]


@dataclass(kw_only=True)
class TaskDetail:
    """Everything the page of one task shows, but its history."""

    record: TaskRecord
    key: str
    label: str
    properties: list[dict[str, Any]]
    create_statement: str
    next_runs: list[dict[str, Any]]
    row: dict[str, Any]


async def task_detail(engine: Engine, rec: TaskRecord) -> TaskDetail:
    name = task_key(rec)
    props = (await engine.execute(f"DESCRIBE TASK {name}"))[-1]
    create = (await engine.execute(f"SHOW CREATE TASK {name}"))[-1]
    now = engine.now()
    upcoming = next_run_rows(rec, 5, now)
    last = await last_runs(engine)
    live = await scheduler_column(engine.catalog, now, in_process=engine.scheduler is not None)
    this_node = engine.scheduler.node_id if engine.scheduler is not None else None
    nodes = await task_nodes(engine.catalog, [rec], now, this_node=this_node)
    row = dict(
        zip(
            TASK_COLUMNS,
            task_row(rec, last.get(rec.id), now, scheduler=live, node=nodes[rec.id]),
            strict=True,
        )
    )
    row["words"] = words_for_text(row["schedule"])
    return TaskDetail(
        record=rec,
        key=task_key(rec),
        label=task_label(rec),
        properties=objects(props),
        create_statement=str(create.rows[0][1]),
        next_runs=upcoming,
        row=row,
    )


@dataclass(kw_only=True)
class GraphMember:
    """A task of a graph, its place (depth from the root) and its run in the last graph run."""

    record: TaskRecord
    depth: int
    parents: list[int]
    finalizer: bool = False
    state: str | None = None


@dataclass(kw_only=True)
class Graph:
    """The graph a task belongs to (root first); ``graph_run`` the last one, if any."""

    members: list[GraphMember]
    graph_run: GraphRunRecord | None


async def task_graph(engine: Engine, cache: TaskRecords, rec: TaskRecord) -> Graph | None:
    """The graph of ``rec`` (root, children, finalizer); None for a task alone."""
    records = await visible_tasks(engine, await cache.all())
    by_name = {r.name: r for r in records}
    root = rec
    seen = {root.id}
    while root.definition.after and root.definition.after[0] in by_name:
        parent = by_name[root.definition.after[0]]
        if parent.id in seen:
            break
        seen.add(parent.id)
        root = parent
    if root.definition.finalize is not None and root.definition.finalize in by_name:
        root = by_name[root.definition.finalize]  # a finalizer's page shows its root's graph
    children: dict[str, list[TaskRecord]] = {}
    finalizer: TaskRecord | None = None
    for r in records:
        for parent_name in r.definition.after:
            children.setdefault(str(parent_name), []).append(r)
        if r.definition.finalize == root.name:
            finalizer = r
    depth: dict[int, int] = {root.id: 0}
    order = [root]
    for member in order:  # breadth first; a task's depth is its longest path from the root
        for child in sorted(children.get(str(member.name), []), key=task_key):
            if depth.get(child.id, -1) < depth[member.id] + 1 and len(order) < 500:
                if child.id not in depth:
                    order.append(child)
                depth[child.id] = depth[member.id] + 1
    if len(order) == 1 and finalizer is None:
        return None
    ids = {r.name: r.id for r in order}
    members = [
        GraphMember(record=r, depth=depth[r.id], parents=[ids[p] for p in r.definition.after if p in ids])
        for r in order
    ]
    if finalizer is not None:
        deepest = max(m.depth for m in members)
        members.append(GraphMember(record=finalizer, depth=deepest + 1, parents=[], finalizer=True))
    last = await engine.catalog.list_graph_runs(root_task_id=root.id, limit=1)
    graph_run = last[0] if last else None
    if graph_run is not None:
        states = {
            r.task_id: r.state.value
            for r in await engine.catalog.graph_run_runs(graph_run.graph_run_group_id)
        }
        for m in members:
            m.state = states.get(m.record.id)
    return Graph(members=members, graph_run=graph_run)


async def cluster(engine: Engine) -> list[dict[str, Any]]:
    return objects((await engine.execute("SELECT * FROM system.cluster ORDER BY node_id"))[-1])


@dataclass(kw_only=True)
class Notifications:
    """Per integration: its definition and counts; and the latest delivery attempts."""

    integrations: list[dict[str, Any]]
    attempts: list[dict[str, Any]]


async def notifications(engine: Engine, *, limit: int = 200) -> Notifications:
    integrations = objects(
        (await engine.execute("SELECT * FROM system.notification_integrations ORDER BY name"))[-1]
    )
    attempts = objects(
        (
            await engine.execute(
                f"SELECT * FROM system.notification_history ORDER BY sent_at DESC LIMIT {limit}"
            )
        )[-1]
    )
    counts = objects(
        (
            await engine.execute(
                "SELECT integration, count(*) AS attempts,"
                " count(DISTINCT message_id) FILTER (WHERE state = 'DELIVERED') AS delivered,"
                " count(*) FILTER (WHERE error IS NOT NULL OR status_code >= 300) AS failed_attempts,"
                " count(*) FILTER (WHERE attempt > 1) AS retries,"
                " count(DISTINCT message_id) FILTER (WHERE state = 'FAILED') AS given_up,"
                " count(DISTINCT message_id) FILTER (WHERE state = 'PENDING') AS pending,"
                " max(sent_at) AS last_sent"
                " FROM system.notification_history GROUP BY integration"
            )
        )[-1]
    )
    by_name = {c["integration"]: c for c in counts}
    none = dict.fromkeys(("attempts", "delivered", "failed_attempts", "retries", "given_up", "pending"), 0)
    for integ in integrations:
        integ["counts"] = by_name.pop(integ["name"], {**none, "last_sent": None})
        integ["dropped"] = False
    for name, c in by_name.items():  # attempts of an integration dropped since
        gone = dict.fromkeys(("type", "enabled", "url", "method", "comment", "created_on"))
        integrations.append({**gone, "name": name, "counts": c, "dropped": True})
    return Notifications(integrations=integrations, attempts=attempts)
