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

A Snowflake session parameter (:mod:`tasksql.sql.snowflake_params`) is checked as what it is on the
warehouse: its equivalent setting is asked for (Snowflake's ``TIMEZONE`` as DuckDB's ``TimeZone``,
MySQL's ``time_zone``), and one with no equivalent there is kept with a notice that it has no
effect. A name the warehouse does not have is ``UNKNOWN_PARAMETER`` with the closest names; a name
it has that a run's connection cannot be given (a MySQL global variable, a PostgreSQL setting of
server start, a SQLite PRAGMA that is no setting) is ``UNSUPPORTED_PARAMETER`` saying why. A
warehouse that cannot be reached, does not answer within :data:`LIST_TIMEOUT_S` seconds, or cannot
list its settings is not asked: the parameters are then kept as written, as before. Names are
compared case-insensitively.
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
from tasksql.sql.databend_settings import DATABEND_SETTINGS
from tasksql.sql.snowflake_params import applied, no_effect, snowflake_param, warehouse_name
from tasksql.warehouses.base import Warehouse
from tasksql.warehouses.duckdb_errors import time_zone_message
from tasksql.warehouses.session_settings import SettingsList, list_settings, try_listed, try_unlisted

#: How long the warehouse is given to list its settings (and to try a name it does not list).
LIST_TIMEOUT_S = 5.0


async def check_session_params(engine: Engine, task: TaskDef, stmt: st.Statement) -> tuple[str, ...]:
    """Refuse a session parameter that ``task``'s warehouse has no setting for, or cannot set for
    a run; return a notice for each Snowflake session parameter kept with no effect there.

    :raises ValidationError: code ``UNKNOWN_PARAMETER`` (no such setting, naming the closest ones)
        or ``UNSUPPORTED_PARAMETER`` (a setting a run's connection cannot be given, saying why), at
        the parameter in ``stmt``, naming the warehouse.
    """
    if not task.session_params:
        return ()
    name = effective_warehouse(task)
    wdef = await engine.catalog.get_warehouse(name)
    if wdef is None:
        return ()
    notices = tuple(
        f"{key.upper()} is kept but has no effect on warehouse {name} ({warehouse_name(wdef.type)}): it {why}"
        for key, _ in task.session_params
        if (why := no_effect(key, wdef.type)) is not None
    )
    # what a run sets: the warehouse's own names, Snowflake's as their equivalents
    checked = [
        (key, pair) for key, literal in task.session_params for pair in applied(((key, literal),), wdef.type)
    ]
    if not checked:
        return notices
    try:
        wh = await engine.warehouse(name)
        async with asyncio.timeout(LIST_TIMEOUT_S):
            listed = await list_settings(wh)
            refusal = None if listed is None else await _refusal(wh, listed, checked, stmt)
    except (TasksqlError, TimeoutError):
        return notices  # cannot tell now: the run will
    if refusal is not None:
        raise refusal
    return notices


async def _refusal(
    wh: Warehouse,
    listed: SettingsList,
    params: Sequence[tuple[str, tuple[str, str]]],
    stmt: st.Statement,
) -> ValidationError | None:
    """The error for the first of ``params`` that ``listed`` does not allow; None when all pass.
    Each is (the key as written, (the setting a run sets, its literal))."""
    where = f"warehouse {wh.name} ({listed.system})"
    for key, (setting, literal) in params:
        lower = setting.lower()
        shown = key.upper() if lower == key.lower() else f"{key.upper()} ({listed.system}'s {setting})"
        if listed.allows(lower):
            failed = await try_listed(wh, lower, literal) if listed.probe_listed else None
            if failed is None:
                continue
            return ValidationError(
                _set_failed(shown, literal, where, failed),
                code="UNSUPPORTED_PARAMETER",
                span=_param_span(stmt, key),
            )
        why = listed.refused.get(lower)
        if why is not None:
            return ValidationError(
                f"session parameter {shown} cannot be set for a run: on {where} it is {why}",
                code="UNSUPPORTED_PARAMETER",
                span=_param_span(stmt, key),
            )
        if listed.probe_unlisted and await try_unlisted(wh, lower, literal):
            continue
        if snowflake_param(key) is not None:
            return ValidationError(
                f"session parameter {shown} cannot be set for a run: {where} has no setting {setting}",
                code="UNSUPPORTED_PARAMETER",
                span=_param_span(stmt, key),
            )
        close = difflib.get_close_matches(lower, sorted(listed.settable), n=3, cutoff=0.75)
        hint = f"; did you mean {', '.join(c.upper() for c in close)}?" if close else ""
        return ValidationError(
            f"unknown session parameter {key.upper()}: {where} has no such setting{hint} (a task's"
            " session parameters are set in its warehouse for each run)",
            code="UNKNOWN_PARAMETER",
            span=_param_span(stmt, key),
        )
    return None


def _set_failed(shown: str, literal: str, where: str, failed: str) -> str:
    """One line saying why ``SET <shown> = <literal>`` fails and what to write instead."""
    zone = time_zone_message(failed, where=where)
    if zone is not None:
        return f"session parameter {shown} = {literal}: {zone}"
    first = failed.strip().splitlines()[0] if failed.strip() else failed
    return (
        f"session parameter {shown} = {literal} cannot be set for a run: on {where}, SET SESSION"
        f" fails: {first}"
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


def check_unset_names(task: TaskDef, names: Sequence[str], stmt: st.Statement, shown: str) -> None:
    """Refuse ``ALTER TASK ... UNSET <name>`` of a name that is neither a property (the parser
    took those), a session parameter ``task`` sets, a Snowflake session parameter (which Snowflake
    lets a task unset when it is not set) nor a Databend setting: it unsets nothing, most likely a
    misspelling.

    :raises ValidationError: code ``UNKNOWN_PROPERTY`` at the name, naming what may be unset.
    """
    have = [key for key, _ in task.session_params]
    for name in names:
        if name in have or snowflake_param(name) is not None or name in DATABEND_SETTINGS:
            continue
        close = difflib.get_close_matches(name, have, n=1, cutoff=0.75)
        hint = f"; did you mean {close[0].upper()}?" if close else ""
        set_here = f" (task {shown} sets {', '.join(k.upper() for k in have)})" if have else ""
        raise ValidationError(
            f"unknown property {name.upper()} in UNSET: not a task property, a Snowflake session"
            f" parameter, a Databend setting, nor a session parameter of task {shown}{set_here}{hint}",
            code="UNKNOWN_PROPERTY",
            span=_unset_span(stmt, name),
            expected=["<property>", "<session parameter>", "TAG", "CONTACT"],
        )


def _unset_span(stmt: st.Statement, name: str) -> Span | None:
    """The span of ``name`` after UNSET in the statement's text (the statement's when not found)."""
    text = stmt.text or ""
    after = re.search(r"(?i)\bUNSET\b", text)
    m = re.search(rf"(?i)(?<![\w$\"]){re.escape(name)}(?![\w$])", text[after.end() :]) if after else None
    if m is None:
        return stmt.span
    start = after.end() + m.start() if after else m.start()
    inside = Span.at(text, start, start + len(name))
    line = stmt.span.line + inside.line - 1
    column = inside.column if inside.line > 1 else stmt.span.column + inside.column - 1
    return Span(line, column, stmt.span.start + inside.start, stmt.span.start + inside.end)
