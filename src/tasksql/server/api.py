"""The HTTP JSON API (``/api/v1``), served by aiohttp in the scheduler's own event loop.

Every response of ``/api/v1`` is JSON (but the event stream). Success: ``{"ok": true, ...}``.
Every error has one shape::

    {"ok": false, "status": 400, "error": {"code": ..., "message": ..., "type": ..., "line": ...},
     "errors": ["<message>"]}

with ``status`` equal to the HTTP status (:mod:`tasksql.server.http_errors`). Before a handler
runs, :mod:`tasksql.server.security` checks ``Host``, ``Origin`` and ``Content-Type``; bodies are
read within bounds (:mod:`tasksql.server.bodies`) and query parameters checked
(:mod:`tasksql.server.params`).

Every route is declared once, in :data:`ROUTES` (:class:`~tasksql.server.openapi.Route`): the app
registers them and ``GET /api/v1/openapi.json`` describes them (docs/api.md has examples). Lists
are paged by cursor (:mod:`.lists`), ``GET /api/v1/events`` streams run and task changes
(:mod:`.events`), ``GET /metrics`` serves Prometheus metrics (:mod:`.metrics`), and off loopback
every route needs the API token (:mod:`.auth`).

Task and run objects carry list-valued fields (``predecessors``, ``retry_on``, ...) as JSON arrays
and ``config`` as the JSON value it holds, not as the text SQL shows.

Any node of a cluster answers for the whole cluster: tasks, runs and nodes are read from the
shared catalog; the queries in progress are gathered from the other nodes (:mod:`.queries`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime

from aiohttp import web

from tasksql import __version__
from tasksql.client import API_PREFIX
from tasksql.engine import Engine
from tasksql.model import RunState
from tasksql.server import auth, lists, queries
from tasksql.server.bodies import MAX_BODY_BYTES, read_json
from tasksql.server.events import HUB_KEY, EventHub, events_handler
from tasksql.server.http_errors import HANDLER_ARGS, RequestError, error_body, errors_middleware
from tasksql.server.metrics import METRICS_KEY, Metrics, metrics_handler
from tasksql.server.openapi import (
    CURSOR,
    CURSOR_PARAM,
    LIMIT,
    SINCE,
    UNTIL,
    Param,
    Route,
    array_of,
    document,
    ok_object,
    ref,
)
from tasksql.server.params import Query
from tasksql.server.runfeed import RunFeed
from tasksql.server.security import security_middleware
from tasksql.server.shapes import (
    ENGINE_KEY,
    JSON_FIELDS,
    engine_of,
    field,
    objects,
    ok,
    one,
    sql_string,
    task_record,
    task_sql_name,
)
from tasksql.server.upcoming import next_run_rows

__all__ = ["ENGINE_KEY", "JSON_FIELDS", "ROUTES", "create_app", "error_body"]

#: The most rows a history route returns at once (task_history's own bound).
MAX_RUNS = lists.MAX_LIMIT

_engine = engine_of


def _sql_time(value: datetime) -> str:
    return sql_string(value.isoformat())


async def health(request: web.Request) -> web.Response:
    Query(request)
    engine = _engine(request)
    scheduler = engine.scheduler
    return ok(
        node_id=engine.settings.effective_node_id,
        version=__version__,
        scheduler=scheduler is not None,
        in_flight=scheduler.in_flight if scheduler else 0,
    )


async def run_sql(request: web.Request) -> web.Response:
    return await queries.run_sql(_engine(request), request)


async def list_queries(request: web.Request) -> web.Response:
    return await queries.list_queries(_engine(request), request)


async def cancel_query(request: web.Request) -> web.Response:
    return await queries.cancel_query(_engine(request), request)


async def list_cluster(request: web.Request) -> web.Response:
    Query(request)
    return ok(nodes=objects(await one(_engine(request), "SELECT * FROM system.cluster ORDER BY node_id")))


async def get_task(request: web.Request) -> web.Response:
    Query(request)
    engine = _engine(request)
    name = task_sql_name(request)
    props = await one(engine, f"DESCRIBE TASK {name}")
    create = await one(engine, f"SHOW CREATE TASK {name}")
    return ok(
        name=request.match_info["name"],
        properties={row[0]: field(str(row[0]), row[1]) for row in props.rows},
        create_statement=create.rows[0][1],
    )


async def next_runs(request: web.Request) -> web.Response:
    query = Query(request, ("n", "after"))
    n = query.integer("n", 10, low=1, high=MAX_RUNS)
    after = query.timestamp("after")
    engine = _engine(request)
    rec = await task_record(request)
    rows = [] if rec is None else next_run_rows(rec, n, engine.now() if after is None else after)
    return ok(next_runs=[{c: field(c, v) for c, v in row.items()} for row in rows])


async def execute(request: web.Request) -> web.Response:
    Query(request)
    body = await read_json(request, '{"config": {...}} or no body', optional=True)
    if body is not None and not isinstance(body, dict):
        raise RequestError(400, 'the request body must be an object: {"config": {...}} or no body')
    unknown = sorted(set(body or {}) - {"config"})
    if unknown:
        raise RequestError(400, f"unknown field {unknown[0]!r} in the request body; it accepts: config")
    sql = f"EXECUTE TASK {task_sql_name(request)}"
    config = (body or {}).get("config")
    if config is not None:
        sql += " USING CONFIG = " + sql_string(json.dumps(config))
    return ok(result=objects(await one(_engine(request), sql))[0])


def _alter(verb: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        Query(request)
        await read_json(request, "no body", optional=True)
        result = await one(_engine(request), f"ALTER TASK {task_sql_name(request)} {verb}")
        return ok(status=result.message)

    return handler


async def cancel(request: web.Request) -> web.Response:
    Query(request)
    await read_json(request, "no body", optional=True)
    result = await one(_engine(request), f"CANCEL TASK {task_sql_name(request)}")
    return ok(status=result.message)


async def openapi_document(request: web.Request) -> web.Response:
    Query(request)
    return web.json_response(OPENAPI)


_RUN_STATES = {"enum": [s.value for s in RunState], "description": "a run state, in any case"}
_P = API_PREFIX
_RUNS_PAGE = ok_object(runs=array_of(ref("Run")), next_cursor=CURSOR)
_STATUS = ref("Status")
_OBJECTS = array_of({"type": "object"})

#: Every route of the server but the web pages (which :mod:`tasksql.server.web` adds): the app
#: registers exactly these, and the OpenAPI document describes exactly these.
ROUTES: tuple[Route, ...] = (
    Route(
        method="GET",
        path=f"{_P}/health",
        handler=health,
        tag="server",
        summary="liveness: node id, version, in-flight runs",
        response=ok_object(
            node_id={"type": "string"},
            version={"type": "string"},
            scheduler={"type": "boolean"},
            in_flight={"type": "integer"},
        ),
    ),
    Route(
        method="GET",
        path=f"{_P}/openapi.json",
        handler=openapi_document,
        tag="server",
        summary="this document",
        response={"type": "object", "required": ["openapi", "paths"]},
    ),
    Route(
        method="POST",
        path=f"{_P}/sql",
        handler=run_sql,
        tag="sql",
        summary="run statements, one result each",
        body={
            "type": "object",
            "required": ["sql"],
            "properties": {
                "sql": {"type": "string"},
                "query_id": {"type": "string"},
                "single_transaction": {"type": "boolean"},
                "wait_for_runs": {"type": "boolean"},
                "session": {"type": "string"},
            },
        },
        response=ok_object(results=array_of(ref("Result"))),
    ),
    Route(
        method="GET",
        path=f"{_P}/queries",
        handler=list_queries,
        tag="sql",
        summary="the statements in progress on every node (SHOW QUERIES)",
        params=(Param(name="local", schema={"type": "boolean"}, description="this node only"),),
        response=ok_object(queries=_OBJECTS, unreachable=_OBJECTS),
    ),
    Route(
        method="POST",
        path=f"{_P}/queries/{{id}}/cancel",
        handler=cancel_query,
        tag="sql",
        summary="CANCEL QUERY, on the node that runs it",
        params=(Param(name="local", schema={"type": "boolean"}, description="this node only"),),
        response=ok_object(status={"type": "string"}, node_id={"type": "string"}),
    ),
    Route(
        method="GET",
        path=f"{_P}/cluster",
        handler=list_cluster,
        tag="server",
        summary="the nodes (system.cluster)",
        response=ok_object(nodes=_OBJECTS),
    ),
    Route(
        method="GET",
        path=f"{_P}/tasks",
        handler=lists.list_tasks,
        tag="tasks",
        summary="SHOW TASKS, by qualified name; every task without limit",
        params=(LIMIT, CURSOR_PARAM),
        response=ok_object(tasks=array_of(ref("Task")), next_cursor=CURSOR),
    ),
    Route(
        method="GET",
        path=f"{_P}/tasks/{{name}}",
        handler=get_task,
        tag="tasks",
        summary="one task: DESCRIBE TASK properties and SHOW CREATE TASK",
        response=ok_object(
            name={"type": "string"}, properties={"type": "object"}, create_statement={"type": "string"}
        ),
    ),
    Route(
        method="GET",
        path=f"{_P}/tasks/{{name}}/runs",
        handler=lists.task_runs,
        tag="runs",
        summary="a task's history, newest first",
        params=(
            LIMIT,
            CURSOR_PARAM,
            Param(name="error_only", schema={"type": "boolean"}, description="failed runs only"),
            SINCE,
            UNTIL,
        ),
        response=_RUNS_PAGE,
    ),
    Route(
        method="GET",
        path=f"{_P}/tasks/{{name}}/next_runs",
        handler=next_runs,
        tag="tasks",
        summary="its next instants (next_runs)",
        params=(
            Param(
                name="n", schema={"type": "integer", "minimum": 1, "maximum": 10000}, description="how many"
            ),
            Param(name="after", schema={"type": "string", "format": "date-time"}, description="default: now"),
        ),
        response=ok_object(next_runs=_OBJECTS),
    ),
    Route(
        method="POST",
        path=f"{_P}/tasks/{{name}}/execute",
        handler=execute,
        tag="tasks",
        summary="EXECUTE TASK (body {config} optional)",
        body={"type": "object", "properties": {"config": {}}, "additionalProperties": False},
        response=ok_object(result={"type": "object", "required": ["run_id"]}),
    ),
    Route(
        method="POST",
        path=f"{_P}/tasks/{{name}}/resume",
        handler=_alter("RESUME"),
        tag="tasks",
        summary="ALTER TASK ... RESUME",
        response=_STATUS,
    ),
    Route(
        method="POST",
        path=f"{_P}/tasks/{{name}}/suspend",
        handler=_alter("SUSPEND"),
        tag="tasks",
        summary="ALTER TASK ... SUSPEND",
        response=_STATUS,
    ),
    Route(
        method="POST",
        path=f"{_P}/tasks/{{name}}/cancel",
        handler=cancel,
        tag="tasks",
        summary="CANCEL TASK",
        response=_STATUS,
    ),
    Route(
        method="GET",
        path=f"{_P}/runs",
        handler=lists.all_runs,
        tag="runs",
        summary="runs of every task, newest first",
        params=(
            LIMIT,
            CURSOR_PARAM,
            Param(name="state", schema=_RUN_STATES, description="runs in this state only"),
            SINCE,
            UNTIL,
        ),
        response=_RUNS_PAGE,
    ),
    Route(
        method="GET",
        path=f"{_P}/graph_runs",
        handler=lists.graph_runs,
        tag="runs",
        summary="graph runs, newest first",
        params=(
            LIMIT,
            CURSOR_PARAM,
            Param(
                name="state",
                schema={"enum": ["EXECUTING", "SUCCEEDED", "FAILED", "CANCELLED"]},
                description="graph runs in this state only",
            ),
            Param(name="task", schema={"type": "string"}, description="the graph's root task"),
        ),
        response=ok_object(graph_runs=array_of(ref("GraphRun")), next_cursor=CURSOR),
    ),
    Route(
        method="GET",
        path=f"{_P}/notifications",
        handler=lists.notifications,
        tag="notifications",
        summary="per integration: messages by state and retries; delivery attempts, newest first",
        params=(
            LIMIT,
            CURSOR_PARAM,
            Param(name="integration", schema={"type": "string"}, description="this integration only"),
        ),
        response=ok_object(
            integrations=array_of(ref("IntegrationDeliveries")),
            deliveries=array_of(ref("Delivery")),
            next_cursor=CURSOR,
        ),
    ),
    Route(
        method="GET",
        path=f"{_P}/events",
        handler=events_handler,
        tag="events",
        summary="server-sent events: run and task changes (Last-Event-ID resumes)",
        params=(Param(name="task", schema={"type": "string"}, description="this task's events only"),),
        media="text/event-stream",
    ),
    Route(
        method="GET",
        path="/metrics",
        handler=metrics_handler,
        tag="server",
        summary="Prometheus metrics (text exposition format)",
        media="text/plain",
    ),
    Route(
        method="GET",
        path=auth.LOGIN_PATH,
        handler=auth.login_page,
        tag="login",
        summary="the login form (HTML) of a server that needs its token",
        params=(Param(name="next", schema={"type": "string"}, description="the page to go back to"),),
        media="text/html",
    ),
    Route(
        method="POST",
        path=auth.LOGIN_PATH,
        handler=auth.login,
        tag="login",
        summary="log in (form-encoded token, next): sets the HttpOnly token cookie",
        media="text/html",
    ),
    Route(
        method="POST",
        path=auth.LOGOUT_PATH,
        handler=auth.logout,
        tag="login",
        summary="log out: forgets the token cookie",
        media="text/html",
    ),
)

OPENAPI = document(ROUTES)


def create_app(engine: Engine) -> web.Application:
    """The aiohttp application serving :data:`ROUTES` for ``engine`` (the web UI adds its pages).

    The app listens to the engine's catalog while it runs (metrics, events: :mod:`.runfeed`)."""
    app = web.Application(
        middlewares=[
            errors_middleware,
            security_middleware([engine.settings.host]),
            auth.auth_middleware(engine.settings, engine),
        ],
        client_max_size=MAX_BODY_BYTES,
        handler_args=HANDLER_ARGS,
    )
    app[ENGINE_KEY] = engine
    app[auth.SETTINGS_KEY] = engine.settings
    app[auth.LOGIN_ENGINE_KEY] = engine
    feed = RunFeed(engine.catalog)
    app[METRICS_KEY] = metrics = Metrics(engine, feed)
    app[HUB_KEY] = hub = EventHub(engine, feed)

    async def listen(_: web.Application) -> None:
        feed.start()
        engine.catalog.observers.add(metrics)

    async def stop_listening(_: web.Application) -> None:
        await hub.stop()
        engine.catalog.observers.remove(metrics)
        await feed.stop()

    app.on_startup.append(listen)
    app.on_shutdown.append(stop_listening)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)
    return app
