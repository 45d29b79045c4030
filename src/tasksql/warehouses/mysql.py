"""MySQL and MariaDB servers as warehouses (``TYPE = mysql URL = 'mysql://user:pass@host:3306/db'``).

Jobs run with PyMySQL (pure Python) in worker threads, on connections kept between jobs (at most
``max_concurrency``; autocommit; one idle for more than :data:`IDLE_CHECK` seconds is pinged before
use, so a restarted server costs no failed run). The SQL is MySQL's own: identifiers tasksql writes
are quoted with backticks, and double quotes stay strings as the server's ``sql_mode`` has them.

Timeouts and cancellation send ``KILL QUERY <connection id>`` on a connection of the warehouse's own
(kept open, so a stop costs one round trip; from a helper thread, never the caller's); the statement
fails with error 1317 and its connection stays usable. Every call with a timeout also carries a
server-side limit a little past its own deadline, as a backstop should the KILL be lost: MariaDB's
``max_statement_time`` (every statement), MySQL's ``max_execution_time`` (SELECT only).

Session parameters are ``SET SESSION name = value`` before the body and ``SET SESSION name =
DEFAULT`` after it. Extra relations are TEMPORARY tables (MySQL, unlike MariaDB, cannot name a
TEMPORARY table twice in one statement). Transactions are InnoDB's: a transactional body is
``START TRANSACTION`` ... ``COMMIT``, but MySQL commits implicitly around DDL (CREATE, ALTER, DROP,
TRUNCATE, ...), so a body holding DDL is not all or nothing, and gets no completion marker
(:func:`.mysql_sql.markable`): such bodies run *at least once*. The marker table is
``tasksql_run_markers`` in the URL's database.

Passwords never appear in messages: errors name the warehouse by :func:`~.base.redact_url`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pymysql
from pymysql.constants import CLIENT

from tasksql.clock import monotonic
from tasksql.errors import QueryFailed, WarehouseError
from tasksql.model import WarehouseType
from tasksql.warehouses import mysql_sql, role_mapping
from tasksql.warehouses._session import IdlePool, WarehouseSession
from tasksql.warehouses._sqltext import count_statements, multiple_statements
from tasksql.warehouses._threaded import ThreadedWarehouse
from tasksql.warehouses.base import DEFAULT_MAX_CONCURRENCY, INTERRUPT_GRACE, ResultSet, redact_url

if TYPE_CHECKING:
    import pyarrow

#: Seconds past a call's own timeout after which the server's own limit stops a statement.
BACKSTOP_MARGIN = INTERRUPT_GRACE + 1.0
#: A connection idle for longer than this (seconds) is pinged before a job uses it.
IDLE_CHECK = 5.0
#: Tries to create the marker table when creating it races with another connection.
_CREATE_TRIES = 3
#: Error number of KILL for a connection id that no longer exists.
_NO_SUCH_THREAD = 1094

#: A PyMySQL connection (the driver ships no type hints).
_Conn = Any
_CREATE_SELECT = re.compile(r"(?i)\bselect\b")


class _Killer:
    """Sends ``KILL QUERY`` for the warehouse's sessions on a connection of its own (opened on first
    use, opened again after an error). Thread-safe: kills take turns."""

    def __init__(self, target: mysql_sql.MySQLTarget) -> None:
        self._args = {
            **target.connect_args(),
            "connect_timeout": min(target.connect_timeout, INTERRUPT_GRACE),
        }
        self._lock = threading.Lock()
        self._conn: _Conn | None = None
        self._closed = False

    def connect(self) -> None:
        """Open the connection ahead of the first kill (a kill should not wait for a login)."""
        with self._lock:
            if self._conn is None and not self._closed:
                with contextlib.suppress(pymysql.MySQLError, OSError):
                    self._conn = pymysql.connect(**self._args)

    def kill(self, thread_id: int) -> None:
        with self._lock:
            for _ in range(2):  # a kept connection may have gone stale: once more on a fresh one
                if self._closed:
                    return
                try:
                    if self._conn is None:
                        self._conn = pymysql.connect(**self._args)
                    self._conn.query(f"KILL QUERY {int(thread_id)}")
                    return
                except pymysql.MySQLError as exc:
                    if exc.args and exc.args[0] == _NO_SUCH_THREAD:
                        return  # the connection is gone: nothing runs on it any more
                    self._drop()
                except OSError:
                    self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._drop()


class _MySQLSession(WarehouseSession):
    dialect = "mysql"

    def __init__(self, conn: _Conn, killer: _Killer, scrub: str | None) -> None:
        self.conn = conn
        self.thread_id = int(conn.thread_id())
        self._cur = conn.cursor()
        self._killer = killer
        self._scrub = scrub
        self._in_txn = False
        self._to_reset: list[str] = []
        self._role_set = False
        self._kills: list[threading.Thread] = []
        self.marker_relation = mysql_sql.MARKER_TABLE
        self.used_at = monotonic()

    def quote(self, name: str) -> str:
        return mysql_sql.quote(name)

    def _failed(self, exc: Exception) -> QueryFailed:
        errno, msg = mysql_sql.error_text(exc.args, self._scrub)
        state = mysql_sql.sqlstate(errno)
        if isinstance(exc, pymysql.err.InterfaceError) or state == "08006" or not self.conn.open:
            self.reusable = False
            state = state or "08006"
        return QueryFailed(msg, sqlstate=state)

    def run(self, sql: str) -> ResultSet:
        n = 1 if mysql_sql.is_stored_program(sql) else count_statements(sql, "mysql")
        if n == 0:
            return ResultSet()
        if n > 1:
            raise multiple_statements(sql)
        cur = self._cur
        columns: tuple[str, ...] = ()
        types: tuple[str, ...] = ()
        rows: list[tuple[Any, ...]] = []
        try:
            cur.execute(sql)
            rowcount = cur.rowcount
            # CALL returns a result per SELECT of the procedure, then a status: keep the last rows.
            while True:
                if cur.description is not None:
                    columns = tuple(d[0] for d in cur.description)
                    types = self._types(cur)
                    rows = list(cur.fetchall())
                if not cur.nextset():
                    break
        except (pymysql.MySQLError, OSError) as exc:
            raise self._failed(exc) from None
        if self._kills:
            # A KILL QUERY does not always make its statement fail: an interrupted SLEEP() or
            # BENCHMARK() returns a value. Sent a KILL, the statement did not run to its end.
            raise QueryFailed("the statement was interrupted (KILL QUERY)", sqlstate="57014")
        first = mysql_sql.words(sql)[0]
        counted = first in mysql_sql.DML or (first == "create" and _CREATE_SELECT.search(sql) is not None)
        count = rowcount if counted and rowcount is not None and rowcount >= 0 else None
        if not columns:
            return ResultSet(rowcount=count)
        return ResultSet(columns=columns, rows=rows, rowcount=count, types=types)

    def stream(self, sql: str, batch_rows: int) -> Iterator[pyarrow.RecordBatch]:
        # SSCursor reads rows off the socket as they are fetched instead of buffering the result.
        from tasksql.warehouses._stream import batches_of, fetched

        cur = pymysql.cursors.SSCursor(self.conn)
        try:
            cur.execute(sql)
            columns = [d[0] for d in cur.description or []]
            yield from batches_of(columns, fetched(cur.fetchmany, batch_rows), batch_rows)
        except (pymysql.MySQLError, OSError) as exc:
            raise self._failed(exc) from None
        finally:
            with contextlib.suppress(Exception):
                cur.close()  # reads what is left of the result, so the connection can go on

    @staticmethod
    def _types(cur: Any) -> tuple[str, ...]:
        # The charset tells TEXT from BLOB; PyMySQL keeps it on the result's fields only.
        fields = getattr(getattr(cur, "_result", None), "fields", None) or []
        if len(fields) == len(cur.description):
            return tuple(mysql_sql.column_type(f.type_code, getattr(f, "charsetnr", None)) for f in fields)
        return tuple(mysql_sql.column_type(d[1], None) for d in cur.description)

    def _exec(self, sql: str) -> None:
        try:
            self._cur.execute(sql)
        except (pymysql.MySQLError, OSError) as exc:
            raise self._failed(exc) from None

    def _quiet(self, sql: str) -> None:
        try:
            self._cur.execute(sql)
        except (pymysql.MySQLError, OSError):
            self.reusable = False

    def start(self, params: Sequence[tuple[str, str]], *, transactional: bool) -> None:
        role, params = role_mapping.split_role(params)
        if role is not None:  # a mapped owner role (role_mapping.py); SET ROLE NONE in finish()
            self._role_set = True
            self._exec(f"SET ROLE {role}")
        if params:
            # One statement: MySQL applies all of its assignments or none.
            self._exec("SET " + ", ".join(f"SESSION {name} = {value}" for name, value in params))
            self._to_reset = [name for name, _ in params]
        if transactional:
            self._exec("START TRANSACTION")
            self._in_txn = True

    def finish(self, *, commit: bool) -> None:
        try:
            if self._in_txn:
                self._in_txn = False
                if commit:
                    try:
                        self._exec("COMMIT")
                    except QueryFailed:
                        self._quiet("ROLLBACK")
                        raise
                else:
                    self._quiet("ROLLBACK")
        finally:
            names, self._to_reset = self._to_reset, []
            if names:
                self._quiet("SET " + ", ".join(f"SESSION {name} = DEFAULT" for name in names))
            if self._role_set:
                self._role_set = False
                self._quiet("SET ROLE NONE")

    def add_tables(self, tables: Mapping[str, pyarrow.Table]) -> None:
        for name, table in tables.items():
            qname = mysql_sql.quote(name)
            cols = mysql_sql.arrow_columns(table)
            defs = ", ".join(f"{mysql_sql.quote(c)} {t}" for c, t in cols)
            self._exec(f"DROP TEMPORARY TABLE IF EXISTS {qname}")
            self._exec(f"CREATE TEMPORARY TABLE {qname} ({defs})")
            if not cols or table.num_rows == 0:
                continue
            collist = ", ".join(mysql_sql.quote(c) for c, _ in cols)
            # executemany sends multi-row INSERTs; % in names must not be taken for a placeholder
            insert = f"INSERT INTO {qname} ({collist}) VALUES ({', '.join('%s' for _ in cols)})"
            insert = insert.replace("%", "%%").replace("%%s", "%s")
            try:
                for batch in mysql_sql.arrow_rows(table):
                    self._cur.executemany(insert, batch)
            except (pymysql.MySQLError, OSError) as exc:
                raise self._failed(exc) from None

    def drop_tables(self, names: Sequence[str]) -> None:
        for name in names:
            self._quiet(f"DROP TEMPORARY TABLE IF EXISTS {mysql_sql.quote(name)}")

    def interrupt(self) -> None:
        # KILL QUERY goes over another connection and waits for the server: never on the caller's thread.
        thread = threading.Thread(
            target=self._killer.kill, args=(self.thread_id,), name="tasksql-mysql-kill", daemon=True
        )
        self._kills.append(thread)
        thread.start()

    def settle(self) -> None:
        # A KILL QUERY that finds the connection idle does nothing (the next statement runs), so the
        # connection can serve the next job once every KILL sent for this one has been answered.
        threads, self._kills = self._kills, []
        deadline = monotonic() + INTERRUPT_GRACE
        for t in threads:
            t.join(max(0.0, deadline - monotonic()))
            if t.is_alive():
                self.reusable = False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


class MySQLWarehouse(ThreadedWarehouse):
    """A MySQL or MariaDB database reached by ``url`` (``mysql://`` or ``mariadb://``).

    :raises WarehouseError: from the constructor when the URL is invalid (code ``INVALID_URL``);
        from :meth:`open` when the server cannot be reached, refuses the login or has no such
        database.
    """

    type = WarehouseType.MYSQL
    dialect = "mysql"
    supports_markers = True

    def __init__(self, name: str, url: str, *, max_concurrency: int | None = None) -> None:
        super().__init__(name, max_concurrency or DEFAULT_MAX_CONCURRENCY)
        self.url = url
        self.target = mysql_sql.parse_url(url, f"{redact_url(url)} (warehouse {name})")
        self._killer = _Killer(self.target)
        self._sessions = IdlePool(self._connect, keep=self.max_concurrency)
        #: The server is MariaDB (else MySQL): which server-side statement limit exists.
        self.mariadb = True
        self.server_version = ""

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)

    def _connect(self) -> _MySQLSession:
        """Worker thread: a new connection. :raises WarehouseError: it cannot be had (one line)."""
        try:
            conn = pymysql.connect(**self.target.connect_args(), client_flag=CLIENT.FOUND_ROWS)
        except (pymysql.MySQLError, OSError) as exc:
            _, msg = mysql_sql.error_text(exc.args, self.target.password)
            raise WarehouseError(f"warehouse {self.name}: cannot connect to {self.safe_url}: {msg}") from None
        return _MySQLSession(conn, self._killer, self.target.password)

    async def _open_backend(self) -> None:
        await asyncio.to_thread(self._first_connection)

    def _first_connection(self) -> None:
        session = self._connect()
        try:
            version = str(session.run("SELECT VERSION()").rows[0][0])
        except QueryFailed as exc:
            session.close()
            raise WarehouseError(f"warehouse {self.name}: {self.safe_url}: {exc.message}") from None
        self.server_version = version
        self.mariadb = "mariadb" in version.lower()
        self._sessions.release(session, reuse=True)
        self._killer.connect()

    async def _close_backend(self) -> None:
        await asyncio.to_thread(self._sessions.close)
        await asyncio.to_thread(self._killer.close)

    def _acquire(self) -> WarehouseSession:
        session = self._sessions.acquire()
        if monotonic() - session.used_at > IDLE_CHECK:
            try:
                session.conn.ping(reconnect=False)
            except (pymysql.MySQLError, OSError):
                session.close()  # the server closed it (restart, wait_timeout): take a new one
                session = self._connect()
        return session

    def _release(self, session: WarehouseSession, *, reuse: bool) -> None:
        assert isinstance(session, _MySQLSession)
        session.used_at = monotonic()
        self._sessions.release(session, reuse=reuse)

    def _backstop_params(self, timeout: float | None) -> list[tuple[str, str]]:
        if timeout is None:
            return []
        limit = timeout + BACKSTOP_MARGIN
        if self.mariadb:
            return [("max_statement_time", f"{limit:.3f}")]  # seconds
        return [("max_execution_time", str(int(limit * 1000)))]  # milliseconds, SELECT only

    # --- completion markers ----------------------------------------------------------------------

    def marks(self, statements: Sequence[str], *, into: bool) -> bool:
        return (
            self.supports_markers and self.markers_off is None and mysql_sql.markable(statements, into=into)
        )

    def _create_markers(self, s: WarehouseSession, rel: str) -> None:
        # Before the body's transaction begins (CREATE TABLE would commit it).
        for attempt in range(_CREATE_TRIES):
            try:
                if s.relation_columns(rel) is None:
                    s.run(mysql_sql.create_markers_sql())
                self._markers_ready = True
                return
            except QueryFailed as exc:
                if exc.sqlstate == "42501":  # no privilege: bodies run without markers
                    self._markers_unavailable(f"cannot create {rel}: {exc.message}")
                    return
                if attempt == _CREATE_TRIES - 1:
                    raise
