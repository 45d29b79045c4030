"""The seam between the catalog written once (:mod:`tasksql.catalog.sql_catalog`, the job bodies of
:mod:`tasksql.catalog.jobs`) and one backend's driver and SQL dialect.

A :class:`CatalogDialect` runs a *named query* of ``sql/<dialect>/queries.sql`` on the handle the
backend's writer and readers pass to a job (a ``sqlite3.Connection``, a psycopg cursor), and says
how the dialect spells the few values that differ (an array parameter, "no limit"). Queries of the
same name do the same thing on every backend and return the same column names, so a job body that
uses only this class runs unchanged on each of them. What the drivers do differently stays here:

* a statement with ``RETURNING`` must be run to its end before the next one (sqlite3 steps it only
  as rows are fetched), so :meth:`~CatalogDialect.count` fetches them and counts what changed;
* a batch of one statement is one pipelined ``executemany`` on PostgreSQL, while sqlite3's
  ``executemany`` does not run a statement with ``RETURNING`` to its end
  (:meth:`~CatalogDialect.each`, :meth:`~CatalogDialect.each_first`);
* a unique index violated inside a write (two nodes creating one name at once) is the driver's
  own exception (:attr:`~CatalogDialect.unique_violation`); SQLite's write lock makes it impossible
  there, since a job reads before it writes;
* a lock that only a database with concurrent writers needs (:meth:`~CatalogDialect.lock_graph_root`).

A query with optional filters (``runs_list``) is written whole, each filter's predicate on a line of
its own that ends in ``-- if <filter>``; :meth:`~CatalogDialect.shaped` names the query with only
the lines of the filters given. A filter is never written ``(:x IS NULL OR col = :x)``: one plan
serves every value of such a predicate, so no planner can use an index for it.

Every method runs in the writer thread or a reader thread, inside the caller's transaction; none
begins or ends one.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Generic

from tasksql.catalog.queries import load_queries
from tasksql.catalog.rows import Row
from tasksql.catalog.writer import D

#: Named parameters of a query.
Params = Mapping[str, Any]

#: The end of a line of a query that is kept only when its filter is given (see :meth:`shaped`).
_IF = re.compile(r"\s*--\s*if\s+([a-z][a-z0-9_]*)\s*$")


class CatalogDialect(ABC, Generic[D]):
    """How job bodies run named queries on one backend (see the module).

    :param name: the dialect's folder under ``catalog/sql/`` (``sqlite``, ``postgres``).
    """

    #: The exceptions of the driver that mean a unique index refused a row (none: cannot happen).
    unique_violation: ClassVar[tuple[type[Exception], ...]] = ()

    def __init__(self, name: str) -> None:
        self.name = name
        #: The SQL text of each named query of the dialect.
        self.q: dict[str, str] = {key: query.sql for key, query in load_queries(name).items()}

    def shaped(self, query: str, given: Iterable[str]) -> str:
        """The name of ``query`` less its lines ending in ``-- if <filter>`` for filters not in
        ``given`` (the lines of filters given lose only that comment): a statement per shape of
        filters, with no predicate on a parameter that is not passed, so the planner picks an index
        for the filters there are. Built once per shape and kept with the named queries.

        :raises KeyError: ``given`` names a filter the query has no line for.
        """
        wanted = frozenset(given)
        name = f"{query}[{','.join(sorted(wanted))}]"
        if name not in self.q:
            kept, known = [], set()
            for line in self.q[query].splitlines():
                cond = _IF.search(line)
                if cond is None:
                    kept.append(line)
                    continue
                known.add(cond[1])
                if cond[1] in wanted:
                    kept.append(line[: cond.start()])
            if not wanted <= known:
                raise KeyError(f"query {query} has no line for the filters {sorted(wanted - known)}")
            self.q[name] = "\n".join(kept)
        return name

    # --- running named queries -------------------------------------------------------------------

    @abstractmethod
    def rows(self, db: D, query: str, params: Params = {}) -> list[Row]:  # noqa: B006 (read only)
        """Every row ``query`` returns."""

    @abstractmethod
    def first(self, db: D, query: str, params: Params = {}) -> Row | None:  # noqa: B006 (read only)
        """The first row ``query`` returns, or None."""

    @abstractmethod
    def execute(self, db: D, query: str, params: Params) -> None:
        """Run ``query`` (a write without ``RETURNING``)."""

    @abstractmethod
    def count(self, db: D, query: str, params: Params) -> int:
        """Run ``query`` to its end; how many rows it changed (or returned, with ``RETURNING``)."""

    @abstractmethod
    def many(self, db: D, query: str, batch: Sequence[Params]) -> None:
        """Run ``query`` (without ``RETURNING``) once for each parameter set of ``batch``."""

    @abstractmethod
    def each(self, db: D, query: str, batch: Sequence[Params]) -> None:
        """Run ``query`` (with ``RETURNING``; its rows are not wanted) once for each parameter set."""

    @abstractmethod
    def each_first(self, db: D, query: str, batch: Sequence[Params]) -> list[Row | None]:
        """Run ``query`` once for each parameter set; the first row each run returned, or None."""

    # --- values and locks the dialects spell differently ----------------------------------------

    @abstractmethod
    def array(self, values: Iterable[Any]) -> Any:
        """``values`` as one parameter that the queries read as a list (``:ids``, ``:keep``)."""

    @abstractmethod
    def limit(self, limit: int | None) -> Any:
        """``limit`` as the parameter of a ``LIMIT`` (None: no limit)."""

    def lock_graph_root(self, db: D, root_task_id: int) -> None:
        """Serialise the numbering of ``root_task_id``'s graph versions to the end of the
        transaction (nothing to do where every write transaction is serial)."""
