"""The SQLite side of :class:`~tasksql.catalog.dialect.CatalogDialect`: named queries run on a
``sqlite3.Connection`` (rows are ``sqlite3.Row``).

A list parameter is passed as JSON text (the queries read it with ``json_each``) and "no limit" as
``LIMIT -1``. A statement with ``RETURNING`` is stepped only as its rows are fetched, so every
method that runs one fetches them all before the job goes on. No unique violation can reach a job:
the writer takes the write lock at ``BEGIN IMMEDIATE``, and a job reads what it is about to write.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from tasksql.catalog.dialect import CatalogDialect, Params
from tasksql.catalog.rows import Row


class SQLiteDialect(CatalogDialect[sqlite3.Connection]):
    def __init__(self) -> None:
        super().__init__("sqlite")

    def rows(self, db: sqlite3.Connection, query: str, params: Params = {}) -> list[Row]:  # noqa: B006
        return db.execute(self.q[query], params).fetchall()

    def first(self, db: sqlite3.Connection, query: str, params: Params = {}) -> Row | None:  # noqa: B006
        row: Row | None = db.execute(self.q[query], params).fetchone()
        return row

    def execute(self, db: sqlite3.Connection, query: str, params: Params) -> None:
        db.execute(self.q[query], params)

    def count(self, db: sqlite3.Connection, query: str, params: Params) -> int:
        cur = db.execute(self.q[query], params)
        cur.fetchall()  # a statement with RETURNING runs to its end only as its rows are fetched
        return cur.rowcount

    def many(self, db: sqlite3.Connection, query: str, batch: Sequence[Params]) -> None:
        db.executemany(self.q[query], batch)

    def each(self, db: sqlite3.Connection, query: str, batch: Sequence[Params]) -> None:
        sql = self.q[query]
        for params in batch:
            db.execute(sql, params).fetchall()

    def each_first(self, db: sqlite3.Connection, query: str, batch: Sequence[Params]) -> list[Row | None]:
        sql = self.q[query]
        return [db.execute(sql, params).fetchone() for params in batch]

    def array(self, values: Iterable[Any]) -> str:
        return json.dumps(list(values))

    def limit(self, limit: int | None) -> int:
        return -1 if limit is None else limit


#: The one instance every SQLite catalog uses (it holds only the parsed queries).
SQLITE = SQLiteDialect()
