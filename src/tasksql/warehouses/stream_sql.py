"""The SQL of change-tracking streams, per dialect: pure text, no I/O (see :mod:`.streams`).

Every stream lives in the warehouse of its table, in three kinds of objects there:

* ``tasksql_streams``: one row per stream (its definition, and its offset: ``read_from``/``pos``);
* capture: on SQLite and PostgreSQL a change table ``tasksql_chg_<id>`` filled by triggers on the
  table (``tasksql$pos``: SQLite an AUTOINCREMENT sequence, PostgreSQL the writing transaction's
  id; ``tasksql$action``; ``tasksql$row_id``; then the table's columns); on DuckDB (no triggers) a
  snapshot table ``tasksql_snap_<id>`` holding the table's rows as of the last consumption
  (generation ``tasksql$pos``), the changes being the difference between that and the table;
* the offset rule: a statement that consumes the stream is preceded, in its own transaction, by
  :func:`claim_statements`, which moves ``read_from`` to the old ``pos`` and ``pos`` to "now";
  every read in that transaction then sees exactly the changes between the two. Rolled back with the
  statement, the claim is undone too.

Windows of positions: SQLite ``read_from < pos <= pos'`` (writers are serialised, so the sequence
is in commit order); PostgreSQL ``read_from <= xid < pos'`` where ``pos'`` is the ``xmin`` of the
claiming statement's snapshot, below which every transaction has ended (so a change can never
commit into a window already read, whatever order writers commit in); DuckDB generations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tasksql.warehouses._sqltext import quote_ident

q = quote_ident

REGISTRY = "tasksql_streams"
#: Marks the statements tasksql adds to a body (their row counts are not the body's).
HIDDEN = "/* tasksql:stream */ "
#: How changes are found, per dialect (DESCRIBE STREAM's ``mode``).
MODES = {"sqlite": "TRIGGERS", "postgres": "TRIGGERS", "duckdb": "SNAPSHOT_DIFF"}
POS, ACTION, ROW_ID = "tasksql$pos", "tasksql$action", "tasksql$row_id"
#: A DuckDB table's identity (``duckdb_tables() t``): replaced or dropped and created again, it differs.
DUCK_KEY = "t.database_name || '.' || t.schema_name || '.' || t.table_name || '|' || t.table_oid"


def registry_ddl(dialect: str) -> str:
    boolean = "INTEGER" if dialect == "sqlite" else "BOOLEAN"
    return (
        f"CREATE TABLE IF NOT EXISTS {REGISTRY} (name TEXT PRIMARY KEY, id BIGINT NOT NULL,"
        " table_name TEXT NOT NULL, table_key TEXT, mode TEXT NOT NULL,"
        f" append_only {boolean} NOT NULL, show_initial_rows {boolean} NOT NULL,"
        " columns TEXT NOT NULL, key_columns TEXT NOT NULL, comment TEXT, created_on TEXT NOT NULL,"
        " read_from BIGINT NOT NULL, pos BIGINT NOT NULL)"
    )


def lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class StreamDef:
    """One row of ``tasksql_streams`` (``stale``: its table was dropped or replaced since)."""

    name: str
    id: int
    table: str
    table_key: str | None
    mode: str
    append_only: bool
    show_initial_rows: bool
    columns: tuple[str, ...]
    key_columns: tuple[str, ...]
    comment: str | None
    created_on: str
    read_from: int
    pos: int
    stale: bool

    @property
    def changes(self) -> str:
        return f"tasksql_chg_{self.id}"

    @property
    def snapshot(self) -> str:
        return f"tasksql_snap_{self.id}"

    @property
    def type(self) -> str:
        return "APPEND_ONLY" if self.append_only else "DELTA"


def load_sql(dialect: str) -> str:
    """Every stream with its staleness, computed in the same query."""
    if dialect == "sqlite":
        stale = (
            "NOT EXISTS (SELECT 1 FROM sqlite_master m WHERE m.type = 'trigger'"
            " AND m.name = 'tasksql_chg_' || s.id || '_i')"
        )
    elif dialect == "postgres":
        stale = "NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgname = 'tasksql_chg_' || s.id || '_i')"
    else:
        stale = f"NOT EXISTS (SELECT 1 FROM duckdb_tables() t WHERE {DUCK_KEY} = s.table_key)"
    return (
        "SELECT name, id, table_name, table_key, mode, append_only, show_initial_rows, columns,"
        f" key_columns, comment, created_on, read_from, pos, {stale} FROM {REGISTRY} s ORDER BY name"
    )


def from_row(row: tuple[object, ...]) -> StreamDef:
    return StreamDef(
        name=str(row[0]),
        id=int(str(row[1])),
        table=str(row[2]),
        table_key=None if row[3] is None else str(row[3]),
        mode=str(row[4]),
        append_only=bool(row[5]),
        show_initial_rows=bool(row[6]),
        columns=tuple(json.loads(str(row[7]))),
        key_columns=tuple(json.loads(str(row[8]))),
        comment=None if row[9] is None else str(row[9]),
        created_on=str(row[10]),
        read_from=int(str(row[11])),
        pos=int(str(row[12])),
        stale=bool(row[13]),
    )


def _row_id(dialect: str, alias: str, columns: tuple[str, ...], keys: tuple[str, ...]) -> str:
    """The row id of row ``alias`` (PostgreSQL and DuckDB: the primary key as text, else a hash of
    the row's values)."""
    if dialect == "postgres":
        if keys:
            return "concat_ws(',', " + ", ".join(f"{alias}.{q(k)}::text" for k in keys) + ")"
        return f"md5({alias}::text)"
    if keys:
        return "concat_ws(',', " + ", ".join(f"CAST({alias}.{q(k)} AS VARCHAR)" for k in keys) + ")"
    return "md5(CAST(row(" + ", ".join(f"{alias}.{q(c)}" for c in columns) + ") AS VARCHAR))"


# --- creating and dropping -----------------------------------------------------------------------


def capture_ddl(dialect: str, s: StreamDef, table: str) -> list[str]:
    """The statements that start capturing changes of ``table`` (SQL text) for ``s``, in one
    transaction with the registry row."""
    cols = ", ".join(q(c) for c in s.columns)
    if dialect == "duckdb":
        return [
            f"CREATE TABLE {s.snapshot} AS SELECT CAST(0 AS BIGINT) AS {q(POS)}, {cols} FROM {table}"
            + (" WHERE false" if s.show_initial_rows else "")
        ]
    chg = s.changes
    if dialect == "sqlite":
        out = [
            f"CREATE TABLE {chg} ({q(POS)} INTEGER PRIMARY KEY AUTOINCREMENT, {q(ACTION)} TEXT NOT NULL,"
            f" {q(ROW_ID)}, {cols})"
        ]
        head = f"INSERT INTO {chg} ({q(ACTION)}, {q(ROW_ID)}, {cols})"

        def image(action: str, ref: str) -> str:
            return (
                f"{head} VALUES ('{action}', {ref}.rowid, "
                + ", ".join(f"{ref}.{q(c)}" for c in s.columns)
                + ");"
            )

        out.append(f"CREATE TRIGGER {chg}_i AFTER INSERT ON {table} BEGIN {image('INSERT', 'NEW')} END")
        if not s.append_only:
            out.append(
                f"CREATE TRIGGER {chg}_u AFTER UPDATE ON {table} BEGIN {image('DELETE', 'OLD')}"
                f" {image('INSERT', 'NEW')} END"
            )
            out.append(f"CREATE TRIGGER {chg}_d AFTER DELETE ON {table} BEGIN {image('DELETE', 'OLD')} END")
        if s.show_initial_rows:
            out.append(f"{head} SELECT 'INSERT', rowid, {cols} FROM {table}")
        return out
    # PostgreSQL: statement-level triggers with transition tables (one INSERT per statement).
    out = [
        f"CREATE TABLE {chg} ({q(POS)} BIGINT NOT NULL, {q(ACTION)} TEXT NOT NULL, {q(ROW_ID)} TEXT,"
        f" LIKE {table})",
        f"CREATE INDEX {chg}_pos ON {chg} ({q(POS)})",
    ]
    head = f"INSERT INTO {chg} ({q(POS)}, {q(ACTION)}, {q(ROW_ID)}, {cols})"

    def images(action: str, rel: str, xid: str) -> str:
        picked = ", ".join(f"x.{q(c)}" for c in s.columns)
        rid = _row_id("postgres", "x", s.columns, s.key_columns)
        return f"{head} SELECT {xid}, '{action}', {rid}, {picked} FROM {rel} x"

    xid = "pg_current_xact_id()::text::bigint"
    for kind, when, body in (
        ("i", "INSERT", images("INSERT", "tasksql_new", "v_xid")),
        (
            "u",
            "UPDATE",
            images("DELETE", "tasksql_old", "v_xid") + "; " + images("INSERT", "tasksql_new", "v_xid"),
        ),
        ("d", "DELETE", images("DELETE", "tasksql_old", "v_xid")),
    ):
        if s.append_only and kind != "i":
            continue
        refs = {
            "i": "NEW TABLE AS tasksql_new",
            "u": "OLD TABLE AS tasksql_old NEW TABLE AS tasksql_new",
            "d": "OLD TABLE AS tasksql_old",
        }[kind]
        out.append(
            f"CREATE FUNCTION {chg}_{kind}() RETURNS trigger LANGUAGE plpgsql AS $tasksql$"
            f" DECLARE v_xid bigint := {xid}; BEGIN {body}; RETURN NULL; END $tasksql$"
        )
        out.append(
            f"CREATE TRIGGER {chg}_{kind} AFTER {when} ON {table} REFERENCING {refs}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {chg}_{kind}()"
        )
    if s.show_initial_rows:
        out.append(images("INSERT", table, xid))
    return out


def initial_pos(dialect: str) -> str:
    if dialect == "postgres":
        return "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
    return "0"


def drop_ddl(dialect: str, s: StreamDef) -> list[str]:
    """Statements that remove ``s``'s capture objects (those already gone are skipped)."""
    if dialect == "duckdb":
        return [f"DROP TABLE IF EXISTS {s.snapshot}"]
    chg = s.changes
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {chg}_{k}" for k in "iud"] + [f"DROP TABLE IF EXISTS {chg}"]
    out = []
    if not s.stale:
        out += [f"DROP TRIGGER IF EXISTS {chg}_{k} ON {s.table}" for k in "iud"]
    out += [f"DROP FUNCTION IF EXISTS {chg}_{k}() CASCADE" for k in "iud"]
    return [*out, f"DROP TABLE IF EXISTS {chg}"]


# --- consuming and reading -----------------------------------------------------------------------


def _field(s: StreamDef, column: str) -> str:
    return f"(SELECT {column} FROM {REGISTRY} WHERE name = {lit(s.name)})"


def claim_statements(dialect: str, s: StreamDef) -> list[str]:
    """Statements that, in the consuming transaction, move ``s``'s offset to "now" (and purge what
    earlier consumers committed); reads after them see the claimed window (:func:`read_sql`)."""
    where = f" WHERE name = {lit(s.name)}"
    if dialect == "duckdb":
        cols = ", ".join(q(c) for c in s.columns)
        return [
            f"{HIDDEN}UPDATE {REGISTRY} SET read_from = pos, pos = pos + 1{where}",
            f"{HIDDEN}DELETE FROM {s.snapshot} WHERE {q(POS)} < {_field(s, 'read_from')}",
            f"{HIDDEN}INSERT INTO {s.snapshot} SELECT {_field(s, 'pos')}, {cols} FROM {s.table}",
        ]
    if dialect == "sqlite":
        now = f"(SELECT coalesce(max({q(POS)}), 0) FROM {s.changes})"
        return [
            f"{HIDDEN}UPDATE {REGISTRY} SET read_from = pos, pos = max(pos, {now}){where}",
            f"{HIDDEN}DELETE FROM {s.changes} WHERE {q(POS)} <= {_field(s, 'read_from')}",
        ]
    return [
        f"{HIDDEN}UPDATE {REGISTRY} SET read_from = pos, pos = GREATEST(pos, {initial_pos(dialect)}){where}",
        f"{HIDDEN}DELETE FROM {s.changes} WHERE {q(POS)} < {_field(s, 'read_from')}",
    ]


def _window(dialect: str, s: StreamDef, claimed: bool) -> str:
    """The change rows (``tasksql$pos``, ``tasksql$action``, ``tasksql$row_id``, columns) of the
    window: the claimed one, or (a peek) everything after the offset."""
    cols = ", ".join(q(c) for c in s.columns)
    if dialect == "duckdb":
        old = _field(s, "read_from" if claimed else "pos")
        new = f"(SELECT {cols} FROM {s.snapshot} WHERE {q(POS)} = {_field(s, 'pos')})" if claimed else s.table
        rid_o = _row_id(dialect, "o", s.columns, s.key_columns)
        rid_n = _row_id(dialect, "n", s.columns, s.key_columns)

        def pick(a: str) -> str:
            return ", ".join(f"{a}.{q(c)}" for c in s.columns)

        return (
            f"SELECT 0 AS {q(POS)}, 'DELETE' AS {q(ACTION)}, {rid_o} AS {q(ROW_ID)}, {pick('o')}"
            f" FROM {s.snapshot} o WHERE o.{q(POS)} = {old}"
            f" UNION ALL SELECT 1, 'INSERT', {rid_n}, {pick('n')} FROM {new} n"
        )
    p = q(POS)
    if dialect == "sqlite":
        cond = (
            f"{p} > {_field(s, 'read_from')} AND {p} <= {_field(s, 'pos')}"
            if claimed
            else f"{p} > {_field(s, 'pos')}"
        )
    elif claimed:
        cond = f"{p} >= {_field(s, 'read_from')} AND {p} < {_field(s, 'pos')}"
    else:
        cond = f"{p} >= {_field(s, 'pos')} AND {p} < {initial_pos(dialect)}"
    rid = q(ROW_ID)
    return f"SELECT {p}, {q(ACTION)}, CAST({rid} AS TEXT) AS {rid}, {cols} FROM {s.changes} WHERE {cond}"


def meta_names(dialect: str) -> tuple[str, str, str]:
    """The metadata columns' names (PostgreSQL folds unquoted names to lower case)."""
    names = ("METADATA$ACTION", "METADATA$ISUPDATE", "METADATA$ROW_ID")
    return tuple(n.lower() for n in names) if dialect == "postgres" else names  # type: ignore[return-value]


def read_sql(dialect: str, s: StreamDef, *, claimed: bool) -> str:
    """The stream's rows: its table's columns and the three METADATA$ columns. A standard stream
    nets changes out (equal row images inserted and deleted in the window cancel, pairwise); an
    update is a DELETE and an INSERT with the same row id, both marked ISUPDATE."""
    m_action, m_update, m_rowid = (q(n) for n in meta_names(dialect))
    cols = ", ".join(q(c) for c in s.columns)
    false = "0" if dialect == "sqlite" else "FALSE"
    window = _window(dialect, s, claimed)
    if s.append_only and dialect != "duckdb":
        return (
            f"SELECT {cols}, 'INSERT' AS {m_action}, {false} AS {m_update}, {q(ROW_ID)} AS {m_rowid}"
            f" FROM ({window}) tasksql_w"
        )
    numbered = (
        f"SELECT tasksql_w.*, ROW_NUMBER() OVER (PARTITION BY {q(ACTION)}, {cols} ORDER BY {q(POS)},"
        f" {q(ROW_ID)}) AS {q('tasksql$k')} FROM ({window}) tasksql_w"
    )
    netted = (
        f"SELECT {cols}, MIN({q(ACTION)}) AS {q(ACTION)}, MIN({q(ROW_ID)}) AS {q(ROW_ID)} FROM ({numbered})"
        f" tasksql_k GROUP BY {cols}, {q('tasksql$k')} HAVING COUNT(*) = 1"
    )
    if s.append_only:
        return (
            f"SELECT {cols}, 'INSERT' AS {m_action}, {false} AS {m_update}, {q(ROW_ID)} AS {m_rowid}"
            f" FROM ({netted}) tasksql_n WHERE {q(ACTION)} = 'INSERT'"
        )
    r = q(ROW_ID)
    a = q(ACTION)
    update = f"({r} IS NOT NULL AND MIN({a}) OVER (PARTITION BY {r}) <> MAX({a}) OVER (PARTITION BY {r}))"
    return (
        f"SELECT {cols}, {q(ACTION)} AS {m_action}, {update} AS {m_update}, {r} AS {m_rowid}"
        f" FROM ({netted}) tasksql_n"
    )


def has_data_sql(dialect: str, s: StreamDef) -> str:
    """A boolean expression: whether the stream may have rows (it reads the change table after the
    offset; on SQLite and PostgreSQL a row inserted and deleted again counts, as in Snowflake)."""
    if dialect == "duckdb":
        return f"(EXISTS (SELECT 1 FROM ({read_sql(dialect, s, claimed=False)}) tasksql_h))"
    return f"(EXISTS (SELECT 1 FROM ({_window(dialect, s, False)}) tasksql_h))"
