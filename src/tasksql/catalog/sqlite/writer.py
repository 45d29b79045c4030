"""The SQLite catalog's writer thread: one connection, a queue of jobs, group commit.

A *job* is a function ``fn(conn) -> T`` that reads and writes through the given
``sqlite3.Connection``, neither begins nor ends transactions, and has no effect outside the
connection (it may be run a second time, see below). :meth:`SQLiteWriter.submit` puts it on a queue
and returns an asyncio future for its result.

The thread takes every job that is waiting (up to about ``max_group``) and runs them as ONE group:

1. ``PRAGMA synchronous = FULL`` if any job of the group is durable, else ``NORMAL`` (the pragma
   cannot change inside a transaction, so it is set before it);
2. ``BEGIN IMMEDIATE`` (retried while another process holds the write lock);
3. each job's ``fn(conn)``, and if the job declared ``changes`` the change sequence bump;
4. ``COMMIT``; only then are the futures resolved, with one call into each event loop per group
   (:mod:`tasksql.threadcalls`), and the change callback is told the new change sequence.

If any job raises (or SQLite aborts the transaction, or the COMMIT fails), the group is rolled back
and each of its jobs runs again in a transaction of its own: the failing job fails alone and the
others commit. Failures are rare (a name already taken, a lost race), so the common path pays no
savepoint per job. A job's future resolves only after its effect is committed, and the cost of a
commit (and of its fsync, when durable) is shared by the whole group.

A job submitted with ``lazy=True`` (a run's outcome: nothing waits on it to start) is held on the
event loop's side for up to ``linger`` seconds: it goes to the thread together with the next job
that is not lazy (the next fire, typically), or when the linger runs out or ``max_group`` lazy
jobs are held. So under load a run's outcome costs neither a transaction nor a wake-up of the
thread of its own; when idle its commit comes at most ``linger`` late. Jobs always run in the
order they were submitted.
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

from tasksql import threadcalls
from tasksql.catalog.sqlite.connect import connect, retry_busy
from tasksql.catalog.sqlite.errors import translate
from tasksql.errors import CatalogError

T = TypeVar("T")

#: Jobs after which a group is closed (a group can exceed it by the jobs sent together with its
#: last one); bounds the time a group holds the write lock.
DEFAULT_MAX_GROUP = 256

#: Longest a lazy job waits for company (seconds).
DEFAULT_LINGER = 0.005

_Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class WriterStats:
    """Counters of a writer since it started: ``groups`` committed (or failed) transactions,
    ``jobs`` run, ``failed_jobs`` among them, ``regroups`` (groups redone one job at a time after
    a failure), ``busy_retries`` of BEGIN, ``durable`` transactions (flushed to disk at COMMIT);
    and now: ``queued``
    sendings waiting for the thread (a job, with the lazy jobs held until it came), ``held``
    lazy jobs not sent yet."""

    groups: int
    jobs: int
    failed_jobs: int
    regroups: int
    busy_retries: int
    queued: int
    held: int = 0
    durable: int = 0


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


_STOP = object()


class SQLiteWriter:
    """Owns the catalog's only writing connection and the thread that uses it.

    :param path: the catalog file.
    :param change_sql: the statement that advances the change sequence and returns the new value;
        run after every job submitted with ``changes=True``, in the same transaction.
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
        linger: float = DEFAULT_LINGER,
    ) -> None:
        self._path = path
        self._linger = linger
        self._change_sql = change_sql
        self._on_change = on_change
        self._busy_timeout = busy_timeout
        self._busy_retries = busy_retries
        self._max_group = max_group
        self._queue: queue.SimpleQueue[list[_Job] | object] = queue.SimpleQueue()
        self._held: list[_Job] = []  # lazy jobs not sent yet (see the module documentation)
        self._held_lock = threading.Lock()
        self._stopped: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._accepting = False
        self._sync = "NORMAL"
        self._groups = self._jobs = self._failed = self._retries = self._regroups = self._durable = 0
        #: Called on the loop whenever held-back jobs are sent to the writer thread: from then on
        #: they may run at any moment, so whatever their owner may still change in them is frozen.
        self.on_send: Callable[[], None] | None = None

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
        self,
        fn: Callable[[sqlite3.Connection], T],
        *,
        durable: bool = False,
        changes: bool = False,
        lazy: bool = False,
    ) -> asyncio.Future[T]:
        """Queue ``fn`` and return a future for its result, resolved after the commit.

        ``durable``: commit this job's group with ``synchronous = FULL``. ``changes``: advance the
        change sequence in the job's transaction. ``lazy``: the commit may wait up to ``linger``
        seconds for other jobs (ignored for durable and changing jobs). Cancelling the future
        before the job starts skips it; once started, the job commits or fails with its group.

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
                # A timer per holding window; one left over from a window that ended early only
                # sends the next window's jobs sooner.
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
        """The held-back jobs, about to be sent (their owner hears of it through ``on_send``)."""
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

    def stats(self) -> WriterStats:
        return WriterStats(
            groups=self._groups,
            jobs=self._jobs,
            failed_jobs=self._failed,
            regroups=self._regroups,
            busy_retries=self._retries,
            queued=self._queue.qsize(),
            held=len(self._held),
            durable=self._durable,
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
        if len(jobs) == 1:
            self._run_alone(conn, jobs[0])
            return
        self._groups += 1
        try:
            self._begin(conn, durable=any(job.durable for job in jobs))
        except CatalogError as exc:
            self._settle([(job.future, None, exc) for job in jobs], None)
            return
        outcomes: list[_Outcome] = []
        seq: int | None = None
        try:
            for job in jobs:
                outcomes.append((job.future, job.fn(conn), None))
                if job.changes:
                    seq = self._bump(conn)
            conn.execute("COMMIT")
        except BaseException:  # any failure: the group is redone one job at a time
            # One job failed (or SQLite aborted the transaction): undo the group and give every
            # job a transaction of its own, so that only the failing one fails. Jobs have no
            # effect outside the connection, so running one again is safe.
            self._rollback(conn)
            self._regroups += 1
            for job in jobs:
                self._run_alone(conn, job)
            return
        self._jobs += len(jobs)
        self._settle(outcomes, seq)

    def _run_alone(self, conn: sqlite3.Connection, job: _Job) -> None:
        """One job in its own transaction: its failure rolls back nothing else."""
        self._groups += 1
        self._jobs += 1
        try:
            self._begin(conn, durable=job.durable)
        except CatalogError as exc:
            self._settle([(job.future, None, exc)], None)
            return
        try:
            result = job.fn(conn)
            seq = self._bump(conn) if job.changes else None
            conn.execute("COMMIT")
        except BaseException as exc:
            self._failed += 1
            error = translate(exc, "writing to the catalog") if isinstance(exc, sqlite3.Error) else exc
            self._rollback(conn)
            self._settle([(job.future, None, error)], None)
            return
        self._settle([(job.future, result, None)], seq)

    def _bump(self, conn: sqlite3.Connection) -> int:
        # fetchall: a RETURNING statement must finish before the transaction commits.
        return int(conn.execute(self._change_sql).fetchall()[0][0])

    def _begin(self, conn: sqlite3.Connection, *, durable: bool) -> None:
        # Durable groups fsync the WAL at COMMIT (synchronous=FULL); others only write it, which
        # survives a crash of this process but not of the machine. See the catalog's docstring.
        wanted = "FULL" if durable else "NORMAL"
        self._durable += durable

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
            threadcalls.call_soon(loop, _resolve, items)  # a closed loop: nobody is waiting any more
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
