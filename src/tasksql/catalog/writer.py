"""A catalog's writer: one thread, one connection, a queue of jobs, group commit.

Every backend writes this way (:mod:`tasksql.catalog.sqlite.writer`,
:mod:`tasksql.catalog.postgres.writer`), so that the contract's ordering promises hold the same way
on all of them: every write of one catalog goes through one queue, in the order it was asked for,
and run bookkeeping costs one commit per group instead of one per run. This module is the part that
does not depend on the database: the queue, lazy jobs held back on the event loop's side, taking
the waiting jobs as one group, and resolving futures after the commit. A backend says how a group
runs in a transaction (:meth:`GroupWriter._run_group`) and how its connection opens and closes.

A *job* is a function ``fn(db) -> T`` (``db``: the backend's connection or cursor) that reads and
writes through ``db``, neither begins nor ends transactions, and has no effect outside the
connection, so it may be run a second time: when a job of a group fails, the backend rolls the
group back and runs each job again in a transaction of its own, so that the failing job alone gets
its exception. :meth:`GroupWriter.submit` puts a job on the queue and returns an asyncio future for
its result, resolved only after its effect is committed.

A job may also be a :class:`Part`: run bookkeeping that can run together with the parts next to it
in the same group (:meth:`GroupWriter._run_jobs`, which the PostgreSQL writer uses; the SQLite
writer runs each job alone, its statements costing no round trip), as fewer and larger statements
than one job after the other would send, with the same effect. When the writer falls behind, its groups grow,
and so do these statements: the cost per run of a statement's round trip, planning and start
falls as the load rises, instead of a backlog of small statements growing. A part's ``fn`` is the
part run alone (a group that failed runs its jobs again one by one).

A job submitted with ``lazy=True`` (a run's outcome: nothing waits on it to start) is held on the
event loop's side for up to ``linger`` seconds: it goes to the thread together with the next job
that is not lazy (the next fire, typically), or when the linger runs out or ``max_group`` lazy
jobs are held. So under load a run's outcome costs neither a transaction nor a wake-up of the
thread of its own; when idle its commit comes at most ``linger`` late. Jobs always run in the
order they were submitted. Held starts (:mod:`tasksql.catalog.held_starts`) rely on
:meth:`GroupWriter.holds` and :attr:`GroupWriter.on_send`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

from tasksql import threadcalls
from tasksql.clock import monotonic
from tasksql.errors import CatalogError

T = TypeVar("T")
#: What a job is given: the backend's connection (SQLite) or cursor (PostgreSQL).
D = TypeVar("D")

#: Jobs after which a group is closed (a group can exceed it by the jobs sent together with its
#: last one); bounds the time a group holds the write lock (or its row locks).
DEFAULT_MAX_GROUP = 256

#: Longest a lazy job waits for company (seconds).
DEFAULT_LINGER = 0.005

#: A job's future, and its result or its exception.
Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]

#: Queue items other than lists of jobs: end the thread; check the connection now.
STOP = object()
PROBE = object()


class Part(ABC, Generic[D]):
    """A job that may run together with its neighbours of the same :meth:`kind` in a group (see the
    module): :meth:`run_together` must have the effect of running each part's job alone, one
    after the other, and give each part the result its job would have had."""

    __slots__ = ()

    @abstractmethod
    def kind(self) -> Hashable:
        """Parts run together only with consecutive parts of an equal kind."""

    @abstractmethod
    def run_together(self, db: D, parts: Sequence[Part[D]]) -> list[Any]:
        """Run ``parts`` (consecutive in the group, this one first, all of its kind) inside the
        group's transaction; their results, in order."""


class Job(Generic[D]):
    """One queued write. ``durable``: its group commits with a flush to disk. ``changes``: the change
    sequence advances in its transaction. ``hold``: during an outage it waits for the database
    instead of failing (backends that judge outages). ``part``: the job may run together with its
    neighbours (see :class:`Part`); ``fn`` runs it alone."""

    __slots__ = ("changes", "durable", "fn", "future", "hold", "part")

    def __init__(
        self,
        fn: Callable[[D], Any],
        future: asyncio.Future[Any],
        *,
        durable: bool,
        changes: bool,
        hold: bool,
        part: Part[D] | None = None,
    ) -> None:
        self.fn = fn
        self.future = future
        self.durable = durable
        self.changes = changes
        self.hold = hold
        self.part = None if changes else part


