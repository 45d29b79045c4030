"""The timeout workload: time from a query's deadline until it has actually stopped.

tasksql: a CPU-bound query through a warehouse with ``timeout=`` (DuckDB through
``tasksql_bench.timeout_stop``; SQLite and PostgreSQL here, through
:class:`~tasksql.warehouses.sqlite.SQLiteWarehouse` and
:class:`~tasksql.warehouses.postgres.PostgresWarehouse`). Two figures per sample: when the call
raised, and when the warehouse no longer counted the query as running (its driver call had
returned: the query had really stopped).

Peers have no timeout of their own. A pg_cron job would put ``SET statement_timeout`` in its
command, and a MariaDB event ``SET STATEMENT max_statement_time = ... FOR``; those are measured
directly on a session of the same private servers (the job or event would run the same session
code). APScheduler cannot stop a running job function at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

from stats import Lag

#: The deadline used by every sample, in seconds.
DEADLINE = 0.5

SQLITE_QUERY = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
PG_QUERY = "SELECT count(*) FROM generate_series(1, 200000) a, generate_series(1, 200000) b"
MARIADB_QUERY = "SELECT BENCHMARK(100000000000, MD5('x'))"


async def warehouse_stop(warehouse: Any, sql: str, samples: int) -> dict[str, Any]:
    """Lag from the deadline to the call raising and to the query having stopped, in ms."""
    from tasksql.errors import TasksqlError
    from tasksql.warehouses.base import CancelToken

    raised: list[float] = []
    stopped: list[float] = []
    errors: list[str] = []
    for _ in range(samples):
        t0 = time.perf_counter()
        try:
            await warehouse.execute(sql, timeout=DEADLINE, token=CancelToken())
        except TasksqlError as exc:
            errors.append(type(exc).__name__)
        raised.append((time.perf_counter() - t0 - DEADLINE) * 1000)
        while warehouse.running:
            await asyncio.sleep(0.0005)
        stopped.append((time.perf_counter() - t0 - DEADLINE) * 1000)
    out: dict[str, Any] = dict(Lag.of(stopped).as_dict())
    out["raised"] = Lag.of(raised).as_dict()
    out["errors"] = sorted(set(errors))
    return out


async def sqlite_stop(samples: int) -> dict[str, Any]:
    from tasksql.warehouses.sqlite import SQLiteWarehouse

    with tempfile.TemporaryDirectory(prefix="tasksql-bench-sqlite-") as tmp:
        wh = SQLiteWarehouse("bench", Path(tmp) / "bench.sqlite")
        await wh.open()
        try:
            return await warehouse_stop(wh, SQLITE_QUERY, samples)
        finally:
            await wh.close()


async def postgres_stop(url: str, samples: int) -> dict[str, Any]:
    from tasksql.warehouses.postgres import PostgresWarehouse

    wh = PostgresWarehouse("bench", url)
    await wh.open()
    try:
        return await warehouse_stop(wh, PG_QUERY, samples)
    finally:
        await wh.close()


def pg_statement_timeout(dsn: str, samples: int) -> dict[str, Any]:
    """PostgreSQL's own statement_timeout (what a pg_cron job would set), on a plain session."""
    import psycopg

    lags: list[float] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"SET statement_timeout = {int(DEADLINE * 1000)}")
        for _ in range(samples):
            t0 = time.perf_counter()
            with contextlib.suppress(psycopg.errors.QueryCanceled):
                conn.execute(PG_QUERY)
            lags.append((time.perf_counter() - t0 - DEADLINE) * 1000)
    return Lag.of(lags).as_dict()


def mariadb_statement_time(server: Any, samples: int) -> dict[str, Any]:
    """MariaDB's max_statement_time (what an event body would set), on a plain session."""
    import pymysql

    lags: list[float] = []
    with server.connect() as conn, conn.cursor() as cur:
        for _ in range(samples):
            t0 = time.perf_counter()
            with contextlib.suppress(pymysql.err.OperationalError):
                cur.execute(f"SET STATEMENT max_statement_time = {DEADLINE} FOR {MARIADB_QUERY}")
            lags.append((time.perf_counter() - t0 - DEADLINE) * 1000)
    return Lag.of(lags).as_dict()
