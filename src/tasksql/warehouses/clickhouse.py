"""ClickHouse servers as warehouses (``TYPE = clickhouse URL = 'clickhouse://user:pass@host:9000/db'``).

Jobs run with clickhouse-driver (ClickHouse's native TCP protocol) in worker threads, on
connections kept between jobs (at most ``max_concurrency``; a connection idle for a while is pinged
before it is reused, and replaced when the ping fails). An ``http://`` or ``https://`` URL uses
ClickHouse's HTTP interface instead (:mod:`.clickhouse_http`: a "connection" is then a keep-alive
HTTP connection with a server session of its own), with the same behaviour as below. The SQL is
ClickHouse's own; identifiers tasksql writes are double-quoted.

ClickHouse has no transactions. A body runs its statements in order and each one's effects stay
when a later one fails (a ``BEGIN ... END`` script is *not* all or nothing), INTO is one ``INSERT
... SELECT`` (atomic per inserted block only), :meth:`transaction` and a user's ``BEGIN`` are
refused, and no completion marker can commit with a body: bodies run *at least once* (a body
whose node died after it finished may be recorded NODE_LOST, or run again).

Timeouts and cancellation send ``KILL QUERY WHERE query_id = '...'`` on a connection of the
warehouse's own (from a helper thread, never the caller's). Every statement has a query id of its
own, so a KILL that arrives late can never stop another statement. Every call with a timeout also
carries the server's ``max_execution_time`` a little past its own deadline, as a backstop should
the KILL be lost.

Session parameters are one ``SET a = 1, b = 2`` before the body. ClickHouse keeps them on the
connection and older servers cannot set them back to their defaults, so a connection that ran
with session parameters is closed after the run instead of being kept. Extra relations (system
tables read by a body) are TEMPORARY tables of the connection (engine Memory).

Servers whose protocol revision is below 54420 (Debian's 18.16 is 54412) do not report how many
rows an INSERT wrote: the run's ``rows_inserted`` then counts 0 for them.

Passwords never appear in messages: errors name the warehouse by :func:`~.base.redact_url`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from clickhouse_driver import Client
from clickhouse_driver import errors as ch_errors

from tasksql.clock import monotonic
from tasksql.errors import NotSupportedError, QueryFailed, WarehouseError
from tasksql.model import WarehouseType
from tasksql.warehouses import clickhouse_sql
from tasksql.warehouses._session import IdlePool, WarehouseSession
from tasksql.warehouses._sqltext import count_statements, multiple_statements
from tasksql.warehouses._threaded import ThreadedWarehouse
from tasksql.warehouses.base import (
    DEFAULT_MAX_CONCURRENCY,
    INTERRUPT_GRACE,
    BodyResult,
    CancelToken,
    ResultSet,
    UserTransaction,
    WarehouseTransaction,
    redact_url,
)
from tasksql.warehouses.clickhouse_http import HttpClient, HttpError

if TYPE_CHECKING:
    import pyarrow

#: Seconds past a call's own timeout after which the server's own limit stops a statement.
BACKSTOP_MARGIN = INTERRUPT_GRACE + 1.0
#: The name under which a call's backstop reaches :meth:`_ClickHouseSession.start`: sent as the
#: per-query setting ``max_execution_time``, never as SQL.
_BACKSTOP = "tasksql$max_execution_time"
#: A connection idle for longer than this (seconds) is pinged before a job uses it.
IDLE_CHECK = 5.0
#: The first protocol revision whose progress packets count written rows.
_WRITE_INFO_REVISION = 54420
#: First words of statements whose written rows are counted (when the server says).
_DML = frozenset({"insert"})

_Client = Any  # clickhouse_driver.Client (the driver ships no type hints), or an HttpClient
#: What a failing call raises, over either transport.
_ERRORS = (ch_errors.Error, HttpError, OSError, EOFError)


def _client(target: clickhouse_sql.ClickHouseTarget, **kwargs: Any) -> _Client:
    """A client of the URL's transport: native (clickhouse-driver) or HTTP."""
    if target.http:
        kwargs.pop("disable_reconnect", None)  # the session lives in the server, by its id
        return HttpClient(target, **kwargs)
    return Client(**{**target.client_args(), **kwargs})


