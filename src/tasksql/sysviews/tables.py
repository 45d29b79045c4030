"""Materialise tasksql's virtual relations as Arrow tables for one statement.

:func:`materialize` takes the references :func:`~tasksql.sysviews.rewrite.find_refs` found, builds an
Arrow table for each relation from the catalog (and the schedule code, for ``next_runs``), evaluates
scalar functions, and returns the tables to register and the text to splice in for each reference.
The builders of the individual relations live in :mod:`tasksql.sysviews.relations`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pyarrow as pa

from tasksql.catalog.base import Catalog
from tasksql.clock import utc
from tasksql.errors import ValidationError
from tasksql.model import QualifiedName
from tasksql.sysviews.rewrite import Arg, Rewritten, VirtualRef, sql_literal

ScalarFn = Callable[[list[object]], Awaitable[object]]
Evaluator = Callable[[str], Awaitable[object]]

_counter = itertools.count(1)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeInfo:
    """This process, as ``system.cluster`` shows it."""

    cluster_id: str
    node_id: str
    started_at: datetime
    host: str
    pid: int
    version: str
    role: str  # "server", "embedded"


@dataclass(kw_only=True)
class Introspection:
    """What the relation builders may read. ``evaluate`` computes a non-literal argument in the
    warehouse (``now() - INTERVAL 1 HOUR``); ``scalars`` maps lower-case SYSTEM$ names to handlers."""

    catalog: Catalog
    now: datetime
    node: NodeInfo
    resolve: Callable[[QualifiedName], QualifiedName]
    evaluate: Evaluator
    scalars: Mapping[str, ScalarFn] = field(default_factory=dict)
    current_task: QualifiedName | None = None


RelationBuilder = Callable[[Introspection, dict[str, object], list[object]], Awaitable[pa.Table]]


_TO_TIMESTAMP = re.compile(r"\s*to_timestamp(?:_ltz|_tz|_ntz)?\s*\(\s*'((?:[^']|'')*)'\s*\)\s*", re.I)
#: A time as the docs' examples write it: ISO-8601, or with a space before the offset and days and
#: months of one digit (Snowflake's '2018-11-9 12:00:00.000 -0700').
_LOOSE_TIME = re.compile(
    r"\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*",
    re.I,
)


def _loose_time(text: str) -> datetime | None:
    m = _LOOSE_TIME.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = m.groups()
    try:
        value = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")),
        )
    except ValueError:
        return None
    if offset is None or offset.upper() == "Z":
        return value.replace(tzinfo=UTC)
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return value.replace(tzinfo=timezone(sign * delta))


async def arg_values(ctx: Introspection, args: tuple[Arg, ...]) -> tuple[list[object], dict[str, object]]:
    """Positional and named argument values; non-literal expressions are evaluated in the warehouse."""
    positional: list[object] = []
    named: dict[str, object] = {}
    for arg in args:
        stamp = _TO_TIMESTAMP.fullmatch(arg.text) if not arg.is_literal else None
        if stamp is not None:
            # Snowflake's and Databend's docs write TASK_HISTORY's times as TO_TIMESTAMP_LTZ('...') /
            # TO_TIMESTAMP('...'), functions not every warehouse has (DuckDB's takes seconds): the
            # text is the time (see timestamp_arg)
            value: object = stamp.group(1).replace("''", "'")
        else:
            value = arg.literal if arg.is_literal else await ctx.evaluate(arg.text)
        if arg.name is None:
            positional.append(value)
        else:
            named[arg.name] = value
    return positional, named


async def materialize(ctx: Introspection, rewritten: Rewritten) -> tuple[dict[str, pa.Table], dict[str, str]]:
    """Arrow tables to register (by name) and the replacement text for every reference."""
    from tasksql.sysviews.relations import SYSTEM_TABLE_BUILDERS, TABLE_FUNCTION_BUILDERS

    tables: dict[str, pa.Table] = {}
    replacements: dict[str, str] = {}
    cache: dict[tuple[str, str], str] = {}
    for ref in rewritten.refs:
        if ref.kind == "scalar":
            replacements[ref.key] = await _scalar(ctx, ref)
            continue
        positional, named = await arg_values(ctx, ref.args)
        cache_key = (ref.kind + ":" + ref.name, repr((positional, sorted(named.items()))))
        if cache_key in cache:
            replacements[ref.key] = cache[cache_key]
            continue
        builders = SYSTEM_TABLE_BUILDERS if ref.kind == "table" else TABLE_FUNCTION_BUILDERS
        builder = builders.get(ref.name)
        if builder is None:
            raise ValidationError(f"{ref.name} is not available here", code="UNKNOWN_FUNCTION")
        table = await builder(ctx, named, positional)
        placeholder = f"__tasksql_{ref.name}_{next(_counter)}"
        tables[placeholder] = table
        replacements[ref.key] = placeholder
        cache[cache_key] = placeholder
    return tables, replacements


async def _scalar(ctx: Introspection, ref: VirtualRef) -> str:
    fn = ctx.scalars.get(ref.name)
    if fn is None:
        raise ValidationError(
            f"{ref.name.upper()}() is not available in this context", code="UNKNOWN_FUNCTION"
        )
    positional, named = await arg_values(ctx, ref.args)
    value = await fn(positional + list(named.values()))
    return sql_literal(value)


def task_name_arg(value: object, what: str = "task name") -> QualifiedName:
    """A task name given as a function argument (a string), parsed as SQL string names are."""
    from tasksql.sql.names import name_from_string

    name = name_from_string(value) if isinstance(value, str) else None
    if name is None:
        raise ValidationError(
            f"{what} must be a task name such as 'db.schema.task', not {value!r}", code="INVALID_ARGUMENT"
        )
    return name


def int_arg(value: object, what: str) -> int:
    """A whole number given as a function argument (an integer, an integral float, or its text).

    :raises ValidationError: INVALID_ARGUMENT naming ``what`` for anything else.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    raise ValidationError(f"{what} must be a whole number, not {value!r}", code="INVALID_ARGUMENT")


def timestamp_arg(value: object, what: str) -> datetime:
    """A timestamp given as a function argument: a timestamp value or ISO-8601 text (UTC if naive)."""
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, str):
        try:
            return utc(datetime.fromisoformat(value))
        except ValueError:
            loose = _loose_time(value)
            if loose is not None:
                return utc(loose)
    raise ValidationError(f"{what} must be a timestamp, not {value!r}", code="INVALID_ARGUMENT")


def table_from_rows(schema: pa.Schema, rows: list[tuple[Any, ...]]) -> pa.Table:
    """An Arrow table with ``schema`` from row tuples (column order as in the schema)."""
    columns: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    return pa.Table.from_arrays(
        [pa.array(list(col), type=f.type) for col, f in zip(columns, schema, strict=True)], schema=schema
    )
