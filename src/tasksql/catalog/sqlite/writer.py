"""The SQLite catalog's writer thread: one connection, a queue of jobs, group commit.

The queue, lazy jobs and futures are :class:`~tasksql.catalog.writer.GroupWriter`'s (see there);
a job here is ``fn(conn) -> T`` on a ``sqlite3.Connection``. The thread runs every job that is
waiting (up to about ``max_group``) as ONE group:

1. ``PRAGMA synchronous = FULL`` if any job of the group is durable, else ``NORMAL`` (the pragma
   cannot change inside a transaction, so it is set before it);
2. ``BEGIN IMMEDIATE`` (retried while another process holds the write lock);
3. each job's ``fn(conn)``, and if the job declared ``changes`` the change sequence bump;
4. ``COMMIT``; only then are the futures resolved, with one call into each event loop per group
   (:mod:`tasksql.threadcalls`), and the change callback is told the new change sequence.

If any job raises (or SQLite aborts the transaction, or the COMMIT fails), the group is rolled back
and each of its jobs runs again in a transaction of its own: the failing job fails alone and the
others commit. Failures are rare (a name already taken, a lost race), so the common path pays no
savepoint per job. The cost of a commit (and of its fsync, when durable) is shared by the whole
group.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from tasksql.catalog.sqlite.connect import connect, retry_busy
from tasksql.catalog.sqlite.errors import translate
from tasksql.catalog.writer import DEFAULT_LINGER, DEFAULT_MAX_GROUP, GroupWriter, Job, Outcome
from tasksql.errors import CatalogError


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


class SQLiteWriter(GroupWriter[sqlite3.Connection]):
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
        super().__init__(
            thread_name="tasksql-catalog-writer", on_change=on_change, max_group=max_group, linger=linger
        )
        self._path = path
        self._change_sql = change_sql
        self._busy_timeout = busy_timeout
        self._busy_retries = busy_retries
        self._conn: sqlite3.Connection | None = None
        self._sync = "NORMAL"
        self._groups = self._jobs = self._failed = self._retries = self._regroups = self._durable = 0

    def stats(self) -> WriterStats:
        return WriterStats(
            groups=self._groups,
            jobs=self._jobs,
            failed_jobs=self._failed,
            regroups=self._regroups,
            busy_retries=self._retries,
            queued=self._queued(),
            held=self._held_count(),
            durable=self._durable,
        )

    # --- the writer thread -----------------------------------------------------------------------

    def _connect(self) -> None:
        self._conn = retry_busy(
            lambda: connect(self._path, busy_timeout=self._busy_timeout, reader=False),
            retries=self._busy_retries,
            doing=f"opening the catalog {self._path}",
        )

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _db(self) -> sqlite3.Connection:
        assert self._conn is not None, "the writer is not connected"
        return self._conn

    def _run_group(self, batch: list[Job[sqlite3.Connection]]) -> None:
        # Reading a future's state from this thread is safe: it is one attribute read.
        jobs = [job for job in batch if not job.future.cancelled()]
        if not jobs:
            return
        if len(jobs) == 1:
            self._run_alone(jobs[0])
            return
        conn = self._db()
        self._groups += 1
        try:
            self._begin(conn, durable=any(job.durable for job in jobs))
        except CatalogError as exc:
            self._settle([(job.future, None, exc) for job in jobs], None)
            return
        outcomes: list[Outcome] = []
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
            self._rollback()
            self._regroups += 1
            for job in jobs:
                self._run_alone(job)
            return
        self._jobs += len(jobs)
        self._settle(outcomes, seq)

    def _run_alone(self, job: Job[sqlite3.Connection]) -> None:
        """One job in its own transaction: its failure rolls back nothing else."""
        conn = self._db()
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
            self._rollback()
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

    def _rollback(self) -> bool:
        conn = self._conn
        if conn is None:
            return False
        if conn.in_transaction:
            # If even ROLLBACK fails, nothing more can be done: SQLite resets the connection.
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                return False
        return True
