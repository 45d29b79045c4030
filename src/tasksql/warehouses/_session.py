"""The blocking side of a warehouse: one connection (or DuckDB cursor) used by one job at a time.

Backends implement :class:`WarehouseSession` over their driver; :mod:`._body` implements execute, task
bodies, INTO and WHEN once, on top of it. Every method except :meth:`WarehouseSession.interrupt` is called
from the worker thread running the job; driver exceptions are translated to
:class:`~tasksql.errors.QueryFailed` inside the backend and never leave it.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

from tasksql.errors import QueryFailed
from tasksql.warehouses import _markers
from tasksql.warehouses._sqltext import SQLSTATE_UNDEFINED_TABLE, TableName, quote_ident
from tasksql.warehouses.base import Marker, ResultSet

if TYPE_CHECKING:
    import pyarrow


class WarehouseSession(ABC):
    """One connection of a warehouse, owned by one job at a time.

    ``reusable`` turns False when the session must not serve another job (its state is unknown
    after a failed cleanup, or it carries run-scoped settings that cannot be undone); the pool then
    closes it instead of keeping it.
    """

    dialect: str
    reusable: bool = True
    #: The completion marker table of the session's warehouse as SQL (:func:`._markers.relation`);
    #: None when the backend writes no markers.
    marker_relation: str | None = None

    @abstractmethod
    def run(self, sql: str) -> ResultSet:
        """Run exactly one statement (a trailing semicolon allowed; empty text is a no-op).

        :raises QueryFailed: the statement failed, or ``sql`` holds several statements (code
            ``MULTIPLE_STATEMENTS``, nothing ran).
        """

    def stream(self, sql: str, batch_rows: int) -> Iterator[pyarrow.RecordBatch]:
        """The rows of the query ``sql`` as record batches of at most ``batch_rows`` rows, read
        from the driver a batch at a time (at least one batch, which names the columns). Default:
        the whole result read by :meth:`run`, then cut (backends override it to stream).

        :raises QueryFailed: as :meth:`run`; values of no common type (``INTO_INCOMPATIBLE_TYPES``).
        """
        from tasksql.warehouses._stream import batches_of

        rs = self.run(sql)
        yield from batches_of(rs.columns, rs.rows, batch_rows)

    @abstractmethod
    def start(self, params: Sequence[tuple[str, str]], *, transactional: bool) -> None:
        """Begin a run: apply the validated session ``params`` and, if ``transactional``, BEGIN.

        The backend picks the order its dialect needs (PostgreSQL: SET LOCAL inside the
        transaction; SQLite: PRAGMA before it).
        """

    @abstractmethod
    def finish(self, *, commit: bool) -> None:
        """End a run: COMMIT (``commit``) or ROLLBACK an open transaction, undo the run's params.

        With ``commit=False`` it never raises: a failed cleanup marks the session not reusable.

        :raises QueryFailed: COMMIT failed (the transaction is rolled back).
        """

    def commit_marked(self, marker: Marker) -> None:
        """Insert ``marker`` (a run's completion marker, stamped now) into :attr:`marker_relation`
        in the open transaction and COMMIT, as :meth:`finish` with ``commit=True`` does. When the
        INSERT fails the transaction is left open for ``finish(commit=False)`` to roll back.

        :raises QueryFailed: the INSERT or the COMMIT failed.
        """
        assert self.marker_relation is not None
        self.run(_markers.insert_sql(self.dialect, self.marker_relation, marker))
        self.finish(commit=True)

    @abstractmethod
    def add_tables(self, tables: Mapping[str, pyarrow.Table]) -> None:
        """Make Arrow tables visible to this session's statements under the given names."""

    @abstractmethod
    def drop_tables(self, names: Sequence[str]) -> None:
        """Remove what :meth:`add_tables` made (never raises; a failure marks it not reusable)."""

    @abstractmethod
    def interrupt(self) -> None:
        """Stop the statement running now. Called from another thread; must return promptly."""

    def settle(self) -> None:
        """Return once no interrupt sent by :meth:`interrupt` can still arrive (default: at once).

        Backends whose interrupt travels asynchronously (a PostgreSQL cancel request) wait for it
        here, or mark the session not reusable.
        """
        return

    @abstractmethod
    def close(self) -> None:
        """Release the connection (rolls back whatever is open). Never raises."""

    def quote(self, name: str) -> str:
        """``name`` as a quoted identifier of the session's dialect (double quotes; MySQL: backticks)."""
        return quote_ident(name)

    def table_sql(self, name: TableName) -> str:
        """The table ``name`` as SQL of the session's dialect."""
        return name.render(self.quote)

    def relation_columns(self, table_sql: str) -> list[str] | None:
        """Column names of the relation ``table_sql`` (already safe SQL), None when it does not exist."""
        try:
            rs = self.run(f"SELECT * FROM {table_sql} LIMIT 0")
        except QueryFailed as exc:
            if exc.sqlstate in (SQLSTATE_UNDEFINED_TABLE, "3F000"):  # no such table / schema
                return None
            raise
        return list(rs.columns)


S = TypeVar("S", bound=WarehouseSession)


class IdlePool(Generic[S]):
    """Sessions kept open between jobs (at most ``keep``), created on demand by ``factory``.

    Thread-safe. After :meth:`close`, released sessions are closed instead of kept.
    """

    def __init__(self, factory: Callable[[], S], keep: int) -> None:
        self._factory = factory
        self._keep = keep
        self._idle: list[S] = []
        self._lock = threading.Lock()
        self._closed = False

    def acquire(self) -> S:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._factory()

    def release(self, session: S, *, reuse: bool) -> None:
        with self._lock:
            if reuse and session.reusable and not self._closed and len(self._idle) < self._keep:
                self._idle.append(session)
                return
        session.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for s in idle:
            s.close()
