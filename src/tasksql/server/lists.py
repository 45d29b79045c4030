"""The API's lists, each a page at a time (:mod:`tasksql.server.paging`): tasks, runs (of every
task or of one), graph runs and notification deliveries.

Every list takes ``?limit=`` and ``?cursor=`` and answers its payload plus ``next_cursor``. Runs are
read from the catalog by keyset (the same rows ``task_history`` shows, in its object shape); tasks
are ``SHOW TASKS`` objects ordered by qualified name.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from aiohttp import web

from tasksql.engine import Engine
from tasksql.engine.privileges import visible_task_ids
from tasksql.model import QualifiedName, RunState
from tasksql.model.run import GraphRunRecord
from tasksql.server.http_errors import RequestError
from tasksql.server.paging import (
    RunFilter,
    RunPosition,
    decode_cursor,
    encode_cursor,
    keyset_page,
    newest_first,
    runs_page,
)
from tasksql.server.params import Query
from tasksql.server.shapes import engine_of, field, name_parts, objects, ok, one, run_object, task_record

#: The most items a list returns at once.
MAX_LIMIT = 10_000

_FAILED = frozenset({"FAILED", "FAILED_AND_AUTO_SUSPENDED"})


def time_range(query: Query) -> tuple[datetime | None, datetime | None]:
    """``?since=`` and ``?until=`` (scheduled time, until excluded), checked."""
    since, until = query.timestamp("since"), query.timestamp("until")
    if since is not None and until is not None and since > until:
        raise RequestError(400, "query parameter since is after until; swap them", code="INVALID_PARAMETER")
    return since, until


async def list_tasks(request: web.Request) -> web.Response:
    """``SHOW TASKS`` as objects by qualified name; without ``limit`` every task (as before)."""
    query = Query(request, ("limit", "cursor"))
    limit = query.integer("limit", 0, low=1, high=MAX_LIMIT) or None
    after = decode_cursor(query.values.get("cursor"), "tasks", (str, str, str))
    tasks = objects(await one(engine_of(request), "SHOW TASKS"))
    page, last = keyset_page(
        tasks, lambda t: (str(t["database_name"]), str(t["schema_name"]), str(t["name"])), after, limit
    )
    return ok(tasks=page, next_cursor=None if last is None else encode_cursor("tasks", *last))


async def all_runs(request: web.Request) -> web.Response:
    """Runs of every task, newest first (``?limit=&cursor=&state=&since=&until=``)."""
    query = Query(request, ("limit", "cursor", "state", "since", "until"))
    limit = query.integer("limit", 100, low=1, high=MAX_LIMIT)
    state = query.choice("state", [s.value for s in RunState])
    since, until = time_range(query)
    where = RunFilter(
        since=since,
        until=until,
        # a failed state: the catalog's own error filter thins the rows before they are read
        error_only=state in _FAILED,
        keep=None if state is None else (lambda run: run.state.value == state),
    )
    return await _runs_answer(request, query, where, limit)


async def task_runs(request: web.Request) -> web.Response:
    """One task's history, newest first (``?limit=&cursor=&error_only=&since=&until=``)."""
    query = Query(request, ("limit", "cursor", "error_only", "since", "until"))
    limit = query.integer("limit", 100, low=1, high=MAX_LIMIT)
    error_only = query.boolean("error_only", False)
    since, until = time_range(query)
    rec = await task_record(request)  # 404 for a missing task
    if rec is None:  # dropped between the two reads
        return ok(runs=[], next_cursor=None)
    where = RunFilter(task_id=rec.id, since=since, until=until, error_only=error_only)
    return await _runs_answer(request, query, where, limit)


async def _runs_answer(request: web.Request, query: Query, where: RunFilter, limit: int) -> web.Response:
    after = RunPosition.parse(query.values.get("cursor"))
    runs, nxt = await runs_page(engine_of(request).catalog, where, limit, after)
    visible = await visible_task_ids(engine_of(request))  # security on: the caller's tasks only
    runs = [r for r in runs if visible is None or r.task_id in visible]
    return ok(runs=[run_object(r) for r in runs], next_cursor=None if nxt is None else nxt.cursor())


