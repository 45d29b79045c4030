"""The configurations of tasksql that the benchmarks measure, each a peer of its own in the tables.

A variant fixes the three choices that change what a run costs: where the body runs (the embedded
DuckDB default or a SQLite file warehouse), where the catalog lives (the embedded SQLite file or a
private PostgreSQL server the harness starts) and whether bodies commit with their run's completion
marker (the default) or without it (at least once). Everything else is the same for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

ALL_WORKLOADS = ("steady", "burst", "ramp", "scale", "timeout", "graphs")


@dataclass(frozen=True, kw_only=True, slots=True)
class Variant:
    """One configuration of tasksql under measurement."""

    #: The peer name (``--peers``, results JSON, the child's first argument).
    name: str
    #: Column heading in the report.
    label: str
    #: ``duckdb`` (the embedded default warehouse) or ``sqlite`` (a SQLite file warehouse).
    warehouse: str = "duckdb"
    #: The catalog on a private PostgreSQL server (a fresh schema per measurement) instead of the
    #: embedded SQLite file.
    pg_catalog: bool = False
    #: The ``completion_markers`` setting.
    completion_markers: bool = True
    #: The workloads it takes part in.
    workloads: tuple[str, ...] = ALL_WORKLOADS

    def describe(self) -> dict[str, str]:
        """The settings line of the report's peer table."""
        warehouse = (
            "SQLite file (MAX_CONCURRENCY = 4)" if self.warehouse == "sqlite" else "embedded DuckDB (default)"
        )
        catalog = (
            "PostgreSQL, private server on loopback TCP (durable: fsync and synchronous_commit on), "
            "a fresh schema per measurement"
            if self.pg_catalog
            else "SQLite file (default)"
        )
        markers = "on (default)" if self.completion_markers else "off (at least once)"
        return {
            "engine": "bench/tasksql_bench.py: engine and scheduler in the measuring process",
            "catalog": catalog,
            "warehouse": warehouse,
            "completion_markers": markers,
            "history": "every run recorded in the catalog",
        }


_PERIODIC = ("steady", "burst", "ramp")

#: Every variant, in report order: the SQLite-catalog rows first, each PostgreSQL-catalog row beside
#: its SQLite-catalog one, and the cost of completion markers last.
VARIANTS: tuple[Variant, ...] = (
    Variant(name="tasksql", label="tasksql"),
    Variant(
        name="tasksql-pg",
        label="tasksql (DuckDB, PG catalog)",
        pg_catalog=True,
        workloads=(*_PERIODIC, "scale", "graphs"),
    ),
    Variant(
        name="tasksql-sqlite", label="tasksql (SQLite warehouse)", warehouse="sqlite", workloads=_PERIODIC
    ),
    Variant(
        name="tasksql-sqlite-pg",
        label="tasksql (SQLite wh, PG catalog)",
        warehouse="sqlite",
        pg_catalog=True,
        workloads=_PERIODIC,
    ),
    Variant(
        name="tasksql-at-least-once",
        label="tasksql (DuckDB, at least once)",
        completion_markers=False,
        workloads=_PERIODIC,
    ),
)

BY_NAME = {v.name: v for v in VARIANTS}
