"""SQLite files as warehouses (``CREATE WAREHOUSE w TYPE = sqlite URL = 'sqlite:///abs/file.db'``).

Each job uses one connection in a worker thread; up to ``max_concurrency`` idle connections are
kept for the next jobs. The file is switched to WAL mode (readers never block the writer) and
connections wait up to :data:`BUSY_TIMEOUT` seconds for a lock. The URL option ``?synchronous=normal``
(or ``off``, ``full``, ``extra``) sets ``PRAGMA synchronous`` on every connection; without it SQLite's
default (``FULL``: an fsync at every commit) stays. Transactional bodies start with
``BEGIN IMMEDIATE``: they take the write lock up front, so two bodies cannot deadlock upgrading a
read lock. Bodies of one INSERT, UPDATE, DELETE or REPLACE, with their completion markers or
without, run in groups (:mod:`._group_commit`: the bodies queued when a worker takes one share its
transaction, one alone on an idle warehouse, an unmarked one alone in autocommit), which start with
a deferred ``BEGIN`` instead: the first statement takes the write lock as it begins. Timeouts
and cancellation call ``Connection.interrupt()``; session parameters are applied as PRAGMAs on a
connection that is closed after the run; extra relations are TEMP tables.

Writers of this process take the file's :class:`~._write_gate.WriteGate` first (before
``BEGIN IMMEDIATE`` until COMMIT or ROLLBACK; from the first statement of a group of bodies to its
COMMIT; around a write statement in autocommit, until it has finished), so they wait for each
other on a condition variable and wake the moment the previous writer is done, instead of sleeping
in sqlite3's busy handler. Statements that only read (SELECT, VALUES) never take it: in WAL mode
they do not wait for writers. Statements inside a transaction the user began with their own BEGIN
do not take it either (they already hold, or will take, SQLite's own lock). The wait for the gate
is bounded by :data:`BUSY_TIMEOUT` and ends at an interrupt.

Whoever holds the gate holds up every writer of the file, so as little as possible happens under
it: every sqlite3 call hands the GIL over and takes it back, and the event loop or another worker
may keep it for milliseconds meanwhile (their Python runs, the holder waits, and so does everyone
queued behind). Hence no BEGIN, no Python work and no row conversion inside when they can be
outside, and groups: k bodies share one BEGIN, one markers' INSERT (if they are marked) and one
COMMIT, and one wait for the gate.

A statement waiting for another process's write lock is not interruptible: a timeout then gives up
on it after the grace period, and its worker returns when the lock wait ends (at most BUSY_TIMEOUT).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tasksql.errors import QueryFailed, WarehouseError
from tasksql.model import WarehouseType
from tasksql.warehouses import _arrow, _markers
from tasksql.warehouses._group_commit import GroupSession
from tasksql.warehouses._session import IdlePool, WarehouseSession
from tasksql.warehouses._sqltext import multiple_statements, quote_ident
from tasksql.warehouses._threaded import ThreadedWarehouse
from tasksql.warehouses._write_gate import GateStopped, GateTimeout, WriteGate, gate_for
from tasksql.warehouses.base import (
    DEFAULT_MAX_CONCURRENCY,
    Marker,
    ResultSet,
)
from tasksql.warehouses.stream_sql import HIDDEN as STREAM_CLAIM

if TYPE_CHECKING:
    import pyarrow

#: Seconds a statement waits for a lock held by another connection or process.
BUSY_TIMEOUT = 5.0

#: Options a ``sqlite:`` warehouse URL accepts (``sqlite:///f.db?synchronous=normal``).
SQLITE_URL_OPTIONS: dict[str, frozenset[str]] = {
    "synchronous": frozenset({"off", "normal", "full", "extra"}),
}
#: The PRAGMA value for each accepted option value (a closed set: never text from the user).
SYNCHRONOUS = {"off": "OFF", "normal": "NORMAL", "full": "FULL", "extra": "EXTRA"}

# sqlite3 extended error names -> SQLSTATE (prefix match, most specific first).
_BY_NAME: tuple[tuple[str, str], ...] = (
    ("SQLITE_CONSTRAINT_PRIMARYKEY", "23505"),
    ("SQLITE_CONSTRAINT_UNIQUE", "23505"),
    ("SQLITE_CONSTRAINT_NOTNULL", "23502"),
    ("SQLITE_CONSTRAINT_FOREIGNKEY", "23503"),
    ("SQLITE_CONSTRAINT_CHECK", "23514"),
    ("SQLITE_CONSTRAINT", "23000"),
    ("SQLITE_INTERRUPT", "57014"),
    ("SQLITE_BUSY", "55P03"),
    ("SQLITE_LOCKED", "55P03"),
    ("SQLITE_READONLY", "25006"),
    ("SQLITE_FULL", "53100"),
    ("SQLITE_NOMEM", "53200"),
    ("SQLITE_IOERR", "58030"),
    ("SQLITE_CANTOPEN", "58030"),
    ("SQLITE_CORRUPT", "XX001"),
    ("SQLITE_NOTADB", "XX001"),
    ("SQLITE_TOOBIG", "54000"),
    ("SQLITE_MISMATCH", "42804"),
    ("SQLITE_RANGE", "22023"),
    ("SQLITE_AUTH", "42501"),
    ("SQLITE_PERM", "42501"),
)
# Plain SQLITE_ERROR: told apart by message.
_BY_MESSAGE: tuple[tuple[str, str], ...] = (
    ("syntax error", "42601"),
    ("incomplete input", "42601"),
    ("unrecognized token", "42601"),
    ("no such table", "42P01"),
    ("no such column", "42703"),
    ("no such function", "42883"),
    ("already exists", "42P07"),
    ("ambiguous column", "42702"),
    ("datatype mismatch", "42804"),
)


#: The first word of a statement, after blanks and comments.
_FIRST_WORD = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*([A-Za-z]+)", re.DOTALL)
#: Statements that write from their start (SQLite takes the write lock as they begin).
_WRITES = frozenset({"insert", "update", "delete", "replace"})


def writes_from_start(sql: str) -> bool:
    """Whether the statement ``sql`` is an INSERT, UPDATE, DELETE or REPLACE, whose one-statement
    bodies run in groups (:meth:`_SQLiteSession.group_begin`). Such a statement takes the
    write lock as it begins, so a deferred BEGIN before it waits for other writers in
    the busy handler; a statement that reads first would take a read lock, and upgrading it fails
    at once (SQLITE_BUSY) when another process wrote meanwhile. Others start with BEGIN IMMEDIATE."""
    m = _FIRST_WORD.match(sql)
    return m is not None and m.group(1).lower() in _WRITES and not sql.startswith(STREAM_CLAIM)


def _failed(exc: sqlite3.Error, sql: str = "") -> QueryFailed:
    msg = str(exc)
    if isinstance(exc, sqlite3.ProgrammingError) and "one statement at a time" in msg:
        return multiple_statements(sql)
    name = getattr(exc, "sqlite_errorname", None) or ""
    state = next((s for prefix, s in _BY_NAME if name.startswith(prefix)), None)
    if state is None:
        low = msg.lower()
        state = next((s for text, s in _BY_MESSAGE if text in low), None)
    return QueryFailed(msg or type(exc).__name__, sqlstate=state)


class _SQLiteSession(WarehouseSession, GroupSession):
    dialect = "sqlite"

    def __init__(self, path: Path, synchronous: str | None = None, gate: WriteGate | None = None) -> None:
        try:
            self._con = sqlite3.connect(
                str(path), timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            if synchronous is not None:
                self._con.execute(f"PRAGMA synchronous = {SYNCHRONOUS[synchronous]}")
        except sqlite3.Error as exc:
            raise WarehouseError(f"cannot open SQLite database {path}: {exc}") from None
        self._in_txn = False
        self.marker_relation = _markers.relation("sqlite")
        self._path = path
        self._gate = gate
        self._gated = False  # this session holds the gate
        self._stop = threading.Event()  # an interrupt arrived during the current job

    # --- the write gate ----------------------------------------------------------------------------

    def _take_gate(self) -> None:
        """Take the file's write gate (no-op without one). :raises QueryFailed: interrupted (57014)
        or still taken after BUSY_TIMEOUT (55P03, as SQLite's own lock wait)."""
        if self._gate is None or self._gated:
            return
        try:
            self._gate.acquire(BUSY_TIMEOUT, self._stop.is_set)
        except GateStopped:
            raise QueryFailed("interrupted", sqlstate="57014") from None
        except GateTimeout:
            raise QueryFailed(
                f"database is locked: another writer of this process held {self._path.name}"
                f" for {BUSY_TIMEOUT:g} s",
                sqlstate="55P03",
            ) from None
        self._gated = True

    def _give_gate(self) -> None:
        if self._gated:
            self._gated = False
            assert self._gate is not None
            self._gate.release()

    def _needs_gate(self, sql: str) -> bool:
        """A statement run in autocommit that may write (not a query, not transaction control)."""
        return (
            self._gate is not None
            and not self._gated
            and not self._con.in_transaction
            and not _markers.reads_only("sqlite", sql)
            and not _markers.controls_transaction(sql)
        )

    # --- statements ------------------------------------------------------------------------------

    def run(self, sql: str) -> ResultSet:
        if not self._needs_gate(sql):
            return self._run(sql)
        self._take_gate()
        try:
            return self._run(sql, done=self._give_gate)
        finally:
            self._give_gate()  # (a no-op when _run gave it back)

    def _run(self, sql: str, done: Callable[[], None] | None = None) -> ResultSet:
        """``sql`` with its rows; ``done`` is called as soon as the statement has finished (an
        autocommit write has committed then), before its rows and counts are converted."""
        con = self._con
        try:
            before = con.total_changes
            cur = con.execute(sql)
            desc = cur.description
            rows = cur.fetchall() if desc is not None else []
            if done is not None:
                done()
            count = cur.rowcount
            if count < 0 and desc is None and con.total_changes != before:
                count = con.total_changes - before  # DML the sqlite3 module does not count (WITH ... INSERT)
        except sqlite3.Error as exc:
            raise _failed(exc, sql) from None
        if desc is None:
            return ResultSet(rowcount=count if count >= 0 else None)
        return ResultSet(columns=tuple(d[0] for d in desc), rows=rows, rowcount=count if count >= 0 else None)

    def stream(self, sql: str, batch_rows: int) -> Iterator[pyarrow.RecordBatch]:
        # sqlite3 computes rows as the cursor steps; a query needs no write gate.
        from tasksql.warehouses._stream import batches_of, fetched

        try:
            cur = self._con.execute(sql)
            columns = [d[0] for d in cur.description or []]
            yield from batches_of(columns, fetched(cur.fetchmany, batch_rows), batch_rows)
        except sqlite3.Error as exc:
            raise _failed(exc, sql) from None

    def _exec(self, sql: str) -> None:
        try:
            self._con.execute(sql)
        except sqlite3.Error as exc:
            raise _failed(exc) from None

    def start(self, params: Sequence[tuple[str, str]], *, transactional: bool) -> None:
        if params:
            self.reusable = False  # PRAGMAs stay on the connection: it is closed after this run
            for name, value in params:
                self._exec(f"PRAGMA {name} = {value}")  # before BEGIN: some PRAGMAs ignore transactions
        if transactional:
            self._take_gate()  # held until finish(): the transaction holds the write lock as long
            try:
                self._exec("BEGIN IMMEDIATE")
            except BaseException:
                self._give_gate()
                raise
            self._in_txn = True

    def finish(self, *, commit: bool) -> None:
        if not self._in_txn:
            return
        self._in_txn = False
        try:
            if commit:
                try:
                    # one GIL hand-off under the gate (execute("COMMIT") makes several)
                    self._con.commit()
                    return
                except sqlite3.Error as exc:
                    self._rollback()
                    raise _failed(exc) from None
            self._rollback()
        finally:
            self._give_gate()  # (after a failed ROLLBACK the session is closed: that ends it)

    def commit_marked(self, marker: Marker) -> None:
        # with parameters: one statement text, prepared once per connection (sqlite3's cache)
        assert self.marker_relation is not None
        insert = _markers.insert_params_sql(self.marker_relation)
        try:
            self._con.execute(insert, _markers.insert_params(marker))
        except sqlite3.Error as exc:
            raise _failed(exc) from None
        self.finish(commit=True)

    # --- group commit (see _group_commit) ---------------------------------------------------------

    #: SQLite's time functions ('now', CURRENT_TIMESTAMP) are the statement's: late comers may join.
    late_joins = True

    def group_begin(self) -> None:
        """A deferred BEGIN, before the gate: it takes no lock. The first body's statement, a write
        (:func:`writes_from_start`), takes the gate and then SQLite's write lock as it begins
        (waiting for other processes in the busy handler, as ``BEGIN IMMEDIATE`` would)."""
        self._exec("BEGIN")

    def group_run(self, sql: str) -> ResultSet:
        self._take_gate()  # (held until the group's COMMIT or ROLLBACK)
        return self._run(sql)

    def group_commit(self, rel: str | None, markers: Sequence[Marker]) -> None:
        # with parameters: one statement text, prepared once per connection (sqlite3's cache);
        # executemany steps it for every marker in one call
        con = self._con
        try:
            if markers:
                assert rel is not None
                insert = _markers.insert_params_sql(rel)
                if len(markers) == 1:
                    con.execute(insert, _markers.insert_params(markers[0]))
                else:
                    con.executemany(insert, [_markers.insert_params(m) for m in markers])
            con.commit()  # (one GIL hand-off; execute("COMMIT") makes several)
        except sqlite3.Error as exc:
            raise _failed(exc) from None
        finally:
            if con.in_transaction:
                self._rollback()
            self._give_gate()

    def group_abort(self) -> None:
        self._rollback()
        self._give_gate()

    def _rollback(self) -> None:
        if not self._con.in_transaction:
            return
        try:
            self._con.execute("ROLLBACK")
        except sqlite3.Error:
            self.reusable = False

    def add_tables(self, tables: Mapping[str, pyarrow.Table]) -> None:
        for name, table in tables.items():
            qname = "temp." + quote_ident(name)
            cols = _arrow.column_types(table, "sqlite")
            defs = ", ".join(f"{quote_ident(c)} {t}" for c, t in cols)
            self._exec(f"DROP TABLE IF EXISTS {qname}")
            self._exec(f"CREATE TEMP TABLE {quote_ident(name)} ({defs})")
            insert = f"INSERT INTO {qname} VALUES ({', '.join('?' for _ in cols)})"
            try:
                for batch in _arrow.rows(table, "sqlite"):
                    self._con.executemany(insert, batch)
            except sqlite3.Error as exc:
                raise _failed(exc) from None

    def drop_tables(self, names: Sequence[str]) -> None:
        for name in names:
            try:
                self._con.execute(f"DROP TABLE IF EXISTS temp.{quote_ident(name)}")
            except sqlite3.Error:
                self.reusable = False

    def interrupt(self) -> None:
        self._stop.set()
        if self._gate is not None:
            self._gate.wake()  # a wait for the gate ends too
        self._con.interrupt()

    def settle(self) -> None:
        self._stop.clear()  # no interrupt can arrive any more: the next job starts afresh

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._con.close()
        self._give_gate()


class SQLiteWarehouse(ThreadedWarehouse):
    """A SQLite database file. Opening creates the file if needed (its directory must exist).

    :raises WarehouseError: from :meth:`open` when the directory is missing or the file is not a
        SQLite database.
    """

    type = WarehouseType.SQLITE
    dialect = "sqlite"
    supports_markers = True
    group_commit = True

    def __init__(
        self,
        name: str,
        path: Path,
        *,
        max_concurrency: int | None = None,
        synchronous: str | None = None,
    ) -> None:
        super().__init__(name, max_concurrency or DEFAULT_MAX_CONCURRENCY)
        if synchronous is not None and synchronous not in SYNCHRONOUS:
            raise WarehouseError(f"warehouse {name}: synchronous must be one of {', '.join(SYNCHRONOUS)}")
        self.path = Path(path)
        self.synchronous = synchronous
        self._gate = gate_for(self.path)
        self._sessions = IdlePool(self._session, keep=self.max_concurrency)

    def _session(self) -> _SQLiteSession:
        return _SQLiteSession(self.path, self.synchronous, self._gate)

    def _groupable(self, sql: str) -> bool:
        return writes_from_start(sql)

    async def _open_backend(self) -> None:
        if not self.path.parent.is_dir():
            raise WarehouseError(f"warehouse {self.name}: directory {self.path.parent} does not exist")
        await asyncio.to_thread(self._first_connection)

    def _first_connection(self) -> None:
        session = self._session()
        try:
            rs = session.run("PRAGMA journal_mode = WAL")
        except QueryFailed as exc:
            session.close()
            raise WarehouseError(f"warehouse {self.name}: cannot use {self.path}: {exc.message}") from None
        if rs.rows and str(rs.rows[0][0]).lower() != "wal":
            session.close()
            raise WarehouseError(f"warehouse {self.name}: {self.path} cannot switch to WAL mode")
        self._sessions.release(session, reuse=True)

    async def _close_backend(self) -> None:
        await asyncio.to_thread(self._sessions.close)  # the last close may checkpoint the WAL

    def _acquire(self) -> WarehouseSession:
        return self._sessions.acquire()

    def _release(self, session: WarehouseSession, *, reuse: bool) -> None:
        self._sessions.release(session, reuse=reuse)  # type: ignore[arg-type]
