"""CREATE / DROP / DESCRIBE / SHOW STREAM: change-tracking streams on tables.

A stream lives in the warehouse of its table (``WAREHOUSE = w`` / ``IN WAREHOUSE w``; the
default warehouse otherwise), its definition and offset there too
(:mod:`tasksql.warehouses.streams`): so the offset moves in the same warehouse transaction as the
statement that consumes the stream. The Timeplus form ``CREATE STREAM s (columns)`` creates an
append-only table, as before (:func:`tasksql.engine.objects.create_stream`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from tasksql.engine import objects
from tasksql.engine.core import Engine
from tasksql.engine.results import Result
from tasksql.errors import QueryFailed, ValidationError
from tasksql.sql import statements as st
from tasksql.sql.names import render_name
from tasksql.warehouses import streams as ws
from tasksql.warehouses.base import NO_TABLES, CancelToken, ResultSet, Warehouse, WarehouseTransaction
from tasksql.warehouses.stream_sql import StreamDef

if TYPE_CHECKING:
    import pyarrow as pa

_SHOW_COLUMNS = (
    "created_on",
    "name",
    "warehouse",
    "table_name",
    "type",
    "mode",
    "stale",
    "show_initial_rows",
    "comment",
)


async def create_stream(engine: Engine, stmt: st.CreateStream) -> Result:
    if stmt.on_table is None:
        return await objects.create_stream(engine, stmt)
    warehouse = await engine.warehouse(stmt.warehouse)
    try:
        ws.check_dialect(warehouse)
    except ValidationError as exc:
        exc.span = stmt.spans.get("warehouse", stmt.span)
        raise
    name = stmt.name.name
    try:
        created = await ws.create(
            warehouse,
            name=name,
            table=render_name(stmt.on_table),
            append_only=stmt.append_only,
            show_initial_rows=stmt.show_initial_rows,
            comment=stmt.comment,
            or_replace=stmt.or_replace,
            if_not_exists=stmt.if_not_exists,
            created_on=engine.now().isoformat(),
        )
    except QueryFailed as exc:
        if exc.code in ("STREAM_EXISTS", "TABLE_NOT_FOUND"):
            key = "name" if exc.code == "STREAM_EXISTS" else "on_table"
            raise ValidationError(exc.message, code=exc.code, span=stmt.spans.get(key, stmt.span)) from exc
        raise
    if not created:
        return Result.status(f"{name} already exists, statement succeeded.", "CREATE STREAM")
    return Result.status(f"Stream {name} successfully created.", "CREATE STREAM")


async def drop_stream(engine: Engine, stmt: st.DropStream) -> Result:
    warehouse = await engine.warehouse(stmt.warehouse)
    if not await ws.drop(warehouse, stmt.name):
        if stmt.if_exists:
            return Result.status(f"Drop statement executed successfully ({stmt.name} already dropped).")
        raise ValidationError(
            f"stream {stmt.name} does not exist in warehouse {warehouse.name}",
            code="STREAM_NOT_FOUND",
            span=stmt.spans.get("name", stmt.span),
        )
    return Result.status(f"{stmt.name} successfully dropped.", "DROP STREAM")


def _row(warehouse: str, s: StreamDef) -> tuple[object, ...]:
    return (
        s.created_on,
        s.name,
        warehouse,
        s.table,
        s.type,
        s.mode,
        s.stale,
        s.show_initial_rows,
        s.comment,
    )


async def show_streams(engine: Engine, stmt: st.ShowStreams) -> Result:
    from tasksql.engine.show import like

    warehouse = await engine.warehouse(stmt.warehouse)
    rows = [
        _row(warehouse.name, s)
        for s in (await ws.load(warehouse)).values()
        if stmt.like is None or like(s.name, stmt.like)
    ]
    return Result.table(_SHOW_COLUMNS, rows, "SHOW STREAMS")


async def describe_stream(engine: Engine, stmt: st.DescribeStream) -> Result:
    warehouse = await engine.warehouse(stmt.warehouse)
    s = (await ws.load(warehouse)).get(stmt.name)
    if s is None:
        raise ValidationError(
            f"stream {stmt.name} does not exist in warehouse {warehouse.name}",
            code="STREAM_NOT_FOUND",
            span=stmt.spans.get("name", stmt.span),
        )
    columns = (*_SHOW_COLUMNS, "columns", "sees")
    sees = (
        "every INSERT, UPDATE and DELETE committed by anyone"
        if s.mode == "TRIGGERS"
        else "every change committed by anyone (the table's rows compared with a snapshot at each read)"
    )
    if s.append_only:
        sees = "inserted rows (" + sees + ")"
    return Result.table(columns, [(*_row(warehouse.name, s), ", ".join(s.columns), sees)], "DESCRIBE STREAM")


async def execute_bound(
    warehouse: Warehouse,
    runner: Warehouse | WarehouseTransaction,
    sql: str,
    *,
    tables: Mapping[str, pa.Table] = NO_TABLES,
    token: CancelToken | None = None,
) -> ResultSet:
    """Run one statement that may read streams: bound to them, and when it consumes one (DML), after
    the offset claim in one transaction (``runner``'s when it is one: the user's or the script's,
    so the offset moves when THAT commits)."""
    statements, consuming = await ws.bind_statements(warehouse, [sql])
    if not consuming:
        return await runner.execute(statements[-1], tables=tables, token=token)
    if isinstance(runner, WarehouseTransaction):
        for claim in statements[:-1]:
            await runner.execute(claim, token=token)
        return await runner.execute(statements[-1], tables=tables, token=token)
    async with warehouse.transaction() as txn:
        for claim in statements[:-1]:
            await txn.execute(claim, token=token)
        return await txn.execute(statements[-1], tables=tables, token=token)
