"""The routes that run SQL and manage the queries in progress.

====== ================================ ===================================================
POST   /api/v1/sql                      run a script: ``{"sql": "...", "query_id": "...",
                                        "single_transaction": false, "wait_for_runs": false}``
GET    /api/v1/queries                  the queries running in the cluster (``?local=true``:
                                        in this node only)
POST   /api/v1/queries/{id}/cancel      cancel one, on whichever node runs it (CANCEL QUERY)
====== ================================ ===================================================

In a cluster the queries of the other live nodes are asked of them (:mod:`tasksql.server.peers`):
each query object carries the ``node_id`` that runs it, and the nodes that could not be asked are
listed under ``unreachable``. A cancel is tried here first, then on the other nodes.

A script that fails half-way answers with the one error shape plus ``results``: the results of the
statements that completed before the failing one (whose number and line the error names).

A request naming a ``session`` (an id the client chooses) keeps a transaction it began with BEGIN
open for the session's next request (:mod:`tasksql.engine.sessions`); every answer then says
whether one is open (``in_transaction``). A session idle inside a transaction for
:data:`~tasksql.engine.sessions.IDLE_TRANSACTION_TIMEOUT_S` is rolled back.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tasksql.client import encode_result, encode_value
from tasksql.engine import Engine
from tasksql.engine.adhoc import QUERY_COLUMNS, query_row
from tasksql.engine.queries import QueryNotFound, check_query_id
from tasksql.engine.sessions import IDLE_TRANSACTION_TIMEOUT_S
from tasksql.errors import TasksqlError
from tasksql.server import peers
from tasksql.server.auth import presented_token
from tasksql.server.bodies import read_json
from tasksql.server.http_errors import RequestError, error_body
from tasksql.server.params import Query

_SQL_FIELDS = ("sql", "query_id", "single_transaction", "wait_for_runs", "session")
_FORM = (
    '{"sql": "...", "query_id": "...", "single_transaction": false, "wait_for_runs": false, "session": "..."}'
)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=encode_value)


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise RequestError(400, f'the field "{name}" must be true or false, not {json.dumps(value)[:40]}')
    return value


async def run_sql(engine: Engine, request: web.Request) -> web.Response:
    """``POST /api/v1/sql``: every statement's result, or the error and the results before it."""
    Query(request)
    body = await read_json(request, _FORM)
    if not isinstance(body, dict) or not isinstance(body.get("sql"), str):
        raise RequestError(400, f'the request body needs a string field "sql": {_FORM}')
    unknown = sorted(set(body) - set(_SQL_FIELDS))
    if unknown:
        raise RequestError(400, f"unknown field {unknown[0]!r} in the request body; it accepts: {_FORM}")
    query_id = body.get("query_id")
    if query_id is not None and not isinstance(query_id, str):
        raise RequestError(400, 'the field "query_id" must be a string')
    session = body.get("session")
    if session is not None and not isinstance(session, str):
        raise RequestError(400, 'the field "session" must be a string')
    extra: dict[str, Any] = {}
    try:
        results = await engine.execute(
            body["sql"],
            single_transaction=_flag(body, "single_transaction"),
            query_id=check_query_id(query_id) if query_id is not None else None,
            wait_for_runs=_flag(body, "wait_for_runs"),
            session=check_query_id(session, "session id") if session is not None else None,
            idle_timeout=IDLE_TRANSACTION_TIMEOUT_S,
        )
    except RequestError:
        raise
    except TasksqlError as err:
        status = err.http_status
        payload = error_body(status, err)
        payload["results"] = [encode_result(r) for r in err.partial_results]
        if session is not None:
            payload["in_transaction"] = engine.sessions.in_transaction(session)
        return web.json_response(payload, status=status, dumps=_dumps)
    if session is not None:
        extra["in_transaction"] = engine.sessions.in_transaction(session)
    return web.json_response(
        {"ok": True, "results": [encode_result(r) for r in results], **extra}, dumps=_dumps
    )


async def list_queries(engine: Engine, request: web.Request) -> web.Response:
    """``GET /api/v1/queries``: one object per running query (SHOW QUERIES' columns and the
    ``node_id`` that runs it), of every live node unless ``?local=true``; oldest first."""
    local = Query(request, ("local",)).boolean("local", False)
    me = peers.this_node(engine)
    rows = [query_row(engine, q) for q in engine.queries.running()]
    objects: list[dict[str, Any]] = [
        {**{c: encode_value(v) for c, v in zip(QUERY_COLUMNS, row, strict=True)}, "node_id": me}
        for row in rows
    ]
    if local:
        return web.json_response({"ok": True, "queries": objects}, dumps=_dumps)
    answers = await peers.ask_all("GET", "/queries", await peers.peers(engine), presented_token(request))
    for answer in answers:
        if answer.status == 200 and answer.body is not None:
            objects.extend(q for q in answer.body.get("queries", []) if isinstance(q, dict))
    objects.sort(key=lambda q: str(q.get("started_at")))
    return web.json_response(
        {"ok": True, "queries": objects, "unreachable": peers.unreachable(answers)}, dumps=_dumps
    )


async def cancel_query(engine: Engine, request: web.Request) -> web.Response:
    """``POST /api/v1/queries/{id}/cancel``: cancel the query on the node that runs it (this one,
    else the first live node that knows it, unless ``?local=true``); 404 (``QUERY_NOT_FOUND``) when
    no node runs such a query."""
    local = Query(request, ("local",)).boolean("local", False)
    query_id = check_query_id(request.match_info["id"])
    status = f"Query {query_id} is cancelled."
    try:
        engine.queries.cancel(query_id, "cancelled by the client")
        return web.json_response({"ok": True, "status": status, "node_id": peers.this_node(engine)})
    except QueryNotFound as err:
        if local:
            raise
        answers = await peers.ask_all(
            "POST", f"/queries/{query_id}/cancel", await peers.peers(engine), presented_token(request)
        )
        for answer in answers:
            if answer.status == 200:
                return web.json_response({"ok": True, "status": status, "node_id": answer.peer.node_id})
        missing = peers.unreachable(answers)
        if missing:
            asked = "; ".join(m["error"] for m in missing)
            raise QueryNotFound(f"{err.message}; these nodes could not be asked: {asked}") from None
        raise
