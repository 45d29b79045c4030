"""PostgreSQL servers as warehouses (``TYPE = postgres URL = 'postgresql://user:pass@host:port/db'``).

Jobs run with psycopg 3 (synchronous API) in worker threads, on connections from a
:class:`psycopg_pool.ConnectionPool` of at most ``max_concurrency`` connections (autocommit; each
checked before use, so a restarted server costs no failed run). Timeouts and cancellation send a
cancel request with ``cancel_safe()`` from a helper thread; every call also carries a server-side
``statement_timeout`` a little past its own deadline, as a backstop should the cancel request be
lost. WarehouseSession parameters are ``SET LOCAL`` inside a transactional body and ``SET``/``RESET``
around a non-transactional one. Extra relations are TEMP tables filled with COPY and dropped after.

A warehouse whose database holds the catalog records a run's outcome in the body's own transaction
(:meth:`PostgresWarehouse.run_body` with a :class:`~.base.CatalogSettle`; the SQL is in
:mod:`._catalog_outcome`), so the two commit together or not at all. During that transaction the
session carries the node's catalog label as its ``application_name``, so that a node stopped
while its settling write holds its node row has the session ended by the node that takes its
lease over, as its catalog sessions are.

Passwords never appear in messages: errors name the warehouse by :func:`~.base.redact_url`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from tasksql.clock import monotonic
from tasksql.errors import QueryFailed, WarehouseError
from tasksql.model import WarehouseType
from tasksql.warehouses import _arrow, _body, _catalog_outcome, _markers
from tasksql.warehouses._pg_cancel import Canceller
from tasksql.warehouses._session import WarehouseSession
from tasksql.warehouses._sqltext import (
    check_session_params,
    count_statements,
    multiple_statements,
    parse_table_name,
    quote_ident,
)
from tasksql.warehouses._supervise import Interrupter
from tasksql.warehouses._threaded import ThreadedWarehouse
from tasksql.warehouses.base import (
    DEFAULT_MAX_CONCURRENCY,
    INTERRUPT_GRACE,
    NO_TABLES,
    BodyResult,
    CancelToken,
    CatalogSettle,
    Marker,
    ResultSet,
    redact_url,
)

if TYPE_CHECKING:
    import pyarrow

#: Seconds to wait for the server when opening the warehouse or taking a connection from the pool.
CONNECT_TIMEOUT = 10.0

#: application_name of the one connection a warehouse keeps to send cancels (see _pg_cancel).
CANCEL_APPLICATION_NAME = "tasksql-cancel"
#: Seconds past a call's own timeout after which the server's statement_timeout stops a statement.
BACKSTOP_MARGIN = INTERRUPT_GRACE + 1.0

_ROWCOUNT_COMMANDS = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "COPY"})

_Conn = psycopg.Connection[tuple[Any, ...]]


class _PgSession(WarehouseSession):
    dialect = "postgres"

    def __init__(self, conn: _Conn, scrub: str | None, canceller: Canceller | None = None) -> None:
        self.conn = conn
        self._canceller = canceller
        self._cur = conn.cursor()
        self._scrub = scrub
        self._in_txn = False
        self._to_reset: list[str] = []
        self._cancels: list[threading.Thread] = []
        self.marker_relation = _markers.relation("postgres")

    def _failed(self, exc: psycopg.Error) -> QueryFailed:
        msg = str(exc).strip() or type(exc).__name__
        if self._scrub:
            msg = msg.replace(self._scrub, "***")
        state = exc.sqlstate
        if state is None and isinstance(exc, psycopg.OperationalError):
            state = "08006"  # the connection failed
        if self.conn.broken or self.conn.closed:
            self.reusable = False
        return QueryFailed(msg, sqlstate=state)

    def run(self, sql: str) -> ResultSet:
        n = count_statements(sql, "postgres")
        if n == 0:
            return ResultSet()
        if n > 1:
            raise multiple_statements(sql)
        cur = self._cur
        try:
            cur.execute(sql)
            desc = cur.description
            rows = cur.fetchall() if desc is not None else []
        except psycopg.Error as exc:
            raise self._failed(exc) from None
        command = (cur.statusmessage or "").split(" ", 1)[0]
        dml = command in _ROWCOUNT_COMMANDS or (command == "SELECT" and desc is None)  # CREATE TABLE AS
        rowcount = cur.rowcount if dml and cur.rowcount >= 0 else None
        if desc is None:
            return ResultSet(rowcount=rowcount)
        return ResultSet(
            columns=tuple(d.name for d in desc),
            rows=rows,
            rowcount=rowcount,
            types=tuple(d.type_display for d in desc),
        )

    def stream(self, sql: str, batch_rows: int) -> Iterator[pyarrow.RecordBatch]:
        # A server-side cursor: the server keeps the result and sends batch_rows rows per FETCH.
        # Outside a transaction it must be WITH HOLD (it outlives the implicit one).
        from tasksql.warehouses._stream import batches_of, fetched

        try:
            with self.conn.cursor(name="tasksql_stream", withhold=not self._in_txn) as cur:
                cur.itersize = batch_rows
                cur.execute(sql)
                columns = [d.name for d in cur.description or []]
                yield from batches_of(columns, fetched(cur.fetchmany, batch_rows), batch_rows)
        except psycopg.Error as exc:
            raise self._failed(exc) from None

    def _exec(self, sql: str) -> None:
        try:
            self._cur.execute(sql)
        except psycopg.Error as exc:
            raise self._failed(exc) from None

    def start(self, params: Sequence[tuple[str, str]], *, transactional: bool) -> None:
        if transactional:
            # One message (no parameters: the simple query protocol takes several statements);
            # SET LOCAL ends with the transaction. If a SET fails, finish() rolls back.
            self._in_txn = True
            self._exec("; ".join(["BEGIN", *(f"SET LOCAL {name} = {value}" for name, value in params)]))
            return
        for name, value in params:
            self._to_reset.append(name)
            self._exec(f"SET {name} = {value}")

    def finish(self, *, commit: bool) -> None:
        if self._in_txn:
            self._in_txn = False
            if commit:
                self._exec("COMMIT")  # a failed COMMIT ends the transaction too
            else:
                self._quiet("ROLLBACK")
        names, self._to_reset = self._to_reset, []
        for name in names:
            self._quiet(f"RESET {name}")

    def commit_marked(self, marker: Marker) -> None:
        # The marker's INSERT and the COMMIT in one message: a marked body costs no round trip more
        # than an unmarked one. Should the INSERT fail, the COMMIT is not run (the server stops at
        # the first error of a message) and finish(commit=False) rolls back.
        assert self.marker_relation is not None
        # RESET role: a body run as a mapped role (role_mapping.py) writes its marker as the login
        self._exec(f"RESET role; {_markers.insert_sql('postgres', self.marker_relation, marker)}; COMMIT")
        self._in_txn = False
        self.finish(commit=True)  # resets what is left to reset

    def settle_run(self, sql: str, params: dict[str, Any]) -> bool:
        """Run the catalog's settling UPDATE (see :mod:`._catalog_outcome`) in the body's
        transaction; whether it changed the run's row."""
        try:
            self._cur.execute("RESET role")  # as the login, also after a body run as a mapped role
            self._cur.execute(sql, params)
        except psycopg.Error as exc:
            raise self._failed(exc) from None
        return self._cur.rowcount > 0

    def _quiet(self, sql: str) -> None:
        try:
            self._cur.execute(sql)
        except psycopg.Error:
            self.reusable = False

    def add_tables(self, tables: Mapping[str, pyarrow.Table]) -> None:
        for name, table in tables.items():
            qname = "pg_temp." + quote_ident(name)
            cols = _arrow.column_types(table, "postgres")
            defs = ", ".join(f"{quote_ident(c)} {t}" for c, t in cols)
            collist = ", ".join(quote_ident(c) for c, _ in cols)
            self._exec(f"DROP TABLE IF EXISTS {qname}")
            self._exec(f"CREATE TEMP TABLE {quote_ident(name)} ({defs})")
            try:
                if _arrow.csv_safe(table):
                    # CSV written by Arrow (in C++), no Python object per value: several times faster
                    with self._cur.copy(f"COPY {qname} ({collist}) FROM STDIN (FORMAT csv)") as copy:
                        for chunk in _arrow.csv_chunks(table):
                            copy.write(chunk)
                else:
                    with self._cur.copy(f"COPY {qname} ({collist}) FROM STDIN") as copy:
                        for batch in _arrow.rows(table, "postgres"):
                            for row in batch:
                                copy.write_row(row)
                # only this session sees it; a body run as a mapped role (role_mapping.py) reads it
                self._cur.execute(f"GRANT SELECT ON {qname} TO PUBLIC")
            except psycopg.Error as exc:
                raise self._failed(exc) from None

    def drop_tables(self, names: Sequence[str]) -> None:
        for name in names:
            self._quiet(f"DROP TABLE IF EXISTS pg_temp.{quote_ident(name)}")

    def interrupt(self) -> None:
        # cancel_safe() waits for the server's answer: never on the caller's thread.
        thread = threading.Thread(target=self._cancel, name="tasksql-pg-cancel", daemon=True)
        self._cancels.append(thread)
        thread.start()

    def settle(self) -> None:
        # Once cancel_safe() returned, the server has signalled the backend; a signal that finds the
        # backend idle is ignored (PostgreSQL drops cancels that arrive between commands), so the
        # connection can serve the next job.
        threads, self._cancels = self._cancels, []
        deadline = monotonic() + INTERRUPT_GRACE
        for t in threads:
            t.join(max(0.0, deadline - monotonic()))
            if t.is_alive():
                self.reusable = False

    def _cancel(self) -> None:
        # pg_cancel_backend on the warehouse's kept connection: one round trip (see _pg_cancel);
        # libpq's cancel request (a new connection each time) when that cannot be used.
        if self._canceller is not None and self._canceller.cancel(self.conn.info.backend_pid):
            return
        with contextlib.suppress(psycopg.Error, OSError):
            self.conn.cancel_safe(timeout=INTERRUPT_GRACE)

    def close(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self.conn.close()


def _label_params(settle: CatalogSettle) -> list[tuple[str, str]]:
    """The session's name for a settling body's transaction (``SET LOCAL``, sent with its BEGIN:
    no round trip more, and the name reverts at its end): the fence's catalog label. The settling
    UPDATE locks the node's row ``FOR KEY SHARE`` until the COMMIT; should the node stop before it,
    the node that revokes its lease ends the sessions carrying that label (as it ends the node's
    catalog sessions), so the body is rolled back and the lease is not held up."""
    if settle.label is None:
        return []
    return [("application_name", "'" + settle.label.replace("'", "''") + "'")]


class PostgresWarehouse(ThreadedWarehouse):
    """A PostgreSQL database reached by ``url``.

    :raises WarehouseError: from :meth:`open` when the URL is invalid (code ``INVALID_URL``) or the
        server cannot be reached or refuses the login.
    """

    type = WarehouseType.POSTGRES
    dialect = "postgres"
    supports_markers = True

    def __init__(self, name: str, url: str, *, max_concurrency: int | None = None) -> None:
        super().__init__(name, max_concurrency or DEFAULT_MAX_CONCURRENCY)
        self.url = url
        self._pool: ConnectionPool[_Conn] | None = None
        self._canceller: Canceller | None = None
        self._password: str | None = None

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)

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
        """As :meth:`Warehouse.run_body`; with a ``marker`` that carries a :class:`CatalogSettle`
        (this database holds the catalog), a body that can run in one transaction records its run
        SUCCEEDED in the catalog in that transaction instead of writing a marker (``settled`` in
        the result). When the catalog refuses the outcome (the run is settled already, the fence's
        lease is lost), the body is rolled back and :class:`QueryFailed` (code
        ``OUTCOME_REFUSED``) raised. Other bodies run as without it (with a marker where they can
        have one; statements that cannot run in a transaction: at least once)."""
        statements = list(statements)
        settle = marker.settle if marker is not None else None
        if (
            marker is None
            or settle is None
            or not _markers.markable(self.dialect, statements, into=into is not None)
        ):
            return await super().run_body(
                statements,
                transactional=transactional,
                into=into,
                session_params=session_params,
                tables=tables,
                timeout=timeout,
                token=token,
                marker=marker,
            )
        target = parse_table_name(into) if into is not None else None
        params = self._backstop_params(timeout) + _label_params(settle) + check_session_params(session_params)
        sql = _catalog_outcome.settle_sql(settle)

        def work(s: WarehouseSession, stop: Interrupter) -> BodyResult:
            assert isinstance(s, _PgSession)

            def body() -> BodyResult:
                result = _body.run_statements(s, stop, statements, target)
                stop.check()  # a stop requested during the last statement: no outcome, roll back
                if not s.settle_run(sql, _catalog_outcome.settle_params(marker, settle, result)):
                    raise _catalog_outcome.refused(settle)
                return result

            result = _body.within_run(s, stop, tables=tables, params=params, transactional=True, work=body)
            return dataclasses.replace(result, settled=True)

        return await self._call(work, tables=tables, timeout=timeout, token=token, what="task body")

    def _can_write_markers(self, s: WarehouseSession, rel: str) -> bool:
        # The table may exist already, created by another login: this one must be able to use it.
        rs = s.run(f"SELECT has_table_privilege('{rel}', 'SELECT, INSERT, DELETE')")
        if rs.rows and rs.rows[0][0]:
            return True
        self._markers_unavailable(f"this login may not read, insert and delete rows of {rel}")
        return False

    def _backstop_params(self, timeout: float | None) -> list[tuple[str, str]]:
        if timeout is None:
            return []
        return [("statement_timeout", str(int((timeout + BACKSTOP_MARGIN) * 1000)))]

    async def _open_backend(self) -> None:
        try:
            info = conninfo_to_dict(self.url)
        except psycopg.Error:
            raise WarehouseError(
                f"warehouse {self.name}: invalid PostgreSQL URL {self.safe_url}", code="INVALID_URL"
            ) from None
        self._password = str(info["password"]) if info.get("password") else None
        kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": None}
        if "application_name" not in info:
            kwargs["application_name"] = "tasksql"
        if "connect_timeout" not in info:
            kwargs["connect_timeout"] = int(CONNECT_TIMEOUT)
        # The probe's connection is kept to send cancels; named apart from the pool's connections.
        cancel_kwargs = {**kwargs, "application_name": CANCEL_APPLICATION_NAME}
        self._canceller = Canceller(
            await asyncio.to_thread(self._probe, cancel_kwargs),
            lambda: psycopg.connect(self.url, **cancel_kwargs),
        )
        pool: ConnectionPool[_Conn] = ConnectionPool(
            self.url,
            kwargs=kwargs,
            min_size=1,
            max_size=self.max_concurrency,
            open=False,
            check=ConnectionPool.check_connection,
            name=f"tasksql-{self.name}",
            timeout=CONNECT_TIMEOUT,
        )
        try:
            await asyncio.to_thread(pool.open, True, CONNECT_TIMEOUT)
        except PoolTimeout:
            await asyncio.to_thread(pool.close)
            raise WarehouseError(f"warehouse {self.name}: cannot connect to {self.safe_url}") from None
        self._pool = pool

    def _probe(self, kwargs: dict[str, Any]) -> _Conn:
        """One direct connection first: its error says why (the pool would only time out). It is
        kept to send cancels (:class:`~._pg_cancel.Canceller`)."""
        try:
            return psycopg.connect(self.url, **kwargs)
        except psycopg.Error as exc:
            msg = str(exc).strip()
            if self._password:
                msg = msg.replace(self._password, "***")
            raise WarehouseError(f"warehouse {self.name}: cannot connect to {self.safe_url}: {msg}") from None

    async def _close_backend(self) -> None:
        canceller, self._canceller = self._canceller, None
        if canceller is not None:
            await asyncio.to_thread(canceller.close)
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.close, INTERRUPT_GRACE)

    def _acquire(self) -> WarehouseSession:
        pool = self._pool
        if pool is None:
            raise WarehouseError(f"warehouse {self.name} is closed", code="WAREHOUSE_CLOSED")
        try:
            conn = pool.getconn()
        except PoolClosed:
            raise WarehouseError(f"warehouse {self.name} is closed", code="WAREHOUSE_CLOSED") from None
        except PoolTimeout:
            raise WarehouseError(
                f"warehouse {self.name}: no connection to {self.safe_url} within {CONNECT_TIMEOUT:g} s"
            ) from None
        return _PgSession(conn, self._password, self._canceller)

    def _release(self, session: WarehouseSession, *, reuse: bool) -> None:
        assert isinstance(session, _PgSession)
        if not (reuse and session.reusable):
            session.close()  # the pool replaces a closed connection
        pool = self._pool
        if pool is not None:
            try:
                pool.putconn(session.conn)
                return
            except Exception:  # not from this pool any more (closed and reopened): just close it
                pass
        session.close()