def counts_writes(revision: int) -> bool:
    """Whether a server of protocol ``revision`` reports how many rows an INSERT wrote."""
    return revision >= _WRITE_INFO_REVISION


def _failed(exc: BaseException, secret: str | None) -> tuple[QueryFailed, bool]:
    """(the error to raise, whether the connection is still usable)."""
    code = int(getattr(exc, "code", 0) or 0)
    message = getattr(exc, "message", None) or str(exc)
    text = clickhouse_sql.error_text(code, str(message), secret)
    state = clickhouse_sql.sqlstate(code)
    usable = isinstance(exc, ch_errors.ServerException) or (isinstance(exc, HttpError) and exc.server)
    if not usable:
        state = state or "08006"
    return QueryFailed(text, sqlstate=state), usable


class _Killer:
    """Sends ``KILL QUERY`` for the warehouse's statements on a client of its own (connected on first
    use, again after an error). Thread-safe: kills take turns."""

    def __init__(self, target: clickhouse_sql.ClickHouseTarget) -> None:
        args: dict[str, Any] = {
            "connect_timeout": min(target.connect_timeout, INTERRUPT_GRACE),
            "send_receive_timeout": INTERRUPT_GRACE,
        }
        if target.http:
            args["session"] = False  # KILL needs no session state
        self._client: _Client = _client(target, **args)
        self._lock = threading.Lock()
        self._closed = False

    def connect(self) -> None:
        """Connect ahead of the first kill (a kill should not wait for a handshake)."""
        with self._lock, contextlib.suppress(*_ERRORS):
            if not self._closed:
                self._client.connection.force_connect()

    def kill(self, query_id: str) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                # ASYNC: answer at once; the statement fails with code 394 as soon as it notices.
                self._client.execute(
                    f"KILL QUERY WHERE query_id = {clickhouse_sql.string_literal(query_id)} ASYNC"
                )
            except _ERRORS:
                with contextlib.suppress(Exception):
                    self._client.disconnect()  # the next kill connects again

    def close(self) -> None:
        with self._lock:
            self._closed = True
            with contextlib.suppress(Exception):
                self._client.disconnect()


