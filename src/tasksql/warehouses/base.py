"""The warehouse contract: where task bodies, WHEN conditions and pass-through statements run.

A :class:`Warehouse` is a named place where SQL runs: the embedded DuckDB database (default),
a SQLite file, a PostgreSQL server. The engine and the scheduler call only the methods of the
abstract class below; each backend module translates its driver's exceptions, so callers see only
:class:`~tasksql.errors.TasksqlError` subclasses:

* :class:`~tasksql.errors.QueryFailed` - the warehouse rejected or failed a statement (``sqlstate``
  set when known, the driver's message kept), or tasksql refused it before sending (``code`` says
  why: ``MULTIPLE_STATEMENTS``, ``INTO_NO_MATCHING_COLUMNS``, ...);
* :class:`~tasksql.errors.QueryTimeout` - the deadline passed; the query was interrupted in the
  warehouse (code ``TIMEOUT_EXCEEDED``);
* :class:`~tasksql.errors.QueryCancelled` - :meth:`CancelToken.cancel` was called; the query was
  interrupted in the warehouse (code ``CANCELLED``);
* :class:`~tasksql.errors.WarehouseError` - the warehouse itself is unusable (cannot connect,
  closed).

Timeouts and cancellation really stop the query: each backend interrupts its own statement (DuckDB
``cursor.interrupt()``, SQLite ``Connection.interrupt()``, PostgreSQL ``cancel_safe()``), waits
up to :data:`INTERRUPT_GRACE` seconds for the driver to return, then raises anyway and abandons the
statement (its worker finishes, and frees its concurrency slot, whenever the driver returns). The
event loop is never blocked: blocking drivers run in worker threads inside their backend module.
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from tasksql.errors import NotSupportedError
from tasksql.model import WarehouseType
from tasksql.model.cluster import Fence

if TYPE_CHECKING:
    import pyarrow

    from tasksql.clock import Clock

#: Seconds to wait, after interrupting a statement, for its driver to return before giving up on it.
INTERRUPT_GRACE = 2.0

#: Runs executing at once in a warehouse whose definition gives no MAX_CONCURRENCY.
DEFAULT_MAX_CONCURRENCY = 8

#: The default for keyword arguments that take extra relations: none.
NO_TABLES: Mapping[str, pyarrow.Table] = {}


@dataclass(frozen=True, kw_only=True, slots=True)
class ResultSet:
    """What one statement returned.

    ``columns`` and ``rows`` (and ``types``) are empty for statements that return no rows. ``rowcount`` is the
    number of affected rows for DML (INSERT, UPDATE, DELETE, MERGE, CREATE TABLE AS; also with
    RETURNING, where ``rows`` holds the returned rows), ``None`` for everything else.
    """

    columns: tuple[str, ...] = ()
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    rowcount: int | None = None
    #: Each column's type as the warehouse names it (``INTEGER``, ``timestamp with time zone``),
    #: known also when there are no rows; empty when the driver does not say (sqlite3).
    types: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class BodyResult:
    """The outcome of a task body.

    ``rows_produced``: rows returned by the last statement (its affected rows when it is DML; the
    rows its SELECT produced when the body has INTO). ``rows_inserted``: rows written by the body:
    the affected rows of every DML statement plus the rows appended by INTO. ``last``: the last
    statement's result (for INTO: no rows, ``rowcount`` = rows appended).
    """

    rows_produced: int
    rows_inserted: int
    last: ResultSet | None
    #: The run's completion marker was committed in the body's transaction (see :class:`Marker`).
    marked: bool = False
    #: The run's outcome (SUCCEEDED) was committed in the catalog in the body's transaction (see
    #: :class:`CatalogSettle`): the run is settled already.
    settled: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Marker:
    """A run's completion marker: ``run_id`` under ``scope`` (the id of the catalog the run is
    recorded in, so that catalogs sharing a warehouse never see each other's markers), written in
    the SAME transaction as the body, so that it exists exactly when the body's effects do.
    ``clock`` stamps it when it is written (its ``committed_at``).

    ``scope`` is letters, digits, ``-`` and ``_`` (1 to 64 of them); it is spliced into SQL.
    """

    scope: str
    run_id: int
    clock: Clock
    #: Instead of the marker, settle the run's row in the catalog in the body's transaction (a
    #: PostgreSQL warehouse whose database holds the catalog; other warehouses ignore it).
    settle: CatalogSettle | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class CatalogSettle:
    """How a body's transaction records its run SUCCEEDED in the catalog, when the warehouse's
    database is the catalog's own: the row of :attr:`Marker.run_id` in ``schema``'s ``runs`` is
    updated (only while the run is open and, with ``fence``, while that node and epoch hold a live
    lease), and when no row is updated the body is rolled back. So the body's effects and its
    run's outcome commit together, or neither does."""

    #: The catalog's PostgreSQL schema (a lower-case identifier).
    schema: str
    query_start_time: datetime | None = None
    return_value: str | None = None
    fence: Fence | None = None
    #: The ``application_name`` the body's session carries during its transaction (``SET LOCAL``):
    #: the catalog's label of the fence's node (``tasksql-catalog/<schema>/<epoch>/<node id>``), so
    #: that a node that took the lease over ends the session by that label when the node stopped
    #: while its settling UPDATE held its node row. None: the session keeps its name.
    label: str | None = None


