"""Ocient's ``rebuild`` on tasksql's storage (:func:`run_rebuild`): what a warehouse keeps twice,
once as data and once derived from it, is derived again from the data, object by object.

What is derived, and how it is rebuilt:

* **indexes**, from their table's rows. SQLite: ``REINDEX <table>`` of each table; PostgreSQL:
  ``REINDEX TABLE`` of the table ``table_id`` names (a whole database is not reindexed: that would
  take every table's write lock in turn). DuckDB has no statement that rebuilds an index.
* **statistics**, from the rows: ``ANALYZE`` (of the one table, with ``table_id``); DuckDB also
  ``CHECKPOINT``s.
* **derived tables**: tables whose every row the database computes from other data it keeps, so
  that they can be computed again at any time and nothing is lost:

  - PostgreSQL materialized views: ``REFRESH MATERIALIZED VIEW``, which runs the view's query over
    its sources as they are now into a new table (its indexes built afresh) and drops the old one.
    A view is refreshed after the views it reads (through plain views too). Views created ``WITH
    NO DATA`` (not populated) are left so, unless ``table_id`` names them; so are views of owners
    the warehouse's login does not act for (only an owner may refresh).
  - SQLite FTS5 tables: the full-text index is derived from the table's text (its own content
    table, or the external content table named by ``content=``) and is rebuilt from it
    (``INSERT INTO f(f) VALUES('rebuild')``). A contentless FTS5 table (``content=''``) keeps no
    text to rebuild from and is left alone.

  Stream change tables (``tasksql_chg_<id>``, ``tasksql_snap_<id>``, see :mod:`tasksql.warehouses.streams`)
  are not derived: they hold changes and images the source table no longer has.

``table_id = '<table>'`` (``<name>``, or ``<schema>.<name>`` on PostgreSQL and DuckDB) limits the
rebuild to one table: its indexes, its statistics and, when it is a derived table, its contents. A
name that is no table is refused (``TABLE_NOT_FOUND``) before anything is rebuilt.

Progress: ``progress(done, total)`` before the first step and after each. Cancelling the token
stops the rebuild before the next step (and the statement running, through the warehouse). A step
that fails does not stop the others; the rebuild then fails (``REBUILD_FAILED``) naming them.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from tasksql.errors import NotSupportedError, QueryCancelled, QueryTimeout, TasksqlError
from tasksql.model import MaintenanceBody
from tasksql.scheduler import maintenance
from tasksql.warehouses.base import CancelToken, Warehouse

#: Called with (steps done, steps in all) as the rebuild goes.
Progress = Callable[[int, int], Awaitable[None]]

#: The error code of a rebuild with a step that failed.
REBUILD_FAILED = "REBUILD_FAILED"


@dataclass(frozen=True, slots=True)
class Step:
    """One statement of a rebuild and the object it rebuilds (``object``: as a user names it)."""

    object: str
    sql: str


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def fts5_rebuildable(create_sql: str | None) -> bool:
    """Whether a virtual table created by ``create_sql`` is an FTS5 table with text to rebuild
    its index from (not contentless). The option is read from the module arguments: FTS5 takes
    ``content=''`` (or ``""``) as contentless."""
    found = _FTS5.match(create_sql or "")
    if found is None:
        return False
    squeezed = "".join(create_sql[found.end() :].lower().split()) if create_sql else ""
    return not any(f"content={q}" in squeezed for q in ("''", '""', "``", "[]"))


_FTS5 = re.compile(r"\s*create\s+virtual\s+table\s.*?\busing\s+fts5\s*\(", re.I | re.S)


class _Rebuilder:
    """The steps of one warehouse's rebuild (see the module) and their execution."""

    def __init__(
        self, warehouse: Warehouse, name: str, token: CancelToken, remaining: Callable[[], float] | None
    ) -> None:
        self.wh, self.name, self.token, self.remaining = warehouse, name, token, remaining

    async def rows(self, sql: str) -> list[tuple[object, ...]]:
        timeout = self.remaining() if self.remaining is not None else None
        result = await self.wh.run_body([sql], transactional=False, timeout=timeout, token=self.token)
        return [] if result.last is None else [tuple(r) for r in result.last.rows]

    async def steps(self, table: str | None) -> list[Step]:
        dialect = self.wh.dialect
        if dialect == "sqlite":
            return await self._sqlite(table)
        if dialect == "duckdb":  # ANALYZE reads every row, CHECKPOINT writes what is in memory
            first = Step(self.name, "ANALYZE")
            if table:
                first = Step(f"{self.name}.{table}", f"ANALYZE {await self._duckdb_table(table)}")
            return [first, Step(self.name, "CHECKPOINT")]
        if dialect == "postgres":
            return await self._postgres(table)
        raise NotSupportedError(f"TYPE rebuild is not supported on {dialect} warehouses")

    def _missing(self, table: str) -> TasksqlError:
        return TasksqlError(
            f"table_id {_literal(table)} names no table of warehouse {self.name}: name one of its tables",
            code="TABLE_NOT_FOUND",
        )

    async def _duckdb_table(self, table: str) -> str:
        """``table`` (``<name>`` in schema main, or ``<schema>.<name>``; DuckDB's names are
        case-insensitive) as a quoted name of one of the database's tables; TABLE_NOT_FOUND before
        anything runs, as on the other types (ANALYZE of no table would fail as a step)."""
        schema, _, name = table.rpartition(".")
        found = await self.rows(
            "SELECT schema_name, table_name FROM duckdb_tables()"
            " WHERE database_name = current_database() AND NOT internal"
            f" AND lower(schema_name) = lower({_literal(schema or 'main')})"
            f" AND lower(table_name) = lower({_literal(name)})"
        )
        if not found:
            raise self._missing(table)
        return f"{_quote(str(found[0][0]))}.{_quote(str(found[0][1]))}"

    async def _sqlite(self, table: str | None) -> list[Step]:
        listed = await self.rows(
            "SELECT l.name, l.type, m.sql FROM pragma_table_list AS l"
            " JOIN sqlite_master AS m ON m.name = l.name AND m.type = 'table'"
            " WHERE l.schema = 'main' AND l.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY l.name"
        )
        tables = [(str(n), str(t), None if s is None else str(s)) for n, t, s in listed]
        if table:  # SQLite's names are case-insensitive
            tables = [t for t in tables if t[0].lower() == table.lower()]
            if not tables or tables[0][1] not in ("table", "virtual"):
                raise self._missing(table)
        plain = [Step(f"{self.name}.{n}", f"REINDEX {_quote(n)}") for n, kind, _ in tables if kind == "table"]
        derived = [
            Step(f"{self.name}.{n}", f"INSERT INTO {_quote(n)}({_quote(n)}) VALUES('rebuild')")
            for n, kind, sql in tables
            if kind == "virtual" and fts5_rebuildable(sql)
        ]
        if table and not plain and not derived:
            raise TasksqlError(
                f"table_id {_literal(table)} is a virtual table of warehouse {self.name} that keeps nothing"
                " to rebuild (only FTS5 tables with content are rebuilt)",
                code="NOT_SUPPORTED",
            )
        if table:  # a virtual table has no statistics of its own
            name, kind, _ = tables[0]
            stats = [Step(f"{self.name}.{name}", f"ANALYZE {_quote(name)}")] if kind == "table" else []
        else:
            stats = [Step(self.name, "ANALYZE")]
        # indexes first: an FTS5 rebuild reads its content table
        return [*plain, *derived, *stats]

    async def _postgres(self, table: str | None) -> list[Step]:
        system = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'"
        if table:
            found = await self.rows(
                "SELECT n.nspname, c.relname, c.relkind::text FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                f" WHERE c.relkind IN ('r', 'p', 'm') AND {system}"
                f" AND (n.nspname || '.' || c.relname = {_literal(table)}"
                f" OR (c.relname = {_literal(table)} AND pg_table_is_visible(c.oid)))"
                " ORDER BY 1 LIMIT 1"
            )
            if not found:
                raise self._missing(table)
            [(schema, name, kind)] = found
            target, shown = f"{_quote(str(schema))}.{_quote(str(name))}", f"{self.name}.{schema}.{name}"
            first = (
                Step(shown, f"REFRESH MATERIALIZED VIEW {target}")
                if kind == "m"
                else Step(shown, f"REINDEX TABLE {target}")
            )
            return [first, Step(shown, f"ANALYZE {target}")]
        views = await self.rows(
            "SELECT c.oid::bigint, n.nspname, c.relname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            # only its owner (or a member of the owning role) may refresh a view
            f" WHERE c.relkind = 'm' AND c.relispopulated AND pg_has_role(c.relowner, 'USAGE') AND {system}"
            " ORDER BY 2, 3"
        )
        # what each view (plain or materialized) reads, to refresh a view after those it reads
        reads = await self.rows(
            "SELECT DISTINCT r.ev_class::bigint, d.refobjid::bigint FROM pg_rewrite r"
            " JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid"
            " JOIN pg_class s ON s.oid = d.refobjid AND s.relkind IN ('m', 'v')"
            " WHERE d.refobjid <> r.ev_class"
        )
        names = {int(str(oid)): (str(s), str(n)) for oid, s, n in views}
        edges: dict[int, set[int]] = {}
        for view, source in reads:
            edges.setdefault(int(str(view)), set()).add(int(str(source)))
        steps = [
            Step(f"{self.name}.{names[oid][0]}.{names[oid][1]}", f"REFRESH MATERIALIZED VIEW {target}")
            for oid, target in (
                (oid, f"{_quote(names[oid][0])}.{_quote(names[oid][1])}") for oid in ordered(names, edges)
            )
        ]
        return [*steps, Step(self.name, "ANALYZE")]