class _ClickHouseSession(WarehouseSession):
    dialect = "clickhouse"

    def __init__(self, client: _Client, killer: _Killer, scrub: str | None) -> None:
        self.client = client
        self._killer = killer
        self._scrub = scrub
        self._settings: dict[str, Any] = {}
        self.query_id: str | None = None
        self._lock = threading.Lock()
        self.counts_writes = False
        #: Temporary tables this session created and has not dropped.
        self._temps: set[str] = set()
        #: The connection failed: the driver would connect again, without this session's state.
        self._lost = False
        self.used_at = monotonic()

    def quote(self, name: str) -> str:
        return clickhouse_sql.quote(name)

    def _call(self, sql: str, data: Any = None, **kwargs: Any) -> Any:
        query_id = uuid.uuid4().hex
        with self._lock:
            self.query_id = query_id
        try:
            if data is None:
                return self.client.execute(
                    sql, with_column_types=True, query_id=query_id, settings=self._settings, **kwargs
                )
            return self.client.execute(sql, data, query_id=query_id, settings=self._settings, **kwargs)
        except _ERRORS as exc:
            err, usable = _failed(exc, self._scrub)
            if not usable:
                self.reusable = False
                self._lost = True
            raise err from None
        finally:
            with self._lock:
                self.query_id = None

    def run(self, sql: str) -> ResultSet:
        n = count_statements(sql, "clickhouse")
        if n == 0:
            return ResultSet()
        if n > 1:
            raise multiple_statements(sql)
        inline = clickhouse_sql.inline_insert(sql)
        if inline is not None:
            statements, count = inline
            for text in statements:
                self._call(text)
            return ResultSet(rowcount=count)
        rows, columns = self._call(sql.strip().rstrip(";"))
        if columns:
            return ResultSet(
                columns=tuple(c[0] for c in columns),
                rows=[tuple(r) for r in rows],
                types=tuple(c[1] for c in columns),
            )
        first = sql.lstrip().split(None, 1)[0].lower() if sql.strip() else ""
        progress = getattr(self.client.last_query, "progress", None)
        if first in _DML and self.counts_writes and progress is not None:
            return ResultSet(rowcount=int(progress.written_rows))
        return ResultSet()

    def stream(self, sql: str, batch_rows: int) -> Iterator[pyarrow.RecordBatch]:
        # execute_iter yields rows block by block as the server sends them (blocks of at most
        # batch_rows rows), the column names and types first.
        from tasksql.warehouses._stream import batches_of

        query_id = uuid.uuid4().hex
        with self._lock:
            self.query_id = query_id
        try:
            rows = self.client.execute_iter(
                sql.strip().rstrip(";"),
                with_column_types=True,
                query_id=query_id,
                settings={**self._settings, "max_block_size": batch_rows},
            )
            header = next(rows, None)
            columns = [c[0] for c in header] if header else []
            yield from batches_of(columns, rows, batch_rows)
        except _ERRORS as exc:
            err, usable = _failed(exc, self._scrub)
            if not usable:
                self.reusable = False
                self._lost = True
            raise err from None
        finally:
            with self._lock:
                self.query_id = None

    def start(self, params: Sequence[tuple[str, str]], *, transactional: bool) -> None:
        # No transactions: ``transactional`` changes nothing (documented in the module).
        user = [(name, value) for name, value in params if name != _BACKSTOP]
        for name, value in params:
            if name == _BACKSTOP:
                self._settings = {"max_execution_time": int(value)}
        if user:
            # ClickHouse keeps them on the connection and 18.x cannot reset them: not kept after.
            self.reusable = False
            self._call("SET " + ", ".join(f"{name} = {value}" for name, value in user))

    def finish(self, *, commit: bool) -> None:
        self._settings = {}

    def add_tables(self, tables: Mapping[str, pyarrow.Table]) -> None:
        for name, table in tables.items():
            qname = clickhouse_sql.quote(name)
            cols = clickhouse_sql.arrow_columns(table)
            if not cols:
                raise QueryFailed(f"relation {name} has no columns", code="INVALID_NAME")
            defs = ", ".join(f"{clickhouse_sql.quote(c)} {t}" for c, t in cols)
            # Never DROP TEMPORARY TABLE IF EXISTS here: with no temporary table of that name,
            # ClickHouse 18 drops the ordinary table of that name instead.
            self._call(f"CREATE TEMPORARY TABLE {qname} ({defs}) ENGINE = Memory")
            self._temps.add(name)
            if table.num_rows == 0:
                continue
            collist = ", ".join(clickhouse_sql.quote(c) for c, _ in cols)
            for rb in table.to_batches(max_chunksize=50_000):
                data = [
                    clickhouse_sql.column_values(col, t) for col, (_, t) in zip(rb.columns, cols, strict=True)
                ]
                self._call(f"INSERT INTO {qname} ({collist}) VALUES", data, columnar=True)

    def drop_tables(self, names: Sequence[str]) -> None:
        for name in names:
            if name not in self._temps:
                continue
            self._temps.discard(name)
            if self._lost:
                continue  # a new connection has none of them; the lost one took them along
            try:
                self._call(f"DROP TEMPORARY TABLE {clickhouse_sql.quote(name)}")
            except QueryFailed:
                self.reusable = False

    def interrupt(self) -> None:
        with self._lock:
            query_id = self.query_id
        if query_id is None:
            return  # between statements: the job checks for a stop before the next one
        # KILL QUERY waits for the server: never on the caller's thread. A late KILL is harmless:
        # the id is this statement's only.
        threading.Thread(
            target=self._killer.kill, args=(query_id,), name="tasksql-clickhouse-kill", daemon=True
        ).start()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()


