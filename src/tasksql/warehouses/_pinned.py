"""One session held across several calls, in one transaction: :meth:`Warehouse.transaction`.

A single-transaction script (``tasksql sql -1``) sends its statements one at a time, with work on the
event loop in between (results printed, virtual relations built), so the statements cannot be one
job. Here the session is taken out of the pool by a first job (which also begins the transaction),
each statement is a job of its own on that session, and a last job commits or rolls back and gives
the session back. Every job goes through the warehouse's supervisor, so timeouts and cancel tokens
interrupt the statement as for any other call.

The session's jobs take a lock in their worker thread: a statement abandoned after an interrupt (its
driver had not returned within the grace period) still owns the session, and the ROLLBACK waits for
it instead of using the connection from two threads at once.

:class:`PinnedUserTransaction` is the same pinning for a transaction the user began with their own BEGIN
(:meth:`Warehouse.begin <tasksql.warehouses.base.Warehouse.begin>`): the user's BEGIN, COMMIT and
ROLLBACK texts run as they were written, and the session goes back to the pool only once no
transaction can be open on it (else it is closed, which rolls back).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

from tasksql.errors import QueryFailed
from tasksql.warehouses._session import WarehouseSession
from tasksql.warehouses._sqltext import check_relation_name
from tasksql.warehouses._supervise import Interrupter
from tasksql.warehouses.base import (
    NO_TABLES,
    CancelToken,
    ResultSet,
    UserTransaction,
    WarehouseTransaction,
)

if TYPE_CHECKING:
    import pyarrow

    from tasksql.warehouses._threaded import ThreadedWarehouse


class PinnedTransaction(WarehouseTransaction):
    """The transaction of :func:`pinned_transaction` (use that, not this class)."""

    def __init__(self, warehouse: ThreadedWarehouse) -> None:
        self._wh = warehouse
        self._lock = threading.Lock()
        self._session: WarehouseSession | None = None
        self._released = False  # the session went back to the pool (under the lock)
        self._what = f"statement in warehouse {warehouse.name}"

    async def begin(self) -> None:
        def job(stop: Interrupter) -> WarehouseSession:
            with self._lock:
                stop.check()
                session = self._wh._acquire()
                try:
                    session.start((), transactional=True)
                except BaseException:
                    session.finish(commit=False)
                    self._wh._release(session, reuse=True)
                    raise
                return session

        self._session = await self._wh._supervised(job, timeout=None, token=None, what="BEGIN")

    async def execute(
        self,
        sql: str,
        *,
        tables: Mapping[str, pyarrow.Table] = NO_TABLES,
        timeout: float | None = None,
        token: CancelToken | None = None,
    ) -> ResultSet:
        session = self._session
        assert session is not None, "the transaction has not begun"
        for relation in tables:
            check_relation_name(relation)

        def job(stop: Interrupter) -> ResultSet:
            with self._lock:
                stop.attach(session.interrupt)
                try:
                    if tables:
                        session.add_tables(tables)
                    try:
                        return session.run(sql)
                    finally:
                        if tables:
                            session.drop_tables(list(tables))
                finally:
                    stop.detach()
                    session.settle()

        return await self._wh._supervised(job, timeout=timeout, token=token, what=self._what)

    async def end(self, *, commit: bool) -> None:
        """COMMIT (``commit``) or ROLLBACK, and give the session back (closed if it is not clean)."""
        session, self._session = self._session, None
        if session is None:
            return

        def job(stop: Interrupter) -> None:
            with self._lock:
                try:
                    session.finish(commit=commit)
                finally:
                    self._released = True
                    self._wh._release(session, reuse=True)

        try:
            await self._wh._supervised(job, timeout=None, token=None, what="COMMIT" if commit else "ROLLBACK")
        except BaseException:
            if not commit:
                # The rollback job could not run (warehouse closed, caller cancelled): closing the
                # connection rolls back; do it without holding the caller.
                threading.Thread(target=self._close_later, args=(session,), daemon=True).start()
            raise

    def _close_later(self, session: WarehouseSession) -> None:
        with self._lock:
            if not self._released:
                self._released = True
                session.close()


@contextlib.asynccontextmanager
async def pinned_transaction(warehouse: ThreadedWarehouse) -> AsyncIterator[PinnedTransaction]:
    """See :meth:`Warehouse.transaction <tasksql.warehouses.base.Warehouse.transaction>`."""
    txn = PinnedTransaction(warehouse)
    await txn.begin()
    try:
        yield txn
    except BaseException:
        with contextlib.suppress(Exception):
            await txn.end(commit=False)
        raise
    await txn.end(commit=True)


class PinnedUserTransaction(UserTransaction):
    """A transaction begun by the user's own BEGIN statement (see :func:`begin_user_transaction`)."""

    def __init__(self, warehouse: ThreadedWarehouse) -> None:
        self._pinned = PinnedTransaction(warehouse)

    async def execute(
        self,
        sql: str,
        *,
        tables: Mapping[str, pyarrow.Table] = NO_TABLES,
        timeout: float | None = None,
        token: CancelToken | None = None,
    ) -> ResultSet:
        return await self._pinned.execute(sql, tables=tables, timeout=timeout, token=token)

    async def end(self, sql: str | None = None, *, token: CancelToken | None = None) -> ResultSet:
        pinned = self._pinned
        session, pinned._session = pinned._session, None
        if session is None:
            return ResultSet()
        wh = pinned._wh

        def job(stop: Interrupter) -> ResultSet:
            with pinned._lock:
                clean = False
                try:
                    if sql is None:
                        result = session.run("ROLLBACK")
                    else:
                        stop.attach(session.interrupt)
                        try:
                            result = session.run(sql)
                        finally:
                            stop.detach()
                            session.settle()
                    clean = True
                    return result
                except QueryFailed:
                    if sql is not None:  # a failed COMMIT may leave the transaction open: end it
                        with contextlib.suppress(QueryFailed):
                            session.run("ROLLBACK")
                    raise
                finally:
                    # after a failure the session's state is unknown: close it (that rolls back)
                    pinned._released = True
                    wh._release(session, reuse=clean)

        what = "ROLLBACK" if sql is None else pinned._what
        try:
            return await wh._supervised(job, timeout=None, token=token, what=what)
        except BaseException:
            # the job could not run or was abandoned: closing the connection rolls back
            threading.Thread(target=pinned._close_later, args=(session,), daemon=True).start()
            raise


async def begin_user_transaction(
    warehouse: ThreadedWarehouse, sql: str, *, token: CancelToken | None = None
) -> PinnedUserTransaction:
    """See :meth:`Warehouse.begin <tasksql.warehouses.base.Warehouse.begin>`."""
    txn = PinnedUserTransaction(warehouse)
    pinned = txn._pinned

    def job(stop: Interrupter) -> WarehouseSession:
        with pinned._lock:
            stop.check()
            session = warehouse._acquire()
            try:
                stop.attach(session.interrupt)
                try:
                    session.run(sql)
                finally:
                    stop.detach()
                    session.settle()
            except BaseException:
                warehouse._release(session, reuse=False)  # what the failed BEGIN left: closed
                raise
            return session

    pinned._session = await warehouse._supervised(job, timeout=None, token=token, what="BEGIN")
    return txn
