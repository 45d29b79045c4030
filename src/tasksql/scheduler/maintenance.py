"""Ocient's maintenance types as the statements a warehouse runs for them, options applied.

What each type does to the warehouse's own storage (a tasksql warehouse has no segments: its
tables and indexes are what can be checked and rebuilt):

* ``rebuild`` rebuilds what can be rebuilt from the data (indexes, statistics, derived tables)
  object by object: :mod:`tasksql.scheduler.rebuild`; ``table_id = '<table>'`` limits it to that
  table.
* ``check_disk`` checks every object of tasksql's storage one by one and keeps one result per
  object in the catalog (:mod:`tasksql.scheduler.check_disk`, ``system.storage_checks``); its
  options ``fix``, ``sample``, ``only_unhealthy`` and ``storage_ids`` apply there. The statements
  here (SQLite ``PRAGMA integrity_check``, the database's size elsewhere) are the check of a run
  given no catalog to keep results in, and :func:`check_problems` reads their findings.
* ``rebalance`` optimises storage: SQLite ``PRAGMA optimize``; DuckDB ``VACUUM`` and
  ``CHECKPOINT``; PostgreSQL ``ANALYZE``. In a cluster its run also spreads task placements over
  the nodes (:mod:`tasksql.scheduler.fanout`).

Options tasksql does not apply (``node``, ``segment_groups``) are kept with the task and shown,
and change nothing.
"""

from __future__ import annotations

from typing import Any

from tasksql.model import MaintenanceBody, MaintenanceKind

#: (dialect, kind) -> statements without options.
MAINTENANCE: dict[tuple[str, MaintenanceKind], tuple[str, ...]] = {
    ("duckdb", MaintenanceKind.CHECK_DISK): ("SELECT * FROM pragma_database_size()",),
    ("duckdb", MaintenanceKind.REBALANCE): ("VACUUM", "CHECKPOINT"),
    ("sqlite", MaintenanceKind.CHECK_DISK): ("PRAGMA integrity_check",),
    ("sqlite", MaintenanceKind.REBALANCE): ("PRAGMA optimize",),
    ("postgres", MaintenanceKind.CHECK_DISK): ("SELECT pg_database_size(current_database())",),
    ("postgres", MaintenanceKind.REBALANCE): ("ANALYZE",),
}


def option(body: MaintenanceBody, key: str) -> str | None:
    """The value of option ``key`` as text: a string literal unquoted, other literals as written."""
    for k, v in body.options:
        if k.lower() == key:
            return _unquote(v.strip())
    return None


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    return text


def flag(body: MaintenanceBody, key: str) -> bool:
    """True when option ``key`` is given as true (``true``, ``1``, ``yes``)."""
    return (option(body, key) or "").lower() in ("true", "1", "yes")


def statements(body: MaintenanceBody, dialect: str) -> tuple[str, ...] | None:
    """The statements of ``body`` on a warehouse of ``dialect``; None when it has none."""
    base = MAINTENANCE.get((dialect, body.kind))
    if base is None:
        return None
    if body.kind is MaintenanceKind.CHECK_DISK and dialect == "sqlite":
        pragma = "quick_check" if flag(body, "sample") else "integrity_check"
        return (f"PRAGMA {pragma}",)
    return base


def check_problems(body: MaintenanceBody, dialect: str, rows: list[tuple[Any, ...]]) -> str | None:
    """For a check_disk run: what the check found (its first findings), or None when it found
    nothing (SQLite's single ``ok``) or the warehouse reports no findings."""
    if body.kind is not MaintenanceKind.CHECK_DISK or dialect != "sqlite":
        return None
    found = [str(r[0]) for r in rows if r and str(r[0]) != "ok"]
    if not found:
        return None
    text = "; ".join(" ".join(f.split()) for f in found)
    return text if len(text) <= 500 else text[:497] + "..."
