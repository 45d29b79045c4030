"""A task's session parameters are checked against its warehouse's settings at CREATE and ALTER,
where the warehouse can tell: a name it does not have is refused when the task is written, not at
each run (where the SET or PRAGMA would fail, or, on SQLite, be ignored).

What each warehouse type is asked is :mod:`tasksql.warehouses.session_settings`'s table, in short:

============  ======================================================================================
type          what the warehouse is asked
============  ======================================================================================
duckdb        ``duckdb_settings()`` of the task's warehouse (its loaded extensions' settings too)
postgres      ``pg_settings``, settings a session can SET; a name with a dot (``myapp.tenant``) is a
              custom setting and allowed
sqlite        ``pragma_pragma_list``, the PRAGMAs among them that set something on a connection
mysql         MariaDB's ``information_schema.SYSTEM_VARIABLES`` (session, not read-only); MySQL's
              ``performance_schema`` tables or ``SHOW SESSION VARIABLES``
clickhouse,   ``system.settings`` (not read-only for the login); a name it does not list is tried as
chdb          ``SELECT 1 SETTINGS <name> = <value>`` (custom settings)
============  ======================================================================================

A name the warehouse does not have is ``UNKNOWN_PARAMETER`` with the closest names; a name it has
that a run's connection cannot be given (a MySQL global variable, a PostgreSQL setting of server
start, a SQLite PRAGMA that is no setting) is ``UNSUPPORTED_PARAMETER`` saying why. A warehouse
that cannot be reached, does not answer within :data:`LIST_TIMEOUT_S` seconds, or cannot list its
settings is not asked: the parameters are then kept as written, as before. Names are compared
case-insensitively.
"""

from __future__ import annotations

import asyncio
import difflib
import re
from collections.abc import Sequence

from tasksql.engine.core import Engine
from tasksql.errors import Span, TasksqlError, ValidationError
from tasksql.model import TaskDef, effective_warehouse
from tasksql.sql import statements as st
from tasksql.warehouses.base import Warehouse
from tasksql.warehouses.session_settings import SettingsList, list_settings, try_listed, try_unlisted

#: How long the warehouse is given to list its settings (and to try a name it does not list).
LIST_TIMEOUT_S = 5.0


async def check_session_params(engine: Engine, task: TaskDef, stmt: st.Statement) -> None:
    """Refuse a session parameter that ``task``'s warehouse has no setting for, or cannot set for
    a run.

    :raises ValidationError: code ``UNKNOWN_PARAMETER`` (no such setting, naming the closest ones)
        or ``UNSUPPORTED_PARAMETER`` (a setting a run's connection cannot be given, saying why), at
        the parameter in ``stmt``, naming the warehouse.
    """
    if not task.session_params:
        return
    name = effective_warehouse(task)
    if await engine.catalog.get_warehouse(name) is None:
        return
    try:
        wh = await engine.warehouse(name)
        async with asyncio.timeout(LIST_TIMEOUT_S):
            listed = await list_settings(wh)
            refusal = None if listed is None else await _refusal(wh, listed, task.session_params, stmt)
    except (TasksqlError, TimeoutError):
        return  # cannot tell now: the run will
    if refusal is not None:
        raise refusal


async def _refusal(
    wh: Warehouse, listed: SettingsList, params: Sequence[tuple[str, str]], stmt: st.Statement
) -> ValidationError | None:
    """The error for the first of ``params`` that ``listed`` does not allow; None when all pass."""
    where = f"warehouse {wh.name} ({listed.system})"
    for key, literal in params:
        lower = key.lower()
        if listed.allows(lower):
            failed = await try_listed(wh, lower, literal) if listed.probe_listed else None
            if failed is None:
                continue
            return ValidationError(
                f"session parameter {key.upper()} = {literal} cannot be set for a run: on {where},"
                f" SET SESSION fails: {failed}",
                code="UNSUPPORTED_PARAMETER",
                span=_param_span(stmt, key),
            )
        why = listed.refused.get(lower)
        if why is not None:
            return ValidationError(
                f"session parameter {key.upper()} cannot be set for a run: on {where} it is {why}",
                code="UNSUPPORTED_PARAMETER",
                span=_param_span(stmt, key),
            )
        if listed.probe_unlisted and await try_unlisted(wh, lower, literal):
            continue
        close = difflib.get_close_matches(lower, sorted(listed.settable), n=3, cutoff=0.75)
        hint = f"; did you mean {', '.join(c.upper() for c in close)}?" if close else ""
        return ValidationError(
            f"unknown session parameter {key.upper()}: {where} has no such setting{hint} (a task's"
            " session parameters are set in its warehouse for each run)",
            code="UNKNOWN_PARAMETER",
            span=_param_span(stmt, key),
        )
    return None


def _param_span(stmt: st.Statement, key: str) -> Span | None:
    """The span of ``key =`` in the statement's text (the statement's span when not found)."""
    m = re.search(rf"(?i)(?<![\w$\"]){re.escape(key)}\s*=", stmt.text) if stmt.text else None
    if m is None:
        return stmt.span
    inside = Span.at(stmt.text, m.start(), m.start() + len(key))
    line = stmt.span.line + inside.line - 1
    column = inside.column if inside.line > 1 else stmt.span.column + inside.column - 1
    return Span(line, column, stmt.span.start + inside.start, stmt.span.start + inside.end)
