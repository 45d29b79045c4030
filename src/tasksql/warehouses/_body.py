"""What a job does on a warehouse session: one statement, a task body, INTO, a WHEN condition.

These functions run in a worker thread, on the session of the job, and are written once for every
backend. Arguments are already validated by the caller (names parsed, session parameters checked).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from tasksql.errors import QueryFailed
from tasksql.warehouses._session import WarehouseSession
from tasksql.warehouses._sqltext import (
    SQLSTATE_UNDEFINED_TABLE,
    TableName,
    query_text,
    wrap_query,
)
from tasksql.warehouses._supervise import Interrupter
from tasksql.warehouses.base import BodyResult, Marker, ResultSet
from tasksql.warehouses.stream_sql import HIDDEN as STREAM_CLAIM

if TYPE_CHECKING:
    import pyarrow

T = TypeVar("T")


def within_run(
    s: WarehouseSession,
    stop: Interrupter,
    *,
    tables: Mapping[str, pyarrow.Table],
    params: Sequence[tuple[str, str]],
    transactional: bool,
    work: Callable[[], T],
    marker: Marker | None = None,
) -> T:
    """Run ``work`` with the extra tables and session params in place, in a transaction if asked.

    A transaction is committed only when ``work`` succeeded and no stop was requested meanwhile;
    otherwise it is rolled back. With ``marker`` (needs ``transactional``) the run's completion
    marker is inserted in the transaction just before the COMMIT (:meth:`WarehouseSession.commit_marked`),
    so that it commits if and only if the work does. Tables and params are removed whatever happens.
    """
    try:
        if tables:
            s.add_tables(tables)
        try:
            s.start(params, transactional=transactional)  # may fail half-way: finish() undoes it
            result = work()
            if transactional:
                stop.check()  # a stop requested during the last statement wins over COMMIT
            if marker is not None:
                s.commit_marked(marker)
        except BaseException:
            s.finish(commit=False)
            raise
        if marker is None:
            s.finish(commit=True)
        return result
    finally:
        if tables:
            s.drop_tables(list(tables))


def run_statements(
    s: WarehouseSession, stop: Interrupter, statements: Sequence[str], into: TableName | None
) -> BodyResult:
    """The statements of a body in order; with ``into``, the last one's rows go to that table."""
    if into is not None and not statements:
        raise QueryFailed("INTO needs a body that ends with a query", code="INTO_NOT_A_QUERY")
    inserted = 0
    last: ResultSet | None = None
    for i, sql in enumerate(statements):
        stop.check()
        if into is not None and i == len(statements) - 1:
            count = insert_into(s, sql, into)
            last = ResultSet(rowcount=count)
        elif sql.startswith(STREAM_CLAIM):
            s.run(sql)  # a stream's offset claim (warehouses/streams.py): not the body's own rows
            continue
        else:
            last = s.run(sql)
        if last.rowcount is not None:
            inserted += last.rowcount
    if last is None:
        return BodyResult(rows_produced=0, rows_inserted=0, last=None)
    produced = last.rowcount if last.rowcount is not None else len(last.rows)
    return BodyResult(rows_produced=produced, rows_inserted=inserted, last=last)


def insert_into(s: WarehouseSession, sql: str, target: TableName) -> int:
    """Append the rows of query ``sql`` to ``target``, columns matched by name (case-insensitive).

    Target columns the query lacks get their defaults; query columns the target lacks are dropped.
    The query runs once (a ``LIMIT 0`` probe reads its column names without computing rows).

    :raises QueryFailed: ``sql`` is not a query (``INTO_NOT_A_QUERY``), the target does not exist
        (``INTO_TABLE_NOT_FOUND``), no column matches (``INTO_NO_MATCHING_COLUMNS``), or the
        warehouse failed the query or the insert.
    """
    query = query_text(sql, s.dialect)
    table = s.table_sql(target)
    target_cols = s.relation_columns(table)
    if target_cols is None:
        raise QueryFailed(
            f"INTO table {table} does not exist",
            code="INTO_TABLE_NOT_FOUND",
            sqlstate=SQLSTATE_UNDEFINED_TABLE,
        )
    query_cols = s.run(f"SELECT * FROM {wrap_query(query)} LIMIT 0").columns
    by_name: dict[str, str] = {}
    for c in target_cols:
        by_name.setdefault(c.lower(), c)
    pairs: list[tuple[str, str]] = []
    for c in query_cols:
        t = by_name.pop(c.lower(), None)
        if t is not None:
            pairs.append((t, c))
    if not pairs:
        raise QueryFailed(
            f"INTO {table}: no column of the query ({', '.join(query_cols) or 'none'}) matches a"
            f" column of the table ({', '.join(target_cols) or 'none'})",
            code="INTO_NO_MATCHING_COLUMNS",
        )
    insert = (
        f"INSERT INTO {table} ({', '.join(s.quote(t) for t, _ in pairs)})"
        f" SELECT {', '.join(s.quote(c) for _, c in pairs)} FROM {wrap_query(query)}"
    )
    return s.run(insert).rowcount or 0


def condition_sql(condition: str) -> str:
    """The statement that evaluates a WHEN condition (newlines keep a trailing comment harmless)."""
    return f"SELECT (\n{condition}\n)"


def truth(value: Any, condition: str) -> bool:
    """A WHEN result as a bool: NULL is false, numbers are true when not zero.

    :raises QueryFailed: the value is neither a boolean, a number nor NULL (``WHEN_NOT_BOOLEAN``).
    """
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return value != 0
    raise QueryFailed(
        f"the WHEN condition must give a boolean, not {type(value).__name__} {value!r}:"
        f" {condition.strip()[:80]}",
        code="WHEN_NOT_BOOLEAN",
        sqlstate="42804",
    )
