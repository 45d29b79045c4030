"""Read connections of the SQLite catalog, in their own worker threads.

Reads never go through the writer: in WAL mode a reader sees the last committed state without
waiting for the writer, and the writer never waits for readers. Each reader thread opens its own
``query_only`` connection on first use. A read function gets the connection in autocommit mode, so
each statement sees the latest commit; a function that needs one snapshot across several
statements wraps them in ``BEGIN`` ... ``COMMIT`` itself.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from tasksql.catalog.sqlite.connect import connect, retry_busy
from tasksql.errors import CatalogError

T = TypeVar("T")


class SQLiteReader:
    """A pool of ``threads`` reader threads, each with its own connection to the catalog file."""

    def __init__(self, path: str, *, busy_timeout: float, busy_retries: int, threads: int = 1) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._busy_retries = busy_retries
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tasksql-catalog-read")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._open = True

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(conn)`` in a reader thread; SQLITE_BUSY is retried, other sqlite3 errors translated.

        :raises CatalogError: (code ``CATALOG_CLOSED``) after :meth:`close`; or a translated error.
        """
        if not self._open:
            raise CatalogError("the catalog is closed", code="CATALOG_CLOSED")
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._call, fn)

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = retry_busy(
                lambda: connect(self._path, busy_timeout=self._busy_timeout, reader=True),
                retries=self._busy_retries,
                doing=f"opening the catalog {self._path}",
            )
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        opened = conn

        def attempt() -> T:
            try:
                return fn(opened)
            finally:
                if opened.in_transaction:
                    opened.execute("ROLLBACK")

        return retry_busy(attempt, retries=self._busy_retries, doing="reading the catalog")

    async def close(self) -> None:
        """Wait for running reads, then close every connection. Idempotent."""
        if not self._open:
            return
        self._open = False
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
