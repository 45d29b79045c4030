"""What every JSON route shares: the engine of the app, the success shape, objects from results and
records, and the ``{name}`` of a task path.

Task and run objects carry list-valued fields (``predecessors``, ``retry_on``, ...) as JSON arrays
and ``config`` as the JSON value it holds, not as the text SQL shows.
"""

from __future__ import annotations

import json
from dataclasses import fields
from enum import Enum
from typing import Any

from aiohttp import web

from tasksql.client import encode_value
from tasksql.engine import Engine, Result
from tasksql.model import QualifiedName, TaskDef, TaskRecord, quote_ident
from tasksql.model.run import RunRecord
from tasksql.server.http_errors import RequestError
from tasksql.sql.properties import PROPERTIES
from tasksql.sysviews.history import HISTORY_COLUMNS

ENGINE_KEY: web.AppKey[Engine] = web.AppKey("engine", Engine)

_TASK_DEFAULTS = {f.name: f.default for f in fields(TaskDef)}

#: Fields of task and run objects whose SQL value is JSON text (lower case): ``config``, every
#: tuple-valued field of a task definition under its own name, its DESCRIBE keyword and its SHOW
#: TASKS column (``predecessors``), and DESCRIBE's ``TAG`` and ``CONTACT`` (objects).
JSON_FIELDS = frozenset(
    {"config", "predecessors", "tag", "contact"}
    | {f.name for f in fields(TaskDef) if isinstance(f.default, tuple)}
    | {p.key.lower() for p in PROPERTIES if isinstance(_TASK_DEFAULTS.get(p.field), tuple)}
)

_MAX_NAME = 1000  # characters of a task name in a path


def engine_of(request: web.Request) -> Engine:
    return request.app[ENGINE_KEY]


def dumps(value: Any) -> str:
    return json.dumps(value, default=encode_value)


def ok(**payload: Any) -> web.Response:
    """The success shape: ``{"ok": true, ...payload}``."""
    return web.json_response({"ok": True, **payload}, dumps=dumps)


def json_field(value: Any) -> Any:
    """The JSON value held by the text of a JSON field (the text itself if it is not JSON)."""
    if not isinstance(value, str):
        return encode_value(value)
    try:
        return json.loads(value)
    except ValueError:
        return value


def field(column: str, value: Any) -> Any:
    if isinstance(value, Enum):
        value = value.value
    return json_field(value) if column.lower() in JSON_FIELDS else encode_value(value)


def objects(result: Result) -> list[dict[str, Any]]:
    return [{c: field(c, v) for c, v in zip(result.columns, row, strict=True)} for row in result.rows]


def run_object(run: RunRecord) -> dict[str, Any]:
    """A run as the history routes show it: the columns of ``task_history``."""
    return {c: field(c, getattr(run, c)) for c in HISTORY_COLUMNS}


def name_parts(text: str) -> tuple[str, ...] | None:
    """The parts of a task name as a path or parameter gives it; None when it is not one.

    Parts are separated by dots. A part that begins with a double quote is a quoted identifier,
    as in SQL: it runs to its closing quote (``""`` stands for a quote) and may hold dots, quotes
    and anything else; any other part runs to the next dot and is taken exactly as written (no case
    folding). So ``db.public.t``, ``"db"."public"."a.b"`` and ``public."say ""hi"" now"`` all
    name tasks.
    """
    parts: list[str] = []
    i, n = 0, len(text)
    while True:
        if i < n and text[i] == '"':
            j, piece = i + 1, []
            while True:
                k = text.find('"', j)
                if k < 0:
                    return None  # no closing quote
                piece.append(text[j:k])
                if text.startswith('""', k):
                    piece.append('"')
                    j = k + 2
                    continue
                i = k + 1
                break
            part = "".join(piece)
            if i < n and text[i] != ".":
                return None  # text after the closing quote
        else:
            k = text.find(".", i)
            k = n if k < 0 else k
            part, i = text[i:k], k
        if part == "":
            return None
        parts.append(part)
        if i >= n:
            break
        i += 1  # the dot
        if i >= n:
            return None  # a trailing dot
    return tuple(parts) if len(parts) <= 3 else None


def task_parts(request: web.Request) -> tuple[str, ...]:
    """The parts of the ``{name}`` of the path (:func:`name_parts`), refused at once if no task
    could have it."""
    raw = request.match_info["name"]
    parts = name_parts(raw) if len(raw) <= _MAX_NAME else None
    if parts is None:
        raise RequestError(
            400,
            f"{raw[:80]!r} is not a task name (name or db.schema.name; a part with dots or quotes in "
            'double quotes: public."a.b")',
            code="INVALID_NAME",
        )
    if any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in raw):
        raise RequestError(400, f"the task name {raw[:80]!r} holds control characters", code="INVALID_NAME")
    return parts


def task_name(request: web.Request) -> str:
    """The ``{name}`` of the path as it was given, once :func:`task_parts` accepts it."""
    task_parts(request)
    return request.match_info["name"]


def task_sql_name(request: web.Request) -> str:
    """The ``{name}`` of the path as SQL text, every part quoted as needed."""
    return ".".join(quote_ident(part) for part in task_parts(request))


async def task_record(request: web.Request) -> TaskRecord | None:
    """The task the ``{name}`` of the path names, read as the caller: DESCRIBE TASK first, so a
    missing task is a 404 and a task the caller may not see a 403, as in SQL. None when it was
    dropped between the two reads."""
    engine = engine_of(request)
    await one(engine, f"DESCRIBE TASK {task_sql_name(request)}")
    return await engine.catalog.get_task(engine.resolve(QualifiedName.of(*task_parts(request))))


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


async def one(engine: Engine, sql: str) -> Result:
    """The result of the last statement of ``sql``."""
    results = await engine.execute(sql)
    return results[-1]