def graph_run_object(g: GraphRunRecord) -> dict[str, Any]:
    return {name: field(name, getattr(g, name)) for name in GraphRunRecord.__dataclass_fields__}


async def graph_runs(request: web.Request) -> web.Response:
    """Graph runs, newest first (``?limit=&cursor=&state=&task=``: ``task`` names the root)."""
    query = Query(request, ("limit", "cursor", "state", "task"))
    limit = query.integer("limit", 100, low=1, high=MAX_LIMIT)
    state = query.choice("state", ["EXECUTING", "SUCCEEDED", "FAILED", "CANCELLED"])
    after = decode_cursor(query.values.get("cursor"), "graph_runs", (int, str))
    engine = engine_of(request)
    root_id: int | None = None
    if query.values.get("task") is not None:
        root_id = await _task_id(engine, query.values["task"])
    rows = await engine.catalog.list_graph_runs(
        root_task_id=root_id, states=None if state is None else [state]
    )
    visible = await visible_task_ids(engine)
    rows = [g for g in rows if visible is None or g.root_task_id in visible]
    page, last = keyset_page(
        rows, lambda g: (newest_first(g.scheduled_time), g.graph_run_group_id), after, limit
    )
    return ok(
        graph_runs=[graph_run_object(g) for g in page],
        next_cursor=None if last is None else encode_cursor("graph_runs", *last),
    )


async def _task_id(engine: Engine, text: str) -> int:
    """The id of the live task ``text`` names: its parts as written (a part with dots in double
    quotes, :func:`~tasksql.server.shapes.name_parts`), else as SQL strings name tasks (``'T'`` is
    ``t``)."""
    from tasksql.sql.names import name_from_string

    parts = name_parts(text)
    rec = None if parts is None else await engine.catalog.get_task(engine.resolve(QualifiedName.of(*parts)))
    if rec is None:
        name = name_from_string(text)
        rec = None if name is None else await engine.catalog.get_task(engine.resolve(name))
    if rec is None:
        raise RequestError(404, f"task {text[:80]!r} does not exist", code="TASK_NOT_FOUND")
    return rec.id


async def notifications(request: web.Request) -> web.Response:
    """Per integration: messages by state and retries; then delivery attempts, newest first
    (``?limit=&cursor=&integration=``)."""
    query = Query(request, ("limit", "cursor", "integration"))
    limit = query.integer("limit", 100, low=1, high=MAX_LIMIT)
    after = decode_cursor(query.values.get("cursor"), "deliveries", (int, str, int))
    integration = query.values.get("integration")
    catalog = engine_of(request).catalog
    attempts = await catalog.notification_history(integration=integration)
    page, last = keyset_page(
        attempts, lambda d: (newest_first(d.sent_at), d.message_id, -d.attempt), after, limit
    )
    summary = await _integration_summary(engine_of(request), integration)
    return ok(
        integrations=summary,
        deliveries=[
            {name: field(name, getattr(d, name)) for name in type(d).__dataclass_fields__} for d in page
        ],
        next_cursor=None if last is None else encode_cursor("deliveries", *last),
    )


async def _integration_summary(engine: Engine, only: str | None) -> list[dict[str, Any]]:
    """Each integration with its messages by state (PENDING, DELIVERED, FAILED) and retries (the
    attempts after a message's first)."""
    catalog = engine.catalog
    messages = await catalog.list_notifications()
    states: dict[str, Counter[str]] = {}
    retries: Counter[str] = Counter()
    last_error: dict[str, str | None] = {}
    for m in messages:
        states.setdefault(m.integration, Counter())[m.state.value] += 1
        retries[m.integration] += max(0, m.attempts - 1)
        if m.last_error is not None:
            last_error[m.integration] = m.last_error
    names = {r.definition.name for r in await catalog.list_integrations()} | set(states)
    return [
        {
            "integration": name,
            "pending": states.get(name, Counter())["PENDING"],
            "delivered": states.get(name, Counter())["DELIVERED"],
            "failed": states.get(name, Counter())["FAILED"],
            "retries": retries[name],
            "last_error": last_error.get(name),
        }
        for name in sorted(names)
        if only is None or name == only
    ]
