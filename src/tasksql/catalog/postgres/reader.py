"""Reads of the PostgreSQL catalog: a few worker threads, each with a connection of its own.

A read never goes through the writer's queue: it runs ``fn(cur)`` in one of ``threads`` worker
threads, on that thread's connection (autocommit, so each statement sees the latest commit; made
when the thread first needs it). So the reads hold at most ``threads`` connections, and a read
never waits for a pool to find a connection: it fails fast instead.

A read that finds its connection broken (the server restarted, the backend was terminated) is
tried once more on a fresh one: reads change nothing, so running one again is safe. When that
fails too, the read fails with ``CATALOG_UNAVAILABLE`` and the writer is asked to check the server
(:meth:`Health.suspect`); during an outage the writer has declared, reads fail at once with the
outage's error (see :mod:`tasksql.catalog.postgres.health`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import psycopg

from tasksql.catalog.postgres.connect import Conn, Cursor, Target, carry_label, connect, translate
from tasksql.catalog.postgres.health import Health
from tasksql.errors import CatalogError

T = TypeVar("T")


class PgReader:
    """At most ``threads`` connections, used by as many worker threads."""

    def __init__(self, target: Target, health: Health, *, threads: int = 2) -> None:
        self._target = target
        self._health = health
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tasksql-pg-read")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[Conn] = []
        self._open = False

    async def open(self) -> None:
        """Accept reads (connections are made by the threads that need them)."""
        self._open = True

    async def run(self, fn: Callable[[Cursor], T]) -> T:
        """``fn(cur)`` on a connection of a worker thread; psycopg errors are translated.

        :raises CatalogError: (code ``CATALOG_CLOSED``) after :meth:`close`; (code
            ``CATALOG_UNAVAILABLE``) during an outage, or the server cannot be reached; or a
            translated error.
        """
        if not self._open:
            raise CatalogError("the catalog is closed", code="CATALOG_CLOSED")
        error = self._health.error("reading the catalog")
        if error is not None:
            raise error
        return await asyncio.get_running_loop().run_in_executor(self._threads, self._call, fn)

    def _call(self, fn: Callable[[Cursor], T]) -> T:
        for attempt in (1, 2):
            conn = self._connection()
            try:
                carry_label(conn, self._target.label.text)
                with conn.cursor() as cur:
                    return fn(cur)
            except psycopg.Error as exc:
                if not (conn.closed or conn.broken):
                    raise translate(exc, self._target, "reading the catalog") from None
                self._forget(conn)
                if attempt == 2:
                    self._health.suspect()
                    raise translate(exc, self._target, "reading the catalog") from None
        raise AssertionError("unreachable")

    def _connection(self) -> Conn:
        """This thread's connection, made now when it has none (or a broken one)."""
        conn: Conn | None = getattr(self._local, "conn", None)
        if conn is not None and not (conn.closed or conn.broken):
            return conn
        if conn is not None:
            self._forget(conn)
        try:
            conn = connect(self._target)
        except CatalogError as exc:
            if exc.code == "CATALOG_UNAVAILABLE":
                self._health.suspect()
            raise
        self._local.conn = conn
        with self._lock:
            self._conns.append(conn)
        return conn

    def _forget(self, conn: Conn) -> None:
        conn.close()
        self._local.conn = None
        with self._lock:
            if conn in self._conns:
                self._conns.remove(conn)

    async def close(self) -> None:
        """Wait for running reads, then close every connection. Idempotent."""
        if not self._open:
            return
        self._open = False
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self._threads.shutdown(wait=True)
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