def ordered(views: Mapping[int, tuple[str, str]], reads: Mapping[int, Iterable[int]]) -> list[int]:
    """The ids of ``views`` ordered so that a view comes after every view of ``views`` it reads,
    directly or through other views (``reads``: view -> what it reads); by name otherwise."""

    def sources(view: int) -> set[int]:
        found: set[int] = set()
        todo, seen = list(reads.get(view, ())), {view}
        while todo:
            rel = todo.pop()
            if rel in seen:
                continue
            seen.add(rel)
            if rel in views:
                found.add(rel)
            todo.extend(reads.get(rel, ()))  # through a plain view (or a view not refreshed)
        return found

    waiting = {v: sources(v) for v in views}
    out: list[int] = []
    while waiting:
        ready = sorted((v for v, s in waiting.items() if not s & waiting.keys()), key=lambda v: views[v])
        if not ready:  # a cycle cannot be created in PostgreSQL; refresh the rest by name
            ready = sorted(waiting, key=lambda v: views[v])
        for v in ready:
            out.append(v)
            del waiting[v]
    return out


async def run_rebuild(
    body: MaintenanceBody,
    warehouse: Warehouse,
    warehouse_name: str,
    *,
    token: CancelToken,
    progress: Progress | None = None,
    remaining: Callable[[], float] | None = None,
) -> list[str]:
    """Rebuild what ``body`` names in ``warehouse`` step by step (see the module), reporting
    progress; the objects rebuilt, in order.

    ``remaining()``, when given, is the seconds left of the run's timeout: each statement gets that
    long.

    :raises NotSupportedError: the warehouse's type has nothing rebuild knows to rebuild.
    :raises TasksqlError: (code ``TABLE_NOT_FOUND``) ``table_id`` names no table; nothing ran.
    :raises QueryCancelled: the token was cancelled (the steps done stay done).
    :raises QueryTimeout: a statement ran past the time left.
    :raises TasksqlError: (code ``REBUILD_FAILED``) a step failed (the others ran).
    """
    rebuilder = _Rebuilder(warehouse, warehouse_name, token, remaining)
    steps = await rebuilder.steps(maintenance.option(body, "table_id") or None)
    rebuilt: list[str] = []
    failed: list[tuple[Step, str]] = []
    if progress is not None:
        await progress(0, len(steps))
    for done, step in enumerate(steps, start=1):
        if token.cancelled:
            raise QueryCancelled(token.reason or "cancelled")
        try:
            await rebuilder.rows(step.sql)
        except (QueryCancelled, QueryTimeout):
            raise
        except TasksqlError as err:
            failed.append((step, " ".join(err.message.split())))
        else:
            if step.object not in rebuilt:
                rebuilt.append(step.object)
        if progress is not None:
            await progress(done, len(steps))
    if failed:
        first, why = failed[0]
        named = ", ".join(dict.fromkeys(s.object for s, _ in failed))
        raise TasksqlError(
            f"rebuild could not rebuild {named} (first: {first.sql} failed: {why[:500]})", code=REBUILD_FAILED
        )
    return rebuilt
