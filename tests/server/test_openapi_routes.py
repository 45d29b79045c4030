"""The OpenAPI document against the routes the server registers, and real answers against its
schemas (validated with jsonschema, draft 2020-12 as OpenAPI 3.1 uses)."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
from aiohttp import web
from api_support import Client

from tasksql.engine import Engine
from tasksql.server.api import OPENAPI, create_app
from tasksql.server.web import add_routes

_PARAM = re.compile(r"\{[^}]+\}")


def api_routes(app: web.Application) -> set[tuple[str, str]]:
    """(METHOD, path) of every route of the app that is not a web page: the API under /api/, the
    metrics and the login form (the pages at / are described in docs/ui.md, not here)."""
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        if route.method in ("HEAD", "OPTIONS") or not path:
            continue
        if path.startswith("/api/") or path in ("/metrics", "/login", "/logout"):
            found.add((route.method, path))
    return found


def documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}


def undocumented(
    app: web.Application, doc: dict[str, Any]
) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(routes registered but not documented, routes documented but not registered)."""
    registered, described = api_routes(app), documented(doc)
    return registered - described, described - registered


async def test_every_route_is_documented_and_every_documented_route_exists(engine: Engine) -> None:
    app = create_app(engine)
    add_routes(app, engine)  # the web pages too, as tasksql serve mounts them
    missing, extra = undocumented(app, OPENAPI)
    assert not missing and not extra, (missing, extra)
    assert len(documented(OPENAPI)) >= 20


async def test_a_route_added_without_its_description_is_found(engine: Engine) -> None:
    async def hidden(request: web.Request) -> web.Response:
        return web.json_response({})

    app = create_app(engine)
    app.router.add_get("/api/v1/hidden", hidden)
    missing, _ = undocumented(app, OPENAPI)
    assert missing == {("GET", "/api/v1/hidden")}
    doc = {**OPENAPI, "paths": {**OPENAPI["paths"], "/api/v1/ghost": {"get": {}}}}
    _, extra = undocumented(create_app(engine), doc)
    assert extra == {("GET", "/api/v1/ghost")}


async def test_the_document_is_served_and_is_openapi_3_1(client: Client) -> None:
    resp = await client.get("/api/v1/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    assert doc == OPENAPI
    # every schema is a valid JSON Schema, every $ref resolves
    jsonschema.Draft202012Validator.check_schema({"$defs": doc["components"]["schemas"]})
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', str(doc).replace("'", '"')))
    assert refs <= set(doc["components"]["schemas"])
    for path, ops in doc["paths"].items():
        for op in ops.values():
            names = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert names == {m[1:-1] for m in _PARAM.findall(path)}


def _validator(doc: dict[str, Any], method: str, path: str) -> jsonschema.protocols.Validator:
    schema = doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    resolver_doc = {"components": doc["components"], **schema}
    return jsonschema.Draft202012Validator(resolver_doc)


ANSWERS = [
    ("get", "/api/v1/health", "/api/v1/health"),
    ("get", "/api/v1/tasks", "/api/v1/tasks"),
    ("get", "/api/v1/tasks", "/api/v1/tasks?limit=1"),
    ("get", "/api/v1/tasks/{name}", "/api/v1/tasks/t"),
    ("get", "/api/v1/tasks/{name}/runs", "/api/v1/tasks/t/runs"),
    ("get", "/api/v1/tasks/{name}/next_runs", "/api/v1/tasks/t/next_runs?n=2"),
    ("get", "/api/v1/runs", "/api/v1/runs?limit=1"),
    ("get", "/api/v1/graph_runs", "/api/v1/graph_runs"),
    ("get", "/api/v1/notifications", "/api/v1/notifications"),
    ("get", "/api/v1/cluster", "/api/v1/cluster"),
    ("get", "/api/v1/queries", "/api/v1/queries"),
    ("post", "/api/v1/tasks/{name}/suspend", "/api/v1/tasks/t/suspend"),
    ("post", "/api/v1/tasks/{name}/execute", "/api/v1/tasks/u/execute"),
]


async def test_real_answers_match_their_schemas(client: Client, engine: Engine) -> None:
    await engine.execute(
        "CREATE TASK t SCHEDULE 1 HOUR COMMENT = '<b>x</b>' AS SELECT 1;"
        " CREATE TASK u SCHEDULE 1 HOUR AS SELECT 2"
    )
    await engine.execute("EXECUTE TASK t", wait_for_runs=True)
    for method, template, url in ANSWERS:
        resp = await client.request(method.upper(), url)
        body = await resp.json()
        assert resp.status == 200, (url, body)
        errors = sorted(_validator(OPENAPI, method, template).iter_errors(body), key=str)
        assert not errors, (url, [e.message for e in errors])
    # a schema that would not hold is noticed: a run without its state
    runs = await (await client.get("/api/v1/runs")).json()
    del runs["runs"][0]["state"]
    assert list(_validator(OPENAPI, "get", "/api/v1/runs").iter_errors(runs))


async def test_an_error_answer_matches_the_error_schema(client: Client) -> None:
    resp = await client.get("/api/v1/tasks/nope/runs")
    body = await resp.json()
    assert resp.status == 404
    schema = {"components": OPENAPI["components"], "$ref": "#/components/schemas/Error"}
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"ok": True}, schema, cls=jsonschema.Draft202012Validator)
