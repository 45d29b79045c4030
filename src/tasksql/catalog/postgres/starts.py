"""Starts of claimed runs on a line of their own (:class:`StartLine`).

A cluster member commits the start of its claimed runs before their bodies begin
(:meth:`~tasksql.catalog.base.Catalog.start_claims`, see :mod:`tasksql.scheduler.claims`): that
write is on the way of every run, so it must not wait in the catalog's writer queue behind a group
of outcomes, claims of next instants and next-instant flushes (with a thousand tasks a second, such
a group takes tens of milliseconds). The start line is a connection of its own, used by one thread,
that does nothing but these starts: one UPDATE per call, a transaction of its own in one round trip
(BEGIN and COMMIT would be three more), committed without waiting for the WAL flush, like the
writer's run bookkeeping.

Its writes need no place in the order of the writer's: a start applies to claims whose insert was
committed before it was asked for (the scheduler waits for that), and nothing the writer has queued
can touch those rows but a deletion of a claim not used, or an outcome of a run after its start.
When the line fails (the connection was lost, the server is restarting), the caller writes the same
start through the writer, which waits out an outage; the statement starts a run this node already
started at the same instant again (it returns it), so a start whose COMMIT was cut off is neither
lost nor applied twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import psycopg

from tasksql.catalog.jobs import runs as run_jobs
from tasksql.catalog.postgres.connect import Conn, Target, carry_label, open_connection, translate
from tasksql.catalog.postgres.dialect import POSTGRES
from tasksql.model.cluster import Fence


class StartLine:
    """Writes :meth:`~tasksql.catalog.base.Catalog.start_claims` on a connection and a thread of
    its own (see the module). The connection is made at the first start, and again after a failure."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self._conn: Conn | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tasksql-pg-starts")

    async def start(self, node_id: str, run_ids: Sequence[int], at: str, fence: Fence | None) -> list[int]:
        """The claims started (see :func:`tasksql.catalog.jobs.runs.start_claims`).

        :raises CatalogError: the line failed (the connection is closed: the next call makes it again).
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._start, node_id, run_ids, at, fence)

    def _start(self, node_id: str, run_ids: Sequence[int], at: str, fence: Fence | None) -> list[int]:
        try:
            conn = self._conn
            if conn is None or conn.closed or conn.broken:
                self._close()
                conn = self._conn = open_connection(self._target)
                conn.execute("SET synchronous_commit = off")  # for the session: see the module
            carry_label(conn, self._target.label.text)
            # one statement in autocommit: its own transaction, one round trip
            with conn.cursor() as cur:
                return run_jobs.start_claims(POSTGRES, cur, node_id, run_ids, at, fence)
        except psycopg.Error as exc:
            self._close()
            raise translate(exc, self._target, "starting claimed runs") from None

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    async def close(self) -> None:
        """Wait for a start under way, then close the connection and end the thread. Idempotent."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=True)
