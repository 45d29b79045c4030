"""Group commit: the one-statement write bodies queued for a warehouse share its transactions.

A body with its run's completion marker (:class:`~.base.Marker`) costs its warehouse a transaction
of its own: BEGIN, the statement, the marker's INSERT, COMMIT; one without (markers off, or a body
the marker rules leave unmarked) costs a statement in autocommit, a transaction of its own too.
DuckDB pays a fixed cost per statement (parse, bind, plan) about as large as a one-row INSERT's own
work; a SQLite file admits one writer at a time, and every driver call made under its write lock
hands the interpreter lock over and back while every other writer waits. So, when several such
bodies are queued for one warehouse, the worker that takes one of them takes the others still
queued too (up to :data:`CAP`) and runs them in ONE transaction: BEGIN, body 1, ..., body k, the
markers of the marked ones in one statement (none when none is marked), COMMIT. Nothing waits for a
group to fill: on an idle warehouse a group is one body (a transaction as before; an unmarked body
alone runs as before too, its statement in autocommit without BEGIN or COMMIT), and k grows with
the backlog, which is what keeps a backlog from growing.

Each body stays its own run:

* its effects commit with its marker (if it has one), with the group, or not at all (one
  transaction);
* its result (rows) is its own, and its call ends when the group has committed or its own failure
  is known (its job, queued here, is ended by the worker that ran the group);
* a body that fails, or is stopped (its timeout, its cancel) after its statement ran and before the
  COMMIT, must not decide the others' outcome. Whatever failed, the transaction is rolled back
  (DuckDB aborts a transaction at any error; SQLite's interrupt rolls it back), so nothing of it
  committed and running the others again is safe. A stopped body ends stopped and the others run
  again as a group. A statement that fails as the first of its transaction fails on its own; one
  that fails after others ran may have been failed by them (two bodies inserting one key): those
  run again as a group, then the failed one alone, then the rest. A body alone decides its own
  outcome. (A wait for the write lock that timed out is everyone's: they all fail with it.)
* When the markers' INSERT or the COMMIT fails, every body of the group fails with it and none runs
  again: a COMMIT can report an error after it became durable (SQLite: an I/O error in the
  checkpoint it runs), and running the bodies again could apply them twice (as outside a group,
  where such a failure is the body's).
* A body stopped before its statement starts leaves the group: its call is answered at once (it
  has not run and will not), and it is skipped when its turn comes.

A body's interrupt reaches the group's session only while its own statement runs
(:class:`Member`): stopping one body never interrupts another's statement. Stopped after its
statement ran, it is caught by the group's check before the COMMIT, which rolls the group back as
above.

The grouping is for bodies of one DML statement without extra relations or session parameters
(the backend decides which: :meth:`~._threaded.ThreadedWarehouse._groupable`), marked or not;
every other body runs as before.
"""

from __future__ import annotations

import collections
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tasksql.errors import QueryFailed
from tasksql.warehouses._supervise import Interrupter, Stopped
from tasksql.warehouses._workers import Job, WorkerPool
from tasksql.warehouses.base import BodyResult, Marker, ResultSet

T = TypeVar("T")

#: The SQLSTATE of a lock wait that timed out (SQLite: another writer held the file).
SQLSTATE_LOCK_TIMEOUT = "55P03"

#: At most this many bodies in one transaction.
CAP = 32
#: Bodies queued after a group's first statement ran may join it (where the session allows) for
#: this long (seconds): a group commits promptly, and holds the write lock not much longer.
BUDGET = 0.002


class GroupSession(ABC):
    """What a warehouse session offers to run a group (worker thread, one job at a time)."""

    #: Whether a body may join a group after its transaction began. Not when the dialect's time
    #: functions give the transaction's start (DuckDB's ``now()``): a body that joined late would
    #: see a time before its own run began.
    late_joins: bool = False

    @abstractmethod
    def group_begin(self) -> None:
        """BEGIN the group's transaction. :raises QueryFailed: it could not begin."""

    @abstractmethod
    def group_run(self, sql: str) -> ResultSet:
        """Run one body's statement in the transaction. :raises QueryFailed: it failed (call
        :meth:`group_abort` then)."""

    @abstractmethod
    def group_commit(self, rel: str | None, markers: Sequence[Marker]) -> None:
        """Insert ``markers`` (if any: then ``rel`` is given) into the marker table ``rel`` in ONE
        statement, stamped now, and COMMIT. :raises QueryFailed: the INSERT or the COMMIT failed;
        the transaction is rolled back."""

    @abstractmethod
    def group_abort(self) -> None:
        """Roll the transaction back if one is open (never raises)."""

    @abstractmethod
    def interrupt(self) -> None:
        """Any thread: interrupt the statement running now."""

    @abstractmethod
    def settle(self) -> None:
        """Forget interrupts delivered so far (their bodies are out of the group)."""


