"""Transactions the user begins with BEGIN and ends with COMMIT or ROLLBACK (outside ``-1``).

A warehouse statement normally runs on a pooled connection in autocommit. A ``BEGIN`` sent that
way would leave the connection inside an open transaction for whatever statement or task run gets
it next. So the engine handles the warehouse's transaction statements itself:

* ``BEGIN`` / ``START TRANSACTION`` takes a connection of the default warehouse out of the pool
  (:meth:`Warehouse.begin <tasksql.warehouses.base.Warehouse.begin>`); the statements after it run
  on that connection until ``COMMIT`` / ``END`` / ``ROLLBACK`` / ``ABORT``, which gives it back.
  Task runs and other clients never see it.
* The transaction belongs to a :class:`SqlSession`. Without a session id, a call of
  :meth:`Engine.execute <tasksql.engine.core.Engine.execute>` is its own session (``tasksql sql``,
  a request without ``session``): a transaction still open when its script ends, or when it fails,
  is rolled back, and the script's end is reported as an error (``TRANSACTION_NOT_ENDED``). With a
  session id (a shell, a Python connection, requests naming ``session``), the transaction stays open
  between calls, as in psql; the client ends it (its close rolls back). A session opened through the
  HTTP API that stays idle inside a transaction longer than its ``idle_timeout`` is rolled back, and
  its next call is told so (``TRANSACTION_ROLLED_BACK``) instead of running.
* While a transaction is open, statements that change tasksql's catalog (CREATE TASK, EXECUTE TASK,
  ...) are refused (``NOT_IN_TRANSACTION``): the catalog is not part of the warehouse's transaction,
  so ROLLBACK could not undo them. ``SAVEPOINT`` / ``RELEASE`` / ``ROLLBACK TO`` need an open
  transaction (SQLite would silently begin one); ``COMMIT AND CHAIN`` is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

from tasksql.engine.tags import leading_words
from tasksql.errors import TasksqlError, ValidationError
from tasksql.warehouses.base import UserTransaction

log = logging.getLogger("tasksql.engine")

#: Seconds a session opened through the HTTP API may stay idle inside a transaction.
IDLE_TRANSACTION_TIMEOUT_S = 600.0

#: Sessions that may hold an open transaction at once (each holds a warehouse connection).
MAX_OPEN_TRANSACTIONS = 64

#: Sessions rolled back for idleness that are remembered, to tell their next call.
MAX_EXPIRED = 1000

BEGIN, END, SAVEPOINT = "begin", "end", "savepoint"


def transaction_verb(text: str) -> str | None:
    """What a warehouse statement does to a transaction: :data:`BEGIN`, :data:`END` (COMMIT, END,
    ROLLBACK, ABORT), :data:`SAVEPOINT` (SAVEPOINT, RELEASE, ROLLBACK TO), or None."""
    words = leading_words(text, 4)
    if not words:
        return None
    head = words[0]
    if head == "BEGIN" or (head == "START" and words[1:2] == ["TRANSACTION"]):
        return BEGIN
    if head == "ROLLBACK" and "TO" in words[1:]:
        return SAVEPOINT
    if head in ("COMMIT", "END", "ROLLBACK", "ABORT"):
        return END
    if head in ("SAVEPOINT", "RELEASE"):
        return SAVEPOINT
    return None


def chains(text: str) -> bool:
    """``COMMIT AND CHAIN`` / ``ROLLBACK AND CHAIN``: ends a transaction and begins the next one."""
    words = leading_words(text, 4)
    return words[1:3] == ["AND", "CHAIN"] or words[2:4] == ["AND", "CHAIN"]


@dataclass(eq=False)
class SqlSession:
    """What one client keeps between its calls: the transaction it began, if one is open."""

    session_id: str | None
    #: Seconds the session may stay idle inside a transaction (None: no limit).
    idle_timeout: float | None = None
    transaction: UserTransaction | None = None
    #: The BEGIN statement as written, and when it ran (for messages).
    begun_with: str = ""
    begun_at: datetime | None = None
    busy: bool = False
    #: Why the session's transaction was rolled back while it was idle (told to its next call).
    expired: str | None = None
    _timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    @property
    def in_transaction(self) -> bool:
        return self.transaction is not None

    def began(self, txn: UserTransaction, text: str, at: datetime) -> None:
        self.transaction, self.begun_with, self.begun_at = txn, " ".join(text.split())[:60], at

    async def rollback(self) -> bool:
        """Roll back the open transaction, if any (never raises); whether there was one."""
        txn, self.transaction = self.transaction, None
        if txn is None:
            return False
        try:
            await txn.end(None)
        except TasksqlError as err:  # the connection was closed instead, which rolls back too
            log.info("rolling back a transaction left open failed (its connection is closed): %s", err)
        return True


class SessionRegistry:
    """The sessions of one engine that outlive a call, by id (used on the engine's event loop only)."""

    def __init__(self) -> None:
        self._sessions: dict[str, SqlSession] = {}
        self._reaping: set[asyncio.Task[None]] = set()

    def enter(self, session_id: str, idle_timeout: float | None) -> SqlSession:
        """The session ``session_id`` (created when new), marked busy for one call.

        :raises ValidationError: ``SESSION_BUSY`` when a call of the same session is running;
            ``TRANSACTION_ROLLED_BACK`` when its transaction was rolled back while it was idle (told
            once; the session is then new).
        """
        session = self._sessions.get(session_id)
        if session is None:
            session = self._sessions[session_id] = SqlSession(session_id, idle_timeout)
        if session.busy:
            raise ValidationError(
                f"session {session_id} is running a statement already; wait for it (one at a time)",
                code="SESSION_BUSY",
            )
        if session.expired is not None:
            why, session.expired = session.expired, None
            del self._sessions[session_id]
            raise ValidationError(why, code="TRANSACTION_ROLLED_BACK")
        if session._timer is not None:
            session._timer.cancel()
            session._timer = None
        session.idle_timeout = idle_timeout
        session.busy = True
        return session

    def leave(self, session: SqlSession) -> None:
        """The call of ``session`` is over: forget it unless it keeps a transaction open (then the
        idle timer starts)."""
        session.busy = False
        if session.session_id is None:
            return
        if not session.in_transaction:
            self._sessions.pop(session.session_id, None)
            return
        if session.idle_timeout is not None:
            loop = asyncio.get_running_loop()
            session._timer = loop.call_later(session.idle_timeout, self._expire, session)

    def in_transaction(self, session_id: str) -> bool:
        session = self._sessions.get(session_id)
        return session is not None and session.in_transaction

    def open_transactions(self) -> int:
        return sum(1 for s in self._sessions.values() if s.in_transaction)

    async def end(self, session_id: str) -> bool:
        """Roll back the session's open transaction and forget the session; whether one was open."""
        session = self._sessions.pop(session_id, None)
        return session is not None and await session.rollback()

    async def close(self) -> None:
        """Roll back every open transaction (the engine is closing)."""
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            if session._timer is not None:
                session._timer.cancel()
            await session.rollback()
        for task in list(self._reaping):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _expire(self, session: SqlSession) -> None:
        session._timer = None
        if session.busy or not session.in_transaction:
            return
        task = asyncio.get_running_loop().create_task(self._roll_back_idle(session))
        self._reaping.add(task)
        task.add_done_callback(self._reaping.discard)

    async def _roll_back_idle(self, session: SqlSession) -> None:
        begun = session.begun_at.isoformat(sep=" ", timespec="seconds") if session.begun_at else "?"
        if not await session.rollback():
            return
        session.expired = (
            f"the transaction begun with {session.begun_with} at {begun} was rolled back after "
            f"{session.idle_timeout:g} s without a statement: none of its statements remain; this "
            "input did not run, run it again"
        )
        log.warning("session %s: an idle transaction was rolled back", session.session_id)
        expired = [s for s in self._sessions.values() if s.expired is not None]
        for old in expired[: max(0, len(expired) - MAX_EXPIRED)]:
            self._sessions.pop(old.session_id or "", None)
