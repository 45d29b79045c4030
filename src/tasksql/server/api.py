"""The HTTP JSON API (``/api/v1``), served by aiohttp in the scheduler's own event loop.

Every response is JSON. Success: ``{"ok": true, ...}``. Every error has one shape::

    {"ok": false, "status": 400, "error": {"code": ..., "message": ..., "type": ..., "line": ...},
     "errors": ["<message>"]}

with ``status`` equal to the HTTP status (:mod:`tasksql.server.http_errors`). Before a handler
runs, :mod:`tasksql.server.security` checks ``Host``, ``Origin`` and ``Content-Type``; bodies are
read within bounds (:mod:`tasksql.server.bodies`) and query parameters checked
(:mod:`tasksql.server.params`). Routes (docs/api.md has examples):

====== =============================== ================================================
GET    /api/v1/health                  liveness: node id, version, in-flight runs
POST   /api/v1/sql                     ``{"sql": "..."}``: run statements, one result each
GET    /api/v1/queries                 the statements in progress on every node (SHOW QUERIES)
POST   /api/v1/queries/{id}/cancel     CANCEL QUERY, on the node that runs it
GET    /api/v1/cluster                 the nodes (system.cluster as objects)
GET    /api/v1/tasks                   SHOW TASKS as objects
GET    /api/v1/tasks/{name}            one task: DESCRIBE properties + SHOW CREATE TASK
GET    /api/v1/tasks/{name}/runs       its history (``?limit=&error_only=&since=&until=``)
GET    /api/v1/tasks/{name}/next_runs  its next instants (``?n=&after=``)
POST   /api/v1/tasks/{name}/execute    EXECUTE TASK (``{"config": {...}}`` optional)
POST   /api/v1/tasks/{name}/resume     ALTER TASK ... RESUME
POST   /api/v1/tasks/{name}/suspend    ALTER TASK ... SUSPEND
POST   /api/v1/tasks/{name}/cancel     CANCEL TASK
GET    /api/v1/runs                    recent runs of every task (``?limit=&state=&since=&until=``)
====== =============================== ================================================

Task and run objects carry list-valued fields (``predecessors``, ``retry_on``, ...) as JSON arrays
and ``config`` as the JSON value it holds, not as the text SQL shows.

Any node of a cluster answers for the whole cluster: tasks, runs and nodes are read from the
shared catalog; the queries in progress are gathered from the other nodes (:mod:`.queries`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import fields
from datetime import datetime
from typing import Any

from aiohttp import web

from tasksql import __version__
from tasksql.client import API_PREFIX, encode_value
from tasksql.engine import Engine, Result
from tasksql.model import RunState, TaskDef, quote_ident
from tasksql.server import queries
from tasksql.server.bodies import MAX_BODY_BYTES, read_json
from tasksql.server.http_errors import HANDLER_ARGS, RequestError, error_body, errors_middleware
from tasksql.server.params import Query
from tasksql.server.security import security_middleware
from tasksql.sql.properties import PROPERTIES

__all__ = ["ENGINE_KEY", "create_app", "error_body"]

ENGINE_KEY: web.AppKey[Engine] = web.AppKey("engine", Engine)

_TASK_DEFAULTS = {f.name: f.default for f in fields(TaskDef)}

#: The most rows a history route returns at once (task_history's own bound).
MAX_RUNS = 10_000

#: Fields of task and run objects whose SQL value is JSON text (lower case): ``config``, every
#: tuple-valued field of a task definition under its own name, its DESCRIBE keyword and its SHOW
#: TASKS column (``predecessors``), and DESCRIBE's ``TAG`` and ``CONTACT`` (objects).
JSON_FIELDS = frozenset(
    {"config", "predecessors", "tag", "contact"}
    | {f.name for f in fields(TaskDef) if isinstance(f.default, tuple)}
    | {p.key.lower() for p in PROPERTIES if isinstance(_TASK_DEFAULTS.get(p.field), tuple)}
)

_MAX_NAME = 1000  # characters of a task name in a path


def _engine(request: web.Request) -> Engine:
    return request.app[ENGINE_KEY]


def _ok(**payload: Any) -> web.Response:
    return web.json_response({"ok": True, **payload}, dumps=lambda o: json.dumps(o, default=encode_value))


def _json_field(value: Any) -> Any:
    """The JSON value held by the text of a JSON field (the text itself if it is not JSON)."""
    if not isinstance(value, str):
        return encode_value(value)
    try:
        return json.loads(value)
    except ValueError:
        return value


def _field(column: str, value: Any) -> Any:
    return _json_field(value) if column.lower() in JSON_FIELDS else encode_value(value)


def _objects(result: Result) -> list[dict[str, Any]]:
    return [{c: _field(c, v) for c, v in zip(result.columns, row, strict=True)} for row in result.rows]


def _task_name(request: web.Request) -> str:
    """The ``{name}`` of the path, refused at once if no task could have it."""
    raw = request.match_info["name"]
    if len(raw) > _MAX_NAME or any(part == "" for part in raw.split(".")):
        raise RequestError(
            400, f"{raw[:80]!r} is not a task name (name or db.schema.name)", code="INVALID_NAME"
        )
    if any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in raw):
        raise RequestError(400, f"the task name {raw[:80]!r} holds control characters", code="INVALID_NAME")
    return raw


def _task_sql_name(request: web.Request) -> str:
    return ".".join(quote_ident(part) for part in _task_name(request).split("."))


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql_time(value: datetime) -> str:
    return _sql_string(value.isoformat())


async def _one(engine: Engine, sql: str) -> Result:
    results = await engine.execute(sql)
    return results[-1]


async def health(request: web.Request) -> web.Response:
    Query(request)
    engine = _engine(request)
    scheduler = engine.scheduler
    return _ok(
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
    return _ok(nodes=_objects(await _one(_engine(request), "SELECT * FROM system.cluster ORDER BY node_id")))


async def list_tasks(request: web.Request) -> web.Response:
    Query(request)
    return _ok(tasks=_objects(await _one(_engine(request), "SHOW TASKS")))


async def get_task(request: web.Request) -> web.Response:
    Query(request)
    engine = _engine(request)
    name = _task_sql_name(request)
    props = await _one(engine, f"DESCRIBE TASK {name}")
    create = await _one(engine, f"SHOW CREATE TASK {name}")
    return _ok(
        name=request.match_info["name"],
        properties={row[0]: _field(str(row[0]), row[1]) for row in props.rows},
        create_statement=create.rows[0][1],
    )


def _time_range(query: Query) -> str:
    """task_history's time-range arguments for ``?since=`` and ``?until=`` (scheduled time)."""
    since, until = query.timestamp("since"), query.timestamp("until")
    if since is not None and until is not None and since > until:
        raise RequestError(400, "query parameter since is after until; swap them", code="INVALID_PARAMETER")
    args = ""
    if since is not None:
        args += f", scheduled_time_range_start => {_sql_time(since)}"
    if until is not None:
        args += f", scheduled_time_range_end => {_sql_time(until)}"
    return args


