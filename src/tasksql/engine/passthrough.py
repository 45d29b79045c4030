"""Statements that are not tasksql's own: run in the default warehouse, with virtual relations spliced in."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

from tasksql import __version__
from tasksql.engine.core import Engine
from tasksql.engine.privileges import visible_relations
from tasksql.engine.queries import current_query
from tasksql.engine.results import Result
from tasksql.engine.sessions import BEGIN, END, MAX_OPEN_TRANSACTIONS, SqlSession, transaction_verb
from tasksql.engine.streams import execute_bound
from tasksql.engine.tags import statement_kind
from tasksql.errors import ValidationError
from tasksql.sql import statements as st
from tasksql.sysviews.rewrite import find_refs
from tasksql.sysviews.tables import Introspection, NodeInfo, ScalarFn, materialize
from tasksql.warehouses.base import CancelToken, ResultSet, Warehouse, WarehouseTransaction
from tasksql.warehouses.streams import bind_condition


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
    """Run ``stmt`` in the default warehouse (in the script's transaction when it has one, or in the
    session's explicit transaction), under the running query's cancel token, so CANCEL QUERY
    interrupts it in the warehouse. BEGIN, COMMIT and ROLLBACK outside a single-transaction script
    begin and end the session's explicit transaction (:mod:`tasksql.engine.sessions`)."""
    warehouse = await engine.warehouse()
    query = current_query()
    token = query.token if query is not None else None
    runner: Warehouse | WarehouseTransaction = warehouse
    if query is not None and query.transaction is not None:
        runner = query.transaction
    elif query is not None and query.session is not None:
        session = query.session
        verb = transaction_verb(stmt.text)
        # BEGIN and SAVEPOINT without an open transaction, COMMIT / ROLLBACK with one (else the
        # warehouse answers: BEGIN twice, COMMIT without BEGIN)
        if verb is not None and (verb == END) == session.in_transaction:
            rs = await _transaction_statement(engine, warehouse, session, stmt, verb, token)
            return Result(rs.columns, rs.rows, statement_kind(stmt.text), rs.rowcount, types=rs.types)
        if session.transaction is not None:
            runner = session.transaction
    source = await bind_condition(warehouse, stmt.text)  # SYSTEM$STREAM_HAS_DATA(...), before find_refs
    rewritten = find_refs(source, warehouse.dialect)
    if rewritten.refs:
        tables, replacements = await materialize(introspection(engine, warehouse), rewritten)
        tables = await visible_relations(engine, tables)  # what the caller may see (security on)
        with rewritten.errors_as_written(replacements):  # errors name system.tasks, not its stand-in
            rs = await execute_bound(
                warehouse, runner, rewritten.render(replacements), tables=tables, token=token
            )
    else:
        rs = await execute_bound(warehouse, runner, source, token=token)
    return Result(rs.columns, rs.rows, statement_kind(stmt.text), rs.rowcount, types=rs.types)


async def _transaction_statement(
    engine: Engine,
    warehouse: Warehouse,
    session: SqlSession,
    stmt: st.Passthrough,
    verb: str,
    token: CancelToken | None,
) -> ResultSet:
    """BEGIN without an open transaction, COMMIT / ROLLBACK with one, SAVEPOINT without one."""
    if verb == BEGIN:
        if engine.sessions.open_transactions() >= MAX_OPEN_TRANSACTIONS:
            raise ValidationError(
                f"{MAX_OPEN_TRANSACTIONS} sessions have a transaction open already; end one first",
                code="TOO_MANY_TRANSACTIONS",
                span=stmt.span,
            )
        txn = await warehouse.begin(stmt.text, token=token)
        session.began(txn, stmt.text, engine.now())
        return ResultSet()
    if verb == END:
        open_txn = session.transaction
        assert open_txn is not None
        session.transaction = None  # ended whatever becomes of the statement (a failure rolls back)
        return await open_txn.end(stmt.text, token=token)
    raise ValidationError(
        f"{statement_kind(stmt.text)} needs an open transaction: BEGIN first",
        code="NO_TRANSACTION",
        span=stmt.span,
    )
