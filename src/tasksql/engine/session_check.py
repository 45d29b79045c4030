"""A task's session parameters are checked against its warehouse's settings at CREATE and ALTER,
where the warehouse can tell: a name it does not have is refused when the task is written, not at
each run (where ``SET SESSION <name> = <value>`` would fail).

============  ======================================================================================
dialect       what the warehouse is asked
============  ======================================================================================
duckdb        ``duckdb_settings()`` of the task's warehouse (its loaded extensions' settings too)
postgres      ``pg_settings``; a name with a dot (``myapp.tenant``) is a custom setting and allowed
others        nothing: SQLite, MySQL and ClickHouse settings are left to the run
============  ======================================================================================

A warehouse that cannot be reached (or does not answer within a few seconds) is not asked: the
parameters are then kept as written, as before. Names are compared case-insensitively.
"""

from __future__ import annotations

import asyncio
import difflib
import re

from tasksql.engine.core import Engine
from tasksql.errors import Span, TasksqlError, ValidationError
from tasksql.model import TaskDef, effective_warehouse
from tasksql.sql import statements as st

_LISTS = {
    "duckdb": "SELECT lower(name) FROM duckdb_settings()",
    "postgres": "SELECT lower(name) FROM pg_settings",
}
_SHOWN = {"duckdb": "DuckDB", "postgres": "PostgreSQL"}
#: How long the warehouse is given to list its settings.
LIST_TIMEOUT_S = 5.0


async def check_session_params(engine: Engine, task: TaskDef, stmt: st.Statement) -> None:
    """Refuse a session parameter that ``task``'s warehouse has no setting for.

    :raises ValidationError: code ``UNKNOWN_PARAMETER``, at the parameter in ``stmt``, naming the
        warehouse and the closest setting names.
    """
    if not task.session_params:
        return
    name = effective_warehouse(task)
    definition = await engine.catalog.get_warehouse(name)
    if definition is None or definition.type.value not in _LISTS:
        return
    dialect = definition.type.value
    try:
        wh = await engine.warehouse(name)
        listed = await asyncio.wait_for(wh.execute(_LISTS[dialect]), LIST_TIMEOUT_S)
    except (TasksqlError, TimeoutError):
        return  # cannot tell now: the run will
    known = {str(row[0]) for row in listed.rows}
    for key, _ in task.session_params:
        if key.lower() in known or (dialect == "postgres" and "." in key):
            continue
        close = difflib.get_close_matches(key.lower(), sorted(known), n=3, cutoff=0.75)
        hint = f"; did you mean {', '.join(c.upper() for c in close)}?" if close else ""
        raise ValidationError(
            f"unknown session parameter {key.upper()}: warehouse {name} ({_SHOWN[dialect]}) has no such"
            f" setting{hint} (a task's session parameters are set in its warehouse for each run)",
            code="UNKNOWN_PARAMETER",
            span=_param_span(stmt, key),
        )


def _param_span(stmt: st.Statement, key: str) -> Span | None:
    """The span of ``key =`` in the statement's text (the statement's span when not found)."""
    m = re.search(rf"(?i)(?<![\w$\"]){re.escape(key)}\s*=", stmt.text) if stmt.text else None
    if m is None:
        return stmt.span
    inside = Span.at(stmt.text, m.start(), m.start() + len(key))
    line = stmt.span.line + inside.line - 1
    column = inside.column if inside.line > 1 else stmt.span.column + inside.column - 1
    return Span(line, column, stmt.span.start + inside.start, stmt.span.start + inside.end)
