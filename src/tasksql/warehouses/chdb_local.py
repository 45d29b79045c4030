"""Embedded ClickHouse (chdb) as a warehouse: ``TYPE = chdb PATH = 'ch-data'``.

chdb runs ClickHouse inside the tasksql process on a data directory (``PATH``, relative to
tasksql's data directory). Its SQL is ClickHouse's own (the ``clickhouse`` dialect: tasksql quotes
names with double quotes and sends extra relations as TEMPORARY tables of engine Memory).

What differs from a ClickHouse server, by chdb's design:

* one data directory per process: a second chdb warehouse on another PATH is refused when it is
  opened (code ``CHDB_ONE_PATH``); several warehouses on the same PATH share it;
* one statement at a time: chdb runs the statements of a connection one after another, so the
  warehouse has one session and MAX_CONCURRENCY 1 (calls queue for it);
* a timeout or a cancel (CANCEL TASK) stops the running statement with ``KILL QUERY`` sent on a
  second chdb connection of the warehouse's own (chdb runs the two connections' statements side by
  side), picking the statement by the ``log_comment`` setting its session carries, a tag of its
  own; a call with a timeout also sets ``max_execution_time`` (the timeout) for the call, so
  ClickHouse stops the statement itself should the KILL miss it (or come late): either way the
  call raises :class:`~tasksql.errors.QueryTimeout`;
* no transactions (as ClickHouse): bodies run statement by statement, *at least once*.

Rows an INSERT wrote are counted (chdb reports them).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import chdb

from tasksql.errors import NotSupportedError, QueryFailed, QueryTimeout, WarehouseError
from tasksql.model import WarehouseType
from tasksql.warehouses import clickhouse_sql
from tasksql.warehouses._session import WarehouseSession
from tasksql.warehouses._sqltext import count_statements, multiple_statements
from tasksql.warehouses._threaded import ThreadedWarehouse
from tasksql.warehouses.base import (
    BodyResult,
    CancelToken,
    ResultSet,
    UserTransaction,
    WarehouseTransaction,
)

if TYPE_CHECKING:
    import pyarrow

#: The name under which a call's deadline reaches :meth:`_ChdbSession.start` (never SQL text).
_DEADLINE = "tasksql$max_execution_time"
#: First words of statements whose written rows are counted.
_DML = frozenset({"insert"})

#: The data directory chdb was opened on in this process (chdb allows one), and its lock.
_opened: list[Path] = []
_opened_lock = threading.Lock()


def _connect(path: Path) -> Any:
    """A chdb connection on ``path``. :raises WarehouseError: another path is open in the process."""
    with _opened_lock:
        if _opened and _opened[0] != path:
            raise WarehouseError(
                f"chdb runs one data directory per process and {_opened[0]} is open:"
                f" give every chdb warehouse PATH = '{_opened[0]}' or run another tasksql process",
                code="CHDB_ONE_PATH",
            )
        path.mkdir(parents=True, exist_ok=True)
        try:
            conn = chdb.connect(str(path))  # type: ignore[no-untyped-call]
        except Exception as exc:  # chdb raises plain RuntimeError and its own ChdbError
            raise WarehouseError(f"chdb cannot open {path}: {_first_line(exc)}") from None
        if not _opened:
            _opened.append(path)
        return conn


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _failed(exc: BaseException) -> WarehouseError:
    text = _first_line(exc)
    code = 0
    if text.startswith("Code: "):
        with contextlib.suppress(ValueError):
            code = int(text[6:].split(".", 1)[0])
        text = text.split("DB::Exception: ", 1)[-1]
    if code == 159:
        # max_execution_time is the call's own timeout (see the module): when chdb stops the
        # statement before the KILL sent at that deadline does (a loaded machine delays the KILL),
        # the call timed out all the same
        return QueryTimeout(f"chdb stopped the statement at its time limit: {text}")
    return QueryFailed(clickhouse_sql.error_text(code, text, None), sqlstate=clickhouse_sql.sqlstate(code))


def _insert_arrow(conn: Any, table_sql: str, data: pyarrow.Table) -> None:
    """``INSERT INTO table_sql SELECT * FROM`` the Arrow table ``data`` (chdb's Python() table
    function finds it by the name of this frame's local variable)."""
    tasksql_rows = data  # noqa: F841 - read by name by chdb
    conn.query(f"INSERT INTO {table_sql} SELECT * FROM Python(tasksql_rows)")


class _ChdbSession(WarehouseSession):
    dialect = "clickhouse"

    def __init__(self, conn: Any, killer: Any = None) -> None:
        self.conn = conn
        #: A second connection on the same data directory, which sends KILL QUERY (see the module).
        self.killer = killer
        #: The session's ``log_comment``: what a KILL QUERY picks its statements by. One per
        #: session, not per statement: an interrupt is sent while the job holds the session
        #: (Interrupter.detach waits for it), so it cannot reach the session's next job.
        self.tag = f"tasksql-{uuid.uuid4().hex}"
        self._temps: set[str] = set()
        #: Settings the run changed, set back to their defaults when it ends.
        self._changed: list[str] = []

    def quote(self, name: str) -> str:
        return clickhouse_sql.quote(name)

    def _query(self, sql: str) -> Any:
        try:
            return self.conn.query(sql, "Arrow")
        except Exception as exc:
            raise _failed(exc) from None

    def run(self, sql: str) -> ResultSet:
        n = count_statements(sql, "clickhouse")
        if n == 0:
            return ResultSet()
        if n > 1:
            raise multiple_statements(sql)
        text = sql.strip().rstrip(";")
        first = text.split(None, 1)[0].lower()
        if first in _DML:
            result = self._query(text)
            return ResultSet(rowcount=int(result.rows_written()))
        cur = self.conn.cursor()
        try:
            cur.execute(text)
            description = cur.description or []
            rows = [tuple(r) for r in cur.fetchall()] if description else []
        except Exception as exc:
            raise _failed(exc) from None
        finally:
            with contextlib.suppress(Exception):
                cur.close()
        if not description:
            return ResultSet()
        return ResultSet(
            columns=tuple(d[0] for d in description), rows=rows, types=tuple(str(d[1]) for d in description)
        )

    def stream(self, sql: str, batch_rows: int) -> Iterator[pyarrow.RecordBatch]:
        # send_query streams the result as ClickHouse computes it; its reader's batches can be a
        # little larger than asked (whole blocks), so they are sliced to batch_rows.
        import pyarrow as pa

        result: Any = None
        try:
            result = self.conn.send_query(sql.strip().rstrip(";"), "Arrow")
            reader = result.record_batch(rows_per_batch=batch_rows)
            sent = False
            for batch in reader:
                for offset in range(0, batch.num_rows, batch_rows):
                    sent = True
                    yield batch.slice(offset, batch_rows)
            if not sent and reader.schema is not None and len(reader.schema):
                yield pa.RecordBatch.from_pylist([], schema=reader.schema)
            elif not sent:
                # an empty stream names no columns: the query again, read whole (it has no rows)
                from tasksql.warehouses._stream import batches_of

                rs = self.run(sql)
                yield from batches_of(rs.columns, rs.rows, batch_rows)
        except (QueryFailed, QueryTimeout):
            raise
        except Exception as exc:
            raise _failed(exc) from None
        finally:
            if result is not None:
                with contextlib.suppress(Exception):
                    result.close()

    def start(self, params: Sequence[tuple[str, str]], *, transactional: bool) -> None:
        # No transactions: ``transactional`` changes nothing (documented in the module).
        assignments = [("max_execution_time" if name == _DEADLINE else name, value) for name, value in params]
        if assignments:
            self._changed = [name for name, _ in assignments]
            self._query("SET " + ", ".join(f"{name} = {value}" for name, value in assignments))

    def finish(self, *, commit: bool) -> None:
        if self._changed:
            # Settings stay on chdb's one connection: back to their defaults for the next call.
            # One at a time: a name the SET refused (unknown) must not keep the others set.
            changed, self._changed = self._changed, []
            for name in changed:
                with contextlib.suppress(QueryFailed, QueryTimeout):
                    self._query(f"SET {name} = DEFAULT")
            if "log_comment" in (name.lower() for name in changed):
                with contextlib.suppress(QueryFailed, QueryTimeout):
                    self.tag_statements()

    def add_tables(self, tables: Mapping[str, pyarrow.Table]) -> None:
        for name, table in tables.items():
            qname = clickhouse_sql.quote(name)
            cols = clickhouse_sql.arrow_columns(table)
            if not cols:
                raise QueryFailed(f"relation {name} has no columns", code="INVALID_NAME")
            defs = ", ".join(f"{clickhouse_sql.quote(c)} {t}" for c, t in cols)
            self._query(f"CREATE TEMPORARY TABLE {qname} ({defs}) ENGINE = Memory")
            self._temps.add(name)
            if table.num_rows:
                try:
                    _insert_arrow(self.conn, qname, _no_null_lists(table))
                except Exception as exc:
                    raise _failed(exc) from None

    def drop_tables(self, names: Sequence[str]) -> None:
        for name in names:
            if name in self._temps:
                self._temps.discard(name)
                try:
                    self._query(f"DROP TEMPORARY TABLE {clickhouse_sql.quote(name)}")
                except (QueryFailed, QueryTimeout):
                    self.reusable = False

    def tag_statements(self) -> None:
        """Give the session's statements its tag (at open, and again when a run's parameters set
        ``log_comment`` back to its default)."""
        self._query(f"SET log_comment = '{self.tag}'")

    def interrupt(self) -> None:
        if self.killer is not None:
            # ASYNC: the KILL marks the statement and returns; the statement's own call then ends
            # with QUERY_WAS_CANCELLED as soon as ClickHouse checks (within milliseconds).
            self.killer.query(f"KILL QUERY WHERE Settings['log_comment'] = '{self.tag}' ASYNC", "CSV")

    def close(self) -> None:
        return  # the process keeps chdb's one connection (it cannot be opened again elsewhere)


def _no_null_lists(table: pyarrow.Table) -> pyarrow.Table:
    """``table`` with NULL lists as empty lists (a ClickHouse Array cannot be NULL)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as pat

    for i, field in enumerate(table.schema):
        if (pat.is_list(field.type) or pat.is_large_list(field.type)) and table.column(i).null_count:
            empty = pa.scalar([], field.type)
            table = table.set_column(i, field.name, pc.fill_null(table.column(i), empty))
    return table


class ChdbWarehouse(ThreadedWarehouse):
    """chdb on the data directory ``path`` (one per process; see the module)."""

    type = WarehouseType.CHDB
    dialect = "clickhouse"
    supports_markers = False

    def __init__(self, name: str, path: Path) -> None:
        super().__init__(name, 1)
        self.path = Path(path).resolve()
        self._session: _ChdbSession | None = None
        self._lock = threading.Lock()
        self.server_version = ""

    async def _open_backend(self) -> None:
        conn = await asyncio.to_thread(_connect, self.path)
        killer = await asyncio.to_thread(_connect, self.path)
        self._session = _ChdbSession(conn, killer)
        await asyncio.to_thread(self._session.tag_statements)
        rs = await asyncio.to_thread(self._session.run, "SELECT version()")
        self.server_version = str(rs.rows[0][0])

    async def _close_backend(self) -> None:
        self._session = None

    def _acquire(self) -> WarehouseSession:
        if self._session is None:
            raise WarehouseError(f"warehouse {self.name} is closed", code="WAREHOUSE_CLOSED")
        return self._session

    def _release(self, session: WarehouseSession, *, reuse: bool) -> None:
        return

    def _backstop_params(self, timeout: float | None) -> list[tuple[str, str]]:
        if timeout is None:
            return []
        return [(_DEADLINE, f"{max(timeout, 0.001):.3f}")]

    async def run_body(self, statements: Sequence[str], **kwargs: Any) -> BodyResult:
        """As :meth:`.base.Warehouse.run_body`; a statement that holds several is refused before any
        statement of the body runs (there is no transaction to undo them)."""
        for sql in statements:
            if count_statements(sql, "clickhouse") > 1:
                raise multiple_statements(sql)
        return await super().run_body(statements, **kwargs)

    def transaction(self) -> AbstractAsyncContextManager[WarehouseTransaction]:
        return self._no_transaction()

    @asynccontextmanager
    async def _no_transaction(self) -> AsyncIterator[WarehouseTransaction]:
        raise NotSupportedError(
            f"warehouse {self.name} is chdb (embedded ClickHouse), which has no transactions: run the"
            " statements one by one (without a single transaction)",
            code="NOT_SUPPORTED",
        )
        yield  # pragma: no cover - never reached

    async def begin(self, sql: str, *, token: CancelToken | None = None) -> UserTransaction:
        raise NotSupportedError(
            f"warehouse {self.name} is chdb (embedded ClickHouse), which has no transactions:"
            " BEGIN is refused",
            code="NOT_SUPPORTED",
        )
