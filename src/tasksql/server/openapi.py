"""The OpenAPI 3.1 document of the API (``GET /api/v1/openapi.json``), made from the route table.

Every route the server registers comes from one table of :class:`Route` (:data:`tasksql.server.api.
ROUTES`): the server adds each to the router and this module describes each, so the two cannot
drift (``tests/server/test_openapi_routes.py`` also compares the router with the document). A
route's response schema is a JSON Schema (2020-12, as OpenAPI 3.1 uses) of its 200 answer; every
error answers the one error shape (``#/components/schemas/Error``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tasksql import __version__

Schema = dict[str, Any]
RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(kind: str, **more: Any) -> Schema:
    return {"type": [kind, "null"], **more}


def ok_object(**properties: Schema) -> Schema:
    """The success shape with these fields (all required)."""
    return {
        "type": "object",
        "required": ["ok", *properties],
        "properties": {"ok": {"const": True}, **properties},
    }


def array_of(item: Schema) -> Schema:
    return {"type": "array", "items": item}


CURSOR: Schema = nullable("string", description="pass as ?cursor= for the next page; null: the last page")
TIME: Schema = {"type": "string", "format": "date-time"}
TIME_OR_NULL: Schema = nullable("string", format="date-time")


@dataclass(frozen=True, slots=True, kw_only=True)
class Param:
    """A query parameter."""

    name: str
    schema: Schema
    description: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """One route: registered by the server and described by the document."""

    method: str
    path: str
    handler: RouteHandler
    summary: str
    tag: str
    params: tuple[Param, ...] = ()
    body: Schema | None = None
    response: Schema = field(default_factory=ok_object)
    #: the media type of a 200 answer (JSON unless it says otherwise)
    media: str = "application/json"


LIMIT = Param(
    name="limit", schema={"type": "integer", "minimum": 1, "maximum": 10000}, description="page size"
)
CURSOR_PARAM = Param(name="cursor", schema={"type": "string"}, description="next_cursor of the previous page")
SINCE = Param(name="since", schema=TIME, description="scheduled at or after (ISO-8601; UTC without offset)")
UNTIL = Param(name="until", schema=TIME, description="scheduled before (ISO-8601)")

COMPONENTS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "required": ["ok", "status", "error", "errors"],
        "properties": {
            "ok": {"const": False},
            "status": {"type": "integer"},
            "error": {
                "type": "object",
                "required": ["code", "message", "type"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "line": {"type": "integer"},
                    "column": {"type": "integer"},
                },
            },
            "errors": array_of({"type": "string"}),
        },
    },
    "Run": {
        "type": "object",
        "description": "a run, with the columns of task_history",
        "required": [
            "run_id",
            "name",
            "task_id",
            "database_name",
            "schema_name",
            "state",
            "scheduled_time",
            "query_start_time",
            "completed_time",
            "attempt_number",
            "node_id",
            "error_code",
            "error_message",
            "graph_run_group_id",
        ],
        "properties": {
            "run_id": {"type": "integer"},
            "name": {"type": "string"},
            "task_id": {"type": "integer"},
            "database_name": {"type": "string"},
            "schema_name": {"type": "string"},
            "task_version": {"type": "integer"},
            "query_text": nullable("string"),
            "condition_text": nullable("string"),
            "state": {"type": "string"},
            "error_code": nullable("string"),
            "error_message": nullable("string"),
            "scheduled_time": TIME,
            "query_start_time": TIME_OR_NULL,
            "completed_time": TIME_OR_NULL,
            "duration_ms": nullable("number"),
            "scheduled_from": {"type": "string"},
            "attempt_number": {"type": "integer"},
            "rows_produced": nullable("integer"),
            "rows_inserted": nullable("integer"),
            "return_value": nullable("string"),
            "root_task_id": nullable("integer"),
            "graph_version": nullable("integer"),
            "graph_run_group_id": nullable("string"),
            "config": {},
            "query_id": nullable("string"),
            "node_id": nullable("string"),
            "warehouse": nullable("string"),
        },
    },
    "Task": {
        "type": "object",
        "description": "a task, with the columns of SHOW TASKS",
        "required": ["name", "database_name", "schema_name", "state", "schedule", "definition"],
        "properties": {
            "name": {"type": "string"},
            "id": {"type": "integer"},
            "database_name": {"type": "string"},
            "schema_name": {"type": "string"},
            "state": {"enum": ["started", "suspended"]},
            "schedule": nullable("string"),
            "predecessors": array_of({"type": "string"}),
            "definition": {"type": "string"},
            "warehouse": nullable("string"),
            "owner": {"type": "string"},
            "next_scheduled_time": TIME_OR_NULL,
        },
    },
    "GraphRun": {
        "type": "object",
        "required": ["graph_run_group_id", "root_task_id", "root_task_name", "state", "scheduled_time"],
        "properties": {
            "graph_run_group_id": {"type": "string"},
            "root_task_id": {"type": "integer"},
            "root_task_name": {"type": "string"},
            "database_name": {"type": "string"},
            "schema_name": {"type": "string"},
            "graph_version": {"type": "integer"},
            "state": {"type": "string"},
            "scheduled_from": {"type": "string"},
            "scheduled_time": TIME,
            "query_start_time": TIME_OR_NULL,
            "completed_time": TIME_OR_NULL,
            "attempt_number": {"type": "integer"},
            "root_run_id": nullable("integer"),
            "first_error_task_name": nullable("string"),
            "first_error_code": nullable("string"),
            "first_error_message": nullable("string"),
            "config": {},
            "node_id": nullable("string"),
        },
    },
    "Delivery": {
        "type": "object",
        "required": ["message_id", "integration", "attempt", "sent_at", "state"],
        "properties": {
            "message_id": {"type": "string"},
            "integration": {"type": "string"},
            "event_type": nullable("string"),
            "attempt": {"type": "integer"},
            "status_code": nullable("integer"),
            "error": nullable("string"),
            "sent_at": TIME,
            "duration_ms": nullable("number"),
            "state": nullable("string"),
        },
    },
    "IntegrationDeliveries": {
        "type": "object",
        "required": ["integration", "pending", "delivered", "failed", "retries", "last_error"],
        "properties": {
            "integration": {"type": "string"},
            "pending": {"type": "integer"},
            "delivered": {"type": "integer"},
            "failed": {"type": "integer"},
            "retries": {"type": "integer"},
            "last_error": nullable("string"),
        },
    },
    "Result": {
        "type": "object",
        "required": ["statement", "columns", "types", "rows"],
        "properties": {
            "statement": {"type": "string"},
            "columns": array_of({"type": "string"}),
            "types": array_of({"type": "string"}),
            "rows": array_of({"type": "array"}),
            "rowcount": nullable("integer"),
            "notices": array_of({"type": "string"}),
        },
    },
    "Status": ok_object(status={"type": "string"}),
}

_PATH_PARAM = re.compile(r"\{([^}]+)\}")


def _operation(route: Route) -> Schema:
    params: list[Schema] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(route.path)
    ]
    params += [
        {"name": p.name, "in": "query", "required": False, "schema": p.schema, "description": p.description}
        for p in route.params
    ]
    content: Schema = (
        {route.media: {"schema": route.response}}
        if route.media == "application/json"
        else {route.media: {"schema": {"type": "string"}}}
    )
    bare = _PATH_PARAM.sub(lambda m: m.group(1), route.path).strip("/").replace("/", "_")
    op: Schema = {
        "operationId": f"{route.method.lower()}_{bare}",
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": params,
        "responses": {
            "200": {"description": "success", "content": content},
            "default": {"description": "an error", "content": {"application/json": {"schema": ref("Error")}}},
        },
    }
    if route.body is not None:
        op["requestBody"] = {"required": False, "content": {"application/json": {"schema": route.body}}}
    return op


def document(routes: Sequence[Route]) -> Schema:
    """The OpenAPI 3.1 document of ``routes``."""
    paths: dict[str, Schema] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tasksql",
            "version": __version__,
            "description": "The HTTP API of tasksql serve (docs/api.md).",
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "components": {
            "schemas": COMPONENTS,
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"token": []}],
        "paths": paths,
    }