#: A member's states (under its lock): waiting for its statement; its statement running (its
#: interrupt reaches the group's session); its statement ran; ended (its call answered).
QUEUED, RUNNING, RAN, ENDED = range(4)


class Member:
    """One one-statement body, with its marker or without (None): queued, then in a group.
    Submitted to :class:`GroupCommit` as the job's callable, it is never called: a group runs it.

    Its state (:data:`QUEUED` -> :data:`RUNNING` -> :data:`RAN`, back to :data:`QUEUED` when its
    group is rolled back and it is to run again, :data:`ENDED` once answered) decides what a stop
    does (:meth:`interrupt`, under the same lock as the worker's start of its statement): a body
    not started is answered at once and skipped when its turn comes; a running one interrupts the
    session, which runs its statement only; one that ran is caught by its group's check before
    the COMMIT."""

    __slots__ = ("job", "lock", "marker", "session", "sql", "state", "stop")

    def __init__(self, sql: str, marker: Marker | None) -> None:
        self.sql = sql
        self.marker = marker
        self.job: Job[BodyResult] | None = None
        self.stop: Interrupter | None = None
        self.lock = threading.Lock()
        self.state = QUEUED
        self.session: GroupSession | None = None

    def __call__(self, stop: Interrupter) -> BodyResult:
        raise AssertionError("a grouped body runs in a group, never on its own")

    def start(self) -> bool:
        """Worker: its statement starts now (True), or it was answered already: skip it (False)."""
        with self.lock:
            if self.state == ENDED:
                return False
            self.state = RUNNING
            return True

    def ran(self) -> None:
        """Worker: its statement returned; its interrupts no longer reach the session."""
        with self.lock:
            if self.state == RUNNING:
                self.state = RAN

    def again(self) -> None:
        """Worker: its group was rolled back; it waits to run again."""
        with self.lock:
            if self.state != ENDED:
                self.state = QUEUED

    def finish(self) -> bool:
        """Whoever answers it: True once (it is now ENDED), False when it was answered already."""
        with self.lock:
            if self.state == ENDED:
                return False
            self.state = ENDED
            return True

    def interrupt(self) -> Callable[[], None] | None:
        """The target of its :class:`Interrupter` (called under that one's lock): see the class.
        Returns the answer of a body not started, to be given once the interrupter's lock is free."""
        with self.lock:
            if self.state == QUEUED:
                self.state = ENDED
                return self._answer_stopped
            if self.state == RUNNING and self.session is not None:
                self.session.interrupt()
        return None

    def _answer_stopped(self) -> None:
        assert self.stop is not None and self.job is not None
        self.stop.detach()
        self.job.complete(None, Stopped())


