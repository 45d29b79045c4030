"""Timeout-to-stop on every warehouse type: ``python -m bench.warehouse_timeouts [--samples N] [--docs]``.

For each of the six types, a query that would run for hours goes through the tasksql warehouse with
a 0.5 s timeout (:func:`bench.timeouts.warehouse_stop`): the figure is the time from the deadline
until the warehouse no longer counts the query as running (its driver call returned: the database
stopped it), and, beside it, until the call raised. The databases: a DuckDB file, a SQLite file,
chdb in this process, and private PostgreSQL, MariaDB and ClickHouse servers started for the run
(the test suite's ``tests/pgserver.py``, ``tests/mariadbserver.py`` and ``tests/clickhouseserver.py``,
loaded by path), each stopped and removed afterwards.

Beside tasksql, each server's own statement time limit on a plain session of the same server, as a
scheduler inside the database would set it (pg_cron: ``statement_timeout``; a MariaDB event:
``SET STATEMENT max_statement_time = ... FOR``; ClickHouse: the ``max_execution_time`` setting, in
whole seconds on 18.16, so measured with a 1 s limit).

``--docs`` writes the table into docs/benchmarks.md between :data:`BEGIN` and :data:`END` (inside
the hand-written notes, which ``python -m bench report`` keeps).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import REPO_DIR
from bench.timeouts import (
    DEADLINE,
    MARIADB_QUERY,
    PG_QUERY,
    SQLITE_QUERY,
    pg_statement_timeout,
    warehouse_stop,
)

BEGIN = "<!-- warehouse-timeouts:begin (written by python -m bench.warehouse_timeouts --docs) -->"
END = "<!-- warehouse-timeouts:end -->"
DOCS = REPO_DIR / "docs" / "benchmarks.md"

DUCKDB_QUERY = "SELECT sum(hash(i)) FROM range(1000000000000) t(i)"
CLICKHOUSE_QUERY = "SELECT count() FROM system.numbers WHERE number % 7 = 8"
TYPES = ("duckdb", "sqlite", "postgres", "mysql", "clickhouse", "chdb")
NAMES = {
    "duckdb": "DuckDB",
    "sqlite": "SQLite",
    "postgres": "PostgreSQL",
    "mysql": "MariaDB (mysql)",
    "clickhouse": "ClickHouse 18.16",
    "chdb": "chdb",
}


def _load(name: str) -> ModuleType:
    """A server module of tests/ by path (tests/ must not go on sys.path)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO_DIR / "tests" / f"{name}.py")
    if spec is None or spec.loader is None:
        raise RuntimeError(f"tests/{name}.py not found")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


async def _measure(warehouse: Any, sql: str, samples: int) -> dict[str, Any]:
    await warehouse.open()
    try:
        await warehouse.execute("SELECT 1")  # connected and warm
        return await warehouse_stop(warehouse, sql, samples)
    finally:
        await warehouse.close()


async def run(samples: int, kinds: tuple[str, ...]) -> dict[str, Any]:
    """Per type: {"tasksql": lag, "database": the server's own limit's lag (or absent)}."""
    out: dict[str, Any] = {}
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="tasksql-bench-wt-") as tmp:
        base = Path(tmp)
        for kind in kinds:
            row: dict[str, Any] = {}
            if kind == "duckdb":
                from tasksql.warehouses.duckdb import DuckDBDatabase

                db = DuckDBDatabase(base / "w.duckdb")
                try:
                    row["tasksql"] = await _measure(db.pool("bench", 4), DUCKDB_QUERY, samples)
                finally:
                    await db.close()
            elif kind == "sqlite":
                from tasksql.warehouses.sqlite import SQLiteWarehouse

                row["tasksql"] = await _measure(
                    SQLiteWarehouse("bench", base / "w.db"), SQLITE_QUERY, samples
                )
            elif kind == "postgres":
                from tasksql.warehouses.postgres import PostgresWarehouse

                pg = stack.enter_context(_load("pgserver").PgServer())
                db = pg.new_database()
                row["tasksql"] = await _measure(PostgresWarehouse("bench", db.url), PG_QUERY, samples)
                row["database"] = dict(pg_statement_timeout(db.dsn, samples), via="statement_timeout")
            elif kind == "mysql":
                from tasksql.warehouses.mysql import MySQLWarehouse

                maria = stack.enter_context(_load("mariadbserver").MariaDBServer())
                db = maria.new_database()
                row["tasksql"] = await _measure(MySQLWarehouse("bench", db.url), MARIADB_QUERY, samples)
                row["database"] = dict(_mariadb_limit(db, samples), via="SET STATEMENT max_statement_time")
            elif kind == "clickhouse":
                from tasksql.warehouses.clickhouse import ClickHouseWarehouse

                ch = stack.enter_context(_load("clickhouseserver").ClickHouseServer())
                db = ch.new_database()
                row["tasksql"] = await _measure(
                    ClickHouseWarehouse("bench", db.url), CLICKHOUSE_QUERY, samples
                )
                row["database"] = dict(
                    _clickhouse_limit(db, samples), via="max_execution_time = 1 (whole seconds)"
                )
            elif kind == "chdb":
                from tasksql.warehouses.chdb_local import ChdbWarehouse

                row["tasksql"] = await _measure(
                    ChdbWarehouse("bench", base / "ch"), CLICKHOUSE_QUERY, samples
                )
            out[kind] = row
            print(f"{kind}: {json.dumps(row)}", flush=True)
    return out


