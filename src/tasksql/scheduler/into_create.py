"""The INTO table created when a task asks for it (``INTO <warehouse>.<table> CREATE IF NOT EXISTS``).

The table is created by the first run that finds it missing, from the Arrow schema of the query's
first batch: each column gets the type the target warehouse uses for that Arrow type (a decimal
widened to precision 38, its scale kept) (the same
mapping its temporary tables use, so every value of the batch fits). The tables are in
docs/warehouses.md ("INTO another warehouse"). On a warehouse without transactions (ClickHouse,
chdb) the table also gets the column :data:`RUN_COLUMN` (``String``), so that a retry of a run
replaces the rows an earlier attempt of the same run left (see :mod:`.cross_into`), and the engine
``MergeTree ORDER BY tuple()``.

The CREATE runs before the rows' transaction: MySQL commits a transaction at any CREATE TABLE.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

#: The column that carries a run's key in rows written INTO another warehouse (when the table has it).
RUN_COLUMN = "tasksql_run"


def column_type(t: pa.DataType, dialect: str) -> str:
    """The column type ``dialect`` (duckdb, sqlite, postgres, mysql, clickhouse) gives Arrow type ``t``."""
    if dialect == "duckdb":
        return _duckdb_type(t)
    if dialect in ("postgres", "sqlite"):
        from tasksql.warehouses._arrow import column_types

        return column_types(pa.schema([pa.field("c", t)]).empty_table(), dialect)[0][1]
    if dialect == "mysql":
        from tasksql.warehouses.mysql_sql import arrow_columns

        return arrow_columns(pa.schema([pa.field("c", t)]).empty_table())[0][1]
    from tasksql.warehouses.clickhouse_sql import clickhouse_type

    return clickhouse_type(t)


def _duckdb_type(t: pa.DataType) -> str:
    import pyarrow.types as pat

    if pat.is_dictionary(t):
        return _duckdb_type(t.value_type)
    if pat.is_decimal(t):
        return f"DECIMAL({t.precision},{t.scale})" if t.precision <= 38 else "DOUBLE"
    if pat.is_timestamp(t):
        return "TIMESTAMPTZ" if t.tz is not None else "TIMESTAMP"
    checks: list[tuple[Callable[[pa.DataType], bool], str]] = [
        (pat.is_boolean, "BOOLEAN"),
        (pat.is_int8, "TINYINT"),
        (pat.is_int16, "SMALLINT"),
        (pat.is_int32, "INTEGER"),
        (pat.is_int64, "BIGINT"),
        (pat.is_uint8, "UTINYINT"),
        (pat.is_uint16, "USMALLINT"),
        (pat.is_uint32, "UINTEGER"),
        (pat.is_uint64, "UBIGINT"),
        (lambda x: pat.is_float16(x) or pat.is_float32(x), "FLOAT"),
        (pat.is_float64, "DOUBLE"),
        (pat.is_date, "DATE"),
        (pat.is_time, "TIME"),
        (pat.is_duration, "INTERVAL"),
        (lambda x: pat.is_binary(x) or pat.is_large_binary(x) or pat.is_fixed_size_binary(x), "BLOB"),
        (pat.is_nested, "JSON"),
    ]
    return next((name for check, name in checks if check(t)), "VARCHAR")


def _widened(t: pa.DataType) -> pa.DataType:
    """A decimal type as wide as it can be, its scale kept: the precision of a batch read through a
    driver is that of its values (``Decimal('1.50')`` is ``decimal128(3, 2)``), and later rows may
    need more."""
    import pyarrow.types as pat

    if pat.is_decimal(t) and t.precision < 38:
        return pa.decimal128(38, t.scale)
    return t


def create_sql(table_sql: str, schema: pa.Schema, dialect: str, quote: Callable[[str], str]) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for the INTO table ``table_sql`` with the columns of ``schema``
    (a column named :data:`RUN_COLUMN` in the query is left out: the run writes it)."""
    cols = [
        f"{quote(f.name)} {column_type(_widened(f.type), dialect)}"
        for f in schema
        if f.name.lower() != RUN_COLUMN
    ]
    if dialect == "clickhouse":
        cols.append(f"{quote(RUN_COLUMN)} String")
        return (
            f"CREATE TABLE IF NOT EXISTS {table_sql} ({', '.join(cols)}) ENGINE = MergeTree ORDER BY tuple()"
        )
    return f"CREATE TABLE IF NOT EXISTS {table_sql} ({', '.join(cols)})"


def created_columns(schema: pa.Schema, dialect: str) -> list[str]:
    """The columns :func:`create_sql` gives the table, in order."""
    names = [f.name for f in schema if f.name.lower() != RUN_COLUMN]
    return [*names, RUN_COLUMN] if dialect == "clickhouse" else names
