"""The pages: server-rendered HTML, one handler per page.

====  ===================  ==========================================================
GET   /                    tasks (``?q=&state=&warehouse=&offset=``), 50 a page
GET   /task?name=KEY       one task (history filters ``?state=&since=&until=&errors=1&cursor=``)
GET   /runs                runs of every task (same filters, ``&task=``), graph runs
GET   /notifications       integrations with their delivery counts, latest attempts
GET   /cluster             the nodes of system.cluster
GET   /sql                 the SQL console (it runs statements through ``POST /api/v1/sql``)
====  ===================  ==========================================================

Histories are paged by cursor, as the API's run lists are (:mod:`tasksql.server.paging`): a page
of a task with 100,000 runs costs what a page of a task with 100 does. Bad filter values answer the
page with a one-line error (status 400) and no filtering; a task that does not exist answers 404
with a link back to the list. Nothing here changes anything.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tasksql.engine import Engine
from tasksql.errors import TasksqlError
from tasksql.model import CronSchedule, IntervalSchedule
from tasksql.server.http_errors import RequestError
from tasksql.server.web import data, graph_picture, timeline
from tasksql.server.web.records import TaskRecords
from tasksql.server.web.render import page

ENGINE: web.AppKey[Engine] = web.AppKey("web_engine", Engine)
RECORDS: web.AppKey[TaskRecords] = web.AppKey("web_records", TaskRecords)
PAGE_SIZE = 50
HISTORY_SIZE = 100


class BadFilter(ValueError):
    """A query parameter of a page that cannot be used; its message says which and why."""


def _engine(request: web.Request) -> Engine:
    return request.app[ENGINE]


def _html(body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


def _render(request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
    context.setdefault("error", None)
    return _html(page(template, nav=request.path, **context), status)


def _time_param(request: web.Request, name: str) -> datetime | None:
    text = request.query.get(name, "").strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadFilter(
            f"{name}: {text[:40]!r} is not a date and time; write 2026-05-01T12:00 (UTC)"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _offset(request: web.Request) -> int:
    text = request.query.get("offset", "0")
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise BadFilter(f"offset: {text[:40]!r} is not a whole number")
    return int(text)


def _run_filter(request: web.Request) -> data.RunFilter:
    state = request.query.get("state", "").strip().upper()
    if state and state not in data.RUN_STATES:
        raise BadFilter(
            f"state: {state[:40]!r} is not a run state; expected one of {', '.join(data.RUN_STATES)}"
        )
    since, until = _time_param(request, "since"), _time_param(request, "until")
    if since is not None and until is not None and since > until:
        raise BadFilter("since is after until; swap them")
    errors = request.query.get("errors", "") in ("1", "true", "on")
    return data.RunFilter(
        state=state, since=since, until=until, errors_only=errors, task_text=request.query.get("task", "")
    )


async def _run_page(
    request: web.Request, flt: data.RunFilter, *, task_id: int | None = None
) -> tuple[data.RunPage, str | None]:
    """A page of runs after ``?cursor=``; with a cursor that is none of ours, the first page and
    the error."""
    cursor = request.query.get("cursor") or None
    try:
        return await data.runs(
            _engine(request), flt, task_id=task_id, limit=HISTORY_SIZE, cursor=cursor
        ), None
    except RequestError as exc:
        first = await data.runs(_engine(request), flt, task_id=task_id, limit=HISTORY_SIZE)
        return first, exc.message


def _params(request: web.Request, *names: str) -> dict[str, str]:
    return {n: request.query.get(n, "") for n in names}


async def tasks_page(request: web.Request) -> web.Response:
    engine = _engine(request)
    params = _params(request, "q", "state", "warehouse")
    error = None
    try:
        offset = _offset(request)
        state = params["state"].lower()
        if state not in ("", "started", "suspended"):
            raise BadFilter(
                f"state: {params['state'][:40]!r} is not a task state; expected started or suspended"
            )
    except BadFilter as exc:
        error, offset, state = str(exc), 0, ""
    flt = data.TaskFilter(search=params["q"].strip(), state=state, warehouse=params["warehouse"])
    listing = await data.task_page(engine, request.app[RECORDS], flt, offset=offset, limit=PAGE_SIZE)
    return _render(
        request,
        "tasks.html",
        status=400 if error else 200,
        error=error,
        listing=listing,
        params=params,
        title="Tasks",
    )


def _window_s(rec: Any, next_runs: list[dict[str, Any]]) -> float | None:
    """The time between two scheduled instants, for the timeline's window line."""
    schedule = rec.definition.schedule
    if isinstance(schedule, IntervalSchedule):
        return schedule.every_ms / 1000
    if isinstance(schedule, CronSchedule) and len(next_runs) >= 2:
        first, second = next_runs[0]["scheduled_time"], next_runs[1]["scheduled_time"]
        if isinstance(first, datetime) and isinstance(second, datetime):
            return (second - first).total_seconds()
    return None


