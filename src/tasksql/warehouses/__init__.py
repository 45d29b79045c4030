"""Warehouses: the named places where task bodies, WHEN conditions and pass-through SQL run.

The contract is :class:`~tasksql.warehouses.base.Warehouse`; backends are the embedded DuckDB
(:mod:`.duckdb`, the default, with named compute pools over one database file), SQLite files
(:mod:`.sqlite`) and PostgreSQL servers (:mod:`.postgres`, needs the ``postgres`` extra).
:class:`~tasksql.warehouses.registry.WarehouseRegistry` opens them from their definitions.
"""

from __future__ import annotations

from tasksql.warehouses._markers import HIDDEN_TABLES as MARKER_TABLES
from tasksql.warehouses.base import (
    DEFAULT_MAX_CONCURRENCY,
    INTERRUPT_GRACE,
    BodyResult,
    CancelToken,
    ResultSet,
    Warehouse,
    redact_url,
)
from tasksql.warehouses.registry import WarehouseRegistry

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "INTERRUPT_GRACE",
    "MARKER_TABLES",
    "BodyResult",
    "CancelToken",
    "ResultSet",
    "Warehouse",
    "WarehouseRegistry",
    "redact_url",
]
