"""What every catalog that writes through a :class:`~tasksql.catalog.writer.GroupWriter` does the same
way, whatever its database: the SQLite catalog (:mod:`tasksql.catalog.sqlite.catalog`) and the
PostgreSQL one (:mod:`tasksql.catalog.postgres.catalog`) are both a :class:`GroupCommitCatalog`.

* **One flush per script** (:meth:`GroupCommitCatalog.one_sync`): inside it, a durable write
  commits without its flush and one durable write at the end flushes them all (a flush covers
  every commit before it, on both backends).
* **Waiting for changes** (:meth:`~GroupCommitCatalog.wait_for_change`) and for queued notifications
  (:meth:`~GroupCommitCatalog.wait_for_notifications`): asyncio events set by the backend when it
  committed (or heard of) a change, with polling as the fallback for changes of other processes.
* **Held starts** (:meth:`~GroupCommitCatalog.record_fires`,
  :meth:`~GroupCommitCatalog.settle_later`): a run's start that waits in a lazy job can be replaced
  by its outcome (:mod:`tasksql.catalog.held_starts`).

A backend supplies its dialect (:class:`~tasksql.catalog.dialect.CatalogDialect`), which runs the
run bookkeeping jobs (:mod:`tasksql.catalog.jobs.runs`), and its writer and reader, attached when it
opens (:meth:`~GroupCommitCatalog._attach`, :attr:`~GroupCommitCatalog._reader`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from tasksql.catalog.base import Catalog
from tasksql.catalog.dialect import CatalogDialect
from tasksql.catalog.held_starts import HeldStarts
from tasksql.catalog.jobs import runs as run_jobs
from tasksql.catalog.rows import db_time
from tasksql.catalog.settle_batch import RunBook, SettleBatch
from tasksql.catalog.writer import D, GroupWriter
from tasksql.clock import Clock, monotonic
from tasksql.errors import CatalogError
from tasksql.model.cluster import Fence
from tasksql.model.run import InvalidTransition, NewRun, RunOutcome, RunRecord, settling

T = TypeVar("T")
H_co = TypeVar("H_co", covariant=True)

#: The deferred flushes of the current task's :meth:`GroupCommitCatalog.one_sync` context, if any.
_DEFERRED_SYNC: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar(
    "tasksql_catalog_deferred_sync", default=None
)


class Reader(Protocol[H_co]):
    """A backend's readers: threads with a connection each, off the event loop."""

    async def run(self, fn: Callable[[H_co], T], /) -> T:
        """``fn`` on a reading connection; the driver's errors translated."""
        ...

    async def close(self) -> None:
        """Wait for running reads, then close every connection. Idempotent."""


