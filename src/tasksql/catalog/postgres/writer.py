"""The PostgreSQL catalog's writer thread: one connection, a queue of jobs, group commit.

The same design as the SQLite catalog's writer (:mod:`tasksql.catalog.sqlite_writer`), so that the
contract's ordering promises hold the same way on both backends: every write of one catalog object
goes through one queue, in the order it was asked for, and every job waiting in the queue runs in
ONE transaction. A job is ``fn(cur) -> T`` on a psycopg cursor (dict rows); it neither begins nor
ends transactions and has no effect outside the connection, so it may run a second time: when a job
of a group fails (PostgreSQL aborts the whole transaction), the group is rolled back and each job
runs again in a transaction of its own, so that the failing job alone gets its exception.

Durability: a group with no durable job commits with ``synchronous_commit = off`` (the commit is
acknowledged before its WAL reaches disk; a crash of the *server* can lose the last few hundred
milliseconds of run bookkeeping, as a power loss can on SQLite with ``synchronous=NORMAL``). A
durable group commits with the server's own setting (``on`` unless the administrator chose
otherwise), and such a commit flushes the WAL written before it, so it also covers the earlier
asynchronous commits (what :meth:`Catalog.one_sync` relies on).

A job submitted with ``lazy=True`` is held on the event loop's side for up to ``linger`` seconds,
to go with the next job that is not lazy, exactly as in the SQLite writer (see there); held starts
(:mod:`tasksql.catalog.held_starts`) rely on :meth:`PgWriter.holds` and :attr:`PgWriter.on_send`.

A lost connection (the server restarted, the backend was terminated) fails the jobs of the group it
was running with ``CATALOG_UNAVAILABLE``; the next group connects again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from tasksql import threadcalls
from tasksql.catalog.postgres.connect import Conn, Cursor, Target, connect, translate
from tasksql.errors import CatalogError

T = TypeVar("T")

#: Jobs after which a group is closed; bounds the time a group holds its row locks.
DEFAULT_MAX_GROUP = 256

#: Longest a lazy job waits for company (seconds).
DEFAULT_LINGER = 0.005

_Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]


class _Job:
    __slots__ = ("changes", "durable", "fn", "future")

    def __init__(
        self, fn: Callable[[Cursor], Any], future: asyncio.Future[Any], durable: bool, changes: bool
    ) -> None:
        self.fn = fn
        self.future = future
        self.durable = durable
        self.changes = changes


_STOP = object()


class PgWriter:
    """Owns the catalog's writing connection and the thread that uses it.

    :param change_sql: the statement that advances the change sequence (and notifies listeners)
        and returns the new value; run after every job submitted with ``changes=True``.
    :param on_change: called on the event loop that started the writer with the new change
        sequence, after a group that advanced it has committed.
    """

    def __init__(
        self,
        target: Target,
        *,
        change_sql: str,
        on_change: Callable[[int], None],
        max_group: int = DEFAULT_MAX_GROUP,
        linger: float = DEFAULT_LINGER,
    ) -> None:
        self._target = target
        self._change_sql = change_sql
        self._on_change = on_change
        self._max_group = max_group
        self._linger = linger
        self._queue: queue.SimpleQueue[list[_Job] | object] = queue.SimpleQueue()
        self._held: list[_Job] = []
        self._held_lock = threading.Lock()
        self._stopped: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._accepting = False
        self._conn: Conn | None = None
        #: Called on the loop whenever held-back jobs are sent to the writer thread.
        self.on_send: Callable[[], None] | None = None

    # --- called on the event loop ----------------------------------------------------------------

    async def start(self) -> None:
        """Start the thread and open its connection.

        :raises CatalogError: the server cannot be reached or refuses the login.
        """
        self._loop = asyncio.get_running_loop()
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        thread = threading.Thread(target=self._main, args=(started,), name="tasksql-pg-writer", daemon=True)
        thread.start()
        await asyncio.wrap_future(started)
        self._accepting = True

    def submit(
        self,
        fn: Callable[[Cursor], T],
        *,
        durable: bool = False,
        changes: bool = False,
        lazy: bool = False,
    ) -> asyncio.Future[T]:
        """Queue ``fn`` and return a future for its result, resolved after the commit.

        ``durable``: commit with the server's ``synchronous_commit``. ``changes``: advance the
        change sequence in the job's transaction. ``lazy``: the commit may wait up to ``linger``
        seconds for other jobs (ignored for durable and changing jobs).

        :raises CatalogError: (code ``CATALOG_CLOSED``) the writer is stopped.
        """
        if not self._accepting:
            raise CatalogError("the catalog is closed", code="CATALOG_CLOSED")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        job = _Job(fn, future, durable, changes)
        if lazy and not (durable or changes) and self._linger > 0:
            with self._held_lock:
                self._held.append(job)
                count = len(self._held)
            if count >= self._max_group:
                self._send_held()
            elif count == 1:
                loop.call_later(self._linger, self._send_held)
            return future
        jobs = self._take_held()
        jobs.append(job)
        self._queue.put(jobs)
        return future

    def holds(self, future: asyncio.Future[Any]) -> bool:
        """True when the job of ``future`` is the newest one held back (lazy, not sent yet)."""
        with self._held_lock:
            return bool(self._held) and self._held[-1].future is future

    def _send_held(self) -> None:
        jobs = self._take_held()
        if jobs:
            self._queue.put(jobs)

    def _take_held(self) -> list[_Job]:
        with self._held_lock:
            jobs, self._held = self._held, []
        if jobs and self.on_send is not None:
            self.on_send()
        return jobs

    async def stop(self) -> None:
        """Run the jobs already queued, then close the connection and end the thread. Idempotent."""
        if self._accepting:
            self._accepting = False
            self._send_held()
            self._queue.put(_STOP)
        if self._loop is not None:
            await asyncio.wrap_future(self._stopped)

    # --- the writer thread -----------------------------------------------------------------------

    def _main(self, started: concurrent.futures.Future[None]) -> None:
        try:
            self._conn = connect(self._target)
        except BaseException as exc:
            started.set_exception(exc)
            self._stopped.set_result(None)
            return
        started.set_result(None)
        try:
            self._serve()
        finally:
            if self._conn is not None:
                self._conn.close()
            self._stopped.set_result(None)

    def _serve(self) -> None:
        while True:
            item = self._queue.get()
            batch: list[_Job] = []
            stop = False
            while True:
                if item is _STOP:
                    stop = True
                    break
                assert isinstance(item, list)
                batch.extend(item)
                if len(batch) >= self._max_group:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                try:
                    self._run_group(batch)
                except BaseException as exc:
                    # A bug here must not leave callers waiting forever nor kill the thread.
                    self._rollback()
                    error = CatalogError(f"the catalog writer failed: {exc!r}")
                    self._settle([(job.future, None, error) for job in batch], None)
            if stop:
                return

    def _run_group(self, batch: list[_Job]) -> None:
        jobs = [job for job in batch if not job.future.cancelled()]
        if not jobs:
            return
        if len(jobs) == 1:
            self._run_alone(jobs[0])
            return
        try:
            cur = self._begin(durable=any(job.durable for job in jobs))
        except CatalogError as exc:
            self._settle([(job.future, None, exc) for job in jobs], None)
            return
        outcomes: list[_Outcome] = []
        seq: int | None = None
        try:
            for job in jobs:
                outcomes.append((job.future, job.fn(cur), None))
                if job.changes:
                    seq = self._bump(cur)
            cur.execute("COMMIT")
        except BaseException:
            # PostgreSQL aborted the transaction: redo each job in a transaction of its own, so
            # that only the failing one fails (jobs have no effect outside the connection).
            self._rollback()
            for job in jobs:
                self._run_alone(job)
            return
        self._settle(outcomes, seq)

    def _run_alone(self, job: _Job) -> None:
        try:
            cur = self._begin(durable=job.durable)
        except CatalogError as exc:
            self._settle([(job.future, None, exc)], None)
            return
        try:
            result = job.fn(cur)
            seq = self._bump(cur) if job.changes else None
            cur.execute("COMMIT")
        except BaseException as exc:
            error = (
                translate(exc, self._target, "writing to the catalog")
                if isinstance(exc, psycopg.Error)
                else exc
            )
            self._rollback()
            self._settle([(job.future, None, error)], None)
            return
        self._settle([(job.future, result, None)], seq)

    def _begin(self, *, durable: bool) -> Cursor:
        """BEGIN on the writer's connection (connecting again if it was lost)."""
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                conn.close()
            self._conn = None
            self._conn = conn = connect(self._target)
        cur = conn.cursor()
        try:
            # One round trip: without parameters psycopg sends both statements in one query.
            cur.execute("BEGIN" if durable else "BEGIN; SET LOCAL synchronous_commit = off")
        except psycopg.Error as exc:
            conn.close()
            raise translate(exc, self._target, "starting a catalog write") from None
        return cur

    def _bump(self, cur: Cursor) -> int:
        cur.execute(self._change_sql, {"channel": self._target.channel})
        row = cur.fetchone()
        assert row is not None
        return int(row["change_seq"])

    def _rollback(self) -> None:
        conn = self._conn
        if conn is None or conn.closed:
            return
        with contextlib.suppress(psycopg.Error):
            conn.execute("ROLLBACK")

    def _settle(self, outcomes: list[_Outcome], seq: int | None) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome[0].get_loop(), []).append(outcome)
        for loop, items in by_loop.items():
            threadcalls.call_soon(loop, _resolve, items)
        if seq is not None and self._loop is not None:
            threadcalls.call_soon(self._loop, self._on_change, seq)


def _resolve(items: list[_Outcome]) -> None:
    for future, result, error in items:
        if future.done():
            continue  # cancelled while the job ran
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
