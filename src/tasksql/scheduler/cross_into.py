"""INTO a table of another warehouse: ``INTO <warehouse>.[<schema>.]<table>``.

The first part of an INTO name with two or three parts names a warehouse when a warehouse has
that name (:func:`target_of`); the rest is the table in it. Naming the task's own warehouse is the
same as leaving it out. Otherwise the run goes as follows (:func:`run_into_other`):

1. the target table's columns are read in the target warehouse (missing: ``INTO_TABLE_NOT_FOUND``,
   unless the task says ``CREATE IF NOT EXISTS``: then the table is created from the first batch,
   see :mod:`.into_create`);
2. the body runs in the task's warehouse as it would without INTO (its statements commit there,
   all or nothing for a script where that warehouse has transactions), its connection held while
   the rows of its last statement, a query, are read;
3. the columns (of the first batch) are matched by name, case-insensitive, as for INTO in the
   same warehouse (target columns the query lacks get their defaults, query columns the target
   lacks are dropped; none in common: ``INTO_NO_MATCHING_COLUMNS``);
4. the rows are streamed from the task's warehouse as Arrow record batches of :data:`BATCH_ROWS`
   rows (:meth:`~tasksql.warehouses.base.Warehouse.stream_body`: the next batch is read while the
   previous one is written, never further ahead, so memory holds two batches whatever the
   result's size) and written as they come, each batch one ``INSERT INTO target (...) SELECT ...
   FROM tasksql_into_rows`` where the batch is an extra relation of the target (registered Arrow
   in DuckDB, a temporary table elsewhere); the target casts each value to its column's type (a
   value it cannot hold: ``INTO_WRITE_FAILED``). Every batch is in ONE transaction of the target
   where it has transactions (DuckDB, SQLite, PostgreSQL, MySQL/MariaDB): a run that fails, times
   out or is cancelled while writing leaves the target table as it was. ClickHouse has none: the
   batches written stay.
5. where the table has the column :data:`~.into_create.RUN_COLUMN`, every row written carries the
   run's key (``run_key``: the task and its scheduled instant, the same for every attempt of the
   run), and the rows of that key are deleted first (in the transaction; on ClickHouse by a
   mutation waited for): a retry replaces what a failed attempt left instead of adding to it.

Guarantee: *at least once*. The body's own statements and the target's write are two commits in
two databases, and no completion marker is written for such runs; a node lost after the target
committed may have its run recorded NODE_LOST or run again, and writes the rows again then
(replacing them where the table has the run column).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tasksql.errors import QueryFailed, WarehouseNotFound
from tasksql.model import QualifiedName
from tasksql.scheduler.into_create import RUN_COLUMN, create_sql, created_columns
from tasksql.warehouses._sqltext import SQLSTATE_UNDEFINED_TABLE, TableName, parse_table_name, query_text
from tasksql.warehouses.base import BodyResult, CancelToken, ResultSet, Warehouse

if TYPE_CHECKING:
    from collections.abc import Awaitable

#: Rows per INSERT into the target warehouse.
BATCH_ROWS = 50_000
#: The name of a batch in the target's INSERT (bare: valid unquoted in every dialect).
BATCH_RELATION = "tasksql_into_rows"


def _quote_for(dialect: str) -> Callable[[str], str]:
    if dialect == "mysql":
        from tasksql.warehouses.mysql_sql import quote as mysql_quote

        return mysql_quote
    if dialect == "clickhouse":
        from tasksql.warehouses.clickhouse_sql import quote as ch_quote

        return ch_quote
    from tasksql.warehouses._sqltext import quote_ident

    return quote_ident


async def target_of(
    into: QualifiedName, own: Warehouse, lookup: Callable[[str], Awaitable[Warehouse]] | None
) -> tuple[Warehouse, str] | None:
    """(the other warehouse, the table in it as SQL text) when the first part of ``into`` names a
    warehouse other than ``own``; None when the INTO table is in the task's own warehouse (then
    :func:`local_name` says how to name it there)."""
    parts = into.parts
    if lookup is None or len(parts) < 2:
        return None
    try:
        other = await lookup(parts[0])
    except WarehouseNotFound:
        return None
    if other is own or other.name == own.name:
        return None
    return other, str(QualifiedName.of(*parts[1:]))


def local_name(into: QualifiedName, own: Warehouse) -> str:
    """The INTO table as the task's own warehouse names it: without a leading part naming it."""
    parts = into.parts
    if len(parts) >= 2 and parts[0].lower() == own.name.lower():
        return str(QualifiedName.of(*parts[1:]))
    return str(into)


