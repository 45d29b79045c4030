"""Completion markers in the warehouse: the SQL of the marker table, and which bodies carry one.

A run's marker is a row (scope, run id, time) committed in the SAME transaction as the run's body
(see :class:`~.base.Marker`), so that whoever settles a run whose node died can tell from the
warehouse itself whether the body's effects are there. The table is created on first use, where
listings of the user's tables do not show it where the dialect allows:

* DuckDB: ``tasksql_markers.run_markers`` in the warehouse's database (a schema of its own:
  ``SHOW TABLES`` lists the ``main`` schema only);
* PostgreSQL: ``tasksql_markers.run_markers`` (psql's ``\\dt`` lists the schemas of the search path
  only); creating the schema needs the CREATE privilege on the database;
* SQLite: ``tasksql_run_markers`` in the ``main`` database (SQLite has no schemas).

tasksql's own shell hides it everywhere (:data:`HIDDEN_TABLES`). Values are spliced as literals
(a checked scope, integers, a timestamp we format), never user text, so that PostgreSQL can send
the INSERT and the COMMIT in one message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from tasksql.errors import QueryFailed
from tasksql.warehouses._sqltext import quote_ident
from tasksql.warehouses.base import Marker

#: The schema of the marker table (DuckDB, PostgreSQL) and the table's name in it.
MARKER_SCHEMA = "tasksql_markers"
MARKER_TABLE = "run_markers"
#: The marker table of a SQLite warehouse (no schemas there).
SQLITE_MARKER_TABLE = "tasksql_run_markers"
#: (schema, table) of the marker tables, for listings that hide them.
HIDDEN_TABLES = frozenset({(MARKER_SCHEMA, MARKER_TABLE), ("main", SQLITE_MARKER_TABLE)})

#: Run ids per statement when looking markers up or deleting them.
CHUNK = 1000

_SCOPE = re.compile(r"[A-Za-z0-9_-]{1,64}")

# The first words of a statement, after blanks and comments.
_WORDS = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*([A-Za-z]+)(?:\s+([A-Za-z]+))?", re.DOTALL)

#: Statements that control transactions themselves: a body holding one runs without a marker.
_TXN_CONTROL = frozenset(
    {"begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release", "prepare"}
)
#: First words of statements that cannot run inside a transaction (or must not: they commit, or
#: act outside it), per dialect. Conservative: such a body only loses its marker.
_NO_TXN: dict[str, frozenset[str]] = {
    "duckdb": frozenset(
        {"vacuum", "checkpoint", "force", "attach", "detach", "install", "load", "export", "import", "call"}
    ),
    "sqlite": frozenset({"vacuum", "attach", "detach", "pragma"}),
    # CALL: a procedure may COMMIT (not allowed in a transaction block); DO likewise.
    "postgres": frozenset({"vacuum", "call", "do", "cluster", "checkpoint", "discard", "reindex"}),
}
#: (first, second) words that cannot run in a PostgreSQL transaction block.
_PG_NO_TXN_PAIRS = frozenset(
    {
        ("create", "database"),
        ("drop", "database"),
        ("alter", "database"),
        ("create", "tablespace"),
        ("drop", "tablespace"),
        ("alter", "system"),
        ("create", "subscription"),
        ("alter", "subscription"),
        ("drop", "subscription"),
    }
)
#: First words of statements that only read, in dialects whose queries cannot write (a PostgreSQL
#: SELECT may call a function that writes, so it is not listed there).
_READ_ONLY: dict[str, frozenset[str]] = {
    "duckdb": frozenset({"select", "values", "from", "show", "describe", "summarize"}),
    "sqlite": frozenset({"select", "values"}),
}


def check_scope(scope: str) -> str:
    """:raises QueryFailed: ``scope`` is not 1-64 letters, digits, ``-`` or ``_`` (code INVALID)."""
    if not _SCOPE.fullmatch(scope):
        raise QueryFailed(f"invalid completion marker scope {scope!r}", code="INVALID")
    return scope


def _words(sql: str) -> tuple[str, str]:
    m = _WORDS.match(sql)
    if m is None:
        return "", ""
    return m.group(1).lower(), (m.group(2) or "").lower()


def reads_only(dialect: str, sql: str) -> bool:
    """Whether the statement ``sql`` cannot write in ``dialect``, told by its first word (False when
    the dialect's queries may write, or the word is not a query's)."""
    return _words(sql)[0] in _READ_ONLY.get(dialect, frozenset())


def controls_transaction(sql: str) -> bool:
    """Whether the statement ``sql`` begins, ends or marks a transaction (BEGIN, COMMIT, SAVEPOINT...)."""
    return _words(sql)[0] in _TXN_CONTROL


def markable(dialect: str, statements: Sequence[str], *, into: bool) -> bool:
    """Whether a body of ``statements`` (with an INTO target or not) gets a marker in ``dialect``:
    it has effects to protect, and every statement can run inside one transaction."""
    no_txn = _NO_TXN.get(dialect)
    if no_txn is None or not statements:
        return False
    read_only = _READ_ONLY.get(dialect, frozenset())
    effects = into
    for sql in statements:
        first, second = _words(sql)
        if first in _TXN_CONTROL or first in no_txn:
            return False
        if dialect == "postgres" and ((first, second) in _PG_NO_TXN_PAIRS or "concurrently" in sql.lower()):
            return False
        if first not in read_only:
            effects = True
    return effects


def relation(dialect: str, database: str | None = None) -> str:
    """The marker table as SQL (``database``: DuckDB's catalog name, to qualify it fully)."""
    if dialect == "sqlite":
        return f"main.{SQLITE_MARKER_TABLE}"
    rel = f"{MARKER_SCHEMA}.{MARKER_TABLE}"
    return f"{quote_ident(database)}.{rel}" if database else rel


#: Per dialect, a query that has a row when the marker schema exists (PostgreSQL asks for the CREATE
#: privilege on the database even for ``CREATE SCHEMA IF NOT EXISTS`` of a schema that exists).
SCHEMA_EXISTS = {"postgres": f"SELECT 1 FROM pg_namespace WHERE nspname = '{MARKER_SCHEMA}'"}


def create_statements(dialect: str, rel: str, *, schema: bool = True) -> list[str]:
    """The statements that create the marker table ``rel`` (and, with ``schema``, its schema) if
    missing."""
    if dialect == "sqlite":
        return [
            f"CREATE TABLE IF NOT EXISTS {rel} (scope TEXT NOT NULL, run_id INTEGER NOT NULL,"
            " committed_at TEXT NOT NULL, PRIMARY KEY (scope, run_id)) WITHOUT ROWID"
        ]
    schemas = [f"CREATE SCHEMA IF NOT EXISTS {rel.rsplit('.', 1)[0]}"] if schema else []
    if dialect == "postgres":
        return [
            *schemas,
            f"CREATE TABLE IF NOT EXISTS {rel} (scope text NOT NULL, run_id bigint NOT NULL,"
            " committed_at timestamptz NOT NULL, PRIMARY KEY (scope, run_id))",
        ]
    # DuckDB: no key (appends from concurrent transactions never conflict; the table stays small)
    return [
        *schemas,
        f"CREATE TABLE IF NOT EXISTS {rel} (scope VARCHAR NOT NULL, run_id BIGINT NOT NULL,"
        " committed_at TIMESTAMP NOT NULL)",
    ]


def _stamp(dialect: str, at: datetime) -> str:
    utc = at.astimezone(UTC).replace(tzinfo=None)
    text = utc.isoformat(sep=" ", timespec="microseconds")
    if dialect == "postgres":
        return f"'{text}+00'"
    if dialect == "duckdb":
        return f"TIMESTAMP '{text}'"
    return f"'{text}'"


def insert_sql(dialect: str, rel: str, marker: Marker) -> str:
    """The INSERT of ``marker``, stamped now (call it just before the commit)."""
    scope = check_scope(marker.scope)
    stamp = _stamp(dialect, marker.clock.now())
    return (
        f"INSERT INTO {rel} (scope, run_id, committed_at) VALUES ('{scope}', {int(marker.run_id)}, {stamp})"
    )


def insert_params_sql(rel: str) -> str:
    """The INSERT of a marker with ``?`` parameters (:func:`insert_params`), for drivers that keep
    prepared statements (sqlite3)."""
    return f"INSERT INTO {rel} (scope, run_id, committed_at) VALUES (?, ?, ?)"


def insert_params(marker: Marker) -> tuple[str, int, str]:
    """The parameters of :func:`insert_params_sql` for ``marker``, stamped now (UTC text)."""
    at = marker.clock.now().astimezone(UTC).replace(tzinfo=None)
    return check_scope(marker.scope), int(marker.run_id), at.isoformat(sep=" ", timespec="microseconds")


def _ids(run_ids: Sequence[int]) -> str:
    return ", ".join(str(int(r)) for r in run_ids)


def select_sql(rel: str, scope: str, run_ids: Sequence[int]) -> str:
    return (
        f"SELECT run_id, committed_at FROM {rel}"
        f" WHERE scope = '{check_scope(scope)}' AND run_id IN ({_ids(run_ids)})"
    )


def ids_sql(rel: str, scope: str, limit: int, after: int) -> str:
    return (
        f"SELECT run_id FROM {rel} WHERE scope = '{check_scope(scope)}' AND run_id > {int(after)}"
        f" ORDER BY run_id LIMIT {int(limit)}"
    )


def delete_sql(rel: str, scope: str, run_ids: Sequence[int]) -> str:
    return f"DELETE FROM {rel} WHERE scope = '{check_scope(scope)}' AND run_id IN ({_ids(run_ids)})"


def committed_at(value: object) -> datetime:
    """A ``committed_at`` value as the driver returns it, as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
