"""The PostgreSQL catalog's writer thread: one connection, a queue of jobs, group commit.

The queue, lazy jobs and futures are :class:`~tasksql.catalog.writer.GroupWriter`'s, as for the
SQLite catalog, so that the contract's ordering promises hold the same way on both backends. A job
is ``fn(cur) -> T`` on a psycopg cursor (dict rows). Every job waiting in the queue runs in ONE
transaction; when a job of a group fails (PostgreSQL aborts the whole transaction), the group is
rolled back and each job runs again in a transaction of its own, so that the failing job alone
gets its exception.

Durability: a group with no durable job commits with ``synchronous_commit = off`` (the commit is
acknowledged before its WAL reaches disk; a crash of the *server* can lose the last few hundred
milliseconds of run bookkeeping, as a power loss can on SQLite with ``synchronous=NORMAL``). A
durable group commits with the server's own setting (``on`` unless the administrator chose
otherwise), and such a commit flushes the WAL written before it, so it also covers the earlier
asynchronous commits (what :meth:`Catalog.one_sync` relies on).

A lost connection (the server restarted, a backend was terminated) is the writer's to repair, and
no job is lost or applied twice for it:

* the transaction's id is read with its BEGIN, so when the connection breaks while COMMIT is on its
  way (the outcome unknown), the writer asks the server, once connected again, whether that
  transaction committed (``txid_status``): committed jobs get their results, the others run again;
  a group that broke before its COMMIT was sent committed nothing and runs again;
* the writer connects again at once; when that fails, an *outage* begins (see
  :mod:`tasksql.catalog.postgres.health`: logged once, with the cause) and it keeps trying with
  capped exponential backoff and jitter;
* during an outage a job submitted with ``hold=True`` (run bookkeeping: starts, outcomes, claims)
  waits, in order, and is committed when the server is back; any other job (a user's statement)
  fails at once with ``CATALOG_UNAVAILABLE``: at :meth:`PgWriter.submit` when the outage is known,
  else when it is declared (a job whose COMMIT was on its way waits up to :data:`UNKNOWN_WAIT`
  seconds for its outcome to be known, then fails saying that the change may have been committed);
* :meth:`PgWriter.stop` during an outage waits up to :data:`STOP_WAIT` seconds for the server, then
  fails the held jobs (they are not committed; a node that stops so is settled as a lost node).
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from typing import Any

import psycopg

from tasksql.catalog.postgres.connect import (
    Conn,
    Cursor,
    Target,
    carry_label,
    connect,
    one_line,
    open_connection,
    translate,
)
from tasksql.catalog.postgres.health import Backoff, Health
from tasksql.catalog.writer import DEFAULT_LINGER, DEFAULT_MAX_GROUP, STOP, GroupWriter, Job
from tasksql.clock import monotonic
from tasksql.errors import CatalogError

log = logging.getLogger("tasksql.catalog")

#: Longest a job that cannot wait waits for the outcome of a COMMIT cut off by a lost connection.
UNKNOWN_WAIT = 2.0

#: Longest :meth:`PgWriter.stop` waits for an unreachable server before failing the held jobs.
STOP_WAIT = 5.0

_Job = Job[Cursor]


class _Lost(Exception):
    """The connection broke during a group. ``unknown``: COMMIT was on its way, so the group may
    have committed (``xid`` tells, with the ``results`` and change sequence it would have)."""

    def __init__(
        self, cause: str, *, xid: int | None = None, unknown: bool = False, results: list[Any] | None = None
    ) -> None:
        super().__init__(cause)
        self.cause = cause
        self.xid = xid
        self.unknown = unknown
        self.results = results or []
        self.seq: int | None = None


#: BEGIN, and the transaction's id (to ask the server what became of it if the connection breaks).
_BEGIN_DURABLE = "BEGIN; SELECT txid_current() AS xid"
_BEGIN_ASYNC = "BEGIN; SET LOCAL synchronous_commit = off; SELECT txid_current() AS xid"


class PgWriter(GroupWriter[Cursor]):
    """Owns the catalog's writing connection and the thread that uses it.

    Jobs submitted with ``hold`` wait out an outage; others fail at :meth:`submit` with
    ``CATALOG_UNAVAILABLE`` while one is on. :meth:`stop` during an outage waits up to
    :data:`STOP_WAIT` seconds for the server (see the module).

    :param change_sql: the statement that advances the change sequence (and notifies listeners)
        and returns the new value; run after every job submitted with ``changes=True``.
    :param on_change: called on the event loop that started the writer with the new change
        sequence, after a group that advanced it has committed.
    :param health: the catalog's reachability, which this writer judges (see the module).
    """

    def __init__(
        self,
        target: Target,
        *,
        change_sql: str,
        on_change: Callable[[int], None],
        health: Health,
        max_group: int = DEFAULT_MAX_GROUP,
        linger: float = DEFAULT_LINGER,
    ) -> None:
        super().__init__(
            thread_name="tasksql-pg-writer", on_change=on_change, max_group=max_group, linger=linger
        )
        self._target = target
        self._change_sql = change_sql
        self._health = health
        self._conn: Conn | None = None
        #: Transactions committed with the server's ``synchronous_commit`` (a flush of the WAL).
        self.durable_commits = 0
        health.on_suspect = self.probe

    def _refusal(self, hold: bool) -> CatalogError | None:
        return None if hold else self._health.error("writing to the catalog")

    # --- the writer thread -----------------------------------------------------------------------

    def _connect(self) -> None:
        self._conn = connect(self._target)

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def _run_group(self, batch: list[_Job]) -> None:
        """Run ``batch`` in one transaction (at most ``max_group`` jobs each). When PostgreSQL
        aborts it, each job runs again alone, so that only the failing one fails (jobs have no
        effect outside the connection). On a lost connection, repair it and run again what did not
        commit, then the held jobs that arrived meanwhile (see the module)."""
        pending = [job for job in batch if not job.future.cancelled()]
        alone = 0  # how many of the first pending jobs run in a transaction of their own
        while pending:
            size = 1 if alone else self._max_group
            jobs, pending = pending[:size], pending[size:]
            alone = max(0, alone - 1)
            try:
                results, seq = self._transaction(jobs)
            except _Lost as lost:
                again, held = self._recover(jobs, lost)
                alone += len(again) if size == 1 else 0
                pending = [job for job in [*again, *pending, *held] if not job.future.cancelled()]
                continue
            except BaseException as exc:
                self._rollback()
                if len(jobs) > 1:
                    pending, alone = jobs + pending, len(jobs)
                    continue
                error = (
                    translate(exc, self._target, "writing to the catalog")
                    if isinstance(exc, psycopg.Error)
                    else exc
                )
                self._settle([(jobs[0].future, None, error)], None)
                continue
            self._settle([(job.future, result, None) for job, result in zip(jobs, results, strict=True)], seq)

    def _transaction(self, jobs: list[_Job]) -> tuple[list[Any], int | None]:
        """Run ``jobs`` in one transaction and commit; their results and the new change sequence.

        :raises _Lost: the connection broke (before COMMIT was sent, or while it was on its way).
        """
        durable = any(job.durable for job in jobs)
        cur, xid = self._begin(durable=durable)
        try:
            results, seq = self._run_jobs(cur, jobs, self._bump)
        except psycopg.Error as exc:
            # nothing is committed yet: when the connection is gone (or in a state that a ROLLBACK
            # cannot clear, as a pipeline cut off mid-flight), connecting again and re-running the
            # jobs is safe
            if not self._rollback() or self._broken():
                raise _Lost(self._cause(exc)) from None
            raise
        try:
            cur.execute("COMMIT")
        except psycopg.Error as exc:
            if not self._broken():
                raise
            lost = _Lost(self._cause(exc), xid=xid, unknown=True, results=results)
            lost.seq = seq
            raise lost from None
        self.durable_commits += durable
        return results, seq

    def _begin(self, *, durable: bool) -> tuple[Cursor, int]:
        """BEGIN on the writer's connection (connecting again if it was lost); the cursor and the
        transaction's id.

        :raises _Lost: the connection is lost and cannot be made again, or broke now.
        """
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                conn.close()
            self._conn = None
            try:
                self._conn = conn = open_connection(self._target)
            except psycopg.Error as exc:
                raise _Lost(self._cause(exc)) from None
        cur = conn.cursor()
        try:
            carry_label(conn, self._target.label.text)  # before BEGIN: a SET in it would roll back
            # One round trip: without parameters psycopg sends the statements in one query.
            cur.execute(_BEGIN_DURABLE if durable else _BEGIN_ASYNC)
            while cur.nextset():
                pass
            row = cur.fetchone()
        except psycopg.Error as exc:
            conn.close()
            raise _Lost(self._cause(exc)) from None
        assert row is not None
        return cur, int(row["xid"])

    def _broken(self) -> bool:
        conn = self._conn
        return conn is None or conn.closed or conn.broken

    def _cause(self, exc: psycopg.Error) -> str:
        return one_line(exc, self._target.password)

    def _bump(self, cur: Cursor) -> int:
        cur.execute(self._change_sql, {"channel": self._target.channel})
        row = cur.fetchone()
        assert row is not None
        return int(row["change_seq"])

    def _rollback(self) -> bool:
        """ROLLBACK; False (and the connection closed) when the connection could not do it."""
        conn = self._conn
        if conn is None or conn.closed:
            return False
        try:
            conn.execute("ROLLBACK")
        except psycopg.Error:
            conn.close()
            return False
        return True

    def _probe(self) -> None:
        """Check the connection (one cheap statement); repair it when it is lost."""
        conn = self._conn
        try:
            if conn is not None and not conn.closed and not conn.broken:
                conn.execute("SELECT 1")
                return
            cause = "the connection was closed"
        except psycopg.Error as exc:
            cause = self._cause(exc)
        again, held = self._recover([], _Lost(cause))
        self._run_group([*again, *held])

    # --- repairing a lost connection ------------------------------------------------------------

    def _recover(self, jobs: list[_Job], lost: _Lost) -> tuple[list[_Job], list[_Job]]:
        """Connect again (at once, then with backoff during an outage) and settle ``jobs``, the
        group that broke, as far as their outcome is known. Returns the jobs of the group to run
        again (they did not commit) and the held jobs that arrived meanwhile, in order."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        started = monotonic()
        backoff = Backoff()
        held: list[_Job] = []
        group = list(jobs)  # the broken group's jobs whose outcome is not given yet
        down = False
        status = "aborted"
        while True:
            try:
                conn = self._conn = open_connection(self._target)
                if lost.unknown:
                    status = self._status(conn, lost.xid)
                break
            except (psycopg.Error, _Lost) as exc:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
                if not down:
                    down = True
                    now = self._cause(exc) if isinstance(exc, psycopg.Error) else lost.cause
                    again = f"; connecting again: {now}" if now != lost.cause else ""
                    self._health.mark_down(f"{lost.cause}{again}", held=sum(job.hold for job in group))
                    if not lost.unknown:  # nothing of the group committed: what cannot wait fails now
                        group = self._fail_unheld(group, "the change was not committed")
                if lost.unknown and monotonic() - started >= UNKNOWN_WAIT:
                    group = self._fail_unheld(
                        group, "the connection was lost while committing: the change may have been committed"
                    )
                if self._wait(backoff.next(), held):
                    # stopping, and the server is still away: nothing held is written
                    self._fail([*group, *held], "the node stopped before the catalog was back: not committed")
                    return [], []
        if status == "committed":
            waiting = {id(job) for job in group}
            self._settle(
                [
                    (job.future, result, None)
                    for job, result in zip(jobs, lost.results, strict=True)
                    if id(job) in waiting
                ],
                lost.seq,
            )
            group = []
        if down:
            self._health.mark_up(attempts=backoff.attempts + 1, held=len(group) + len(held))
        else:
            log.warning(
                "the connection to the PostgreSQL catalog at %s was lost (%s); connected again",
                self._target.safe_url,
                lost.cause,
            )
        return group, held

    def _status(self, conn: Conn, xid: int | None) -> str:
        """``committed`` or ``aborted``: what became of transaction ``xid``, cut off in its COMMIT.

        :raises _Lost: the connection broke again, or the transaction is still in progress after
            a second (its backend is on its way out).
        """
        if xid is None:
            return "aborted"
        deadline = monotonic() + 1.0
        while True:
            try:
                row = conn.execute("SELECT txid_status(%s) AS status", (xid,)).fetchone()
            except psycopg.errors.InvalidParameterValue:
                return "aborted"  # "in the future": the server lost it (a crash ate its WAL)
            except psycopg.Error as exc:
                raise _Lost(self._cause(exc)) from None
            status = None if row is None else row["status"]
            if status != "in progress":
                return "committed" if status == "committed" else "aborted"
            if monotonic() >= deadline:
                raise _Lost(f"transaction {xid} is still in progress")
            time.sleep(0.02)

    def _wait(self, delay: float, held: list[_Job]) -> bool:
        """Pause ``delay`` seconds before the next attempt, taking what arrives meanwhile: jobs to
        hold go to ``held``, the others fail at once. True when it is time to give up (stopping
        for longer than :data:`STOP_WAIT`)."""
        deadline = monotonic() + delay
        while True:
            if self._stop_by is not None and monotonic() - self._stop_by >= STOP_WAIT:
                return True
            remaining = deadline - monotonic()
            if self._stop_by is not None:
                remaining = min(remaining, self._stop_by + STOP_WAIT - monotonic())
            if remaining <= 0:
                return False
            try:
                item = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if item is STOP:
                self._stop_by = monotonic()
            elif isinstance(item, list):
                held.extend(self._fail_unheld(item, "the change was not committed"))

    def _fail_unheld(self, jobs: list[_Job], what: str) -> list[_Job]:
        """Fail the jobs of ``jobs`` that are not to be held (``what`` became of them); the others."""
        self._fail([job for job in jobs if not job.hold], what)
        return [job for job in jobs if job.hold]

    def _fail(self, jobs: list[_Job], what: str) -> None:
        if not jobs:
            return
        error = self._health.error("writing to the catalog")
        text = (
            str(error)
            if error is not None
            else f"cannot reach the PostgreSQL catalog at {self._target.safe_url}"
        )
        failure = CatalogError(f"{text} ({what})", code="CATALOG_UNAVAILABLE")
        self._settle([(job.future, None, failure) for job in jobs], None)
