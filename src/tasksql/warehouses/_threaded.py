"""The warehouse contract over a blocking driver: jobs on sessions in worker threads.

:class:`ThreadedWarehouse` implements every coroutine of :class:`~.base.Warehouse` once. A backend
supplies how to get and give back a :class:`~._session.WarehouseSession` (in the worker thread), what to do
at open and close, and optionally extra session parameters per call (PostgreSQL's
``statement_timeout`` backstop). Arguments are validated on the event loop before a slot is taken.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import threading
from abc import abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from tasksql.errors import QueryFailed, TasksqlError, WarehouseError
from tasksql.warehouses import _body, _markers
from tasksql.warehouses._group_commit import GroupCommit, GroupSession, Member
from tasksql.warehouses._pinned import begin_user_transaction, pinned_transaction
from tasksql.warehouses._session import WarehouseSession
from tasksql.warehouses._sqltext import (
    check_relation_name,
    check_session_params,
    parse_table_name,
    query_text,
)
from tasksql.warehouses._supervise import InFlight, Interrupter, supervise
from tasksql.warehouses._workers import Executor, WorkerPool
from tasksql.warehouses.base import (
    INTERRUPT_GRACE,
    NO_TABLES,
    BodyResult,
    CancelToken,
    Marker,
    ResultSet,
    UserTransaction,
    Warehouse,
    WarehouseTransaction,
)
from tasksql.warehouses.stream_sql import HIDDEN as STREAM_CLAIM

if TYPE_CHECKING:
    import pyarrow

T = TypeVar("T")

log = logging.getLogger("tasksql.warehouses")

#: SQLSTATEs of a marker table that does not exist (table, or its schema).
_NO_MARKER_TABLE = frozenset({"42P01", "3F000"})
#: Tries to create the marker table when creating it races with another connection.
_CREATE_TRIES = 3


class ThreadedWarehouse(Warehouse):
    """A warehouse whose driver blocks: each call is a job on one session in a worker thread.

    The executor has ``max_concurrency`` threads, the warehouse's slots: calls queue for them, first
    come, first served, and a slot is freed only when its driver call has returned.

    A backend whose sessions are :class:`~._group_commit.GroupSession` sets :attr:`group_commit`:
    its bodies of one statement that :meth:`_groupable` accepts, marked or not, then share
    transactions under load (see :mod:`._group_commit`).
    """

    #: One-statement write bodies are run in groups (the sessions are GroupSessions).
    group_commit = False

    def __init__(self, name: str, max_concurrency: int) -> None:
        if max_concurrency < 1:
            raise WarehouseError(f"warehouse {name}: MAX_CONCURRENCY must be at least 1", code="INVALID")
        self.name = name
        self.max_concurrency = max_concurrency
        self._executor: WorkerPool | None = None
        self._in_flight: InFlight | None = None
        self._groups: GroupCommit | None = None
        self._closed = False
        # The completion marker table: created once (under the lock) by the first marked body.
        self._markers_lock = threading.Lock()
        self._markers_ready = False
        #: Why this warehouse writes no markers (its table cannot be created), or None.
        self.markers_off: str | None = None

    # --- backend hooks ---------------------------------------------------------------------------

    @abstractmethod
    async def _open_backend(self) -> None:
        """Open files / pools. :raises WarehouseError: when that fails."""

    @abstractmethod
    async def _close_backend(self) -> None:
        """Release files / pools; sessions still held by abandoned jobs close when those return."""

    @abstractmethod
    def _acquire(self) -> WarehouseSession:
        """Worker thread: a session for one job. :raises WarehouseError: cannot connect."""

    @abstractmethod
    def _release(self, session: WarehouseSession, *, reuse: bool) -> None:
        """Worker thread: give the session back (kept only if ``reuse`` and it is reusable)."""

    def _backstop_params(self, timeout: float | None) -> list[tuple[str, str]]:
        """WarehouseSession params the backend adds to every call (e.g. a server-side statement timeout)."""
        return []

    def _groupable(self, sql: str) -> bool:
        """Whether the body of the one statement ``sql`` (marked or not) may share a transaction
        with others (with :attr:`group_commit`): a statement that can run in a transaction, has
        effects and, for the backend's lock, starts as a write (INSERT, UPDATE, DELETE...)."""
        return False

    @property
    def grouped(self) -> tuple[int, int]:
        """(groups committed by group commit, task bodies they carried) since the warehouse opened:
        the second over the first is the mean group size. (0, 0) for a backend without it."""
        groups = self._groups
        return (groups.groups, groups.bodies) if groups is not None else (0, 0)

    @property
    def running(self) -> int:
        return self._in_flight.executing if self._in_flight is not None else 0

    # --- life cycle ------------------------------------------------------------------------------

    async def open(self) -> None:
        if self._closed:
            raise WarehouseError(f"warehouse {self.name} is closed", code="WAREHOUSE_CLOSED")
        if self._executor is not None:
            return
        await self._open_backend()
        self._in_flight = InFlight()
        self._executor = WorkerPool(self.max_concurrency, f"tasksql-{self.type.value}-{self.name}")
        if self.group_commit:
            self._groups = GroupCommit(
                self._executor, self._group, drains=self.max_concurrency, failed=self._body_failed
            )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        executor, in_flight = self._executor, self._in_flight
        if executor is None or in_flight is None:
            await self._close_backend()
            return
        # Each call interrupts its own job (again and again, as on a timeout) and gives up after the
        # grace period; wait for them as long, then let go of what is left.
        running = in_flight.close()
        if running:
            await asyncio.wait(running, timeout=INTERRUPT_GRACE + 0.5)
        executor.shutdown(wait=False, cancel_futures=True)
        await self._close_backend()

    # --- the contract ----------------------------------------------------------------------------

    async def execute(
        self,
        sql: str,
        *,
        tables: Mapping[str, pyarrow.Table] = NO_TABLES,
        timeout: float | None = None,
        token: CancelToken | None = None,
    ) -> ResultSet:
        params = self._backstop_params(timeout)

        def work(s: WarehouseSession, stop: Interrupter) -> ResultSet:
            return _body.within_run(
                s, stop, tables=tables, params=params, transactional=False, work=lambda: s.run(sql)
            )

        return await self._call(work, tables=tables, timeout=timeout, token=token, what="statement")

    async def run_body(
        self,
        statements: Sequence[str],
        *,
        transactional: bool,
        into: str | None = None,
        session_params: Sequence[tuple[str, str]] = (),
        tables: Mapping[str, pyarrow.Table] = NO_TABLES,
        timeout: float | None = None,
        token: CancelToken | None = None,
        marker: Marker | None = None,
    ) -> BodyResult:
        if (
            self._groups is not None
            and into is None
            and not tables
            and not session_params
            and len(statements) == 1
            and (marker is None or marker.settle is None)
            and self._groupable(statements[0])
        ):
            if marker is not None:
                _markers.check_scope(marker.scope)
            # unmarked when the marker rules say so (markers off here): grouped all the same
            marked = marker if marker is not None and self.marks(statements, into=False) else None
            return await self._supervised(
                Member(statements[0], marked),
                timeout=timeout,
                token=token,
                what="task body",
                executor=self._groups,
            )
        target = parse_table_name(into) if into is not None else None
        user_params = check_session_params(session_params)
        params = self._backstop_params(timeout) + user_params
        statements = list(statements)
        # One statement is atomic on its own: BEGIN/COMMIT around it would only cost two round trips.
        in_txn = target is not None or (transactional and len(statements) > 1)
        wants_marker = marker is not None and self.marks(statements, into=target is not None)
        if marker is not None:
            _markers.check_scope(marker.scope)

        def work(s: WarehouseSession, stop: Interrupter) -> BodyResult:
            rel = self._marker_table(s) if wants_marker else None
            if rel is None or marker is None:
                return _body.within_run(
                    s,
                    stop,
                    tables=tables,
                    params=params,
                    transactional=in_txn,
                    work=lambda: _body.run_statements(s, stop, statements, target),
                )
            try:
                result = _body.within_run(
                    s,
                    stop,
                    tables=tables,
                    params=params,
                    transactional=True,
                    work=lambda: _body.run_statements(s, stop, statements, target),
                    marker=marker,
                )
            except QueryFailed as exc:
                if exc.sqlstate in _NO_MARKER_TABLE:
                    self._markers_ready = False  # perhaps the marker table was dropped: create it again
                raise
            return dataclasses.replace(result, marked=True)

        return await self._call(work, tables=tables, timeout=timeout, token=token, what="task body")

    def _group(self, members: list[Member]) -> None:
        """Worker thread: run the grouped bodies ``members`` (claimed; see :class:`GroupCommit`)
        on one session. Every one of them ends here, whatever happens (nobody reads the outcome
        of the drain job that calls this)."""
        groups = self._groups
        assert groups is not None
        try:
            session = self._acquire()
        except BaseException as exc:
            groups.end_all(members, exc)
            return
        clean = False
        try:
            assert isinstance(session, GroupSession)
            groups.run(
                session, members, lambda: self._marker_table(session), lambda m: self._alone(session, m)
            )
            clean = True
        except TasksqlError:
            clean = True  # a failed statement leaves the session usable (rolled back)
        except BaseException as exc:
            log.exception("warehouse %s: a group of task bodies failed", self.name)
            groups.end_all(members, exc)
        finally:
            session.settle()
            self._release(session, reuse=clean)

    def _alone(self, s: WarehouseSession, m: Member) -> None:
        """Worker thread: the unmarked body of ``m`` on its own, in autocommit (as outside a group)."""
        assert m.stop is not None and self._groups is not None
        if not m.start():
            return  # stopped before its statement: answered then
        try:
            rs = s.run(m.sql)  # (its interrupts reach the session while it runs)
        except TasksqlError as exc:
            m.ran()
            self._groups.end(m, error=exc)
            return
        m.ran()
        produced = rs.rowcount if rs.rowcount is not None else len(rs.rows)
        self._groups.end(m, BodyResult(rows_produced=produced, rows_inserted=rs.rowcount or 0, last=rs))

    def _body_failed(self, exc: TasksqlError) -> None:
        if isinstance(exc, QueryFailed) and exc.sqlstate in _NO_MARKER_TABLE:
            self._markers_ready = False  # perhaps the marker table was dropped: create it again

    # --- completion markers ----------------------------------------------------------------------

    async def stream_body(
        self,
        statements: Sequence[str],
        *,
        sink: Callable[[pyarrow.RecordBatch], Awaitable[None]],
        batch_rows: int,
        transactional: bool,
        session_params: Sequence[tuple[str, str]] = (),
        tables: Mapping[str, pyarrow.Table] = NO_TABLES,
        timeout: float | None = None,
        token: CancelToken | None = None,
    ) -> BodyResult:
        statements = list(statements)
        if not statements:
            raise QueryFailed("INTO needs a body that ends with a query", code="INTO_NOT_A_QUERY")
        query = query_text(statements[-1], self.dialect)
        params = self._backstop_params(timeout) + check_session_params(session_params)
        in_txn = transactional and len(statements) > 1
        loop = asyncio.get_running_loop()

        async def deliver(batch: pyarrow.RecordBatch) -> None:
            await sink(batch)

        def body(s: WarehouseSession, stop: Interrupter) -> BodyResult:
            inserted = 0
            for sql in statements[:-1]:
                stop.check()
                rs = s.run(sql)
                if not sql.startswith(STREAM_CLAIM) and rs.rowcount is not None:
                    inserted += rs.rowcount
            produced = 0
            # The sink writes on the event loop while this thread reads the next batch (so reading
            # and writing overlap, and two batches are held at most); one sink call at a time.
            pending: concurrent.futures.Future[None] | None = None
            try:
                for batch in s.stream(query, batch_rows):
                    stop.check()
                    if pending is not None:
                        pending.result()
                    pending = asyncio.run_coroutine_threadsafe(deliver(batch), loop)
                    produced += batch.num_rows
                if pending is not None:
                    done, pending = pending, None
                    done.result()
            finally:
                if pending is not None:  # reading failed: the batch being written ends first
                    concurrent.futures.wait([pending])
            return BodyResult(
                rows_produced=produced, rows_inserted=inserted, last=ResultSet(rowcount=produced)
            )

        def work(s: WarehouseSession, stop: Interrupter) -> BodyResult:
            return _body.within_run(
                s, stop, tables=tables, params=params, transactional=in_txn, work=lambda: body(s, stop)
            )

        return await self._call(work, tables=tables, timeout=timeout, token=token, what="task body")

    def marks(self, statements: Sequence[str], *, into: bool) -> bool:
        return (
            self.supports_markers
            and self.markers_off is None
            and _markers.markable(self.dialect, statements, into=into)
        )

    def has_effects(self, statements: Sequence[str], *, into: bool) -> bool:
        return into or not all(_markers.reads_only(self.dialect, sql) for sql in statements)

    def _marker_table(self, s: WarehouseSession) -> str | None:
        """Worker thread: the marker table, created on first use; None when markers are off here."""
        rel = s.marker_relation
        if rel is None or self.markers_off is not None:
            return None
        if self._markers_ready:
            return rel
        with self._markers_lock:
            if not self._markers_ready and self.markers_off is None:
                self._create_markers(s, rel)
        return rel if self._markers_ready else None

    def _create_markers(self, s: WarehouseSession, rel: str) -> None:
        for attempt in range(_CREATE_TRIES):
            try:
                if s.relation_columns(rel) is None:  # (created by an admin: no CREATE privilege needed)
                    probe = _markers.SCHEMA_EXISTS.get(s.dialect)
                    schema = probe is None or not s.run(probe).rows
                    for sql in _markers.create_statements(s.dialect, rel, schema=schema):
                        s.run(sql)
                self._markers_ready = self._can_write_markers(s, rel)
                return
            except QueryFailed as exc:
                if exc.sqlstate == "42501":  # no privilege: bodies run without markers
                    self._markers_unavailable(f"cannot create {rel}: {exc.message}")
                    return
                if attempt == _CREATE_TRIES - 1:
                    raise  # the run fails, and the next one tries again
                # two connections created it at once (a unique or write-write conflict): again

    def _can_write_markers(self, s: WarehouseSession, rel: str) -> bool:
        """Backends whose marker table may belong to someone else check their privileges here."""
        return True

    def _markers_unavailable(self, why: str) -> None:
        self.markers_off = why
        log.warning(
            "warehouse %s: task bodies run without completion markers (at least once): %s", self.name, why
        )

    async def find_markers(self, scope: str, run_ids: Sequence[int]) -> dict[int, datetime]:
        _markers.check_scope(scope)
        ids = sorted(set(run_ids))
        if not ids or not self.supports_markers:
            return {}

        def work(s: WarehouseSession, stop: Interrupter) -> dict[int, datetime]:
            rel = s.marker_relation
            if rel is None:
                return {}
            found: dict[int, datetime] = {}
            for i in range(0, len(ids), _markers.CHUNK):
                rs = self._read_markers(s, _markers.select_sql(rel, scope, ids[i : i + _markers.CHUNK]))
                found.update((int(row[0]), _markers.committed_at(row[1])) for row in rs.rows)
            return found

        return await self._call(work, tables=NO_TABLES, timeout=None, token=None, what="marker lookup")

    async def marker_ids(self, scope: str, limit: int, *, after: int = 0) -> list[int]:
        _markers.check_scope(scope)
        if not self.supports_markers:
            return []

        def work(s: WarehouseSession, stop: Interrupter) -> list[int]:
            rel = s.marker_relation
            if rel is None:
                return []
            rs = self._read_markers(s, _markers.ids_sql(rel, scope, limit, after))
            return [int(row[0]) for row in rs.rows]

        return await self._call(work, tables=NO_TABLES, timeout=None, token=None, what="marker lookup")

    async def delete_markers(self, scope: str, run_ids: Sequence[int]) -> int:
        _markers.check_scope(scope)
        ids = sorted(set(run_ids))
        if not ids or not self.supports_markers:
            return 0

        def work(s: WarehouseSession, stop: Interrupter) -> int:
            rel = s.marker_relation
            if rel is None:
                return 0
            deleted = 0
            for i in range(0, len(ids), _markers.CHUNK):
                rs = self._read_markers(s, _markers.delete_sql(rel, scope, ids[i : i + _markers.CHUNK]))
                deleted += rs.rowcount or 0
            return deleted

        return await self._call(work, tables=NO_TABLES, timeout=None, token=None, what="marker deletion")

    @staticmethod
    def _read_markers(s: WarehouseSession, sql: str) -> ResultSet:
        """``sql`` on the marker table in autocommit; no rows when the table does not exist."""
        try:
            return s.run(sql)
        except QueryFailed as exc:
            if exc.sqlstate in _NO_MARKER_TABLE:
                return ResultSet()
            raise

    async def evaluate(
        self,
        condition: str,
        *,
        tables: Mapping[str, pyarrow.Table] = NO_TABLES,
        timeout: float | None = None,
        token: CancelToken | None = None,
    ) -> bool:
        params = self._backstop_params(timeout)
        sql = _body.condition_sql(condition)

        def work(s: WarehouseSession, stop: Interrupter) -> ResultSet:
            return _body.within_run(
                s, stop, tables=tables, params=params, transactional=False, work=lambda: s.run(sql)
            )

        rs = await self._call(work, tables=tables, timeout=timeout, token=token, what="WHEN condition")
        return _body.truth(rs.rows[0][0] if rs.rows and rs.rows[0] else None, condition)

    def transaction(self) -> AbstractAsyncContextManager[WarehouseTransaction]:
        return pinned_transaction(self)

    async def begin(self, sql: str, *, token: CancelToken | None = None) -> UserTransaction:
        return await begin_user_transaction(self, sql, token=token)

    async def table_columns(self, table: str) -> list[str] | None:
        name = parse_table_name(table)

        def work(s: WarehouseSession, stop: Interrupter) -> list[str] | None:
            return s.relation_columns(s.table_sql(name))

        return await self._call(work, tables=NO_TABLES, timeout=None, token=None, what="lookup")

    # --- plumbing --------------------------------------------------------------------------------

    def _call(
        self,
        work: Callable[[WarehouseSession, Interrupter], T],
        *,
        tables: Mapping[str, pyarrow.Table],
        timeout: float | None,
        token: CancelToken | None,
        what: str,
    ) -> Awaitable[T]:
        """``work`` on a session of this warehouse in a worker thread (see :meth:`_supervised`);
        await the result at once (a refusal is raised by the call itself)."""
        for relation in tables:
            check_relation_name(relation)
        return self._supervised(lambda stop: self._job(work, stop), timeout=timeout, token=token, what=what)

    def _supervised(
        self,
        job: Callable[[Interrupter], T],
        *,
        timeout: float | None,
        token: CancelToken | None,
        what: str,
        executor: Executor | None = None,
    ) -> Awaitable[T]:
        """Run ``job`` in a worker thread of this warehouse under ``timeout`` and ``token`` (queued in
        ``executor``, default the warehouse's worker pool); await
        the result at once. Plain functions returning :func:`supervise`'s coroutine, these two add
        no coroutine of their own to each warehouse call (every run makes one or more), and a
        refusal (closed, not open, a bad relation name) is raised by the call itself."""
        if self._closed:
            raise WarehouseError(f"warehouse {self.name} is closed", code="WAREHOUSE_CLOSED")
        if self._executor is None or self._in_flight is None:
            raise WarehouseError(f"warehouse {self.name} is not open", code="WAREHOUSE_CLOSED")
        return supervise(
            job,
            in_flight=self._in_flight,
            executor=executor or self._executor,
            timeout=timeout,
            token=token,
            what=f"{what} in warehouse {self.name}",
        )

    def _job(self, work: Callable[[WarehouseSession, Interrupter], T], stop: Interrupter) -> T:
        """Worker thread: one session for one piece of work; the session goes back clean or closed."""
        stop.check()  # asked to stop while queued: do not even connect
        session = self._acquire()
        clean = False
        try:
            stop.attach(session.interrupt)
            try:
                result = work(session, stop)
                clean = True
            except TasksqlError:
                clean = True  # a failed statement leaves the session usable (rolled back)
                raise
            finally:
                # After detach() no interrupt can reach this session; settle() waits for one still
                # on its way (PostgreSQL cancel requests), so none can hit the session's next job.
                stop.detach()
                session.settle()
            return result
        finally:
            self._release(session, reuse=clean)
