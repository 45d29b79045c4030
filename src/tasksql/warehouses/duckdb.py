"""The embedded DuckDB warehouse: the default place where tasks run.

One DuckDB database file per data directory (``warehouse.duckdb``) is opened once, by a
:class:`DuckDBDatabase`, and shared by every DuckDB-backed warehouse of the engine. Warehouses
created without TYPE or URL are *compute pools* over that database (as in Snowflake, warehouses are
compute over the same data): each :class:`DuckDBWarehouse` has its own concurrency limit and worker
threads, and all see the same tables.

Each job runs on its own cursor (``connection.cursor()``, a separate DuckDB connection to the same
database), taken from a small per-pool stock of idle cursors; a timeout or cancel calls
``interrupt()`` on exactly that cursor (interrupting the parent connection would not stop it). A
cursor that was interrupted, or that carried run-scoped ``SET SESSION`` parameters, is closed
instead of being reused. Extra relations (``tables=``) are registered on the job's cursor, so they
are visible to that job only, and unregistered afterwards.

Extension auto-install and auto-load are off: the engine must not reach the network behind the
user's back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from tasksql.errors import QueryFailed, WarehouseError
from tasksql.model import WarehouseType
from tasksql.warehouses import _markers
from tasksql.warehouses._group_commit import GroupSession
from tasksql.warehouses._session import IdlePool, WarehouseSession
from tasksql.warehouses._sqltext import CACHE_TEXT_LIMIT, multiple_statements
from tasksql.warehouses._threaded import ThreadedWarehouse
from tasksql.warehouses.base import DEFAULT_MAX_CONCURRENCY, Marker, ResultSet
from tasksql.warehouses.duckdb_errors import time_zone_message

if TYPE_CHECKING:
    import pyarrow

#: The database file of the default warehouse, inside the data directory.
DUCKDB_FILE = "warehouse.duckdb"

_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}

# DuckDB exception classes -> SQLSTATE, most specific first (isinstance order matters).
_SQLSTATES: tuple[tuple[str, str], ...] = (
    ("InterruptException", "57014"),
    ("ParserException", "42601"),
    ("SyntaxException", "42601"),
    ("CatalogException", "42P01"),
    ("BinderException", "42703"),
    ("ConstraintException", "23000"),
    ("ConversionException", "22000"),
    ("OutOfRangeException", "22003"),
    ("InvalidInputException", "22023"),
    ("TypeMismatchException", "42804"),
    ("InvalidTypeException", "42804"),
    ("DependencyException", "2BP01"),
    ("TransactionException", "40001"),
    ("PermissionException", "42501"),
    ("OutOfMemoryException", "53200"),
    ("IOException", "58030"),
    ("NotImplementedException", "0A000"),
    ("SequenceException", "2200H"),
    ("ConnectionException", "08000"),
    ("ResourceInUseException", "55006"),
    ("FatalException", "XX000"),
    ("InternalException", "XX000"),
)
_CLASSES: tuple[tuple[type[BaseException], str], ...] = tuple(
    (getattr(duckdb, name), state) for name, state in _SQLSTATES if hasattr(duckdb, name)
)


def _sqlstate(exc: BaseException) -> str | None:
    msg = str(exc)
    for cls, state in _CLASSES:
        if isinstance(exc, cls):
            if state == "42P01" and "already exists" in msg:
                return "42P07"
            if state == "42P01" and "does not exist" not in msg:
                return "42000"  # another catalog problem (e.g. a dependency), not a missing table
            if state == "23000":
                return _constraint_state(msg)
            return state
    return None


def _constraint_state(msg: str) -> str:
    low = msg.lower()
    if "duplicate key" in low or "unique constraint" in low or "primary key" in low:
        return "23505"
    if "not null" in low:
        return "23502"
    if "foreign key" in low:
        return "23503"
    if "check constraint" in low:
        return "23514"
    return "23000"


def _empty(schema: pyarrow.Schema) -> pyarrow.RecordBatch:
    import pyarrow as pa

    return pa.RecordBatch.from_pylist([], schema=schema)


def _failed(exc: BaseException) -> QueryFailed:
    """A DuckDB exception as QueryFailed: its message kept (an unknown time zone's made one line),
    its class mapped to a SQLSTATE."""
    message = str(exc).strip()
    return QueryFailed(time_zone_message(message) or message or type(exc).__name__, sqlstate=_sqlstate(exc))


# Statement kinds (DuckDB StatementType names) whose result is rows.
_ROW_KINDS = frozenset({"SELECT", "EXPLAIN", "PRAGMA", "CALL", "MULTI", "EXECUTE", "RELATION"})
_DML_KINDS = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE_INTO"})
_STATUS_COLUMNS = (["Success"], ["Count"])


# The first word of a text, after blanks and comments.
_FIRST_WORD = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*([A-Za-z]+)\b", re.DOTALL)
# First words whose statement kind is certain (DuckDB's StatementType names).
_PLAIN_KINDS = {"insert": "INSERT", "update": "UPDATE", "delete": "DELETE", "select": "SELECT"}


def _classify(sql: str) -> tuple[int, str]:
    """(number of statements, kind of the first).

    A text without ``;`` is one statement (DuckDB separates statements with ``;`` only); when its
    first word is INSERT, UPDATE, DELETE or SELECT that settles the kind without parsing. Task
    bodies embed their instant as a literal, so their texts rarely repeat and a parse (about
    40 µs, plus hand-offs of the interpreter lock) would be paid at every run. Other texts go to
    DuckDB's own parser; short ones are cached.
    """
    if ";" not in sql:
        m = _FIRST_WORD.match(sql)
        if m is not None:
            kind = _PLAIN_KINDS.get(m.group(1).lower())
            if kind is not None:
                return 1, kind
    return _classify_cached(sql) if len(sql) <= CACHE_TEXT_LIMIT else _parse(sql)


@functools.lru_cache(maxsize=4096)
def _classify_cached(sql: str) -> tuple[int, str]:
    return _parse(sql)


def _parse(sql: str) -> tuple[int, str]:
    try:
        found = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise _failed(exc) from None
    return len(found), (found[0].type.name if found else "")


def _marker_insert(rel: str, *markers: Marker) -> str:
    """The INSERT of ``markers`` (one row each) into the marker table ``rel``, stamped now (call it
    just before the COMMIT).

    A marked body costs DuckDB three statements more than the body alone (BEGIN, this INSERT,
    COMMIT), each paying DuckDB's fixed cost of parsing, binding, optimizing and planning; this
    INSERT is the largest share. It is written in the cheapest form found: the columns in the
    order the table is created with (no column list to bind) and the time as a plain string,
    cast as it is stored (a ``TIMESTAMP '...'`` literal costs a constant folding more), about
    60 us less per marker than the spelled-out form (``bench/marker_overhead.py``).
    """
    rows = []
    for marker in markers:
        scope, run_id, at = _markers.insert_params(marker)
        rows.append(f"('{scope}', {run_id}, '{at}')")
    return f"INSERT INTO {rel} VALUES {', '.join(rows)}"


def _groupable(sql: str) -> bool:
    """Whether a body of the one statement ``sql`` (marked or not) may share a transaction with
    others: one INSERT, UPDATE or DELETE (a text without ``;`` is one statement)."""
    if ";" in sql:
        return False
    m = _FIRST_WORD.match(sql)
    return m is not None and m.group(1).lower() in _GROUPED


#: First words of the statements whose one-statement bodies are grouped.
_GROUPED = frozenset({"insert", "update", "delete"})


def _close_quietly(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):
        con.close()


class DuckDBDatabase:
    """One DuckDB database (file, or in memory when ``path`` is None), shared by its warehouses.

    ``config``: DuckDB options set when the database is opened (``threads``, ``fsync_mode``: the
    engine's ``duckdb_threads`` and ``duckdb_fsync`` settings). Opening is idempotent; :meth:`close`
    closes the connection (close the warehouses first).
    """

    def __init__(self, path: Path | None, config: Mapping[str, str | int] | None = None) -> None:
        self.path = path
        self.config = dict(config or {})
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()
        #: The database's catalog name (the file's stem, ``memory``), known once open.
        self.catalog_name: str | None = None

    async def open(self) -> None:
        """:raises WarehouseError: the file cannot be opened (locked by another process, ...)."""
        if self._con is None:
            await asyncio.to_thread(self._connect)

    def _connect(self) -> None:
        with self._lock:
            if self._con is not None:
                return
            try:
                con = duckdb.connect(
                    str(self.path) if self.path else ":memory:", config={**_CONFIG, **self.config}
                )
                # fetchall, not fetchone: a result left unread keeps the parent connection's
                # transaction open, and CHECKPOINT (a rebuild task) then fails for good.
                rows = con.execute("SELECT current_database()").fetchall()
            except duckdb.Error as exc:
                raise WarehouseError(f"cannot open DuckDB database {self.path}: {exc}") from None
            self.catalog_name = str(rows[0][0]) if rows else None
            self._con = con

    async def close(self) -> None:
        with self._lock:
            con, self._con = self._con, None
        if con is not None:
            await asyncio.to_thread(_close_quietly, con)

    @property
    def is_open(self) -> bool:
        return self._con is not None

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor (its own DuckDB connection to this database). Any thread."""
        with self._lock:
            if self._con is None:
                raise WarehouseError(
                    f"DuckDB database {self.path or ':memory:'} is closed", code="WAREHOUSE_CLOSED"
                )
            try:
                return self._con.cursor()
            except duckdb.Error as exc:
                raise WarehouseError(f"cannot open a DuckDB cursor: {exc}") from None

    def try_session_setting(self, name: str, value: str) -> str | None:
        """Worker thread: DuckDB's message when ``SET SESSION <name> = <value>`` fails on a new
        cursor (closed after, so that nothing stays set), else None.

        :raises WarehouseError: the database is closed.
        """
        cur = self.cursor()
        try:
            cur.execute(f"SET SESSION {name} = {value}")
        except duckdb.Error as exc:
            return str(exc).strip()
        finally:
            with contextlib.suppress(duckdb.Error):
                cur.close()
        return None

    def pool(self, name: str, max_concurrency: int | None = None) -> DuckDBWarehouse:
        """A compute pool over this database (not yet open)."""
        return DuckDBWarehouse(name, self, max_concurrency=max_concurrency)

    def __repr__(self) -> str:
        return f"<DuckDBDatabase {self.path or ':memory:'}>"


class _DuckSession(WarehouseSession, GroupSession):
    dialect = "duckdb"

    def __init__(self, cur: duckdb.DuckDBPyConnection, marker_relation: str | None = None) -> None:
        self._cur = cur
        self._in_txn = False
        self.marker_relation = marker_relation

    def run(self, sql: str) -> ResultSet:
        count, kind = _classify(sql)
        if count == 0:
            return ResultSet()
        if count > 1:
            raise multiple_statements(sql)
        cur = self._cur
        try:
            cur.execute(sql)
            rowcount = cur.rowcount
            if rowcount >= 0:  # DML: its count (the description is not needed, nor built)
                return ResultSet(rowcount=rowcount)
            desc = cur.description
            if desc is None:
                return ResultSet()
            columns = [d[0] for d in desc]
            if kind not in _ROW_KINDS and kind not in _DML_KINDS and columns in _STATUS_COLUMNS:
                return ResultSet()
            rows = cur.fetchall()  # TIMESTAMP WITH TIME ZONE values need pytz (a dependency)
        except duckdb.Error as exc:
            raise _failed(exc) from None
        types = tuple(str(d[1]) for d in desc)
        if kind in _DML_KINDS:  # DML ... RETURNING
            return ResultSet(columns=tuple(columns), rows=rows, rowcount=len(rows), types=types)
        return ResultSet(columns=tuple(columns), rows=rows, types=types)

    def stream(self, sql: str, batch_rows: int) -> Iterator[pyarrow.RecordBatch]:
        # DuckDB hands its result over as Arrow record batches, computed as they are read.
        try:
            # A relation, not a DB-API result: the batches come without an extra copy of the rows.
            rel = self._cur.sql(sql)
            if rel is None:  # not a query
                raise QueryFailed(f"not a query: {sql.strip()[:80]}", code="INTO_NOT_A_QUERY")
            reader = rel.to_arrow_reader(batch_rows)
            sent = False
            for batch in reader:
                sent = True
                yield batch
            if not sent:
                yield _empty(reader.schema)
        except duckdb.Error as exc:
            raise _failed(exc) from None
        except OSError as exc:  # an error while the reader computes a batch comes as Arrow's IOError
            raise QueryFailed(str(exc).strip() or type(exc).__name__) from None

    def _exec(self, sql: str) -> None:
        try:
            self._cur.execute(sql)
        except duckdb.Error as exc:
            raise _failed(exc) from None

    def start(self, params: Sequence[tuple[str, str]], *, transactional: bool) -> None:
        if params:
            self.reusable = False  # SESSION settings stay on the cursor: never hand it to another run
            for name, value in params:
                # SESSION scope: a global-only option fails instead of changing every pool.
                self._exec(f"SET SESSION {name} = {value}")
        if transactional:
            self._exec("BEGIN TRANSACTION")
            self._in_txn = True

    def finish(self, *, commit: bool) -> None:
        if not self._in_txn:
            return
        self._in_txn = False
        if commit:
            try:
                self._exec("COMMIT")
                return
            except QueryFailed:
                self._quiet("ROLLBACK")
                raise
        self._quiet("ROLLBACK")

    def commit_marked(self, marker: Marker) -> None:
        assert self.marker_relation is not None
        self._exec(_marker_insert(self.marker_relation, marker))  # ours: not classified
        self.finish(commit=True)

    # --- group commit (see _group_commit) ---------------------------------------------------------
    # (late_joins stays False: now() is the start of the transaction)

    def group_begin(self) -> None:
        self._exec("BEGIN TRANSACTION")
        self._in_txn = True

    def group_run(self, sql: str) -> ResultSet:
        return self.run(sql)

    def group_commit(self, rel: str | None, markers: Sequence[Marker]) -> None:
        if markers:
            assert rel is not None
            try:
                self._exec(_marker_insert(rel, *markers))  # ours: not classified
            except QueryFailed:
                self.finish(commit=False)
                raise
        self.finish(commit=True)  # (a failed COMMIT is rolled back there)

    def group_abort(self) -> None:
        self.finish(commit=False)

    def _quiet(self, sql: str) -> None:
        try:
            self._cur.execute(sql)
        except duckdb.Error:
            self.reusable = False

    def add_tables(self, tables: Mapping[str, pyarrow.Table]) -> None:
        for name, table in tables.items():
            try:
                self._cur.register(name, table)
            except duckdb.Error as exc:
                raise _failed(exc) from None
            except (TypeError, ValueError) as exc:
                raise QueryFailed(f"cannot use {name!r} as a relation: {exc}", code="INVALID_TABLE") from None

    def drop_tables(self, names: Sequence[str]) -> None:
        for name in names:
            try:
                self._cur.unregister(name)
            except duckdb.Error:
                self.reusable = False

    def interrupt(self) -> None:
        self._cur.interrupt()

    def close(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self._cur.close()


class DuckDBWarehouse(ThreadedWarehouse):
    """A compute pool over a :class:`DuckDBDatabase`: its own concurrency limit, shared data.

    Opening the warehouse opens the database if needed; closing it does not close the database
    unless ``owns_database`` (a DuckDB warehouse with its own file URL).
    """

    type = WarehouseType.DUCKDB
    dialect = "duckdb"
    supports_markers = True
    group_commit = True

    def __init__(
        self,
        name: str,
        database: DuckDBDatabase,
        *,
        max_concurrency: int | None = None,
        owns_database: bool = False,
    ) -> None:
        super().__init__(name, max_concurrency or DEFAULT_MAX_CONCURRENCY)
        self.database = database
        self._owns = owns_database
        self._sessions = IdlePool(self._session, keep=self.max_concurrency)

    def _groupable(self, sql: str) -> bool:
        return _groupable(sql)

    def _session(self) -> _DuckSession:
        cur = self.database.cursor()  # opens nothing: the database is open, or this raises
        return _DuckSession(cur, _markers.relation("duckdb", self.database.catalog_name))

    async def _open_backend(self) -> None:
        await self.database.open()

    async def _close_backend(self) -> None:
        await asyncio.to_thread(self._sessions.close)
        if self._owns:
            await self.database.close()

    def _acquire(self) -> WarehouseSession:
        return self._sessions.acquire()

    def _release(self, session: WarehouseSession, *, reuse: bool) -> None:
        self._sessions.release(session, reuse=reuse)  # type: ignore[arg-type]
