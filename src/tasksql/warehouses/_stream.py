"""Rows read a batch at a time, as Arrow record batches (the streaming read of a query).

Each backend's :meth:`~._session.WarehouseSession.stream` reads a query's result from its driver
``batch_rows`` rows at a time (DuckDB ``to_arrow_reader``, a PostgreSQL server-side cursor, a
MySQL unbuffered cursor, SQLite and ClickHouse row iterators) and turns each slice into one
:class:`pyarrow.RecordBatch` with :func:`batch_from_rows`, so that no more than one batch (and the
driver's own buffer) is held at once. A query without rows still yields one empty batch, which
carries the column names.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pyarrow as pa

from tasksql.errors import QueryFailed


def batch_from_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> pa.RecordBatch:
    """One record batch of ``rows`` under ``columns``, each column's Arrow type inferred from its
    values (a column of NULLs only has Arrow's null type).

    :raises QueryFailed: a column's values have no common Arrow type (code
        ``INTO_INCOMPATIBLE_TYPES``), e.g. SQLite text and numbers in one column.
    """
    arrays = []
    for i, name in enumerate(columns):
        try:
            arrays.append(pa.array([r[i] for r in rows]))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise QueryFailed(
                f"column {name} of the query has values of no common type, which cannot be moved"
                f" between warehouses: {exc}",
                code="INTO_INCOMPATIBLE_TYPES",
                sqlstate="42804",
            ) from None
    return pa.RecordBatch.from_arrays(arrays, names=list(columns))


def batches_of(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """``rows`` (any iterable, consumed lazily) as record batches of at most ``batch_rows`` rows;
    at least one batch."""
    chunk: list[Sequence[Any]] = []
    sent = False
    for row in rows:
        chunk.append(row)
        if len(chunk) >= batch_rows:
            yield batch_from_rows(columns, chunk)
            sent = True
            chunk = []
    if chunk or not sent:
        yield batch_from_rows(columns, chunk)


def fetched(fetchmany: Any, batch_rows: int) -> Iterator[Sequence[Any]]:
    """Rows from a DB-API cursor's ``fetchmany``, ``batch_rows`` at a time."""
    while True:
        rows = fetchmany(batch_rows)
        if not rows:
            return
        yield from rows