def _table_sql(table: TableName, dialect: str) -> str:
    return table.render(_quote_for(dialect))


async def run_into_other(
    source: Warehouse,
    target: Warehouse,
    table: str,
    statements: Sequence[str],
    *,
    transactional: bool,
    session_params: Sequence[tuple[str, str]],
    tables: dict[str, pa.Table],
    remaining: Callable[[], float],
    token: CancelToken,
    run_key: str | None = None,
    create: bool = False,
) -> BodyResult:
    """Run the body in ``source`` and append its last query's rows to ``table`` of ``target``
    (see the module's docstring for the steps and the guarantee). ``run_key`` names the run across
    its attempts (written into :data:`~.into_create.RUN_COLUMN` where the table has it); ``create``:
    create the table from the query's columns when it does not exist.

    :raises QueryFailed: ``INTO_NOT_A_QUERY``, ``INTO_TABLE_NOT_FOUND``, ``INTO_NO_MATCHING_COLUMNS``,
        ``INTO_WRITE_FAILED`` (the target refused a batch: its message, e.g. a value its column's
        type cannot hold), or what the task's warehouse failed. :raises QueryTimeout,
        QueryCancelled: as any body.
    """
    if not statements:
        raise QueryFailed("INTO needs a body that ends with a query", code="INTO_NOT_A_QUERY")
    query_text(statements[-1], source.dialect)  # INTO_NOT_A_QUERY before anything runs
    name = parse_table_name(table)
    table_sql = _table_sql(name, target.dialect)
    shown = f"{table_sql} in warehouse {target.name}"
    target_cols = await target.table_columns(table)
    if target_cols is None and not create:
        raise QueryFailed(
            f"INTO table {shown} does not exist (write INTO ... CREATE IF NOT EXISTS to have it created)",
            code="INTO_TABLE_NOT_FOUND",
            sqlstate=SQLSTATE_UNDEFINED_TABLE,
        )
    quote = _quote_for(target.dialect)
    state: dict[str, Any] = {"written": 0, "cols": target_cols}
    no_txn = target.dialect == "clickhouse"  # ClickHouse, chdb: each batch on its own

    async def prepare(writer: Any, batch: pa.RecordBatch) -> tuple[list[tuple[int, str]], str]:
        """(query column index, target column) pairs and the INSERT, from the first batch; the
        table created first when asked and missing, the run's earlier rows deleted."""
        if "pairs" in state:
            return state["pairs"], state["insert"]
        if state["cols"] is None:  # in the rows' transaction where DDL is transactional
            ddl = create_sql(table_sql, batch.schema, target.dialect, quote)
            await writer.execute(ddl, timeout=remaining(), token=token)
            state["cols"] = created_columns(batch.schema, target.dialect)
        cols_now: list[str] = state["cols"]
        by_name: dict[str, str] = {}
        for c in cols_now:
            by_name.setdefault(c.lower(), c)
        keyed = by_name.pop(RUN_COLUMN, None) if run_key is not None else None
        pairs = [(i, t) for i, c in enumerate(batch.schema.names) if (t := by_name.pop(c.lower(), None))]
        if not pairs:
            raise QueryFailed(
                f"INTO {shown}: no column of the query ({', '.join(batch.schema.names) or 'none'})"
                f" matches a column of the table ({', '.join(cols_now) or 'none'})",
                code="INTO_NO_MATCHING_COLUMNS",
            )
        names = ", ".join(quote(t) for _, t in pairs)
        insert = f"INSERT INTO {table_sql} ({names}) SELECT {names} FROM {BATCH_RELATION}"
        if keyed is not None and run_key is not None:
            key = "'" + run_key.replace("'", "''") + "'"
            names_k = f"{names}, {quote(keyed)}"
            insert = f"INSERT INTO {table_sql} ({names_k}) SELECT {names}, {key} FROM {BATCH_RELATION}"
            await _forget_run(writer, target.dialect, table_sql, quote(keyed), key, remaining, token)
        state["pairs"], state["insert"] = pairs, insert
        return pairs, insert

    async def stream_into(writer: Any) -> BodyResult:
        async def sink(batch: pa.RecordBatch) -> None:
            pairs, insert = await prepare(writer, batch)
            if batch.num_rows == 0:
                return
            rows = pa.table({t: batch.column(i) for i, t in pairs})
            try:
                rs = await writer.execute(
                    insert, tables={BATCH_RELATION: rows}, timeout=remaining(), token=token
                )
            except QueryFailed as exc:
                raise QueryFailed(
                    f"INTO {shown}: the table refused rows {state['written'] + 1} to"
                    f" {state['written'] + rows.num_rows} ({_described(rows.schema)}): {exc.message}",
                    code="INTO_WRITE_FAILED",
                    sqlstate=exc.sqlstate,
                ) from None
            state["written"] += rs.rowcount if rs.rowcount else rows.num_rows

        return await source.stream_body(
            statements,
            sink=sink,
            batch_rows=BATCH_ROWS,
            transactional=transactional,
            session_params=session_params,
            tables=tables,
            timeout=remaining(),
            token=token,
        )

    if no_txn:
        result = await stream_into(target)
    else:
        if state["cols"] is None and target.dialect == "mysql":
            # MySQL commits the open transaction at CREATE TABLE: created before it, from the
            # query's columns (the query run once more with LIMIT 0)
            first: list[pa.Schema] = []

            async def schema_only(batch: pa.RecordBatch) -> None:
                first.append(batch.schema)

            probe = f"SELECT * FROM ({query_text(statements[-1], source.dialect)}) tasksql_q LIMIT 0"
            await source.stream_body(
                [probe], sink=schema_only, batch_rows=1, transactional=False, tables=tables,
                session_params=session_params, timeout=remaining(), token=token,
            )  # fmt: skip
            ddl = create_sql(table_sql, first[0], target.dialect, quote)
            await target.execute(ddl, timeout=remaining(), token=token)
            state["cols"] = created_columns(first[0], target.dialect)
        async with target.transaction() as txn:
            result = await stream_into(txn)
    written = int(state["written"])
    return BodyResult(
        rows_produced=result.rows_produced,
        rows_inserted=result.rows_inserted + written,
        last=ResultSet(rowcount=written),
    )