async def task_runs(request: web.Request) -> web.Response:
    query = Query(request, ("limit", "error_only", "since", "until"))
    limit = query.integer("limit", 100, low=1, high=MAX_RUNS)
    error_only = query.boolean("error_only", False)
    time_range = _time_range(query)
    engine = _engine(request)
    await _one(engine, f"DESCRIBE TASK {_task_sql_name(request)}")  # 404 for a missing task
    sql = (
        f"SELECT * FROM task_history(task_name => {_sql_string(_task_name(request))}, "
        f"result_limit => {limit}, error_only => {'TRUE' if error_only else 'FALSE'}{time_range}) "
        "ORDER BY scheduled_time DESC, run_id DESC"
    )
    return _ok(runs=_objects(await _one(engine, sql)))


async def next_runs(request: web.Request) -> web.Response:
    query = Query(request, ("n", "after"))
    n = query.integer("n", 10, low=1, high=MAX_RUNS)
    after = query.timestamp("after")
    args = f"{_sql_string(_task_name(request))}, {n}"
    if after is not None:
        args += f", {_sql_time(after)}"
    return _ok(next_runs=_objects(await _one(_engine(request), f"SELECT * FROM next_runs({args})")))


async def execute(request: web.Request) -> web.Response:
    Query(request)
    body = await read_json(request, '{"config": {...}} or no body', optional=True)
    if body is not None and not isinstance(body, dict):
        raise RequestError(400, 'the request body must be an object: {"config": {...}} or no body')
    unknown = sorted(set(body or {}) - {"config"})
    if unknown:
        raise RequestError(400, f"unknown field {unknown[0]!r} in the request body; it accepts: config")
    sql = f"EXECUTE TASK {_task_sql_name(request)}"
    config = (body or {}).get("config")
    if config is not None:
        sql += " USING CONFIG = " + _sql_string(json.dumps(config))
    return _ok(result=_objects(await _one(_engine(request), sql))[0])


