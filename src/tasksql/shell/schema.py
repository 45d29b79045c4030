"""What the shell knows of the warehouse: its tables, views and columns, and tasksql's relations.

:class:`WarehouseSchema` reads the default warehouse's ``information_schema`` (DuckDB, PostgreSQL;
``sqlite_master`` for SQLite) through the shell's connection, keeps the answer, and is refreshed by
the shell at start and after every statement that may change it (CREATE, ALTER, DROP, ...).
Completion and ``\\d`` read this cache; a failing read keeps the previous answer, since neither may
disturb the session.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tasksql.engine.results import Result
from tasksql.errors import TasksqlError
from tasksql.sysviews.rewrite import SYSTEM_TABLES, TABLE_FUNCTIONS
from tasksql.sysviews.taskrows import TASK_COLUMNS
from tasksql.warehouses import MARKER_TABLES

#: The schema of tasksql's own relations (``system.tasks``, ...).
SYSTEM_SCHEMA = "system"

INFORMATION_SCHEMA_QUERY = """SELECT c.table_schema, c.table_name, t.table_type, c.column_name, c.data_type,
       c.is_nullable
FROM information_schema.columns c
JOIN information_schema.tables t
  ON t.table_catalog = c.table_catalog AND t.table_schema = c.table_schema
 AND t.table_name = c.table_name
WHERE c.table_schema NOT IN ('information_schema', 'pg_catalog')
ORDER BY c.table_schema, c.table_name, c.ordinal_position"""

SQLITE_QUERY = """SELECT 'main', m.name, upper(m.type), p.name, p.type,
       CASE p."notnull" WHEN 1 THEN 'NO' ELSE 'YES' END
FROM sqlite_master m JOIN pragma_table_info(m.name) p
WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite_%'
ORDER BY m.name, p.cid"""

DUCKDB_DDL_QUERY = """SELECT schema_name, table_name, sql FROM duckdb_tables()
WHERE NOT internal AND schema_name <> 'tasksql_markers'
UNION ALL
SELECT schema_name, view_name, sql FROM duckdb_views() WHERE NOT internal
ORDER BY 1, 2"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Column:
    name: str
    type: str
    nullable: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Relation:
    """A table or view. ``kind`` is ``table``, ``view`` or ``system view`` (tasksql's own)."""

    schema: str
    name: str
    kind: str
    columns: tuple[Column, ...] = ()

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def matches(self, name: str) -> bool:
        """Whether ``name`` (``table`` or ``schema.table``, any case) names this relation."""
        low = name.lower()
        return low in (self.name.lower(), self.qualified.lower())


def system_relations() -> list[Relation]:
    """tasksql's ``system.*`` relations; ``system.tasks`` with its columns (the others' columns are
    only known by querying them)."""
    out = []
    for name in sorted(SYSTEM_TABLES):
        columns = tuple(Column(name=c, type="") for c in TASK_COLUMNS) if name == "tasks" else ()
        out.append(Relation(schema=SYSTEM_SCHEMA, name=name, kind="system view", columns=columns))
    return out


def table_functions() -> list[str]:
    """tasksql's table functions (``task_history``, ``next_runs``, ...), for FROM."""
    return sorted(TABLE_FUNCTIONS)


def _kind(table_type: str) -> str:
    return "view" if "VIEW" in table_type.upper() else "table"


def relations_from(result: Result) -> list[Relation]:
    """Relations from rows of (schema, table, table type, column, data type, nullable), ordered by
    relation (as :data:`INFORMATION_SCHEMA_QUERY` and :data:`SQLITE_QUERY` return them); the tables
    of tasksql's completion markers are left out."""
    out: list[Relation] = []
    current: tuple[str, str] | None = None
    kind = ""
    columns: list[Column] = []

    def flush() -> None:
        if current is not None:
            out.append(Relation(schema=current[0], name=current[1], kind=kind, columns=tuple(columns)))

    for schema, table, table_type, column, data_type, nullable in result.rows:
        key = (str(schema), str(table))
        if key in MARKER_TABLES:
            continue
        if key != current:
            flush()
            current, kind, columns = key, _kind(str(table_type)), []
        columns.append(Column(name=str(column), type=str(data_type or ""), nullable=str(nullable) != "NO"))
    flush()
    return out


class WarehouseSchema:
    """A cache of the default warehouse's relations, read with ``run`` (a statement -> Result)."""

    def __init__(self, run: Callable[[str], Result]) -> None:
        self._run = run
        self.relations: list[Relation] = []
        self._query: str | None = None  # the catalog query this warehouse answered

    def refresh(self) -> bool:
        """Read the relations again; False (the previous answer kept) when the warehouse fails."""
        queries = [self._query] if self._query else [INFORMATION_SCHEMA_QUERY, SQLITE_QUERY]
        for query in queries:
            if query is None:
                continue
            try:
                result = self._run(query)
            except (TasksqlError, ValueError):
                continue
            self.relations = relations_from(result)
            self._query = query
            return True
        return False

    def all_relations(self) -> list[Relation]:
        """The warehouse's relations, then tasksql's ``system.*`` relations."""
        return [*self.relations, *system_relations()]

    def find(self, name: str) -> Relation | None:
        """The relation ``name`` (``table`` or ``schema.table``, case-insensitive), or None."""
        unquoted = name.replace('"', "")
        for rel in self.all_relations():
            if rel.matches(unquoted):
                return rel
        return None

    def schemas(self) -> set[str]:
        return {r.schema.lower() for r in self.all_relations()}

    def tables(self, pattern: str | None = None, *, kinds: Iterable[str] = ("table",)) -> list[Relation]:
        """The relations of ``kinds`` whose name or qualified name matches the glob ``pattern``."""
        wanted = set(kinds)
        found = [r for r in self.all_relations() if r.kind in wanted]
        if pattern is None:
            return found
        low = pattern.lower()
        return [
            r
            for r in found
            if fnmatch.fnmatchcase(r.name.lower(), low) or fnmatch.fnmatchcase(r.qualified.lower(), low)
        ]

    def columns_of(self, names: Iterable[str]) -> list[str]:
        """The column names of the relations ``names`` (unknown names are skipped), each once."""
        out: list[str] = []
        for name in names:
            rel = self.find(name)
            for col in rel.columns if rel is not None else ():
                if col.name not in out:
                    out.append(col.name)
        return out

    def all_columns(self) -> list[str]:
        """Every column name of the warehouse's relations, each once."""
        return list(dict.fromkeys(c.name for r in self.relations for c in r.columns))


def relations_result(relations: Iterable[Relation]) -> Result:
    """``\\d``: one row per relation (schema, name, type)."""
    rows = [(r.schema, r.name, r.kind) for r in relations]
    return Result.table(("schema", "name", "type"), rows, "\\d")


def columns_result(relation: Relation) -> Result:
    """``\\d NAME``: one row per column (column, type, nullable)."""
    rows = [(c.name, c.type or None, c.nullable) for c in relation.columns]
    return Result.table(("column", "type", "nullable"), rows, "\\d")


def create_statement(relation: Relation) -> str:
    """A ``CREATE TABLE`` (or a comment for a view) rebuilt from the columns, for ``.schema`` on a
    warehouse that does not keep the statements that created its tables."""
    if relation.kind == "view":
        return f"-- view {relation.qualified} ({', '.join(c.name for c in relation.columns)})"
    cols = ",\n".join(
        f"    {c.name} {c.type}{'' if c.nullable else ' NOT NULL'}".rstrip() for c in relation.columns
    )
    return f"CREATE TABLE {relation.qualified} (\n{cols}\n);"
