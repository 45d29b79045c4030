"""INTO a table of another warehouse: ``INTO <warehouse>.[<schema>.]<table>``.

The first part of an INTO name with two or three parts names a warehouse when a warehouse has
that name (:func:`target_of`); the rest is the table in it. Naming the task's own warehouse is the
same as leaving it out. Otherwise the run goes as follows (:func:`run_into_other`):

1. the target table's columns are read in the target warehouse (missing: ``INTO_TABLE_NOT_FOUND``);
2. the body runs in the task's warehouse as it would without INTO (its statements commit there,
   all or nothing for a script where that warehouse has transactions), its connection held while
   the rows of its last statement, a query, are read;
3. the columns (of the first batch) are matched by name, case-insensitive, as for INTO in the
   same warehouse (target columns the query lacks get their defaults, query columns the target
   lacks are dropped; none in common: ``INTO_NO_MATCHING_COLUMNS``);
4. the rows are streamed from the task's warehouse as Arrow record batches of :data:`BATCH_ROWS`
   rows (:meth:`~tasksql.warehouses.base.Warehouse.stream_body`: the next batch is read only when
   the previous one is written, so memory holds one batch whatever the result's size) and written
   as they come, each batch one ``INSERT
   INTO target (...) SELECT ... FROM tasksql_into_rows`` where the batch is an extra relation of the
   target (registered Arrow in DuckDB, a temporary table elsewhere); the target casts each value to
   its column's type. Every batch is in ONE transaction of the target where it has transactions
   (DuckDB, SQLite, PostgreSQL, MySQL/MariaDB): a run that fails, times out or is cancelled while
   writing leaves the target table as it was. ClickHouse has none: the batches written stay.

Guarantee: *at least once*. The body's own statements and the target's write are two commits in
two databases, and no completion marker is written for such runs; a node lost after the target
committed may have its run recorded NODE_LOST or run again, and writes the rows again then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tasksql.errors import QueryFailed, WarehouseNotFound
from tasksql.model import QualifiedName
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
) -> BodyResult:
    """Run the body in ``source`` and append its last query's rows to ``table`` of ``target``
    (see the module's docstring for the steps and the guarantee).

    :raises QueryFailed: ``INTO_NOT_A_QUERY``, ``INTO_TABLE_NOT_FOUND``, ``INTO_NO_MATCHING_COLUMNS``,
        or what either warehouse failed. :raises QueryTimeout, QueryCancelled: as any body.
    """
    if not statements:
        raise QueryFailed("INTO needs a body that ends with a query", code="INTO_NOT_A_QUERY")
    query_text(statements[-1], source.dialect)  # INTO_NOT_A_QUERY before anything runs
    name = parse_table_name(table)
    shown = f"{_table_sql(name, target.dialect)} in warehouse {target.name}"
    target_cols = await target.table_columns(table)
    if target_cols is None:
        raise QueryFailed(
            f"INTO table {shown} does not exist",
            code="INTO_TABLE_NOT_FOUND",
            sqlstate=SQLSTATE_UNDEFINED_TABLE,
        )
    by_name: dict[str, str] = {}
    for c in target_cols:
        by_name.setdefault(c.lower(), c)
    quote = _quote_for(target.dialect)
    state: dict[str, Any] = {"written": 0}

    def matched(batch: pa.RecordBatch) -> tuple[list[tuple[int, str]], str]:
        """(query column index, target column) pairs and the INSERT, from the first batch."""
        if "pairs" not in state:
            names = dict(by_name)
            pairs = [(i, t) for i, c in enumerate(batch.schema.names) if (t := names.pop(c.lower(), None))]
            if not pairs:
                raise QueryFailed(
                    f"INTO {shown}: no column of the query ({', '.join(batch.schema.names) or 'none'})"
                    f" matches a column of the table ({', '.join(target_cols) or 'none'})",
                    code="INTO_NO_MATCHING_COLUMNS",
                )
            cols = ", ".join(quote(t) for _, t in pairs)
            state["pairs"] = pairs
            state["insert"] = (
                f"INSERT INTO {_table_sql(name, target.dialect)} ({cols}) SELECT {cols} FROM {BATCH_RELATION}"
            )
        return state["pairs"], state["insert"]

    async def stream_into(writer: Any) -> BodyResult:
        async def sink(batch: pa.RecordBatch) -> None:
            pairs, insert = matched(batch)
            if batch.num_rows == 0:
                return
            rows = pa.table({t: batch.column(i) for i, t in pairs})
            rs = await writer.execute(insert, tables={BATCH_RELATION: rows}, timeout=remaining(), token=token)
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

    if target.dialect == "clickhouse":  # no transactions (ClickHouse, chdb): each batch on its own
        result = await stream_into(target)
    else:
        async with target.transaction() as txn:
            result = await stream_into(txn)
    written = int(state["written"])
    return BodyResult(
        rows_produced=result.rows_produced,
        rows_inserted=result.rows_inserted + written,
        last=ResultSet(rowcount=written),
    )
