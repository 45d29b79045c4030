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
from types import ModuleType

from tasksql.warehouses._sqltext import quote_ident

q = quote_ident

REGISTRY = "tasksql_streams"
#: Marks the statements tasksql adds to a body (their row counts are not the body's).
HIDDEN = "/* tasksql:stream */ "
#: How changes are found, per dialect (DESCRIBE STREAM's ``mode``).
MODES = {"sqlite": "TRIGGERS", "postgres": "TRIGGERS", "duckdb": "SNAPSHOT_DIFF", "mysql": "TRIGGERS"}
POS, ACTION, ROW_ID = "tasksql$pos", "tasksql$action", "tasksql$row_id"
#: A DuckDB table's identity (``duckdb_tables() t``): replaced or dropped and created again, it differs.
DUCK_KEY = "t.database_name || '.' || t.schema_name || '.' || t.table_name || '|' || t.table_oid"


def _duck() -> ModuleType:
    from tasksql.warehouses import stream_duckdb

    return stream_duckdb


def _mysql() -> ModuleType:
    # MySQL / MariaDB have a module of their own (it builds on this one's names).
    from tasksql.warehouses import stream_mysql

    return stream_mysql


def registry_ddl(dialect: str) -> str:
    if dialect == "mysql":
        return str(_mysql().registry_ddl())
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
    elif dialect == "mysql":
        stale = _mysql().stale_sql()
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
        return "md5(ROW(" + ", ".join(f"{alias}.{q(c)}" for c in columns) + ")::text)"
    if keys:
        return "concat_ws(',', " + ", ".join(f"CAST({alias}.{q(k)} AS VARCHAR)" for k in keys) + ")"
    return "md5(CAST(row(" + ", ".join(f"{alias}.{q(c)}" for c in columns) + ") AS VARCHAR))"


# --- creating and dropping -----------------------------------------------------------------------


