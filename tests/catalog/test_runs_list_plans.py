"""The run history reads a task's runs through an index, in order, on both backends (and each task's
latest run by index searches).

``runs_list`` is one statement per shape of filters (:meth:`CatalogDialect.shaped`); a predicate
written ``(:x IS NULL OR col = :x)`` would make the planner walk every run newest first. These tests
read the plans (SQLite's ``EXPLAIN QUERY PLAN``, PostgreSQL's ``EXPLAIN``) of catalogs built by the
migrations, so an upgraded catalog has the index too. Speed itself is measured in bench/ui_pages.py.
"""

from __future__ import annotations

import itertools
import sqlite3
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import tuple_row

from pgserver import PgServer
from tasksql.catalog.migrate import load_migrations
from tasksql.catalog.postgres.catalog import _Q
from tasksql.catalog.postgres.connect import parse_target
from tasksql.catalog.postgres.dialect import POSTGRES
from tasksql.catalog.postgres.schema import apply_schema
from tasksql.catalog.sqlite.dialect import SQLITE
from tasksql.catalog.sqlite.schema import apply_schema as apply_sqlite_schema

STAMP = "2026-01-01T00:00:00.000000Z"
OPTIONAL = ("start", "end", "error_only", "root_task_id")
SQLITE_VALUES = {"task_id": 7, "start": STAMP, "end": "2026-01-02T00:00:00.000000Z", "root_task_id": 7}
#: every shape of filters with a task: the task page, its time range, errors only, a deep page
WITH_TASK = [
    ("task_id", *extra) for n in range(len(OPTIONAL) + 1) for extra in itertools.combinations(OPTIONAL, n)
]


def _params(shape: tuple[str, ...], values: dict[str, object]) -> dict[str, object]:
    return {key: values[key] for key in shape if key in values} | {"limit": 100}


def test_shaped_keeps_only_the_lines_of_the_filters_given() -> None:
    text = SQLITE.q[SQLITE.shaped("runs_list", ["task_id", "error_only"])]

    assert "task_id = :task_id" in text and "state IN ('FAILED'" in text
    assert ":start" not in text and ":end" not in text and "root_task_id" not in text
    assert "-- if" not in text
    assert SQLITE.shaped("runs_list", ["error_only", "task_id"]) == SQLITE.shaped(
        "runs_list", ["task_id", "error_only"]
    )
    with pytest.raises(KeyError, match="no_such_filter"):
        SQLITE.shaped("runs_list", ["task_id", "no_such_filter"])


def _sqlite_from_migrations(path: Path) -> sqlite3.Connection:
    migrations = load_migrations("sqlite")
    conn = sqlite3.connect(path, isolation_level=None)
    for schema, upto in ((migrations[0].sql, migrations[:1]), ("", migrations)):  # an upgraded catalog
        conn.execute("BEGIN IMMEDIATE")
        apply_sqlite_schema(conn, schema=schema, migrations=upto, queries=SQLITE.q, now=STAMP)
        conn.execute("COMMIT")
    return conn


@pytest.mark.parametrize("shape", WITH_TASK, ids="-".join)
def test_sqlite_reads_a_tasks_history_in_index_order(tmp_path: Path, shape: tuple[str, ...]) -> None:
    conn = _sqlite_from_migrations(tmp_path / "c.db")
    query = SQLITE.q[SQLITE.shaped("runs_list", shape)]

    plan = " | ".join(
        row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + query, _params(shape, SQLITE_VALUES))
    )

    assert "USING INDEX runs_task_time (task_id=?" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # no sort: the index gives the order


def test_sqlite_reads_a_time_range_of_every_task_through_the_time_index(tmp_path: Path) -> None:
    conn = _sqlite_from_migrations(tmp_path / "c.db")
    shape = ("start", "end")
    query = SQLITE.q[SQLITE.shaped("runs_list", shape)]

    plan = " | ".join(
        row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + query, _params(shape, SQLITE_VALUES))
    )

    assert "SEARCH runs USING INDEX runs_time (scheduled_time>? AND scheduled_time<?)" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


@pytest.mark.postgres
def test_postgres_reads_a_tasks_history_in_index_order(pg_server: PgServer) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    migrations = load_migrations("postgres")
    target = parse_target(pg_server.url, schema)
    with psycopg.connect(target.url, **target.kwargs) as conn:
        with conn.transaction(), conn.cursor() as cur:
            apply_schema(
                cur,
                schema_name=schema,
                schema=migrations[0].sql,
                migrations=migrations[:1],
                queries=_Q,
                now=STAMP,
            )
            apply_schema(cur, schema_name=schema, schema="", migrations=migrations, queries=_Q, now=STAMP)
        # an empty table is cheapest to read whole: forbid that, so the plan shows whether an
        # index can serve the statement (with the old "(x IS NULL OR col = x)" form none could)
        conn.execute(f"SET search_path TO {schema}")
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_sort = off")
        values = {"task_id": 7, "start": STAMP, "end": "2026-01-02T00:00:00Z", "root_task_id": 7}
        for shape in WITH_TASK:
            query = POSTGRES.q[POSTGRES.shaped("runs_list", shape)]
            rows = (
                conn.cursor(row_factory=tuple_row)
                .execute("EXPLAIN " + query, _params(shape, values))
                .fetchall()
            )
            plan = " | ".join(str(row[0]) for row in rows)

            assert "Index Scan Backward using runs_task_time" in plan, (shape, plan)
            assert "Sort" not in plan, (shape, plan)


@pytest.mark.parametrize("shape", [("root_task_id",), ("root_task_id", "states")], ids="-".join)
def test_sqlite_reads_a_roots_graph_runs_in_index_order(tmp_path: Path, shape: tuple[str, ...]) -> None:
    conn = _sqlite_from_migrations(tmp_path / "c.db")
    query = SQLITE.q[SQLITE.shaped("graph_runs_list", shape)]
    values = {"root_task_id": 7, "states": '["EXECUTING"]', "limit": 1}

    plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + query, _params(shape, values)))

    assert "SEARCH graph_runs USING INDEX graph_runs_root (root_task_id=?)" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def test_sqlite_finds_each_tasks_latest_run_by_searches_not_a_scan_of_the_runs(tmp_path: Path) -> None:
    conn = _sqlite_from_migrations(tmp_path / "c.db")

    details = [
        row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + SQLITE.q["runs_last_per_task"], {"now": STAMP})
    ]

    assert not [d for d in details if d.startswith("SCAN runs") or d.startswith("SCAN r ")], details
    assert "SEARCH runs USING INDEX runs_task (task_id=?)" in details, details
