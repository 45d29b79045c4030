"""The PostgreSQL side of :class:`~tasksql.catalog.dialect.CatalogDialect`: named queries run on a
psycopg cursor (rows are dicts).

A list parameter is passed as a list (the queries cast it to an array) and "no limit" as
``LIMIT NULL``. A batch of a run bookkeeping statement that has a set form
(:mod:`tasksql.catalog.postgres.sets`) and fits it is that one statement over arrays; any other
batch is one ``executemany``, which psycopg pipelines: one round trip for the whole batch.
Writers of several nodes run at once, so a unique index can refuse a row that was
free when the job looked (:attr:`PgDialect.unique_violation`), and graph version numbers are
handed out under an advisory lock per root.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import psycopg

from tasksql.catalog.dialect import CatalogDialect, Params
from tasksql.catalog.postgres.connect import Cursor
from tasksql.catalog.postgres.sets import SET_FORMS
from tasksql.catalog.rows import Row


class PgDialect(CatalogDialect[Cursor]):
    unique_violation: ClassVar[tuple[type[Exception], ...]] = (psycopg.errors.UniqueViolation,)

    def __init__(self) -> None:
        super().__init__("postgres")

    def rows(self, db: Cursor, query: str, params: Params = {}) -> list[Row]:  # noqa: B006
        db.execute(self.q[query], params)
        return list(db.fetchall())

    def first(self, db: Cursor, query: str, params: Params = {}) -> Row | None:  # noqa: B006
        db.execute(self.q[query], params)
        return db.fetchone()

    def execute(self, db: Cursor, query: str, params: Params) -> None:
        db.execute(self.q[query], params)

    def count(self, db: Cursor, query: str, params: Params) -> int:
        db.execute(self.q[query], params)
        return db.rowcount

    def _as_set(self, db: Cursor, query: str, batch: Sequence[Params]) -> bool:
        """Run ``batch`` as ``query``'s set form when it has one and the batch fits it."""
        form = SET_FORMS.get(query)
        if form is None or not form.fits(batch):
            return False
        # Planned at each call (not prepared): a generic plan made while ``runs`` was small (a new
        # catalog) joins the array to a scan of the whole table, and is kept for the connection's
        # life; a custom plan knows the array's length and the table's size, and probes the index.
        db.execute(self.q[form.query], form.params(batch), prepare=False)
        return True

    def many(self, db: Cursor, query: str, batch: Sequence[Params]) -> None:
        if not self._as_set(db, query, batch):
            db.executemany(self.q[query], batch)

    def each(self, db: Cursor, query: str, batch: Sequence[Params]) -> None:
        if not self._as_set(db, query, batch):
            db.executemany(self.q[query], batch)

    def each_first(self, db: Cursor, query: str, batch: Sequence[Params]) -> list[Row | None]:
        if not batch:
            return []
        if self._as_set(db, query, batch):
            out: list[Row | None] = [None] * len(batch)
            for row in db.fetchall():  # the rows changed, by ordinal (1-based)
                out[int(row["ord"]) - 1] = row
            return out
        db.executemany(self.q[query], batch, returning=True)
        rows: list[Row | None] = []
        for _ in batch:
            rows.append(db.fetchone())
            db.nextset()
        return rows

    def array(self, values: Iterable[Any]) -> list[Any]:
        return list(values)

    def limit(self, limit: int | None) -> int | None:
        return limit

    def lock_graph_root(self, db: Cursor, root_task_id: int) -> None:
        db.execute(self.q["graph_version_lock"], {"root_task_id": root_task_id})


#: The one instance every PostgreSQL catalog uses (it holds only the parsed queries).
POSTGRES = PgDialect()