def capture_ddl(dialect: str, s: StreamDef, table: str) -> list[str]:
    """The statements that start capturing changes of ``table`` (SQL text) for ``s``, in one
    transaction with the registry row."""
    if dialect == "mysql":
        return list(_mysql().capture_ddl(s, table))
    cols = ", ".join(q(c) for c in s.columns)
    if dialect == "duckdb":
        return [
            f"CREATE TABLE {s.snapshot} AS SELECT CAST(0 AS BIGINT) AS {q(POS)}, rowid AS {q(_duck().RID)},"
            f" {cols} FROM {table}" + (" WHERE false" if s.show_initial_rows else "")
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
    ]
    head = f"INSERT INTO {chg} ({q(POS)}, {q(ACTION)}, {q(ROW_ID)}, {cols})"

    def images(action: str, rel: str, xid: str) -> str:
        picked = ", ".join(f"x.{q(c)}" for c in s.columns)
        return f"{head} SELECT {xid}, '{action}', NULL, {picked} FROM {rel} x"

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
    if dialect == "mysql":
        return list(_mysql().drop_ddl(s))
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
    if dialect == "mysql":
        return list(_mysql().claim_statements(s))
    where = f" WHERE name = {lit(s.name)}"
    if dialect == "duckdb":
        cols = ", ".join(q(c) for c in s.columns)
        return [
            f"{HIDDEN}UPDATE {REGISTRY} SET read_from = pos, pos = pos + 1{where}",
            f"{HIDDEN}DELETE FROM {s.snapshot} WHERE {q(POS)} < {_field(s, 'read_from')}",
            f"{HIDDEN}INSERT INTO {s.snapshot} SELECT {_field(s, 'pos')}, rowid, {cols} FROM {s.table}",
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
    """SQLite and PostgreSQL: the change rows (``tasksql$pos``, ``tasksql$action``,
    ``tasksql$row_id``, columns) of the window: the claimed one, or (a peek) all after the offset."""
    cols = ", ".join(q(c) for c in s.columns)
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


def _images(dialect: str, s: StreamDef, claimed: bool) -> tuple[str, str]:
    """PostgreSQL: the (inserted, deleted) row images of the window, columns only (DuckDB: those of
    the full comparison, and the fast path's rows and guard)."""
    cols = ", ".join(q(c) for c in s.columns)
    if dialect == "duckdb":
        duck = _duck()
        new, old = duck.generations(
            s, claimed=claimed, read_from=_field(s, "read_from"), pos=_field(s, "pos")
        )
        guard, _ = duck.appended_only(s, new, old)
        ins, dels = duck.images(s, new, old, guard)
        return str(ins), str(dels)
    window = _window(dialect, s, claimed)
    return (
        f"SELECT {cols} FROM ({window}) tasksql_w WHERE {q(ACTION)} = 'INSERT'",
        f"SELECT {cols} FROM ({window}) tasksql_w WHERE {q(ACTION)} = 'DELETE'",
    )


def meta_names(dialect: str) -> tuple[str, str, str]:
    """The metadata columns' names (PostgreSQL folds unquoted names to lower case)."""
    names = ("METADATA$ACTION", "METADATA$ISUPDATE", "METADATA$ROW_ID")
    return tuple(n.lower() for n in names) if dialect == "postgres" else names  # type: ignore[return-value]


def read_sql(dialect: str, s: StreamDef, *, claimed: bool) -> str:
    """The stream's rows: its table's columns and the three METADATA$ columns. A standard stream
    nets changes out (equal row images inserted and deleted in the window cancel, pairwise); an
    update is a DELETE and an INSERT with the same row id, both marked ISUPDATE."""
    if dialect == "mysql":
        return str(_mysql().read_sql(s, claimed=claimed))
    m_action, m_update, m_rowid = (q(n) for n in meta_names(dialect))
    cols = ", ".join(q(c) for c in s.columns)
    a, r = q(ACTION), q(ROW_ID)
    if dialect == "sqlite":
        return _read_sqlite(s, claimed, (m_action, m_update, m_rowid))
    ins, dels = _images(dialect, s, claimed)
    if s.append_only and dialect == "postgres":  # only inserts were captured: nothing to net
        netted = f"SELECT 'INSERT' AS {a}, {cols} FROM ({ins}) tasksql_i"
    elif s.append_only:
        netted = f"SELECT 'INSERT' AS {a}, {cols} FROM ({ins} EXCEPT ALL {dels}) tasksql_i"
    else:  # set operations: hashed, linear in the window
        netted = (
            f"SELECT 'INSERT' AS {a}, {cols} FROM ({ins} EXCEPT ALL {dels}) tasksql_i"
            f" UNION ALL SELECT 'DELETE', {cols} FROM ({dels} EXCEPT ALL {ins}) tasksql_d"
        )
    rid = _row_id(dialect, "tasksql_n", s.columns, s.key_columns)
    inserted = f"{cols}, 'INSERT' AS {m_action}, FALSE AS {m_update}, {rid} AS {m_rowid}"
    if s.append_only and dialect == "postgres":
        inserted = f"{cols}, 'INSERT' AS {m_action}, FALSE AS {m_update}, {rid} AS {m_rowid}"
        return f"SELECT {inserted} FROM ({ins}) tasksql_n"
    with_id = f"SELECT tasksql_n.*, {rid} AS {r} FROM ({netted}) tasksql_n"
    if s.append_only or not s.key_columns:
        # without a key a row is known by its values, and netting leaves no INSERT and DELETE of
        # equal values: nothing is an update (and no window over every row is needed)
        update = "FALSE"
    else:
        update = f"(MIN({a}) OVER (PARTITION BY {r}) <> MAX({a}) OVER (PARTITION BY {r}))"
    picked = f"{cols}, {a} AS {m_action}, {update} AS {m_update}, {r} AS {m_rowid}"
    out = f"SELECT {picked} FROM ({with_id}) tasksql_r"
    if dialect == "duckdb":  # a window of appends only (the common case) skips the comparison
        duck = _duck()
        new, old = duck.generations(
            s, claimed=claimed, read_from=_field(s, "read_from"), pos=_field(s, "pos")
        )
        guard, top = duck.appended_only(s, new, old)
        return f"{duck.appended(s, new, guard, top, inserted)} UNION ALL {out}"
    if dialect == "postgres":  # a window of inserts only (the common case) needs no netting
        deletes = f"(SELECT 1 FROM ({dels}) tasksql_x)"
        only = f"SELECT {inserted} FROM ({ins}) tasksql_n WHERE NOT EXISTS {deletes}"
        return f"{only} UNION ALL {out} WHERE EXISTS {deletes}"
    return out


def _read_sqlite(s: StreamDef, claimed: bool, names: tuple[str, str, str]) -> str:
    """SQLite: changes netted per row id (the table's rowid): a row's first image in the window is
    what it was before (when that change is a DELETE), its last image what it is now (when that
    change is an INSERT)."""
    m_action, m_update, m_rowid = names
    cols = ", ".join(q(c) for c in s.columns)
    a, r, p = q(ACTION), q(ROW_ID), q(POS)
    window = _window("sqlite", s, claimed)
    if s.append_only:
        inserted = f"{cols}, 'INSERT' AS {m_action}, 0 AS {m_update}, {r} AS {m_rowid}"
        return f"SELECT {inserted} FROM ({window}) tasksql_w"
    picked = ", ".join(f"c.{q(c)}" for c in s.columns)
    deletes = f"(SELECT 1 FROM ({window}) tasksql_x WHERE {a} = 'DELETE')"
    # the guard inside: SQLite evaluates it before grouping (a window of inserts only skips this)
    bounds = (
        f"SELECT {r}, MIN({p}) AS f, MAX({p}) AS l FROM ({window}) tasksql_w"
        f" WHERE EXISTS {deletes} GROUP BY {r}"
    )

    def side(action: str, at: str, other: str, other_action: str) -> str:
        return (
            f"SELECT {picked}, '{action}' AS {m_action},"
            f" (SELECT {a} FROM {s.changes} WHERE {p} = b.{other}) = '{other_action}' AS {m_update},"
            f" b.{r} AS {m_rowid} FROM ({bounds}) b JOIN {s.changes} c ON c.{p} = b.{at}"
            f" WHERE c.{a} = '{action}'"
        )

    inserted = f"{cols}, 'INSERT' AS {m_action}, 0 AS {m_update}, {r} AS {m_rowid}"
    only = f"SELECT {inserted} FROM ({window}) tasksql_w WHERE NOT EXISTS {deletes}"
    netted = f"{side('DELETE', 'f', 'l', 'INSERT')} UNION ALL {side('INSERT', 'l', 'f', 'DELETE')}"
    # a window of inserts only (the common case) needs no netting
    return f"{only} UNION ALL {netted}"


def has_data_sql(dialect: str, s: StreamDef) -> str:
    """A boolean expression: whether the stream may have rows (SQLite and PostgreSQL: whether a
    change was captured after the offset, so a row inserted and deleted again counts, as in
    Snowflake; DuckDB: whether the table differs from the snapshot)."""
    if dialect == "mysql":
        return str(_mysql().has_data_sql(s))
    if dialect == "duckdb":
        return str(_duck().has_data(s, _field(s, "pos")))
    return f"(EXISTS (SELECT 1 FROM ({_window(dialect, s, False)}) tasksql_h))"
