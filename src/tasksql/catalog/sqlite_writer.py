"""The SQLite catalog's writer thread: one connection, a queue of jobs, group commit.

A *job* is a function ``fn(conn) -> T`` that reads and writes through the given
``sqlite3.Connection`` and neither begins nor ends transactions. :meth:`SQLiteWriter.submit` puts it
on a queue and returns an asyncio future for its result.

The thread takes every job that is waiting (up to ``max_group``) and runs them as ONE group:

1. ``PRAGMA synchronous = FULL`` if any job of the group is durable, else ``NORMAL`` (the pragma
   cannot change inside a transaction, so it is set before it);
2. ``BEGIN IMMEDIATE`` (retried while another process holds the write lock);
3. for each job: ``SAVEPOINT``, ``fn(conn)``, and if the job declared ``changes`` the change
   sequence bump, then ``RELEASE``; when ``fn`` raises, ``ROLLBACK TO`` undoes that job alone and
   the exception becomes the job's outcome;
4. ``COMMIT``; only then are the futures resolved, with one ``call_soon_threadsafe`` per group and
   event loop, and the change callback is told the new change sequence.

So a job's future resolves only after its effect is committed, a failing job never undoes the
others, and the cost of a commit (and of its fsync, when durable) is shared by the whole group. If
SQLite itself aborts the transaction (I/O error, disk full) or the COMMIT fails, every job of the
group fails with that error: none of them was committed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tasksql.catalog.sqlite_connect import connect, retry_busy
from tasksql.catalog.sqlite_errors import translate
from tasksql.errors import CatalogError

T = TypeVar("T")

#: Most jobs committed in one transaction; bounds the time a group holds the write lock.
DEFAULT_MAX_GROUP = 256

_Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class WriterStats:
    """Counters of a writer since it started: ``groups`` committed (or failed) transactions,
    ``jobs`` run, ``failed_jobs`` among them, ``busy_retries`` of BEGIN, ``queued`` jobs waiting now."""

    groups: int
    jobs: int
    failed_jobs: int
    busy_retries: int
    queued: int


class _Job:
    __slots__ = ("changes", "durable", "fn", "future")

    def __init__(
        self,
        fn: Callable[[sqlite3.Connection], Any],
        future: asyncio.Future[Any],
        durable: bool,
        changes: bool,
    ) -> None:
        self.fn = fn
        self.future = future
        self.durable = durable
        self.changes = changes


class _TransactionLost(Exception):
    """SQLite rolled the whole transaction back on its own while a job ran."""

    def __init__(self, error: CatalogError) -> None:
        super().__init__(str(error))
        self.error = error


_STOP = object()


class SQLiteWriter:
    """Owns the catalog's only writing connection and the thread that uses it.

    :param path: the catalog file.
    :param change_sql: the statement that advances the change sequence and returns the new value;
        run inside the savepoint of every job submitted with ``changes=True``.
    :param on_change: called on the event loop that started the writer with the new change
        sequence, after a group that advanced it has committed.
    """

    def __init__(
        self,
        path: str,
        *,
        change_sql: str,
        on_change: Callable[[int], None],
        busy_timeout: float,
        busy_retries: int,
        max_group: int = DEFAULT_MAX_GROUP,
    ) -> None:
        self._path = path
        self._change_sql = change_sql
        self._on_change = on_change
        self._busy_timeout = busy_timeout
        self._busy_retries = busy_retries
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._stopped: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._accepting = False
        self._sync = "NORMAL"
        self._groups = self._jobs = self._failed = self._retries = 0

    # --- called on the event loop ----------------------------------------------------------------

    async def start(self) -> None:
        """Start the thread and open its connection.

        :raises CatalogError: the catalog file cannot be opened.
        """
        self._loop = asyncio.get_running_loop()
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        thread = threading.Thread(
            target=self._main, args=(started,), name="tasksql-catalog-writer", daemon=True
        )
        thread.start()
        await asyncio.wrap_future(started)
        self._accepting = True

    def submit(
        self, fn: Callable[[sqlite3.Connection], T], *, durable: bool = False, changes: bool = False
    ) -> asyncio.Future[T]:
        """Queue ``fn`` and return a future for its result, resolved after the commit.

        ``durable``: commit this job's group with ``synchronous = FULL``. ``changes``: advance the
        change sequence in the job's savepoint. Cancelling the future before the job starts skips
        it; once started, the job commits or fails with its group.

        :raises CatalogError: (code ``CATALOG_CLOSED``) the writer is stopped.
        """
        if not self._accepting:
            raise CatalogError("the catalog is closed", code="CATALOG_CLOSED")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Job(fn, future, durable, changes))
        return future

    async def stop(self) -> None:
        """Run the jobs already queued, then close the connection and end the thread. Idempotent."""
        if self._accepting:
            self._accepting = False
            self._queue.put(_STOP)
        if self._loop is not None:
            await asyncio.wrap_future(self._stopped)

    def stats(self) -> WriterStats:
        return WriterStats(
            groups=self._groups,
            jobs=self._jobs,
            failed_jobs=self._failed,
            busy_retries=self._retries,
            queued=self._queue.qsize(),
        )

    # --- the writer thread -----------------------------------------------------------------------

    def _main(self, started: concurrent.futures.Future[None]) -> None:
        try:
            conn = retry_busy(
                lambda: connect(self._path, busy_timeout=self._busy_timeout, reader=False),
                retries=self._busy_retries,
                doing=f"opening the catalog {self._path}",
            )
        except BaseException as exc:
            started.set_exception(exc)
            self._stopped.set_result(None)
            return
        started.set_result(None)
        try:
            self._serve(conn)
        finally:
            conn.close()
            self._stopped.set_result(None)

    def _serve(self, conn: sqlite3.Connection) -> None:
        while True:
            item = self._queue.get()
            batch: list[_Job] = []
            stop = False
            while True:
                if item is _STOP:
                    stop = True
                    break
                assert isinstance(item, _Job)
                batch.append(item)
                if len(batch) >= self._max_group:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                try:
                    self._run_group(conn, batch)
                except BaseException as exc:
                    # A bug here must not leave callers waiting forever nor kill the thread.
                    self._rollback(conn)
                    error = CatalogError(f"the catalog writer failed: {exc!r}")
                    self._settle([(job.future, None, error) for job in batch], None)
            if stop:
                return

    def _run_group(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        # Reading a future's state from this thread is safe: it is one attribute read.
        jobs = [job for job in batch if not job.future.cancelled()]
        if not jobs:
            return
        self._groups += 1
        self._jobs += len(jobs)
        try:
            self._begin(conn, durable=any(job.durable for job in jobs))
        except CatalogError as exc:
            self._settle([(job.future, None, exc) for job in jobs], None)
            return
        if len(jobs) == 1:
            self._run_alone(conn, jobs[0])
            return
        outcomes: list[_Outcome] = []
        seq: int | None = None
        try:
            for job in jobs:
                result, error, job_seq = self._run_job(conn, job)
                outcomes.append((job.future, result, error))
                seq = job_seq if job_seq is not None else seq
            conn.execute("COMMIT")
        except (_TransactionLost, sqlite3.Error) as exc:
            error = exc.error if isinstance(exc, _TransactionLost) else translate(exc, "committing")
            self._rollback(conn)
            self._settle([(job.future, None, error) for job in jobs], None)
            return
        self._settle(outcomes, seq)

    def _run_alone(self, conn: sqlite3.Connection, job: _Job) -> None:
        """A group of one job needs no savepoint: its failure rolls back the whole transaction, which
        holds nothing else. (The common case when the catalog is not busy; two statements saved.)"""
        try:
            result = job.fn(conn)
            # fetchall: a RETURNING statement must finish before the transaction commits.
            seq = conn.execute(self._change_sql).fetchall()[0][0] if job.changes else None
            conn.execute("COMMIT")
        except BaseException as exc:
            self._failed += 1
            error = translate(exc, "writing to the catalog") if isinstance(exc, sqlite3.Error) else exc
            self._rollback(conn)
            self._settle([(job.future, None, error)], None)
            return
        self._settle([(job.future, result, None)], seq)

    def _begin(self, conn: sqlite3.Connection, *, durable: bool) -> None:
        # Durable groups fsync the WAL at COMMIT (synchronous=FULL); others only write it, which
        # survives a crash of this process but not of the machine. See the catalog's docstring.
        wanted = "FULL" if durable else "NORMAL"

        def begin() -> None:
            if self._sync != wanted:
                conn.execute(f"PRAGMA synchronous = {wanted}")
                self._sync = wanted
            conn.execute("BEGIN IMMEDIATE")

        retry_busy(
            begin, retries=self._busy_retries, doing="starting a catalog write", on_retry=self._count_retry
        )

    def _count_retry(self) -> None:
        self._retries += 1

    def _run_job(self, conn: sqlite3.Connection, job: _Job) -> tuple[Any, BaseException | None, int | None]:
        """Run one job in its own savepoint: (result, None, seq) or (None, error, None).

        :raises _TransactionLost: SQLite aborted the whole transaction, not only this job.
        """
        try:
            conn.execute("SAVEPOINT tasksql_job")
        except sqlite3.Error as exc:
            raise _TransactionLost(translate(exc, "starting a catalog write")) from None
        try:
            result = job.fn(conn)
            # fetchall: a RETURNING statement must finish before its savepoint is released.
            seq = conn.execute(self._change_sql).fetchall()[0][0] if job.changes else None
        except BaseException as exc:
            self._failed += 1
            error = translate(exc, "writing to the catalog") if isinstance(exc, sqlite3.Error) else exc
            if not self._undo_job(conn):
                lost = (
                    error
                    if isinstance(error, CatalogError)
                    else CatalogError(f"the catalog write failed: {error}")
                )
                raise _TransactionLost(lost) from None
            return None, error, None
        conn.execute("RELEASE tasksql_job")
        return result, None, seq

    @staticmethod
    def _undo_job(conn: sqlite3.Connection) -> bool:
        """Roll back the current job's savepoint; False when the whole transaction is gone.

        SQLite rolls a transaction back by itself after some errors (disk full, I/O error, ...);
        then the jobs before this one are undone too and the group must fail as a whole.
        """
        try:
            conn.execute("ROLLBACK TO tasksql_job")
            conn.execute("RELEASE tasksql_job")
        except sqlite3.Error:
            return False
        return conn.in_transaction

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            # If even ROLLBACK fails, nothing more can be done: SQLite resets the connection.
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    def _settle(self, outcomes: list[_Outcome], seq: int | None) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome[0].get_loop(), []).append(outcome)
        for loop, items in by_loop.items():
            # RuntimeError: that loop is closed, so nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, items)
        if seq is not None and self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._on_change, seq)


def _resolve(items: list[_Outcome]) -> None:
    for future, result, error in items:
        if future.done():
            continue  # cancelled while the job ran
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
