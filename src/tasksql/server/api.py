"""The HTTP JSON API (``/api/v1``), served by aiohttp in the scheduler's own event loop.

Every response is JSON. Success: ``{"ok": true, ...}``. Every error has one shape::

    {"ok": false, "status": 400, "error": {"code": ..., "message": ..., "type": ..., "line": ...},
     "errors": ["<message>"]}

with ``status`` equal to the HTTP status. Routes (docs/api.md has examples):

====== =============================== ================================================
GET    /api/v1/health                  liveness: node id, version, in-flight runs
POST   /api/v1/sql                     ``{"sql": "..."}``: run statements, one result each
GET    /api/v1/tasks                   SHOW TASKS as objects
GET    /api/v1/tasks/{name}            one task: SHOW TASKS row + DESCRIBE properties
GET    /api/v1/tasks/{name}/runs       its history (``?limit=``, ``?error_only=true``)
GET    /api/v1/tasks/{name}/next_runs  its next instants (``?n=``)
POST   /api/v1/tasks/{name}/execute    EXECUTE TASK (``{"config": {...}}`` optional)
POST   /api/v1/tasks/{name}/resume     ALTER TASK ... RESUME
POST   /api/v1/tasks/{name}/suspend    ALTER TASK ... SUSPEND
POST   /api/v1/tasks/{name}/cancel     CANCEL TASK
GET    /api/v1/runs                    recent runs of every task (``?limit=``, ``?state=``)
====== =============================== ================================================
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tasksql import __version__
from tasksql.client import API_PREFIX, encode_result, encode_value
from tasksql.engine import Engine, Result
from tasksql.errors import TasksqlError, ValidationError
from tasksql.model import quote_ident

log = logging.getLogger("tasksql.api")

ENGINE_KEY: web.AppKey[Engine] = web.AppKey("engine", Engine)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_body(status: int, err: TasksqlError | None = None, message: str | None = None) -> dict[str, Any]:
    detail = (
        err.to_dict() if err is not None else {"code": "HTTP_ERROR", "message": message or "", "type": "HTTP"}
    )
    return {"ok": False, "status": status, "error": detail, "errors": [detail["message"]]}


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as the one JSON shape, whatever raised it."""
    try:
        return await handler(request)
    except TasksqlError as err:
        status = err.http_status
        return web.json_response(error_body(status, err), status=status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return web.json_response(error_body(exc.status, message=exc.reason), status=exc.status)
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        return web.json_response(error_body(500, message="internal server error"), status=500)


def _engine(request: web.Request) -> Engine:
    return request.app[ENGINE_KEY]


def _ok(**payload: Any) -> web.Response:
    return web.json_response({"ok": True, **payload}, dumps=lambda o: json.dumps(o, default=encode_value))


def _objects(result: Result) -> list[dict[str, Any]]:
    return [{c: encode_value(v) for c, v in zip(result.columns, row, strict=True)} for row in result.rows]


def _task_sql_name(request: web.Request) -> str:
    raw = request.match_info["name"]
    return ".".join(quote_ident(part) for part in raw.split("."))


async def _one(engine: Engine, sql: str) -> Result:
    results = await engine.execute(sql)
    return results[-1]


async def health(request: web.Request) -> web.Response:
    engine = _engine(request)
    scheduler = engine.scheduler
    return _ok(
        node_id=engine.settings.effective_node_id,
        version=__version__,
        scheduler=scheduler is not None,
        in_flight=scheduler.in_flight if scheduler else 0,
    )


async def run_sql(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        raise ValidationError('the request body must be JSON: {"sql": "..."}', code="BAD_REQUEST") from None
    text = body.get("sql") if isinstance(body, dict) else None
    if not isinstance(text, str):
        raise ValidationError('the request body needs a string field "sql"', code="BAD_REQUEST")
    results = await _engine(request).execute(text)
    return _ok(results=[encode_result(r) for r in results])


async def list_tasks(request: web.Request) -> web.Response:
    return _ok(tasks=_objects(await _one(_engine(request), "SHOW TASKS")))


async def get_task(request: web.Request) -> web.Response:
    engine = _engine(request)
    name = _task_sql_name(request)
    props = await _one(engine, f"DESCRIBE TASK {name}")
    create = await _one(engine, f"SHOW CREATE TASK {name}")
    return _ok(
        name=request.match_info["name"],
        properties={row[0]: encode_value(row[1]) for row in props.rows},
        create_statement=create.rows[0][1],
    )


def _int_param(request: web.Request, key: str, default: int) -> int:
    raw = request.query.get(key)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(f"query parameter {key} must be an integer", code="BAD_REQUEST") from None


async def task_runs(request: web.Request) -> web.Response:
    engine = _engine(request)
    limit = _int_param(request, "limit", 100)
    error_only = request.query.get("error_only", "false").lower() == "true"
    name = request.match_info["name"].replace("'", "''")
    await _one(engine, f"DESCRIBE TASK {_task_sql_name(request)}")  # 404 for a missing task
    sql = (
        f"SELECT * FROM task_history(task_name => '{name}', result_limit => {limit}, "
        f"error_only => {'TRUE' if error_only else 'FALSE'}) ORDER BY scheduled_time DESC, run_id DESC"
    )
    return _ok(runs=_objects(await _one(engine, sql)))


async def next_runs(request: web.Request) -> web.Response:
    n = _int_param(request, "n", 10)
    name = request.match_info["name"].replace("'", "''")
    return _ok(next_runs=_objects(await _one(_engine(request), f"SELECT * FROM next_runs('{name}', {n})")))


async def execute(request: web.Request) -> web.Response:
    config = None
    if request.can_read_body:
        try:
            body = await request.json()
        except ValueError:
            raise ValidationError("the request body must be JSON", code="BAD_REQUEST") from None
        if isinstance(body, dict) and body.get("config") is not None:
            config = json.dumps(body["config"])
    sql = f"EXECUTE TASK {_task_sql_name(request)}"
    if config is not None:
        sql += " USING CONFIG = '" + config.replace("'", "''") + "'"
    return _ok(result=_objects(await _one(_engine(request), sql))[0])


def _alter(verb: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        result = await _one(_engine(request), f"ALTER TASK {_task_sql_name(request)} {verb}")
        return _ok(status=result.message)

    return handler


async def cancel(request: web.Request) -> web.Response:
    result = await _one(_engine(request), f"CANCEL TASK {_task_sql_name(request)}")
    return _ok(status=result.message)


async def all_runs(request: web.Request) -> web.Response:
    limit = _int_param(request, "limit", 100)
    where = ""
    state = request.query.get("state")
    if state:
        where = " WHERE state = '" + state.upper().replace("'", "''") + "'"
    sql = (
        f"SELECT * FROM task_history(result_limit => 10000){where} ORDER BY scheduled_time DESC, run_id DESC "
        f"LIMIT {limit}"
    )
    return _ok(runs=_objects(await _one(_engine(request), sql)))


def create_app(engine: Engine) -> web.Application:
    """The aiohttp application serving the API (and, when present, the web UI) for ``engine``."""
    app = web.Application(middlewares=[errors_middleware], client_max_size=8 * 1024 * 1024)
    app[ENGINE_KEY] = engine
    p = API_PREFIX
    app.router.add_get(f"{p}/health", health)
    app.router.add_post(f"{p}/sql", run_sql)
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