def _mariadb_limit(db: Any, samples: int) -> dict[str, Any]:
    import pymysql
    from stats import Lag

    lags: list[float] = []
    with contextlib.closing(db.connect()) as conn, conn.cursor() as cur:
        for _ in range(samples):
            t0 = time.perf_counter()
            with contextlib.suppress(pymysql.err.OperationalError):
                cur.execute(f"SET STATEMENT max_statement_time = {DEADLINE} FOR {MARIADB_QUERY}")
            lags.append((time.perf_counter() - t0 - DEADLINE) * 1000)
    return Lag.of(lags).as_dict()


def _clickhouse_limit(db: Any, samples: int) -> dict[str, Any]:
    from clickhouse_driver.errors import ServerException
    from stats import Lag

    client = db.client()
    lags: list[float] = []
    try:
        for _ in range(samples):
            t0 = time.perf_counter()
            with contextlib.suppress(ServerException):
                client.execute(CLICKHOUSE_QUERY, settings={"max_execution_time": 1})
            lags.append((time.perf_counter() - t0 - 1.0) * 1000)
    finally:
        client.disconnect()
    return Lag.of(lags).as_dict()


def render(results: dict[str, Any], samples: int, load: tuple[float, float] | None = None) -> str:
    lines = [
        "### Timeout to stop on every warehouse type",
        "",
        f"`python -m bench.warehouse_timeouts` ({samples} samples per type, deadline {DEADLINE} s):"
        " the time from a query's deadline until the warehouse's driver call returned (the database"
        " stopped the query), and until the call raised; beside it the database's own statement time"
        " limit on a plain session of the same server. Each cell: p50 / max."
        + (
            f" Measured on {os.cpu_count()} CPUs with a load average of {load[0]:.1f} at the start and"
            f" {load[1]:.1f} at the end (other work on the machine): every figure includes the"
            " wait for a CPU."
            if load
            else ""
        ),
        "",
        "| warehouse type | stopped (tasksql) | raised (tasksql) | the database's own limit |",
        "|---|---|---|---|",
    ]
    for kind in TYPES:
        if kind not in results:
            continue
        row = results[kind]
        own = row["tasksql"]
        peer = row.get("database")
        peer_text = f"{_ms(peer)} ({peer['via']})" if peer else "—"
        lines.append(f"| {NAMES[kind]} | {_ms(own)} | {_ms(own['raised'])} | {peer_text} |")
    return "\n".join(lines)


def _ms(lag: dict[str, Any]) -> str:
    return f"{lag['p50_ms']:.1f} / {lag['max_ms']:.1f} ms"


def write_docs(block: str, path: Path = DOCS) -> None:
    """Put ``block`` between :data:`BEGIN` and :data:`END` of ``path``; the first time, just before
    the end of the hand-written notes."""
    text = path.read_text()
    full = f"{BEGIN}\n{block}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + full + rest.split(END, 1)[1]
    else:
        notes_end = "<!-- notes:end -->"
        text = text.replace(notes_end, f"\n{full}\n\n{notes_end}", 1)
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.warehouse_timeouts")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument(
        "--types", default=",".join(TYPES), help="comma-separated subset of " + ",".join(TYPES)
    )
    parser.add_argument("--docs", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args(argv)
    kinds = tuple(k for k in args.types.split(",") if k)
    load_before = os.getloadavg()[0]
    results = asyncio.run(run(args.samples, kinds))
    load = (load_before, os.getloadavg()[0])
    block = render(results, args.samples, load)
    print(block)
    if args.docs:
        write_docs(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