class GroupWriter(ABC, Generic[D]):
    """Owns a catalog's writing connection and the thread that uses it (see the module).

    :param thread_name: the writer thread's name.
    :param on_change: called on the event loop that started the writer with the new change
        sequence, after a group that advanced it has committed.
    :param max_group: most jobs taken as one group.
    :param linger: longest a lazy job is held back (seconds; 0: never held).
    """

    def __init__(
        self,
        *,
        thread_name: str,
        on_change: Callable[[int], None],
        max_group: int = DEFAULT_MAX_GROUP,
        linger: float = DEFAULT_LINGER,
    ) -> None:
        self._thread_name = thread_name
        self._on_change = on_change
        self._max_group = max_group
        self._linger = linger
        self._queue: queue.SimpleQueue[list[Job[D]] | object] = queue.SimpleQueue()
        self._held: list[Job[D]] = []  # lazy jobs not sent yet (see the module documentation)
        self._held_lock = threading.Lock()
        #: The future of the last job in ``_held`` (None when nothing is held), for :meth:`holds`.
        self._newest_held: asyncio.Future[Any] | None = None
        self._stopped: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._accepting = False
        #: Set by the thread when it has taken the stop request (monotonic seconds).
        self._stop_by: float | None = None
        #: Called on the loop whenever held-back jobs are sent to the writer thread: from then on
        #: they may run at any moment, so whatever their owner may still change in them is frozen.
        self.on_send: Callable[[], None] | None = None

    # --- what a backend provides (called in the writer thread) ------------------------------------

    @abstractmethod
    def _connect(self) -> None:
        """Open the writing connection.

        :raises CatalogError: the catalog cannot be opened (:meth:`start` raises it).
        """

    @abstractmethod
    def _disconnect(self) -> None:
        """Close the writing connection (when open); never raises."""

    @abstractmethod
    def _run_group(self, batch: list[Job[D]]) -> None:
        """Run ``batch`` (every job that was waiting, in order) and settle each job's future with
        :meth:`_settle`: one transaction for the group, each job alone when one fails."""

    @abstractmethod
    def _rollback(self) -> bool:
        """Roll back an open transaction; False when the connection could not. Never raises."""

    def _probe(self) -> None:
        """Check the connection after :meth:`probe` (backends that repair lost connections)."""

    def _refusal(self, hold: bool) -> CatalogError | None:
        """On the loop, at :meth:`submit`: why a job must fail at once (an outage), or None."""
        return None

    # --- called on the event loop ----------------------------------------------------------------

    async def start(self) -> None:
        """Start the thread and open its connection.

        :raises CatalogError: the catalog cannot be opened.
        """
        self._loop = asyncio.get_running_loop()
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        thread = threading.Thread(target=self._main, args=(started,), name=self._thread_name, daemon=True)
        thread.start()
        await asyncio.wrap_future(started)
        self._accepting = True

    def submit(
        self,
        fn: Callable[[D], T],
        *,
        durable: bool = False,
        changes: bool = False,
        lazy: bool = False,
        hold: bool = False,
        part: Part[D] | None = None,
    ) -> asyncio.Future[T]:
        """Queue ``fn`` and return a future for its result, resolved after the commit.

        ``durable``: commit this job's group with a flush to disk. ``changes``: advance the change
        sequence in the job's transaction. ``lazy``: the commit may wait up to ``linger`` seconds
        for other jobs (ignored for durable and changing jobs). ``hold``: during an outage the job
        waits for the database instead of failing. ``part``: ``fn`` may run together with its
        neighbours as this part (see :class:`Part`; ignored for changing jobs). Cancelling the
        future before the job starts skips it; once started, the job commits or fails with its group.

        :raises CatalogError: (code ``CATALOG_CLOSED``) the writer is stopped; what
            :meth:`_refusal` says (an outage, for a job that is not held).
        """
        if not self._accepting:
            raise CatalogError("the catalog is closed", code="CATALOG_CLOSED")
        error = self._refusal(hold)
        if error is not None:
            raise error
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        job: Job[D] = Job(fn, future, durable=durable, changes=changes, hold=hold, part=part)
        if lazy and not (durable or changes) and self._linger > 0:
            with self._held_lock:
                self._held.append(job)
                self._newest_held = future
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
        """True when the job of ``future`` is the newest one held back (lazy, not sent yet).

        Asked for every settled run, so it reads one field instead of taking ``_held_lock``: the
        field is written together with ``_held`` under that lock (set with each held job, None when
        the held jobs are taken), and reading one attribute never sees a torn value. The lock would
        not make the answer last any longer either, since the caller acts on it after the lock is
        released: what keeps it true is that a catalog writes from one event loop and held jobs
        are sent only by calls on it (:meth:`submit`, the linger timer, :meth:`stop`), so until the
        caller, on that loop, yields or submits, no job it was told is held can be sent.
        """
        return self._newest_held is future

    def probe(self) -> None:
        """From any thread: check the connection now (another connection of the catalog broke)."""
        if self._accepting:
            self._queue.put(PROBE)

    async def stop(self) -> None:
        """Run the jobs already queued, then close the connection and end the thread. Idempotent."""
        if self._accepting:
            self._accepting = False
            self._send_held()
            self._queue.put(STOP)
        if self._loop is not None:
            await asyncio.wrap_future(self._stopped)

    def _queued(self) -> int:
        """Sendings waiting for the thread (a job, with the lazy jobs held until it came)."""
        return self._queue.qsize()

    def _held_count(self) -> int:
        """Lazy jobs not sent yet."""
        return len(self._held)

    def _send_held(self) -> None:
        jobs = self._take_held()
        if jobs:
            self._queue.put(jobs)

    def _take_held(self) -> list[Job[D]]:
        """The held-back jobs, about to be sent (their owner hears of it through ``on_send``)."""
        with self._held_lock:
            jobs, self._held = self._held, []
            self._newest_held = None
        if jobs and self.on_send is not None:
            self.on_send()
        return jobs

    # --- the writer thread -----------------------------------------------------------------------

    def _main(self, started: concurrent.futures.Future[None]) -> None:
        try:
            self._connect()
        except BaseException as exc:
            started.set_exception(exc)
            self._stopped.set_result(None)
            return
        started.set_result(None)
        try:
            self._serve()
        finally:
            self._disconnect()
            self._stopped.set_result(None)

    def _serve(self) -> None:
        while self._stop_by is None:
            batch, probe = self._take_group(self._queue.get())
            try:
                if batch:
                    self._run_group(batch)
                elif probe:
                    self._probe()
            except BaseException as exc:
                # A bug here must not leave callers waiting forever nor kill the thread.
                self._rollback()
                error = CatalogError(f"the catalog writer failed: {exc!r}")
                self._settle([(job.future, None, error) for job in batch], None)

    def _take_group(self, item: object) -> tuple[list[Job[D]], bool]:
        """``item`` and whatever else waits in the queue, up to ``max_group`` jobs: the jobs, and
        whether a probe was asked for. A stop request ends the group (and sets ``_stop_by``)."""
        batch: list[Job[D]] = []
        probe = False
        while True:
            if item is STOP:
                self._stop_by = monotonic()
                break
            if item is PROBE:
                probe = True
            else:
                assert isinstance(item, list)
                batch.extend(item)
                if len(batch) >= self._max_group:
                    break
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
        return batch, probe

    @staticmethod
    def _run_jobs(db: D, jobs: Sequence[Job[D]], bump: Callable[[D], int]) -> tuple[list[Any], int | None]:
        """Run ``jobs`` in order inside the open transaction, consecutive parts of one kind together
        (see :class:`Part`); their results and the change sequence ``bump`` gave last (after each
        job with ``changes``), if any."""
        results: list[Any] = []
        seq: int | None = None
        i, n = 0, len(jobs)
        while i < n:
            job = jobs[i]
            part = job.part
            if part is None:
                results.append(job.fn(db))
                if job.changes:
                    seq = bump(db)
                i += 1
                continue
            kind = part.kind()
            j = i + 1
            parts = [part]
            while j < n:
                other = jobs[j].part
                if other is None or other.kind() != kind:
                    break
                parts.append(other)
                j += 1
            if len(parts) == 1:
                results.append(job.fn(db))
            else:
                together = part.run_together(db, parts)
                assert len(together) == len(parts)
                results.extend(together)
            i = j
        return results, seq

    def _settle(self, outcomes: list[Outcome], seq: int | None) -> None:
        """Resolve futures (one call into each event loop) and report a new change sequence."""
        by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome[0].get_loop(), []).append(outcome)
        for loop, items in by_loop.items():
            threadcalls.call_soon(loop, _resolve, items)  # a closed loop: nobody is waiting any more
        if seq is not None and self._loop is not None:
            threadcalls.call_soon(self._loop, self._on_change, seq)


def _resolve(items: list[Outcome]) -> None:
    for future, result, error in items:
        if future.done():
            continue  # cancelled while the job ran
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