class GroupCommit:
    """The one-statement bodies queued for one warehouse, and the groups that run them.

    It is the executor :func:`~._supervise.supervise` submits these bodies to (so a timeout, a
    cancel or the warehouse's close treat a queued or running body as any call): each body's job
    waits in a queue of its own here, and *drain* jobs in the warehouse's worker pool run them, at
    most ``drains`` at a time. A drain takes the bodies still queued (up to :attr:`cap`) and gives
    them to ``group`` (the warehouse's: a session, then :meth:`run`); then, while bodies are
    queued, it queues itself again in the pool (behind the jobs queued meanwhile, so other calls
    are not starved), and it ends when none is left. A body submitted while fewer than ``drains``
    drains exist starts one. Both decisions are taken under one lock, so no body is left queued
    without a drain. ``failed`` is told of every body's error (the warehouse notices a dropped
    marker table).
    """

    def __init__(
        self,
        pool: WorkerPool,
        group: Callable[[list[Member]], None],
        *,
        drains: int,
        failed: Callable[[QueryFailed], None] | None = None,
        cap: int = CAP,
        budget: float = BUDGET,
    ) -> None:
        self._pool = pool
        self._group = group
        self._max_drains = max(1, drains)
        self._drains = 0  # drains queued or running (under the lock)
        self._failed_hook = failed
        self.cap = max(1, cap)
        self.budget = budget
        # (deque appends and pops are atomic: the loop appends, workers pop)
        self._queue: collections.deque[Member] = collections.deque()
        self._lock = threading.Lock()
        #: Groups committed and the bodies they carried (bodies / groups: the mean group size).
        self.groups = 0
        self.bodies = 0

    # --- the executor (event loop) ----------------------------------------------------------------

    def submit(self, fn: Callable[..., T], *args: Any) -> Job[T]:
        """Queue the body ``fn`` (a :class:`Member`; ``args``: its interrupter) and a drain for it.

        :raises RuntimeError: the worker pool was shut down (the warehouse is closed).
        """
        job: Job[T] = Job(fn, args)
        member: object = fn
        if not isinstance(member, Member) or len(args) != 1 or not isinstance(args[0], Interrupter):
            raise TypeError("GroupCommit.submit takes a Member and its Interrupter")
        member.job = job  # type: ignore[assignment]  # (T is BodyResult: a Member's result)
        member.stop = args[0]
        with self._lock:
            self._queue.append(member)
            if self._drains >= self._max_drains:
                return job  # a drain queued or running takes it
            self._drains += 1
        try:
            self._pool.submit(self._drain)
        except RuntimeError:
            job.cancel()
            raise
        return job

    # --- the drains (worker threads) --------------------------------------------------------------

    def _drain(self) -> None:
        """A drain's turn: one group, then queued again while bodies are left (see the class)."""
        try:
            members = self.claim(self.cap)
            if members:
                self._group(members)
        finally:
            with self._lock:
                again = bool(self._queue)
                if not again:
                    self._drains -= 1
            if again:
                try:
                    self._pool.submit(self._drain)
                except RuntimeError:  # the warehouse closed: its calls end with it
                    with self._lock:
                        self._drains -= 1

    def claim(self, n: int, *, unmarked_only: bool = False) -> list[Member]:
        """Take up to ``n`` bodies still queued, oldest first (their jobs are now running). Bodies
        stopped while queued (their jobs cancelled) are dropped. With ``unmarked_only``, stop at
        the first marked body (it stays queued, first; the drain that claims checks the queue again
        when its turn ends, so it is not left without a drain)."""
        taken: list[Member] = []
        queue = self._queue
        while len(taken) < n:
            try:
                member = queue.popleft()
            except IndexError:
                break
            if unmarked_only and member.marker is not None:
                queue.appendleft(member)
                break
            assert member.job is not None
            if member.job.claim():
                taken.append(member)
        return taken

    def end(
        self, member: Member, result: BodyResult | None = None, error: BaseException | None = None
    ) -> None:
        """End ``member``'s call with its result or error (interrupts no longer reach the session);
        nothing when it was answered already (stopped before its statement started)."""
        assert member.stop is not None and member.job is not None
        if not member.finish():
            return
        member.stop.detach()
        if isinstance(error, QueryFailed) and self._failed_hook is not None:
            self._failed_hook(error)
        member.job.complete(result, error)

    def run(
        self,
        s: GroupSession,
        members: list[Member],
        table: Callable[[], str | None],
        alone: Callable[[Member], None],
    ) -> None:
        """Run the claimed ``members`` (more may join) in as few transactions as their outcomes
        allow; every member taken has ended when this returns.

        ``table()`` gives the marker table (asked only when a member is marked; created on first
        use, which may wait for a lock: the members' interrupts do not reach ``s`` then, they are
        answered at once), or None when
        the warehouse writes no markers any more: the marked members then run unmarked.
        ``alone(member)`` runs and ends an unmarked body on its own, its statement in autocommit: a
        batch of one unmarked body costs what it would outside a group.

        :raises BaseException: what the session raised outside a body's statement (a bug, the
            worker's end): the members not ended yet end with it, the transaction rolled back.
        """
        taken = list(members)
        try:
            live = self._join(s, members)
            rel: str | None = None
            asked = False  # table() answered (None: the marked run unmarked)
            while live and any(m.marker is not None for m in live):
                try:
                    rel = table()
                    asked = True
                    break
                except QueryFailed as exc:  # (a stop explains it, or it is everyone's failure)
                    again = self._failed([], None, exc, live, setup=True)
                    live = again[0] if again else []
                    s.settle()
            if not live:
                return
            todo = [live]
            grow: list[Member] | None = taken
            while todo:
                batch = todo.pop(0)
                if grow is None:
                    s.settle()  # the stopped ones are out (detached): a retry starts afresh
                for m in batch:
                    m.again()  # (a stop answers it at once again until its statement starts)
                    if rel is None:  # no marker table: nobody's marker is written
                        m.marker = None
                if len(batch) == 1 and batch[0].marker is None:
                    alone(batch[0])  # (ends it; a stop before its statement too)
                else:
                    todo[0:0] = self._attempt(s, batch, rel, grow, unmarked_only=not asked)
                grow = None  # only the first transaction takes late comers
        except BaseException as exc:
            self.end_all(taken, exc)
            raise

    def end_all(self, members: list[Member], exc: BaseException) -> None:
        """End with ``exc`` those of ``members`` that have not ended."""
        for m in members:
            self.end(m, error=exc)

    def _join(self, s: GroupSession, members: list[Member]) -> list[Member]:
        """Route the members' interrupts to themselves (to ``s`` only while their own statement
        runs: :meth:`Member.interrupt`); those already asked to stop end stopped."""
        joined: list[Member] = []
        for m in members:
            assert m.stop is not None
            m.session = s
            try:
                m.stop.attach(m.interrupt)
            except Stopped as exc:
                self.end(m, error=exc)
                continue
            joined.append(m)
        return joined

    def _attempt(
        self,
        s: GroupSession,
        batch: list[Member],
        rel: str | None,
        grow: list[Member] | None,
        *,
        unmarked_only: bool,
    ) -> list[list[Member]]:
        """Run ``batch`` in one transaction (with ``grow``, late comers join and are added to it).
        Each body ends, or is in one of the batches returned, to run next in that order.

        ``rel``: the marker table, or None: with ``unmarked_only`` it was not asked for (every
        member is unmarked), and only unmarked late comers join; otherwise the warehouse writes no
        markers, and late comers join unmarked."""
        live = [m for m in batch if m.state != ENDED]
        if not live:
            return []
        late = grow is not None and s.late_joins
        until = 0.0  # (late joins until then, counted from the first statement: the lock's taken)
        ran: list[tuple[Member, ResultSet]] = []
        s.group_begin()
        try:
            i = 0
            while i < len(live):
                m = live[i]
                i += 1
                if not m.start():  # stopped before its statement (answered then): it leaves
                    continue
                try:
                    rs = s.group_run(m.sql)
                except QueryFailed as exc:
                    m.ran()
                    s.group_abort()
                    return self._failed([r[0] for r in ran], m, exc, live[i:])
                m.ran()
                ran.append((m, rs))
                assert m.stop is not None
                if m.stop.reason is not None:  # stopped while it ran (its interrupt may linger)
                    s.group_abort()
                    return self._failed([r[0] for r in ran], None, None, live[i:])
                if late and len(ran) == 1:
                    until = time.monotonic() + self.budget
                if late and i == len(live) and len(live) < self.cap and time.monotonic() < until:
                    more = self._join(s, self.claim(self.cap - len(live), unmarked_only=unmarked_only))
                    if rel is None:
                        for m in more:
                            m.marker = None
                    live.extend(more)
                    assert grow is not None
                    grow.extend(more)
            if not ran:
                s.group_abort()
                return []
            if any(m.stop is not None and m.stop.reason is not None for m, _ in ran):
                s.group_abort()  # a stop requested during a statement wins over the COMMIT
                return self._failed([m for m, _ in ran], None, None, [])
            try:
                s.group_commit(rel, [m.marker for m, _ in ran if m.marker is not None])
            except QueryFailed as exc:
                # A COMMIT may fail after it became durable (SQLite: an I/O error in the
                # checkpoint that follows it): running the bodies again could apply them twice.
                # As outside a group, the failure is every body's.
                self.end_all([m for m, _ in ran], exc)
                return []
        except BaseException:
            s.group_abort()
            raise
        with self._lock:
            self.groups += 1
            self.bodies += len(ran)
        for m, rs in ran:
            produced = rs.rowcount if rs.rowcount is not None else len(rs.rows)
            self.end(
                m,
                BodyResult(
                    rows_produced=produced,
                    rows_inserted=rs.rowcount or 0,
                    last=rs,
                    marked=m.marker is not None,
                ),
            )
        return []

    def _failed(
        self,
        ran: list[Member],
        failed: Member | None,
        exc: QueryFailed | None,
        rest: list[Member],
        *,
        setup: bool = False,
    ) -> list[list[Member]]:
        """After a rollback: end the bodies whose outcome is known, return the batches to run again.

        ``ran``: the bodies whose statements ran; ``failed``: the body whose statement raised
        ``exc`` (None, without ``exc``: a stop was requested of a body that ran); ``rest``: the
        bodies not run yet. With ``setup``, ``exc`` came before any
        statement (creating the marker table): without a stop to explain it, it is everyone's.
        """
        involved = [*ran, failed] if failed is not None else list(ran)
        stopped = [m for m in [*involved, *rest] if m.stop is not None and m.stop.reason is not None]
        if stopped or exc is None:
            # a stop explains the failure: the stopped end so, the others run again as a group
            for m in stopped:
                self.end(m, error=Stopped())
            again = [m for m in [*involved, *rest] if m not in stopped]
            return [again] if again else []
        if setup:
            for m in rest:
                self.end(m, error=exc)
            return []
        if failed is not None:
            if not ran and exc.sqlstate == SQLSTATE_LOCK_TIMEOUT:
                # the write lock stayed taken for the whole wait: the others would wait as long
                for m in (failed, *rest):
                    self.end(m, error=exc)
                return []
            if not ran:  # the first statement of the transaction: its error is its own
                self.end(failed, error=exc)
                return [rest] if rest else []
            return [b for b in (ran, [failed], rest) if b]
        raise AssertionError("a failure outside a statement is handled by its caller")