class CancelToken:
    """A request to stop a running statement, created by the caller and passed to a warehouse call.

    :meth:`cancel` may be called from any thread or from the event loop, before or during the call;
    the first reason given is kept. A warehouse call with a cancelled token raises
    :class:`~tasksql.errors.QueryCancelled` (without running anything when it was cancelled before).
    One token may be passed to several calls; cancelling it stops all of them.
    """

    __slots__ = ("_callbacks", "_lock", "_reason")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reason: str | None = None
        self._callbacks: list[Callable[[], None]] = []

    def cancel(self, reason: str = "cancelled") -> None:
        with self._lock:
            if self._reason is not None:
                return
            self._reason = reason
            callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            cb()

    @property
    def cancelled(self) -> bool:
        return self._reason is not None

    @property
    def reason(self) -> str | None:
        return self._reason

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (in the cancelling thread) once when cancelled; at once if already.

        Returns a function that removes the callback. Used by warehouse implementations.
        """
        with self._lock:
            if self._reason is None:
                self._callbacks.append(callback)
                return lambda: self._remove(callback)
        callback()
        return lambda: None

    def _remove(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)


class WarehouseTransaction(ABC):
    """Statements run one after another on one connection of a warehouse, in one transaction
    (see :meth:`Warehouse.transaction`)."""

    @abstractmethod
    async def execute(
        self,
        sql: str,
        *,
        tables: Mapping[str, pyarrow.Table] = NO_TABLES,
        timeout: float | None = None,
        token: CancelToken | None = None,
    ) -> ResultSet:
        """Run ONE statement inside the transaction; arguments, result and errors as
        :meth:`Warehouse.execute`. After an error the transaction can only be rolled back (leave the
        context with the exception)."""


class UserTransaction(WarehouseTransaction):
    """A transaction the user began with their own BEGIN statement (:meth:`Warehouse.begin`): one
    connection held, out of the pool, until :meth:`end`. :meth:`execute` runs the statements between
    (an error leaves the transaction as the warehouse leaves it: aborted on DuckDB and PostgreSQL)."""

    @abstractmethod
    async def end(self, sql: str | None = None, *, token: CancelToken | None = None) -> ResultSet:
        """Run the user's ``sql`` (their COMMIT or ROLLBACK, as written), or a ROLLBACK when None, and
        give the connection back: to the pool when the statement succeeded, else closed (closing
        rolls back whatever is open). Call it once.

        :raises QueryFailed: the statement failed (a COMMIT that failed is rolled back).
        """


class Warehouse(ABC):
    """A named place where SQL runs. Implementations are created closed; :meth:`open` first.

    Every method below is a coroutine that never blocks the event loop. Calls may run concurrently:
    at most :attr:`max_concurrency` of them execute at once, the others wait for a slot. The
    ``timeout`` of a call (seconds) counts from the call, waiting for a slot included.

    Common keyword arguments of the running methods:

    * ``tables``: extra relations visible to this call's statements only, under the given names
      (the engine rewrites its SQL to reference them: system tables, table functions). They shadow
      tables of the same name and are gone when the call returns.
    * ``timeout``: seconds; past it the query is interrupted and :class:`QueryTimeout` raised.
    * ``token``: a :class:`CancelToken`; cancelling it interrupts the query and raises
      :class:`QueryCancelled`.

    If the task awaiting a call is itself cancelled (shutdown), the query is interrupted as well and
    :class:`asyncio.CancelledError` propagates.
    """

    #: The warehouse's name (as in ``WAREHOUSE = name``).
    name: str
    type: WarehouseType
    #: The sqlglot dialect its SQL is written in: ``duckdb``, ``sqlite`` or ``postgres``.
    dialect: str
    #: How many calls execute at once in this warehouse.
    max_concurrency: int
    #: Whether the warehouse has transactions, so that a body and its run's completion marker can
    #: commit together (:meth:`run_body` with ``marker``). A warehouse without them keeps the
    #: defaults below: it writes no marker and finds none, and its bodies run *at least once*
    #: (a body whose node died after it committed may be recorded NODE_LOST, or run again).
    supports_markers: bool = False

    @property
    @abstractmethod
    def running(self) -> int:
        """How many calls execute in the warehouse now (a call abandoned after a timeout counts until
        its driver returns). Calls waiting for a slot do not count."""

    @abstractmethod
    async def open(self) -> None:
        """Acquire what the warehouse needs (files, connection pools).

        :raises WarehouseError: the warehouse cannot be reached or opened; nothing stays open.
        """

    @abstractmethod
    async def close(self) -> None:
        """Interrupt what still runs and release everything. Idempotent; later calls fail."""

    @abstractmethod
    async def execute(
        self,
        sql: str,
        *,
        tables: Mapping[str, pyarrow.Table] = NO_TABLES,
        timeout: float | None = None,
        token: CancelToken | None = None,
    ) -> ResultSet:
        """Run ONE statement in autocommit mode (pass-through from the SQL console, tools).

        A trailing semicolon is allowed.

        :raises QueryFailed: the statement failed (``sqlstate`` when known), or ``sql`` holds more
            than one statement (code ``MULTIPLE_STATEMENTS``; nothing ran).
        :raises QueryTimeout: ``timeout`` passed. :raises QueryCancelled: ``token`` was cancelled.
        """

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[WarehouseTransaction]:
        """``async with warehouse.transaction() as txn:``: one connection held for the block, and one
        transaction on it; ``txn.execute`` runs statements in it one at a time. Leaving the block
        normally commits (:raises QueryFailed: the COMMIT failed; the transaction was rolled back);
        leaving it with an exception rolls back, and the exception propagates. Statements that
        manage transactions themselves (BEGIN, COMMIT, ...) must not be sent through ``txn``.

        :raises WarehouseError: no connection can be had (when entering).
        """

    async def begin(self, sql: str, *, token: CancelToken | None = None) -> UserTransaction:
        """Take a connection out of the pool and run the user's ``sql`` (their BEGIN or START
        TRANSACTION, as written) on it; the connection stays with the returned transaction, so no
        other call can be handed a connection with the user's transaction open.

        :raises QueryFailed: the statement failed (nothing stays open).
        :raises NotSupportedError: this warehouse cannot hold a connection across calls.
        """
        raise NotSupportedError(
            f"warehouse {self.name} cannot keep a transaction open across statements",
            code="NOT_SUPPORTED",
        )

    @abstractmethod
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
        """Run a task body: ``statements`` (one statement each) in order on one connection.

        ``transactional=True`` (BEGIN ... END scripts, and every body with INTO) runs them in one
        transaction: all or nothing; when any statement fails, times out or is cancelled, nothing
        of the body remains. ``transactional=False`` commits each statement on its own.

        ``into`` names a table (as SQL text, possibly qualified and quoted): the LAST statement
        must then be a query (SELECT, WITH ... SELECT, set operations, VALUES) and its rows are
        appended to that table in the same transaction, columns matched BY NAME, case-insensitive:
        target columns missing from the query get their defaults, query columns absent from the
        target are dropped.

        ``session_params`` are (name, SQL literal text) pairs applied with the dialect's SET (SQLite:
        PRAGMA) on the run's connection before the body, and for this run only.

        ``marker``: the run's completion marker. When the warehouse :attr:`supports_markers` and
        the body can run in one transaction with it, the body runs in a transaction (even a single
        statement) and the marker is inserted in that transaction just before it commits:
        afterwards the marker exists if and only if the body's effects do (``marked`` in the
        result). No marker is written (and the body runs as without one) for a body that has no
        effects to protect (queries only, without INTO, where the dialect's queries cannot
        write: DuckDB, SQLite), or that cannot run inside a transaction (transaction control,
        VACUUM, ``CALL`` of a PostgreSQL procedure, ...), or when the marker table cannot be
        created (privileges; logged once).

        :raises QueryFailed: a statement failed (the transaction was rolled back); INTO with no
            common column (code ``INTO_NO_MATCHING_COLUMNS``), a last statement that is not a query
            (``INTO_NOT_A_QUERY``), a missing target table (``INTO_TABLE_NOT_FOUND``); a bad
            session parameter (``INVALID_SESSION_PARAM``).
        :raises QueryTimeout: ``timeout`` passed. :raises QueryCancelled: ``token`` was cancelled.
        """

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
        """Run a task body as :meth:`run_body` (without INTO) and hand the rows of its last
        statement, a query, to ``sink`` as record batches of at most ``batch_rows`` rows, read from
        the warehouse a batch at a time: the next batch may be read while ``sink`` writes the
        previous one, but not the one after (one ``sink`` call at a time), so a result of any size
        is held two batches at a time. At least one batch is handed over
        (empty when the query has no rows; it names the columns). ``sink`` runs on the event loop
        while the body's connection waits; what it raises ends the body as a failed statement would
        (rolled back where the body is a transaction) and propagates.

        The result's ``rows_produced`` counts the query's rows, ``rows_inserted`` the rows the
        body's other statements wrote. Default: the body's result read whole, then cut.

        :raises QueryFailed: the last statement is not a query (``INTO_NOT_A_QUERY``), a value of
            no common type (``INTO_INCOMPATIBLE_TYPES``), or as :meth:`run_body`.
        """
        from tasksql.warehouses._stream import batches_of

        result = await self.run_body(
            statements,
            transactional=transactional,
            session_params=session_params,
            tables=tables,
            timeout=timeout,
            token=token,
        )
        last = result.last or ResultSet()
        for batch in batches_of(last.columns, last.rows, batch_rows):
            await sink(batch)
        return BodyResult(
            rows_produced=len(last.rows),
            rows_inserted=result.rows_inserted - (last.rowcount or 0),
            last=ResultSet(rowcount=len(last.rows)),
        )

    def marks(self, statements: Sequence[str], *, into: bool) -> bool:
        """Whether :meth:`run_body` of ``statements`` (with an INTO target or not) would commit a
        completion marker with them here, given one (see ``marker`` there), judged as of now. Who
        settles a run whose node died without its outcome asks this: a body that would have had
        a marker and has none did not commit. Default: no markers."""
        return False

    def has_effects(self, statements: Sequence[str], *, into: bool) -> bool:
        """Whether a body of ``statements`` (with an INTO target or not) may change the warehouse:
        False only for queries in a dialect whose queries cannot write (DuckDB, SQLite) without
        INTO, whose runs may be repeated at no cost. Default: it may."""
        return True

    async def find_markers(self, scope: str, run_ids: Sequence[int]) -> dict[int, datetime]:
        """run id -> the time its marker was written, for the markers of ``run_ids`` under
        ``scope`` that exist (none when the marker table does not exist).

        :raises WarehouseError, QueryFailed: the warehouse cannot be asked now (unreachable).
        """
        return {}

    async def marker_ids(self, scope: str, limit: int, *, after: int = 0) -> list[int]:
        """The run ids of at most ``limit`` markers under ``scope`` with ids above ``after``,
        lowest first."""
        return []

    async def delete_markers(self, scope: str, run_ids: Sequence[int]) -> int:
        """Delete the markers of ``run_ids`` under ``scope``; returns how many were deleted."""
        return 0

    @abstractmethod
    async def evaluate(
        self,
        condition: str,
        *,
        tables: Mapping[str, pyarrow.Table] = NO_TABLES,
        timeout: float | None = None,
        token: CancelToken | None = None,
    ) -> bool:
        """A WHEN condition: runs ``SELECT (<condition>)``; NULL counts as false.

        :raises QueryFailed: the condition failed, or its value is not a boolean or a number
            (code ``WHEN_NOT_BOOLEAN``). :raises QueryTimeout, QueryCancelled: as above.
        """

    @abstractmethod
    async def table_columns(self, table: str) -> list[str] | None:
        """The column names of ``table`` (SQL text, possibly qualified) in order; None if no such table.

        :raises QueryFailed: ``table`` is not a valid table name (code ``INVALID_NAME``).
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} ({self.type.value})>"


_PASSWORD = re.compile(r"(?i)\b(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)")


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, safe to print or log.

    Handles ``scheme://user:password@host/...`` URLs (the user is kept) and libpq key/value
    strings (``password=...``); anything else is returned unchanged.
    """
    if "://" in url:
        try:
            parts = urlsplit(url)
        except ValueError:
            return re.sub(r"://[^/@]*@", "://***@", url)
        if parts.password is not None:
            userinfo = f"{parts.username or ''}:***"
            host = parts.netloc.rpartition("@")[2]
            url = urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))
    return _PASSWORD.sub(lambda m: m.group(1) + "***", url)