def _described(schema: pa.Schema) -> str:
    return ", ".join(f"{f.name} {f.type}" for f in schema)


async def _forget_run(
    writer: Any,
    dialect: str,
    table_sql: str,
    column: str,
    key: str,
    remaining: Callable[[], float],
    token: CancelToken,
) -> None:
    """Delete the rows an earlier attempt of this run wrote, so that a retry replaces them. In a
    transactional target the DELETE is in the rows' transaction; ClickHouse deletes by a mutation,
    waited for (only when there are rows to delete: a mutation rewrites the table's parts)."""
    where = f"{column} = {key}"
    if dialect != "clickhouse":
        await writer.execute(f"DELETE FROM {table_sql} WHERE {where}", timeout=remaining(), token=token)
        return
    found = await writer.execute(
        f"SELECT count() FROM {table_sql} WHERE {where}", timeout=remaining(), token=token
    )
    if not found.rows or not int(found.rows[0][0]):
        return
    await writer.execute(f"ALTER TABLE {table_sql} DELETE WHERE {where}", timeout=remaining(), token=token)
    while True:  # ALTER ... DELETE returns before the mutation is done
        left = await writer.execute(
            f"SELECT count() FROM {table_sql} WHERE {where}", timeout=remaining(), token=token
        )
        if not left.rows or not int(left.rows[0][0]):
            return
        await asyncio.sleep(0.05)
