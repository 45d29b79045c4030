"""Arrow tables as temporary tables for warehouses that cannot scan Arrow directly (SQLite, PostgreSQL).

:func:`column_types` gives a column type per Arrow field in the warehouse's dialect, and
:func:`rows` the values as Python objects the driver accepts for those types. Nested values (lists,
structs, maps) become JSON text (``jsonb`` in PostgreSQL).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.types as pat


def _pg_type(t: Any) -> str:
    if pat.is_dictionary(t):
        return _pg_type(t.value_type)
    checks: list[tuple[Callable[[Any], bool], str]] = [
        (pat.is_boolean, "boolean"),
        (lambda x: pat.is_int8(x) or pat.is_int16(x) or pat.is_uint8(x), "smallint"),
        (lambda x: pat.is_int32(x) or pat.is_uint16(x), "integer"),
        (lambda x: pat.is_int64(x) or pat.is_uint32(x), "bigint"),
        (pat.is_uint64, "numeric"),
        (lambda x: pat.is_float16(x) or pat.is_float32(x), "real"),
        (pat.is_float64, "double precision"),
        (pat.is_date, "date"),
        (pat.is_time, "time"),
        (pat.is_duration, "interval"),
        (lambda x: pat.is_binary(x) or pat.is_large_binary(x) or pat.is_fixed_size_binary(x), "bytea"),
        (pat.is_nested, "jsonb"),
    ]
    if pat.is_decimal(t):
        return f"numeric({t.precision},{t.scale})" if t.precision <= 1000 else "numeric"
    if pat.is_timestamp(t):
        return "timestamptz" if t.tz is not None else "timestamp"
    for check, name in checks:
        if check(t):
            return name
    return "text"


def _sqlite_type(t: Any) -> str:
    if pat.is_dictionary(t):
        return _sqlite_type(t.value_type)
    if pat.is_boolean(t) or pat.is_integer(t):
        return "INTEGER"
    if pat.is_floating(t):
        return "REAL"
    if pat.is_binary(t) or pat.is_large_binary(t) or pat.is_fixed_size_binary(t):
        return "BLOB"
    return "TEXT"


def column_types(table: pa.Table, dialect: str) -> list[tuple[str, str]]:
    """(column name, SQL type) for each column of ``table``, for ``postgres`` or ``sqlite``."""
    pick = _pg_type if dialect == "postgres" else _sqlite_type
    return [(f.name, pick(f.type)) for f in table.schema]


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


def _sqlite_value(v: Any) -> Any:
    if v is None or isinstance(v, int | float | str | bytes):
        return int(v) if isinstance(v, bool) else v
    if isinstance(v, datetime | date | time):
        return v.isoformat()
    if isinstance(v, Decimal | timedelta):
        return str(v)
    if isinstance(v, list | dict | tuple):
        return _json(v)
    return str(v)


def _pg_value(v: Any) -> Any:
    if isinstance(v, list | dict | tuple):
        return _json(v)
    return v


def _column_converter(t: Any, dialect: str) -> Callable[[Any], Any] | None:
    """The per-value conversion of a column of Arrow type ``t`` (None: the values as they are),
    decided once per column rather than per value: the conversion is most of the cost of moving
    rows into SQLite or PostgreSQL."""
    if pat.is_dictionary(t):
        return _column_converter(t.value_type, dialect)
    if dialect == "postgres":
        return _json if pat.is_nested(t) else None
    if pat.is_integer(t) or pat.is_floating(t) or pat.is_string(t) or pat.is_large_string(t):
        return None
    if pat.is_binary(t) or pat.is_large_binary(t) or pat.is_null(t):
        return None
    if pat.is_boolean(t):
        return int
    if pat.is_timestamp(t) or pat.is_date(t) or pat.is_time(t):
        return lambda v: v.isoformat()
    return _sqlite_value


def rows(table: pa.Table, dialect: str, batch: int = 10_000) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of ``table`` as tuples of driver-ready values, ``batch`` rows at a time."""
    converters = [_column_converter(f.type, dialect) for f in table.schema]
    for rb in table.to_batches(max_chunksize=batch):
        cols: list[list[Any]] = []
        for column, convert in zip(rb.columns, converters, strict=True):
            values = column.to_pylist()
            if convert is not None:
                values = [None if v is None else convert(v) for v in values]
            cols.append(values)
        yield list(zip(*cols, strict=True))


def csv_safe(table: pa.Table) -> bool:
    """Whether every column of ``table`` is of a type whose CSV text (as Arrow writes it) PostgreSQL's
    ``COPY ... (FORMAT csv)`` reads back as the same value: numbers, text, booleans, dates and
    timestamps (a NULL is an unquoted empty field, an empty string a quoted one)."""
    return all(
        pat.is_integer(t) or pat.is_floating(t) or pat.is_decimal(t) or pat.is_string(t)
        or pat.is_large_string(t) or pat.is_boolean(t) or pat.is_date(t) or pat.is_timestamp(t)
        for t in table.schema.types
    )  # fmt: skip


def csv_chunks(table: pa.Table, batch: int = 20_000) -> Iterator[bytes]:
    """The rows of ``table`` (see :func:`csv_safe`) as CSV without a header, ``batch`` rows a chunk."""
    import io

    import pyarrow.csv as pcsv

    options = pcsv.WriteOptions(include_header=False)
    for rb in table.to_batches(max_chunksize=batch):
        out = io.BytesIO()
        pcsv.write_csv(rb, out, options)
        yield out.getvalue()
