"""Ad-hoc statements in progress: the registry behind SHOW QUERIES, CANCEL QUERY and ``Connection.cancel``.

Every call of :meth:`Engine.execute <tasksql.engine.core.Engine.execute>` is one *query* while it
runs: an id (given by the caller, e.g. the HTTP client, or generated), the script's text, which of
its statements runs now, and a :class:`~tasksql.warehouses.base.CancelToken`. Cancelling the query
cancels the token: the warehouse interrupts the statement running in it, and the statements after it
do not start. Task runs are not queries (CANCEL TASK stops those).

The registry is thread-safe: ``Connection.cancel()`` is called from whatever thread the user's
Ctrl-C or watchdog runs in, while the query runs on the engine's event loop.
"""

from __future__ import annotations

import re
import secrets
import threading
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from tasksql.errors import ObjectNotFound, ValidationError
from tasksql.warehouses.base import CancelToken

if TYPE_CHECKING:
    from tasksql.engine.sessions import SqlSession
    from tasksql.warehouses.base import WarehouseTransaction

#: What a caller-chosen query id may look like (it travels in URLs and SQL string literals).
QUERY_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

#: The characters of a running statement shown by SHOW QUERIES.
SHOWN_TEXT = 200


class QueryNotFound(ObjectNotFound):
    default_code = "QUERY_NOT_FOUND"


def new_query_id() -> str:
    """A fresh, unguessable query id (16 hex digits)."""
    return secrets.token_hex(8)


def check_query_id(query_id: str, what: str = "query id") -> str:
    """``query_id`` if it is a valid id (also of a session: ``what``).

    :raises ValidationError: (code ``INVALID_QUERY_ID``, or ``INVALID_SESSION_ID``)."""
    if not QUERY_ID.fullmatch(query_id):
        raise ValidationError(
            f"invalid {what} {query_id[:80]!r}: use 1 to 64 letters, digits, '_', '.', ':' or '-'",
            code="INVALID_" + what.upper().replace(" ", "_"),
        )
    return query_id


@dataclass(eq=False, kw_only=True)
class RunningQuery:
    """One script being executed. ``statement_number`` is the statement running now (1-based)."""

    query_id: str
    text: str
    user: str
    started_at: datetime
    statement_count: int
    token: CancelToken = field(default_factory=CancelToken)
    statement_number: int = 0
    statement_text: str = ""
    #: EXECUTE TASK waits for its run even when a scheduler runs it in the background.
    wait_for_runs: bool = False
    #: The warehouse transaction a single-transaction script runs its warehouse SQL in.
    transaction: WarehouseTransaction | None = None
    #: The session whose explicit transaction (BEGIN ... COMMIT) the warehouse SQL runs in, if open.
    session: SqlSession | None = None


#: The query the current asyncio task is executing (read by the statement handlers).
CURRENT: ContextVar[RunningQuery | None] = ContextVar("tasksql_current_query", default=None)


def current_query() -> RunningQuery | None:
    return CURRENT.get()


class QueryRegistry:
    """The queries of one engine in progress, by id. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, RunningQuery] = {}

    def start(self, query: RunningQuery) -> None:
        """Register ``query``.

        :raises ValidationError: its id is already in use (code ``QUERY_ID_IN_USE``).
        """
        with self._lock:
            if query.query_id in self._running:
                raise ValidationError(
                    f"query id {query.query_id} is already in use by a running query",
                    code="QUERY_ID_IN_USE",
                )
            self._running[query.query_id] = query

    def finish(self, query: RunningQuery) -> None:
        with self._lock:
            if self._running.get(query.query_id) is query:
                del self._running[query.query_id]

    def cancel(self, query_id: str, reason: str = "cancelled: CANCEL QUERY") -> RunningQuery:
        """Cancel the running query ``query_id`` (its current statement is interrupted in the
        warehouse, the statements after it do not start).

        :raises QueryNotFound: no query with that id is running.
        """
        with self._lock:
            query = self._running.get(query_id)
        if query is None:
            raise QueryNotFound(
                f"no running query has the id {query_id!r} (SHOW QUERIES lists the running ones)"
            )
        query.token.cancel(reason)
        return query

    def running(self) -> list[RunningQuery]:
        """The queries in progress, oldest first."""
        with self._lock:
            queries = list(self._running.values())
        return sorted(queries, key=lambda q: q.started_at)
