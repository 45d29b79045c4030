"""Statements that are not tasksql's own: run in the default warehouse, with virtual relations spliced in."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

from tasksql import __version__
from tasksql.engine.core import Engine
from tasksql.engine.queries import current_query
from tasksql.engine.results import Result
from tasksql.engine.tags import statement_kind
from tasksql.sql import statements as st
from tasksql.sysviews.rewrite import find_refs
from tasksql.sysviews.tables import Introspection, NodeInfo, ScalarFn, materialize
from tasksql.warehouses.base import Warehouse, WarehouseTransaction


def node_info(engine: Engine) -> NodeInfo:
    """This process as system.cluster shows it (cached per engine and scheduler: it is asked for by
    every statement and run that reads a virtual relation)."""
    key = id(engine.scheduler)
    cached = engine.cache.get("node_info")
    if cached is not None and cached[0] == key:
        return cached[1]  # type: ignore[no-any-return]
    info = _node_info(engine)
    engine.cache["node_info"] = (key, info)
    return info


def _node_info(engine: Engine) -> NodeInfo:
    return NodeInfo(
        cluster_id=engine.settings.cluster_id,
        node_id=engine.scheduler.node_id
        if engine.scheduler is not None
        else engine.settings.effective_node_id,
        started_at=engine.started_at or engine.now(),
        host=socket.gethostname(),
        pid=os.getpid(),
        version=__version__,
        role="server" if engine.scheduler is not None else "embedded",
    )


def introspection(
    engine: Engine, warehouse: Warehouse, scalars: Mapping[str, ScalarFn] | None = None
) -> Introspection:
    async def evaluate(expr: str) -> object:
        rs = await warehouse.execute(f"SELECT {expr}")
        return rs.rows[0][0] if rs.rows else None

    from tasksql.engine.functions import engine_scalars

    base = engine.cache.get("scalars")
    if base is None:
        base = engine.cache["scalars"] = engine_scalars(engine)
    return Introspection(
        catalog=engine.catalog,
        now=engine.now(),
        node=node_info(engine),
        resolve=engine.resolve,
        evaluate=evaluate,
        scalars={**base, **scalars} if scalars else base,
    )


async def passthrough(engine: Engine, stmt: st.Passthrough) -> Result:
    """Run ``stmt`` in the default warehouse (in the script's transaction when it has one), under the
    running query's cancel token, so CANCEL QUERY interrupts it in the warehouse."""
    warehouse = await engine.warehouse()
    query = current_query()
    token = query.token if query is not None else None
    runner: Warehouse | WarehouseTransaction = warehouse
    if query is not None and query.transaction is not None:
        runner = query.transaction
    rewritten = find_refs(stmt.text)
    if rewritten.refs:
        tables, replacements = await materialize(introspection(engine, warehouse), rewritten)
        with rewritten.errors_as_written(replacements):  # errors name system.tasks, not its stand-in
            rs = await runner.execute(rewritten.render(replacements), tables=tables, token=token)
    else:
        rs = await runner.execute(stmt.text, token=token)
    return Result(rs.columns, rs.rows, statement_kind(stmt.text), rs.rowcount, types=rs.types)
