"""Whole tables, the part every backend shares (``tasksql catalog copy``; the backends' own parts
are :mod:`tasksql.catalog.sqlite.bulk` and :mod:`tasksql.catalog.postgres.bulk`).

Reading out: :func:`export_pages` reads a table in pages, in key order (keyset pagination: each
page starts after the last key of the one before, so a page costs the same wherever it is), and
:data:`ROW_COUNTS_SQL` counts every table in one statement.

Loading in: :class:`ThreadedRowLoader` is the shape of every backend's
:class:`~tasksql.catalog.tables.RowLoader`: one connection of its own, used from one thread of its
own, holding one transaction from ``async with`` to its end. A backend implements the synchronous
steps (:meth:`ThreadedRowLoader._begin` ...), each run in the loader's thread, so the blocking
driver never runs on the event loop and the connection is only ever used by one thread. This class
orders them: begin, refuse a catalog with content unless
``replace``, delete every table (foreign keys: children first), then the caller's inserts, then
the change-sequence bump and commit, or a rollback when anything failed (or the caller's block
raised, or was cancelled).
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self, TypeVar

from tasksql.catalog.tables import (
    TABLES,
    RowLoader,
    TableRow,
    TableSpec,
    describe_counts,
    page_query,
    table,
)
from tasksql.errors import CatalogError

T = TypeVar("T")
#: What a read is given: the backend's connection (SQLite) or cursor (PostgreSQL).
D = TypeVar("D")

#: The rows of every copied table, in one statement (one snapshot); one row, by table name.
ROW_COUNTS_SQL = "SELECT " + ", ".join(
    f"(SELECT count(*) FROM {spec.name}) AS {spec.name}" for spec in TABLES
)


async def export_pages(
    read: Callable[[Callable[[D], Sequence[Any]]], Awaitable[Sequence[Any]]],
    table_name: str,
    batch_size: int,
    *,
    insertion_order: str,
    param: str,
    fetch: Callable[[D, str, tuple[Any, ...]], Sequence[Any]],
    neutral: Callable[[TableSpec, Any], TableRow],
) -> AsyncIterator[list[TableRow]]:
    """Pages of ``table_name``'s rows (at most ``batch_size`` each) with backend-neutral values.

    :param read: runs a function on a reading connection of the catalog, off the event loop.
    :param insertion_order: the backend's column that orders rows as they were inserted (for
        tables whose spec is ``insertion_ordered``).
    :param param: the driver's placeholder (``?``, ``%s``).
    :param fetch: runs a statement with parameters and returns every row; a row is indexed by
        column name.
    :param neutral: a stored row as a :data:`~tasksql.catalog.tables.TableRow`.
    """
    spec = table(table_name)
    order = (insertion_order,) if spec.insertion_ordered else spec.key
    first = page_query(spec, order, after=False, param=param)
    rest = page_query(spec, order, after=True, param=param)
    after: tuple[Any, ...] | None = None
    while True:
        params = (batch_size,) if after is None else (*after, batch_size)
        sql = first if after is None else rest

        def page(db: D, sql: str = sql, params: tuple[Any, ...] = params) -> Sequence[Any]:
            return fetch(db, sql, params)

        rows = await read(page)
        if not rows:
            return
        yield [neutral(spec, row) for row in rows]
        if len(rows) < batch_size:
            return
        last = rows[-1]
        after = tuple(last[f"_k{i}"] for i in range(len(order)))


class ThreadedRowLoader(RowLoader):
    """A loader whose steps run in one worker thread of its own (see the module documentation).

    :param where: how messages name the catalog (a path, a URL without its password).
    :param replace: delete what the catalog holds instead of refusing a catalog with content.
    """

    def __init__(self, where: str, *, replace: bool) -> None:
        self._where = where
        self._replace = replace
        self._thread: ThreadPoolExecutor | None = None

    # --- steps a backend implements (each runs in the loader's thread) ---------------------------

    @abstractmethod
    def _begin(self) -> None:
        """Connect and begin the transaction, keeping other writers out until it ends."""

    @abstractmethod
    def _content(self) -> dict[str, int]:
        """:func:`~tasksql.catalog.tables.content_of` the catalog, inside the transaction."""

    @abstractmethod
    def _delete(self, spec: TableSpec) -> None:
        """Delete every row of one table."""

    @abstractmethod
    def _insert(self, spec: TableSpec, rows: Sequence[TableRow]) -> None:
        """Insert rows as given (their values are backend-neutral)."""

    @abstractmethod
    def _continue(self, spec: TableSpec, counter: int) -> None:
        """Make ``spec``'s identity column hand out values above ``counter`` and every stored one."""

    @abstractmethod
    def _commit(self) -> None:
        """Advance the change sequence and commit durably."""

    @abstractmethod
    def _rollback(self) -> None:
        """Roll back (when a transaction is open); never raises."""

    @abstractmethod
    def _close(self) -> None:
        """Close the connection (when open); never raises."""

    # --- the order of the steps ------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tasksql-catalog-load")
        try:
            await self._call(self._start)
        except BaseException:
            await self._end(commit=False)
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._end(commit=exc is None)

    async def insert(self, table_name: str, rows: Sequence[TableRow]) -> None:
        spec = table(table_name)
        if rows:
            await self._call(lambda: self._insert(spec, rows))

    async def continue_ids(self, counters: Mapping[str, int]) -> None:
        def run() -> None:
            for spec in TABLES:
                if spec.identity is not None:
                    self._continue(spec, max(0, counters.get(spec.name, 0)))

        await self._call(run)

    def _start(self) -> None:
        self._begin()
        content = self._content()
        if content and not self._replace:
            raise CatalogError(
                f"the catalog {self._where} is not empty ({describe_counts(content)})",
                code="CATALOG_NOT_EMPTY",
            )
        for spec in reversed(TABLES):
            self._delete(spec)

    async def _end(self, *, commit: bool) -> None:
        thread = self._thread
        if thread is None:
            return
        try:
            if commit:
                try:
                    await self._call(self._commit)
                except BaseException:
                    await self._call(self._rollback)
                    raise
            else:
                await self._call(self._rollback)
        finally:
            self._thread = None
            # shielded: a cancelled copy still closes its connection (which ends the transaction)
            await asyncio.shield(asyncio.get_running_loop().run_in_executor(thread, self._close))
            thread.shutdown(wait=False)

    async def _call(self, fn: Callable[[], T]) -> T:
        if self._thread is None:
            raise CatalogError("the load has ended", code="CATALOG_CLOSED")
        future = asyncio.get_running_loop().run_in_executor(self._thread, fn)
        # a cancelled caller must not run the next step before this one is over: the thread is
        # one, and it runs steps in order, so waiting for the step is enough
        return await asyncio.shield(future)
