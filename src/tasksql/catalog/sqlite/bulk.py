"""Whole tables of the SQLite catalog, for ``tasksql catalog copy``: pages of rows read out, row
counts, id counters, and the loader that writes a copy in one transaction.

Stored instants (ISO-8601 text) and booleans (0/1) are turned into backend-neutral values on the
way out and back on the way in (see :mod:`tasksql.catalog.tables`). Graph runs are read in rowid
order, the order they were inserted, which is how the catalog orders graph runs of one instant.
``sqlite_sequence`` holds the highest id each AUTOINCREMENT table handed out.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from tasksql.catalog.bulk import ROW_COUNTS_SQL, ThreadedRowLoader, export_pages
from tasksql.catalog.rows import db_time, from_db_time
from tasksql.catalog.sqlite.connect import connect, retry_busy
from tasksql.catalog.sqlite.errors import translate
from tasksql.catalog.tables import (
    CONTENT_COUNTS_SQL,
    TABLES,
    TableRow,
    TableSpec,
    content_of,
    insert_query,
)

T = TypeVar("T")


def export_rows(
    read: Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]], table_name: str, batch_size: int
) -> AsyncIterator[list[TableRow]]:
    """Pages of ``table_name``'s rows, each read by ``read`` (the catalog's reader threads)."""
    return export_pages(
        read,
        table_name,
        batch_size,
        insertion_order="rowid",
        param="?",
        fetch=lambda conn, sql, params: conn.execute(sql, params).fetchall(),
        neutral=_neutral,
    )


def _neutral(spec: TableSpec, row: sqlite3.Row) -> TableRow:
    out: TableRow = {}
    for column in spec.columns:
        value = row[column]
        if value is not None:
            if column in spec.instants:
                value = from_db_time(value)
            elif column in spec.booleans:
                value = bool(value)
        out[column] = value
    return out


def _stored(spec: TableSpec, row: TableRow) -> tuple[Any, ...]:
    values = []
    for column in spec.columns:
        value = row.get(column)
        if value is not None:
            if column in spec.instants:
                value = db_time(value)
            elif column in spec.booleans:
                value = int(bool(value))
        values.append(value)
    return tuple(values)


def row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows of every copied table, in one statement (one snapshot)."""
    row = conn.execute(ROW_COUNTS_SQL).fetchone()
    return {spec.name: int(row[spec.name]) for spec in TABLES}


def id_counters(conn: sqlite3.Connection) -> dict[str, int]:
    """The highest id each table with an identity column handed out (deleted rows included)."""
    counters: dict[str, int] = {}
    for spec in TABLES:
        if spec.identity is not None:
            sql = (
                f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?), 0),"
                f" coalesce((SELECT max({spec.identity}) FROM {spec.name}), 0))"
            )
            counters[spec.name] = int(conn.execute(sql, (spec.name,)).fetchone()[0])
    return counters


class SQLiteRowLoader(ThreadedRowLoader):
    """Loads a copy into the SQLite catalog file ``path`` in one ``BEGIN IMMEDIATE`` transaction on
    a connection of its own, committed with ``synchronous = FULL``."""

    def __init__(
        self, path: str, *, replace: bool, change_sql: str, busy_timeout: float, busy_retries: int
    ) -> None:
        super().__init__(path, replace=replace)
        self._path = path
        self._change_sql = change_sql
        self._busy_timeout = busy_timeout
        self._busy_retries = busy_retries
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        assert self._conn is not None, "the load has not begun"
        return self._conn

    def _run(self, doing: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return fn(self._db())
        except sqlite3.Error as exc:
            raise translate(exc, f"{doing} (copying into the catalog {self._path})") from None

    def _begin(self) -> None:
        self._conn = retry_busy(
            lambda: connect(self._path, busy_timeout=self._busy_timeout, reader=False),
            retries=self._busy_retries,
            doing=f"opening the catalog {self._path}",
        )
        conn = self._conn

        def begin() -> None:
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("BEGIN IMMEDIATE")

        retry_busy(begin, retries=self._busy_retries, doing=f"locking the catalog {self._path}")

    def _content(self) -> dict[str, int]:
        return self._run(
            "counting rows", lambda conn: content_of(conn.execute(CONTENT_COUNTS_SQL).fetchone())
        )

    def _delete(self, spec: TableSpec) -> None:
        self._run(f"emptying {spec.name}", lambda conn: conn.execute(f"DELETE FROM {spec.name}"))

    def _insert(self, spec: TableSpec, rows: Sequence[TableRow]) -> None:
        sql = insert_query(spec, "?")
        values = [_stored(spec, row) for row in rows]
        self._run(f"writing {spec.name}", lambda conn: conn.executemany(sql, values))

    def _continue(self, spec: TableSpec, counter: int) -> None:
        def run(conn: sqlite3.Connection) -> None:
            # inserting explicit ids already raised the counter to the largest one; a source that
            # handed out more (rows since pruned) raises it further
            cur = conn.execute(
                "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (counter, spec.name)
            )
            if cur.rowcount == 0 and counter > 0:
                conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (spec.name, counter))

        self._run(f"continuing the ids of {spec.name}", run)

    def _commit(self) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(self._change_sql).fetchall()
            conn.execute("COMMIT")

        self._run("committing", run)

    def _rollback(self) -> None:
        conn = self._conn
        if conn is not None and conn.in_transaction:
            # closing the connection would end the transaction anyway
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
