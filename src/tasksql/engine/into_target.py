"""Where a task's INTO table is, checked when the task is created or altered.

``INTO <warehouse>.[<schema>.]<table>`` (the first of two or three parts names a warehouse other
than the task's) writes into that warehouse (:mod:`tasksql.scheduler.cross_into`): the table is
looked for there, and a notice says when it is missing or that warehouse cannot be reached.
Otherwise a run inserts its rows into the INTO table *in the task's own warehouse* (one
transaction, one connection). So at CREATE TASK and at ALTER TASK (when INTO or WAREHOUSE changes):

* the table exists in the task's warehouse: accepted;
* it exists only in other warehouses: refused (``INTO_OTHER_WAREHOUSE``), naming where it is and
  how to name it there (``INTO <warehouse>.<table>``);
* ``INTO <warehouse>.<schema>.<table>`` whose first part names no warehouse, the table not being in
  the task's own warehouse either: refused (``INTO_WAREHOUSE_NOT_FOUND``);
* ``CREATE IF NOT EXISTS`` after an INTO table of the task's own warehouse: refused
  (``INTO_CREATE_LOCAL``; it creates tables of other warehouses only);
* it exists nowhere yet: accepted with a notice. The Timeplus habit is to create the stream first,
  but a table created after the task (or by an earlier statement of its own body) is legitimate;
  until it exists every run fails with ``INTO_TABLE_NOT_FOUND``;
* the task's warehouse cannot be reached now (or not within :data:`PROBE_TIMEOUT_S` seconds):
  accepted with a notice saying the target was not checked.

Other warehouses are only looked at when the table is missing from the task's own, each for at most
:data:`PROBE_TIMEOUT_S` seconds; one that cannot be reached is skipped. A look that takes longer is
not interrupted (a warehouse being opened finishes opening in the background); the statement just
stops waiting for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from tasksql.engine.core import Engine
from tasksql.errors import TasksqlError, ValidationError
from tasksql.model import DEFAULT_WAREHOUSE, QualifiedName, TaskDef, effective_warehouse
from tasksql.model.task import quote_ident
from tasksql.sql import statements as st

#: Seconds a warehouse may take to answer whether it has the table.
PROBE_TIMEOUT_S = 5.0

T = TypeVar("T")


async def check_into(engine: Engine, task: TaskDef, stmt: st.Statement) -> tuple[str, ...]:
    """The notices about ``task``'s INTO target (none when it has no INTO or the table is there).

    :raises ValidationError: the table exists only in other warehouses (code
        ``INTO_OTHER_WAREHOUSE``), with the span of the INTO clause.
    """
    if task.into is None:
        return ()
    target = str(task.into)
    own = effective_warehouse(task)
    shown = engine.display_name(task.name)
    parts = task.into.parts
    others = await _other_warehouses(engine, own)
    if len(parts) >= 2 and parts[0] != own and parts[0] in others:
        return await _check_other(
            engine, shown, parts[0], str(QualifiedName.of(*parts[1:])), create=task.into_create
        )
    if task.into_create:
        raise ValidationError(
            f"INTO {target} CREATE IF NOT EXISTS: the table would be in the task's own warehouse {own};"
            " CREATE IF NOT EXISTS is for a table of another warehouse (INTO <warehouse>.<table>);"
            f" in warehouse {own} create it in the body or beforehand",
            code="INTO_CREATE_LOCAL",
            span=stmt.spans.get("into_create") or stmt.spans.get("into") or stmt.span,
        )
    try:
        found = await _within(_has_table(engine, own, target), PROBE_TIMEOUT_S)
    except (TasksqlError, TimeoutError) as err:
        why = err.message if isinstance(err, TasksqlError) else f"no answer within {PROBE_TIMEOUT_S:g} s"
        why = " ".join(why.split())  # a driver's message may span lines; a notice is one line
        return (
            f"task {shown}: INTO {target} was not checked: warehouse {own} cannot be reached now ({why})",
        )
    if found:
        return ()
    if len(parts) == 3 and parts[0] != own:
        # three parts: <warehouse>.<schema>.<table>, the warehouse named not existing (a table of
        # the task's own warehouse named <database>.<schema>.<table> would have been found above)
        raise ValidationError(
            f"INTO {target}: there is no warehouse {parts[0]} (warehouses: {', '.join([own, *others])}),"
            f" and warehouse {own} has no table {target}: create the warehouse, or name an existing one",
            code="INTO_WAREHOUSE_NOT_FOUND",
            span=stmt.spans.get("into") or stmt.span,
        )
    elsewhere = [name for name in others if await _probe(engine, name, target)]
    if elsewhere:
        where = ", ".join(elsewhere)
        hint = _qualified(elsewhere[0], task.into.parts)
        raise ValidationError(
            f"INTO table {target} exists in warehouse {where}, but task {shown} runs on warehouse {own}:"
            f" write INTO {hint} to insert into warehouse {elsewhere[0]},"
            f" or create {target} in warehouse {own}",
            code="INTO_OTHER_WAREHOUSE",
            span=stmt.spans.get("into") or stmt.spans.get("warehouse") or stmt.span,
        )
    return (
        f"task {shown}: INTO table {target} does not exist in warehouse {own} yet; its runs fail"
        " (INTO_TABLE_NOT_FOUND) until it is created there",
    )


def _qualified(warehouse: str, parts: tuple[str, ...]) -> str:
    return ".".join(quote_ident(p) for p in (warehouse, *parts))


async def _check_other(
    engine: Engine, shown: str, warehouse: str, table: str, *, create: bool
) -> tuple[str, ...]:
    """The notices about an INTO table named in another warehouse."""
    try:
        found = await _within(_has_table(engine, warehouse, table), PROBE_TIMEOUT_S)
    except (TasksqlError, TimeoutError) as err:
        why = err.message if isinstance(err, TasksqlError) else f"no answer within {PROBE_TIMEOUT_S:g} s"
        why = " ".join(why.split())
        return (
            f"task {shown}: INTO {warehouse}.{table} was not checked: warehouse {warehouse} cannot be"
            f" reached now ({why})",
        )
    if found:
        return ()
    if create:
        return (
            f"task {shown}: INTO table {table} does not exist in warehouse {warehouse} yet;"
            " its first run creates it",
        )
    return (
        f"task {shown}: INTO table {table} does not exist in warehouse {warehouse} yet; its runs fail"
        " (INTO_TABLE_NOT_FOUND) until it is created there",
    )


async def _has_table(engine: Engine, warehouse: str, table: str) -> bool:
    wh = await engine.warehouse(warehouse)
    return await wh.table_columns(table) is not None


async def _other_warehouses(engine: Engine, own: str) -> list[str]:
    names = [r.definition.name for r in await engine.catalog.list_warehouses()]
    if DEFAULT_WAREHOUSE not in names:
        names.insert(0, DEFAULT_WAREHOUSE)
    return [n for n in names if n != own]


async def _probe(engine: Engine, warehouse: str, table: str) -> bool:
    """Whether ``warehouse`` has ``table``; False when it cannot tell within the time allowed."""
    try:
        return await _within(_has_table(engine, warehouse, table), PROBE_TIMEOUT_S)
    except (TasksqlError, TimeoutError):
        return False


async def _within(aw: Awaitable[T], seconds: float) -> T:
    """``aw``'s result if it comes within ``seconds``, else TimeoutError; ``aw`` is not cancelled."""
    task = asyncio.ensure_future(aw)
    try:
        return await asyncio.wait_for(asyncio.shield(task), seconds)
    except TimeoutError:
        task.add_done_callback(_settled)
        raise


def _settled(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: a late failure is nobody's to report