def _alter(verb: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        Query(request)
        await read_json(request, "no body", optional=True)
        result = await _one(_engine(request), f"ALTER TASK {_task_sql_name(request)} {verb}")
        return _ok(status=result.message)

    return handler


async def cancel(request: web.Request) -> web.Response:
    Query(request)
    await read_json(request, "no body", optional=True)
    result = await _one(_engine(request), f"CANCEL TASK {_task_sql_name(request)}")
    return _ok(status=result.message)


async def all_runs(request: web.Request) -> web.Response:
    query = Query(request, ("limit", "state", "since", "until"))
    limit = query.integer("limit", 100, low=1, high=MAX_RUNS)
    state = query.choice("state", [s.value for s in RunState])
    time_range = _time_range(query)
    where = f" WHERE state = {_sql_string(state)}" if state is not None else ""
    sql = (
        f"SELECT * FROM task_history(result_limit => {MAX_RUNS}{time_range}){where} "
        f"ORDER BY scheduled_time DESC, run_id DESC LIMIT {limit}"
    )
    return _ok(runs=_objects(await _one(_engine(request), sql)))


def create_app(engine: Engine) -> web.Application:
    """The aiohttp application serving the API (and, when present, the web UI) for ``engine``."""
    app = web.Application(
        middlewares=[errors_middleware, security_middleware([engine.settings.host])],
        client_max_size=MAX_BODY_BYTES,
        handler_args=HANDLER_ARGS,
    )
    app[ENGINE_KEY] = engine
    p = API_PREFIX
    app.router.add_get(f"{p}/health", health)
    app.router.add_post(f"{p}/sql", run_sql)
    app.router.add_get(f"{p}/queries", list_queries)
    app.router.add_post(f"{p}/queries/{{id}}/cancel", cancel_query)
    app.router.add_get(f"{p}/cluster", list_cluster)
    app.router.add_get(f"{p}/tasks", list_tasks)
    app.router.add_get(f"{p}/tasks/{{name}}", get_task)
    app.router.add_get(f"{p}/tasks/{{name}}/runs", task_runs)
    app.router.add_get(f"{p}/tasks/{{name}}/next_runs", next_runs)
    app.router.add_post(f"{p}/tasks/{{name}}/execute", execute)
    app.router.add_post(f"{p}/tasks/{{name}}/resume", _alter("RESUME"))
    app.router.add_post(f"{p}/tasks/{{name}}/suspend", _alter("SUSPEND"))
    app.router.add_post(f"{p}/tasks/{{name}}/cancel", cancel)
    app.router.add_get(f"{p}/runs", all_runs)
    return app
