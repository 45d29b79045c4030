"""What a change-tracking stream costs (not a test: run it by hand).

    python bench/stream_capture.py [--rows 100000] [--pending 1000000] [--postgres URL]

Capture: an ``INSERT ... SELECT`` of ``--rows`` rows into a table without a stream, then into a
table with a standard stream (the aim: at most 2x). Consumption: ``--pending`` changes waiting in a
stream, moved by one consuming ``INSERT INTO dst SELECT ... FROM stream`` run as a task body (claim
and all, in one transaction), against the same ``INSERT ... SELECT`` from the base table (the aim:
at least half its speed). On a DuckDB file, a SQLite file and optionally a PostgreSQL database.
Wall-clock seconds, best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from tasksql.warehouses import streams as ws
from tasksql.warehouses.base import Warehouse
from tasksql.warehouses.duckdb import DuckDBDatabase
from tasksql.warehouses.sqlite import SQLiteWarehouse


def rows_sql(dialect: str, n: int) -> str:
    if dialect == "duckdb":
        return f"SELECT i, i * 2, 'x' FROM range({n}) t(i)"
    if dialect == "postgres":
        return f"SELECT i, i * 2, 'x' FROM generate_series(0, {n - 1}) i"
    recursive = f"WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM r WHERE i < {n - 1})"
    return f"{recursive} SELECT i, i * 2, 'x' FROM r"


async def timed(work: Callable[[], Awaitable[object]]) -> float:
    t0 = time.perf_counter()
    await work()
    return time.perf_counter() - t0


async def reset(w: Warehouse) -> None:
    if "oc" in await ws.load(w):
        await ws.drop(w, "oc")
    for t in ("t", "dst"):
        await w.execute(f"DROP TABLE IF EXISTS {t}")
    await w.execute("CREATE TABLE t (id BIGINT, v BIGINT, s TEXT)")
    await w.execute("CREATE TABLE dst (id BIGINT, v BIGINT, s TEXT)")


async def stream(w: Warehouse) -> None:
    await ws.create(
        w,
        name="oc",
        table="t",
        append_only=False,
        show_initial_rows=False,
        comment=None,
        or_replace=False,
        if_not_exists=False,
        created_on="bench",
    )


async def capture(w: Warehouse, n: int, repeat: int) -> tuple[float, float]:
    plain, with_stream = [], []
    for _ in range(repeat):
        await reset(w)
        plain.append(await timed(lambda: w.execute(f"INSERT INTO t {rows_sql(w.dialect, n)}")))
        await reset(w)
        await stream(w)
        with_stream.append(await timed(lambda: w.execute(f"INSERT INTO t {rows_sql(w.dialect, n)}")))
    return min(plain), min(with_stream)


async def consume(w: Warehouse, n: int, repeat: int) -> tuple[float, float]:
    plain, from_stream = [], []
    for _ in range(repeat):
        await reset(w)
        await stream(w)
        await w.execute(f"INSERT INTO t {rows_sql(w.dialect, n)}")
        plain.append(await timed(lambda: w.execute("INSERT INTO dst SELECT id, v, s FROM t")))
        await w.execute("DELETE FROM dst")

        async def body() -> None:
            statements, _ = await ws.bind_statements(w, ["INSERT INTO dst SELECT id, v, s FROM oc"])
            result = await w.run_body(statements, transactional=True)
            assert result.rows_inserted == n, result

        from_stream.append(await timed(body))
    return min(plain), min(from_stream)


async def one(label: str, w: Warehouse, args: argparse.Namespace) -> None:
    await w.open()
    try:
        a, b = await capture(w, args.rows, args.repeat)
        print(
            f"{label:10} capture of {args.rows:>9,} rows: {a:7.3f} s without, {b:7.3f} s with a stream"
            f" ({b / a:4.2f}x)"
        )
        c, d = await consume(w, args.pending, args.repeat)
        print(
            f"{label:10} moving    {args.pending:>9,} rows: {c:7.3f} s from the table, {d:7.3f} s from the"
            f" stream ({c / d:4.2f} of INSERT ... SELECT's speed)"
        )
    finally:
        await w.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pending", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--postgres", help="URL of a PostgreSQL database to use (its tables t, dst are replaced)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = DuckDBDatabase(Path(tmp) / "w.duckdb")
        try:
            await one("duckdb", db.pool("w", 2), args)
        finally:
            await db.close()
        await one("sqlite", SQLiteWarehouse("w", Path(tmp) / "w.db", max_concurrency=2), args)
    if args.postgres:
        from tasksql.warehouses.postgres import PostgresWarehouse

        await one("postgres", PostgresWarehouse("w", args.postgres, max_concurrency=2), args)


if __name__ == "__main__":
    asyncio.run(main())