class ClickHouseWarehouse(ThreadedWarehouse):
    """A ClickHouse database reached by ``url`` (``clickhouse://``, or ``clickhouses://`` over TLS).

    :raises WarehouseError: from the constructor when the URL is invalid (code ``INVALID_URL``);
        from :meth:`open` when the server cannot be reached, refuses the login or has no such
        database.
    """

    type = WarehouseType.CLICKHOUSE
    dialect = "clickhouse"
    supports_markers = False

    def __init__(self, name: str, url: str, *, max_concurrency: int | None = None) -> None:
        super().__init__(name, max_concurrency or DEFAULT_MAX_CONCURRENCY)
        self.url = url
        self.target = clickhouse_sql.parse_url(url, f"{redact_url(url)} (warehouse {name})")
        self._killer = _Killer(self.target)
        self._sessions = IdlePool(self._connect, keep=self.max_concurrency)
        self.server_version = ""
        self.server_revision = 0

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)

    def _connect(self) -> _ClickHouseSession:
        """Worker thread: a new connection. :raises WarehouseError: it cannot be had (one line)."""
        # No silent reconnect: a new connection would lack the session's temporary tables and SETs.
        client = _client(self.target, disable_reconnect=True)
        try:
            client.execute("SELECT 1")  # connects (a bare force_connect leaves the client marked busy)
        except _ERRORS as exc:
            err, _ = _failed(exc, self.target.password)
            with contextlib.suppress(Exception):
                client.disconnect()
            raise WarehouseError(
                f"warehouse {self.name}: cannot connect to {self.safe_url}: {err.message}"
            ) from None
        session = _ClickHouseSession(client, self._killer, self.target.password)
        info = client.connection.server_info
        session.counts_writes = counts_writes(int(getattr(info, "revision", 0) or 0))
        return session

    async def _open_backend(self) -> None:
        await asyncio.to_thread(self._first_connection)

    def _first_connection(self) -> None:
        session = self._connect()
        try:
            self.server_version = str(session.run("SELECT version()").rows[0][0])
        except QueryFailed as exc:
            session.close()
            raise WarehouseError(f"warehouse {self.name}: {self.safe_url}: {exc.message}") from None
        self.server_revision = int(getattr(session.client.connection.server_info, "revision", 0) or 0)
        self._sessions.release(session, reuse=True)
        self._killer.connect()

    async def _close_backend(self) -> None:
        await asyncio.to_thread(self._sessions.close)
        await asyncio.to_thread(self._killer.close)

    def _acquire(self) -> WarehouseSession:
        session = self._sessions.acquire()
        if monotonic() - session.used_at > IDLE_CHECK and not self._alive(session):
            session.close()  # the server closed it (restart, idle timeout): take a new one
            session = self._connect()
        return session

    @staticmethod
    def _alive(session: _ClickHouseSession) -> bool:
        try:
            return bool(session.client.connection.ping())
        except Exception:  # the driver's ping raises on some broken sockets
            return False

    def _release(self, session: WarehouseSession, *, reuse: bool) -> None:
        assert isinstance(session, _ClickHouseSession)
        session.used_at = monotonic()
        self._sessions.release(session, reuse=reuse)

    def _backstop_params(self, timeout: float | None) -> list[tuple[str, str]]:
        if timeout is None:
            return []
        return [(_BACKSTOP, str(int(timeout + BACKSTOP_MARGIN + 0.999)))]  # whole seconds

    def transaction(self) -> AbstractAsyncContextManager[WarehouseTransaction]:
        return self._no_transaction()

    @asynccontextmanager
    async def _no_transaction(self) -> AsyncIterator[WarehouseTransaction]:
        raise NotSupportedError(
            f"warehouse {self.name} is ClickHouse, which has no transactions: run the statements"
            " one by one (without a single transaction)",
            code="NOT_SUPPORTED",
        )
        yield  # pragma: no cover - never reached

    async def run_body(self, statements: Sequence[str], **kwargs: Any) -> BodyResult:
        """As :meth:`.base.Warehouse.run_body`; without transactions, a statement that holds several
        is refused before any statement of the body runs (elsewhere the rollback undoes them)."""
        for sql in statements:
            if count_statements(sql, "clickhouse") > 1:
                raise multiple_statements(sql)
        return await super().run_body(statements, **kwargs)

    async def begin(self, sql: str, *, token: CancelToken | None = None) -> UserTransaction:
        raise NotSupportedError(
            f"warehouse {self.name} is ClickHouse, which has no transactions: BEGIN is refused",
            code="NOT_SUPPORTED",
        )