async def task_page(request: web.Request) -> web.Response:
    engine = _engine(request)
    key = request.query.get("name", "")
    rec = await data.find_task(engine, request.app[RECORDS], key) if key else None
    if rec is None:
        return _render(request, "missing.html", status=404, title="No such task", key=key)
    params = _params(request, "state", "since", "until", "errors")
    error = None
    try:
        flt = _run_filter(request)
    except BadFilter as exc:
        error, flt = str(exc), data.RunFilter()
    try:
        detail = await data.task_detail(engine, rec)
    except TasksqlError as exc:
        return _render(
            request, "missing.html", status=exc.http_status, title="Task", key=key, error=exc.message
        )
    history, cursor_error = await _run_page(request, flt, task_id=rec.id)
    error = error or cursor_error
    graph = await data.task_graph(engine, request.app[RECORDS], rec)
    picture = graph_picture.layout(graph, detail.key) if graph is not None else None
    first_page = flt == data.RunFilter() and not request.query.get("cursor")
    recent = (
        history.runs
        if first_page
        else (await data.runs(engine, data.RunFilter(), task_id=rec.id, limit=30)).runs
    )
    line = timeline.build(recent[:30], engine.now(), _window_s(rec, detail.next_runs))
    return _render(
        request,
        "task.html",
        status=400 if error else 200,
        error=error,
        title=detail.label,
        detail=detail,
        history=history,
        params=params,
        paged=bool(request.query.get("cursor")),
        graph=graph,
        picture=picture,
        timeline=line,
        # the tasks whose events change this page: the task, and its graph's members
        live_tasks=sorted(
            {detail.label} | {data.task_label(m.record) for m in graph.members} if graph else {detail.label}
        ),
        states=data.RUN_STATES,
    )


async def runs_page(request: web.Request) -> web.Response:
    engine = _engine(request)
    params = _params(request, "state", "since", "until", "errors", "task")
    error = None
    try:
        flt = _run_filter(request)
    except BadFilter as exc:
        error, flt = str(exc), data.RunFilter()
    found, cursor_error = await _run_page(request, flt)
    error = error or cursor_error
    graphs = await data.graph_runs(engine, limit=30)
    return _render(
        request,
        "runs.html",
        status=400 if error else 200,
        error=error,
        title="Runs",
        runs=found,
        graphs=graphs,
        params=params,
        paged=bool(request.query.get("cursor")),
        states=data.RUN_STATES,
    )


async def notifications_page(request: web.Request) -> web.Response:
    info = await data.notifications(_engine(request))
    return _render(request, "notifications.html", title="Notifications", info=info)


async def cluster_page(request: web.Request) -> web.Response:
    nodes = await data.cluster(_engine(request))
    return _render(request, "cluster.html", title="Cluster", nodes=nodes)


async def sql_page(request: web.Request) -> web.Response:
    return _render(request, "sql.html", title="SQL")
