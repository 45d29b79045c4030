"""What a change-tracking stream costs (not a test: run it by hand).

    python bench/stream_capture.py [--rows 100000] [--pending 1000000] [--postgres URL] [--mysql URL]
    python bench/stream_capture.py --servers      # also on private PostgreSQL and MariaDB servers

Capture: an ``INSERT ... SELECT`` of ``--rows`` rows into a table without a stream, then into a
table with a standard stream (the aim: at most 2x). Consumption: ``--pending`` changes waiting in a
stream, moved by one consuming ``INSERT INTO dst SELECT ... FROM stream`` run as a task body (claim
and all, in one transaction), against the same ``INSERT ... SELECT`` from the base table (the aim:
at least half its speed). On a DuckDB file, a SQLite file and optionally a PostgreSQL and a MySQL /
MariaDB database (``--servers`` starts private ones with ``tests/pgserver.py`` and
``tests/mariadbserver.py``). Wall-clock seconds, best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from tasksql.warehouses import streams as ws
from tasksql.warehouses.base import Warehouse
from tasksql.warehouses.duckdb import DuckDBDatabase
from tasksql.warehouses.sqlite import SQLiteWarehouse

ROOT = Path(__file__).resolve().parent.parent


def rows_sql(dialect: str, n: int) -> str:
    if dialect == "mysql":  # MariaDB's sequence engine
        return f"SELECT seq, seq * 2, 'x' FROM seq_0_to_{n - 1}"
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
    parser.add_argument("--mysql", help="URL of a MariaDB database to use (its tables t, dst are replaced)")
    parser.add_argument(
        "--servers", action="store_true", help="start private PostgreSQL and MariaDB servers to measure"
    )
    parser.add_argument("--only", help="comma-separated warehouse types to measure (default: all given)")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.servers:
            args.postgres = args.postgres or stack.enter_context(_server("pgserver", "PgServer"))
            args.mysql = args.mysql or stack.enter_context(_server("mariadbserver", "MariaDBServer"))
        await measure(args)


@contextlib.contextmanager
def _server(module: str, cls: str) -> Iterator[str]:
    """A private server of ``tests/<module>.py`` and the URL of a new database on it."""
    spec = importlib.util.spec_from_file_location(module, ROOT / "tests" / f"{module}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[module] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    # the server's temporary files in a directory of their own (MariaDB spills large derived
    # tables there; a shared /tmp may be cleaned under it)
    tmp = Path(tempfile.mkdtemp(prefix="tasksql-bench-tmp-"))
    tmp.chmod(0o1777)
    old, os.environ["TMPDIR"] = os.environ.get("TMPDIR"), str(tmp)
    try:
        with getattr(mod, cls)() as server:
            yield str(server.new_database().url)
    finally:
        if old is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old
        shutil.rmtree(tmp, ignore_errors=True)


def _wanted(args: argparse.Namespace, kind: str) -> bool:
    return args.only is None or kind in args.only.split(",")


async def measure(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if _wanted(args, "duckdb"):
            db = DuckDBDatabase(Path(tmp) / "w.duckdb")
            try:
                await one("duckdb", db.pool("w", 2), args)
            finally:
                await db.close()
        if _wanted(args, "sqlite"):
            await one("sqlite", SQLiteWarehouse("w", Path(tmp) / "w.db", max_concurrency=2), args)
    if args.postgres and _wanted(args, "postgres"):
        from tasksql.warehouses.postgres import PostgresWarehouse

        await one("postgres", PostgresWarehouse("w", args.postgres, max_concurrency=2), args)
    if args.mysql and _wanted(args, "mysql"):
        from tasksql.warehouses.mysql import MySQLWarehouse

        await one("mysql", MySQLWarehouse("w", args.mysql, max_concurrency=2), args)


if __name__ == "__main__":
    asyncio.run(main())