class GroupCommitCatalog(Catalog, Generic[D]):
    """A catalog whose writes go through one :class:`GroupWriter` (see the module).

    :param dialect: runs the backend's named queries on its handle.
    :param clock: the time source for what the catalog stamps by itself.
    :param poll_interval: seconds between two looks at the change sequence while waiting.
    """

    def __init__(self, *, dialect: CatalogDialect[D], clock: Clock, poll_interval: float) -> None:
        self._sql = dialect
        self._clock = clock
        self._poll_interval = poll_interval
        self._writer: GroupWriter[D] | None = None
        #: The backend's readers while the catalog is open.
        self._reader: Reader[D] | None = None
        self._held_starts = HeldStarts()
        #: The newest settle job, joined by the next outcome while the writer holds it back.
        self._settles: SettleBatch | None = None
        self._change_event = asyncio.Event()
        self._outbox_event = asyncio.Event()

    # --- reading -------------------------------------------------------------------------------

    async def _read(self, fn: Callable[[D], T]) -> T:
        """Run ``fn`` on a reading connection, off the event loop.

        :raises CatalogError: (code ``CATALOG_CLOSED``) the catalog is closed.
        """
        if self._reader is None:
            raise CatalogError("the catalog is closed", code="CATALOG_CLOSED")
        return await self._reader.run(fn)

    # --- writing ---------------------------------------------------------------------------------

    def _attach(self, writer: GroupWriter[D]) -> None:
        """Use ``writer`` (started) from now on; events are bound to the current event loop."""
        writer.on_send = self._held_starts.release_all
        self._writer = writer
        self._change_event = asyncio.Event()
        self._outbox_event = asyncio.Event()

    def _open_writer(self) -> GroupWriter[D]:
        """:raises CatalogError: the catalog is closed (code ``CATALOG_CLOSED``)."""
        if self._writer is None:
            raise CatalogError("the catalog is closed", code="CATALOG_CLOSED")
        return self._writer

    async def _write(
        self,
        fn: Callable[[D], T],
        *,
        durable: bool = False,
        changes: bool = False,
        lazy: bool = False,
        hold: bool = False,
    ) -> T:
        """Run ``fn`` in the writer thread, in a group transaction; return once committed.

        ``durable``: flushed to disk before it returns (deferred inside :meth:`one_sync`).
        ``changes``: advance the change sequence in the same transaction (definition changes).
        ``lazy``: the commit may wait a little for other writes to share it (a final outcome).
        ``hold``: run bookkeeping, which waits out an outage of the database.
        """
        deferred = _DEFERRED_SYNC.get()
        if durable and deferred is not None:
            durable = False
            deferred.append(True)
        asked = monotonic()
        result = await self._open_writer().submit(fn, durable=durable, changes=changes, lazy=lazy, hold=hold)
        if self.observers.active:
            self.observers.catalog_write(monotonic() - asked)
        return result

    def _observe(self, write: asyncio.Future[T], report: Callable[[T], None]) -> None:
        """Report ``write`` to the observers once it committed (its latency, and what ``report``
        says of its result); nothing while nobody listens."""
        if not self.observers.active:
            return
        asked = monotonic()

        def done(fut: asyncio.Future[T]) -> None:
            if fut.cancelled() or fut.exception() is not None:
                return
            self.observers.catalog_write(monotonic() - asked)
            report(fut.result())

        write.add_done_callback(done)

    def _touch(self, db: D) -> None:
        """A write that changes nothing, so that a durable commit has something to flush."""
        self._sql.execute(db, "meta_touch", {})

    @contextlib.asynccontextmanager
    async def one_sync(self) -> AsyncIterator[None]:
        if _DEFERRED_SYNC.get() is not None:  # nested: the outer context flushes
            yield
            return
        pending: list[bool] = []
        token = _DEFERRED_SYNC.set(pending)
        try:
            yield
        finally:
            _DEFERRED_SYNC.reset(token)
            if pending:
                # A durable commit flushes the log up to its own record, which follows every commit
                # made before it (SQLite: the whole WAL file; PostgreSQL: the WAL up to that point).
                await self._write(self._touch, durable=True)

    # --- run bookkeeping with held starts --------------------------------------------------------

    def record_fires(
        self,
        node_id: str,
        updates: Sequence[RunOutcome],
        releases: Sequence[tuple[int, datetime]],
        claims: Sequence[NewRun],
        *,
        urgent: bool = False,
        fence: Fence | None = None,
    ) -> asyncio.Future[list[RunRecord | None]]:
        writer = self._open_writer()
        now = db_time(self._clock.now())
        gone = [(task_id, db_time(at)) for task_id, at in releases]
        mine = list(updates)  # ours to change while the job is held back (see settle_later)
        sql = self._sql

        def job(db: D) -> list[RunRecord | None]:
            return run_jobs.record_fires(sql, db, node_id, mine, gone, claims, now, fence)

        # without releases, the job may run with the bookkeeping jobs next to it (settle_batch)
        part = None if gone else RunBook(sql, fence, mine, claims, now)
        batch = writer.submit(job, lazy=not urgent, hold=True, part=part)
        if writer.holds(batch):
            self._held_starts.hold(mine, batch)
        self._observe(batch, lambda records: self._report_fires(mine, records))
        return batch

    def _report_fires(self, updates: Sequence[RunOutcome], claims: Sequence[RunRecord | None]) -> None:
        # read when committed: an outcome that took a held start's place is in ``updates`` by then
        for outcome in updates:
            self.observers.run_changed(outcome)
        self.observers.runs_inserted([r for r in claims if r is not None])

    def settle_later(self, outcome: RunOutcome, *, fence: Fence | None = None) -> asyncio.Future[bool]:
        # run for every settled run on the event loop: the common ways through read fields rather
        # than call helpers (_open_writer, HeldStarts.take_over), with the same checks
        writer = self._writer
        if writer is None:
            raise CatalogError("the catalog is closed", code="CATALOG_CLOSED")
        # its start is not written yet: the outcome takes its place in that job, under that job's
        # fence (a node's writes all carry its one fence)
        if outcome.run_id in self._held_starts.starts:
            instead = self._held_starts.take_over(outcome)
            if instead is not None:
                return instead  # reported with the job it joined (record_fires)
        try:  # checked here, so that one bad outcome cannot fail the batch it would join
            settling(outcome.state)
        except InvalidTransition as exc:
            refused: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            refused.set_exception(exc)
            return refused
        batch = self._settles
        if (
            batch is not None
            and batch.write is not None
            and batch.fence == fence
            and writer.holds(batch.write)
        ):
            return batch.add(outcome)  # the newest held job: as if it were the next (settle_batch)
        batch = SettleBatch(fence)
        future = batch.add(outcome)
        write = writer.submit(batch.job(self._sql), lazy=True, hold=True, part=batch.part(self._sql))
        batch.write = write
        self._settles = batch
        asked = monotonic()

        def settled(write: asyncio.Future[list[bool]]) -> None:
            observers = self.observers
            if not observers.active:
                batch.resolve(write, None)
                return
            if not write.cancelled() and write.exception() is None:
                observers.catalog_write(monotonic() - asked)
            batch.resolve(write, observers.run_changed)

        write.add_done_callback(settled)
        return future

    # --- change signals --------------------------------------------------------------------------

    async def wait_for_change(self, seq: int, timeout: float, *, poll: float | None = None) -> int:
        deadline = monotonic() + max(0.0, timeout)
        every = self._poll_interval if poll is None else max(poll, 0.001)
        while True:
            # Take the event before reading: a change committed after the read sets this event.
            event = self._change_event
            current = await self.change_seq()
            remaining = deadline - monotonic()
            if current > seq or remaining <= 0:
                return current
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, every))

    def _changed(self, seq: int) -> None:
        """On the event loop, after a group of ours that advanced the change sequence committed."""
        self._notified()

    def _notified(self) -> None:
        """On the event loop, when a definition change was committed (or may have been)."""
        event, self._change_event = self._change_event, asyncio.Event()
        event.set()

    async def wait_for_notifications(self, timeout: float) -> bool:
        # The event stays set until a waiter takes it, so messages queued while the dispatcher was
        # busy (between two waits) still wake its next wait at once.
        event = self._outbox_event
        if not event.is_set():
            try:
                await asyncio.wait_for(event.wait(), max(0.0, timeout))
            except TimeoutError:
                return False
        event.clear()
        return True

    def _queued(self) -> None:
        """On the event loop, after messages were committed to the outbox."""
        self._outbox_event.set()


def require_name(name: str, what: str) -> None:
    """:raises CatalogError: (code ``INVALID_NAME``) ``name`` is empty."""
    if not name:
        raise CatalogError(f"a {what} needs a non-empty name", code="INVALID_NAME")
