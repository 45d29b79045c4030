"""Reads of the PostgreSQL catalog: a connection pool used from a few worker threads.

A read never goes through the writer's queue: it takes a pooled connection (autocommit, so each
statement sees the latest commit), runs ``fn(cur)`` in a worker thread and gives the connection
back. A read that finds its connection broken (the server restarted, the backend was terminated)
is tried once more on a fresh one: reads change nothing, so running one again is safe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

import psycopg
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from tasksql.catalog.postgres.connect import CONNECT_TIMEOUT, Conn, Cursor, Target, translate
from tasksql.errors import CatalogError

T = TypeVar("T")


class PgReader:
    """A pool of at most ``threads`` connections, used by as many worker threads."""

    def __init__(self, target: Target, *, threads: int = 2) -> None:
        self._target = target
        pool: ConnectionPool[Any] = ConnectionPool(
            target.url,
            kwargs=target.kwargs,
            min_size=1,
            max_size=threads,
            open=False,
            name=f"tasksql-catalog-{target.schema}",
            timeout=CONNECT_TIMEOUT,
        )
        self._pool = cast("ConnectionPool[Conn]", pool)
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tasksql-pg-read")
        self._open = False

    async def open(self) -> None:
        """Open the pool (its first connection is made in the background)."""
        await asyncio.to_thread(self._pool.open, False)
        self._open = True

    async def run(self, fn: Callable[[Cursor], T]) -> T:
        """``fn(cur)`` on a pooled connection in a worker thread; psycopg errors are translated.

        :raises CatalogError: (code ``CATALOG_CLOSED``) after :meth:`close`; or a translated error.
        """
        if not self._open:
            raise CatalogError("the catalog is closed", code="CATALOG_CLOSED")
        return await asyncio.get_running_loop().run_in_executor(self._threads, self._call, fn)

    def _call(self, fn: Callable[[Cursor], T]) -> T:
        for attempt in (1, 2):
            try:
                with self._pool.connection() as conn, conn.cursor() as cur:
                    return fn(cur)
            except psycopg.OperationalError as exc:
                if attempt == 1 and conn.broken:
                    continue  # the pool drops the broken connection; try a fresh one
                raise translate(exc, self._target, "reading the catalog") from None
            except psycopg.Error as exc:
                raise translate(exc, self._target, "reading the catalog") from None
            except PoolTimeout:
                raise CatalogError(
                    f"cannot reach the PostgreSQL catalog at {self._target.safe_url}: no connection "
                    f"within {CONNECT_TIMEOUT} s",
                    code="CATALOG_UNAVAILABLE",
                ) from None
            except PoolClosed:
                raise CatalogError("the catalog is closed", code="CATALOG_CLOSED") from None
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Wait for running reads, then close every connection. Idempotent."""
        if not self._open:
            return
        self._open = False
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self._threads.shutdown(wait=True)
        self._pool.close()
