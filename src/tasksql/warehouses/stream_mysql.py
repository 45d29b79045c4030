"""The SQL of change-tracking streams on MySQL and MariaDB warehouses: pure text, no I/O.

:mod:`.stream_sql` hands every MySQL case to this module. Capture is by row triggers (MySQL has no
statement triggers): AFTER INSERT / UPDATE / DELETE on the table copy each row image into the change
table ``tasksql_chg_<id>`` (``tasksql$pos`` an AUTO_INCREMENT key, ``tasksql$action``, then the
table's columns).

**Why the positions can be trusted.** An AUTO_INCREMENT value is handed out when a row is inserted,
not when its transaction commits, so a writer could commit position 100 after another committed 101
and a consumer that read up to 101 would never see 100. The triggers therefore write their change
row with ``INSERT ... SELECT ... FROM tasksql_streams WHERE name = '<stream>' LOCK IN SHARE MODE``:
every writing transaction holds a shared lock on its stream's registry row until it ends (shared
locks do not stop each other: writers still write side by side). The consumer's claim first
UPDATEs that row (an exclusive lock), which waits until every writer that captured a change has
committed or rolled back, and keeps new writers waiting until the consumer itself commits. When
the claim then reads ``max(tasksql$pos)``, no position below it can still appear: the window
``read_from < pos <= pos'`` is exact, as on SQLite. The price: a write to the table waits while a
consuming transaction runs.

Reads are derived tables (``(<rows>) AS s`` in place of the stream's name, see
:func:`.streams.bind_text`): MariaDB allows no ``WITH`` in front of INSERT, UPDATE or DELETE. The
derived table is one SELECT over the change table, which MariaDB merges into the statement; netting
(what ``EXCEPT ALL`` both ways keeps, found with window functions: MariaDB 10.2, MySQL 8.0) runs
only when the window holds a DELETE.
"""

from __future__ import annotations

from tasksql.warehouses.mysql_sql import quote as q
from tasksql.warehouses.stream_sql import ACTION, HIDDEN, POS, REGISTRY, StreamDef, lit

MODE = "TRIGGERS"


def registry_ddl() -> str:
    # InnoDB for its row locks (the capture's ordering rests on them); a key of bounded length.
    return (
        f"CREATE TABLE IF NOT EXISTS {REGISTRY} (name VARCHAR(255) NOT NULL PRIMARY KEY,"
        " id BIGINT NOT NULL, table_name TEXT NOT NULL, table_key TEXT, mode TEXT NOT NULL,"
        " append_only BOOLEAN NOT NULL, show_initial_rows BOOLEAN NOT NULL, columns TEXT NOT NULL,"
        " key_columns TEXT NOT NULL, comment TEXT, created_on TEXT NOT NULL,"
        " read_from BIGINT NOT NULL, pos BIGINT NOT NULL) ENGINE = InnoDB"
    )


def stale_sql() -> str:
    """Whether stream ``s``'s table was dropped or replaced: its insert trigger is gone with it."""
    return (
        "NOT EXISTS (SELECT 1 FROM information_schema.TRIGGERS g WHERE g.TRIGGER_SCHEMA = DATABASE()"
        " AND g.TRIGGER_NAME = concat('tasksql_chg_', s.id, '_i'))"
    )


def keys_sql(table: str) -> str:
    """The table's primary key columns, in order (``table`` is one name, or ``db.name``)."""
    parts = [p.strip("`") for p in table.split(".")]
    schema = f"{lit(parts[0])}" if len(parts) > 1 else "DATABASE()"
    return (
        "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE CONSTRAINT_NAME = 'PRIMARY'"
        f" AND TABLE_SCHEMA = {schema} AND TABLE_NAME = {lit(parts[-1])} ORDER BY ORDINAL_POSITION"
    )


def _lock(s: StreamDef) -> str:
    """FROM clause that takes the writer's shared lock on the stream's registry row (no row: the
    stream is not there yet, or any more, and nothing is captured)."""
    return f" FROM {REGISTRY} WHERE name = {lit(s.name)} LOCK IN SHARE MODE"


def capture_ddl(s: StreamDef, table: str) -> list[str]:
    """The change table and the triggers (each DDL commits on its own in MySQL; the triggers capture
    nothing until the stream's registry row is committed)."""
    chg = s.changes
    cols = ", ".join(q(c) for c in s.columns)
    out = [
        f"CREATE TABLE {chg} ({q(POS)} BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        f" {q(ACTION)} VARCHAR(6) NOT NULL DEFAULT 'INSERT') ENGINE = InnoDB"
        f" SELECT {cols} FROM {table} WHERE 1 = 0"
    ]
    head = f"INSERT INTO {chg} ({q(ACTION)}, {cols})"

    def image(action: str, ref: str) -> str:
        return f"{head} SELECT '{action}', " + ", ".join(f"{ref}.{q(c)}" for c in s.columns) + _lock(s)

    out.append(f"CREATE TRIGGER {chg}_i AFTER INSERT ON {table} FOR EACH ROW {image('INSERT', 'NEW')}")
    if not s.append_only:
        out.append(
            f"CREATE TRIGGER {chg}_u AFTER UPDATE ON {table} FOR EACH ROW BEGIN"
            f" {image('DELETE', 'OLD')}; {image('INSERT', 'NEW')}; END"
        )
        out.append(f"CREATE TRIGGER {chg}_d AFTER DELETE ON {table} FOR EACH ROW {image('DELETE', 'OLD')}")
    return out


def initial_rows_sql(s: StreamDef, table: str) -> str:
    """SHOW_INITIAL_ROWS: the table's rows as the first changes, in the transaction that inserts the
    registry row (after it: a writer either committed before this read, or waits for that row)."""
    cols = ", ".join(q(c) for c in s.columns)
    return f"INSERT INTO {s.changes} ({q(ACTION)}, {cols}) SELECT 'INSERT', {cols} FROM {table}"


def drop_ddl(s: StreamDef) -> list[str]:
    out = [] if s.stale else [f"DROP TRIGGER IF EXISTS {s.changes}_{k}" for k in "iud"]
    return [*out, f"DROP TABLE IF EXISTS {s.changes}"]


def _field(s: StreamDef, column: str) -> str:
    return f"(SELECT {column} FROM {REGISTRY} WHERE name = {lit(s.name)})"


def claim_statements(s: StreamDef) -> list[str]:
    """Lock the registry row (waits for the writers in flight, holds new ones), purge what the
    last consumer committed, and move the offset to the last change now committed."""
    where = f" WHERE name = {lit(s.name)}"
    p = q(POS)
    return [
        f"{HIDDEN}UPDATE {REGISTRY} SET read_from = pos{where}",
        f"{HIDDEN}DELETE FROM {s.changes} WHERE {p} <= {_field(s, 'read_from')}",
        f"{HIDDEN}UPDATE {REGISTRY} SET pos = GREATEST(pos, (SELECT coalesce(max({p}), 0)"
        f" FROM {s.changes})){where}",
    ]


def _in_window(s: StreamDef, alias: str, claimed: bool) -> str:
    p = f"{alias}.{q(POS)}"
    if claimed:
        return f"{p} > {_field(s, 'read_from')} AND {p} <= {_field(s, 'pos')}"
    return f"{p} > {_field(s, 'pos')}"


def _row_id(alias: str, s: StreamDef) -> str:
    if s.key_columns:
        return "concat_ws(',', " + ", ".join(f"{alias}.{q(k)}" for k in s.key_columns) + ")"
    return "md5(JSON_ARRAY(" + ", ".join(f"{alias}.{q(c)}" for c in s.columns) + "))"


def _survivors(s: StreamDef, claimed: bool) -> str:
    """The change rows netting keeps (``p`` position, ``a`` action, ``k`` row id), as EXCEPT ALL
    both ways would: of n inserts and m deletes of equal row images, the last n - m inserts (or
    m - n deletes) remain. Images are compared by an md5 of their values (MariaDB compares only
    the first max_sort_length bytes of a long text when it partitions by it)."""
    p, a = q(POS), q(ACTION)
    image = "md5(JSON_ARRAY(" + ", ".join(f"c.{q(col)}" for col in s.columns) + "))"
    rows = (
        f"SELECT c.{p} AS p, c.{a} AS a, {_row_id('c', s)} AS k, {image} AS h"
        f" FROM {s.changes} c WHERE {_in_window(s, 'c', claimed)}"
    )
    counted = (
        "SELECT p, a, k, ROW_NUMBER() OVER (PARTITION BY h, a ORDER BY p) AS rn,"
        " SUM(a = 'INSERT') OVER (PARTITION BY h) AS ni, SUM(a = 'DELETE') OVER (PARTITION BY h) AS nd"
        f" FROM ({rows}) tasksql_c"
    )
    return (
        f"SELECT p, a, k FROM ({counted}) tasksql_s"
        " WHERE (a = 'INSERT' AND rn > nd) OR (a = 'DELETE' AND rn > ni)"
    )


def read_sql(s: StreamDef, *, claimed: bool) -> str:
    """The stream's rows (columns, then METADATA$ACTION, METADATA$ISUPDATE, METADATA$ROW_ID), netted
    as on PostgreSQL. One SELECT over the change table, so that MariaDB merges it into the statement
    instead of materialising it: a window without DELETE (the common case) is its INSERT rows; with
    one, the rows netting keeps (:func:`_survivors`, computed only then)."""
    m_action, m_update, m_rowid = (q(n) for n in ("METADATA$ACTION", "METADATA$ISUPDATE", "METADATA$ROW_ID"))
    cols = ", ".join(f"w.{q(c)}" for c in s.columns)
    p, a = q(POS), q(ACTION)
    window = _in_window(s, "w", claimed)
    rid = _row_id("w", s)
    if s.append_only:  # only inserts were captured: nothing to net
        return (
            f"SELECT {cols}, 'INSERT' AS {m_action}, FALSE AS {m_update}, {rid} AS {m_rowid}"
            f" FROM {s.changes} w WHERE {window}"
        )
    deletes = f"EXISTS (SELECT 1 FROM {s.changes} d WHERE {_in_window(s, 'd', claimed)} AND d.{a} = 'DELETE')"
    kept = _survivors(s, claimed)
    if s.key_columns:  # an update: a kept DELETE and INSERT of one key
        flagged = (
            "SELECT p, MIN(a) OVER (PARTITION BY k) <> MAX(a) OVER (PARTITION BY k) AS u"
            f" FROM ({kept}) tasksql_k"
        )
        update = f"({deletes} AND w.{p} IN (SELECT p FROM ({flagged}) tasksql_u WHERE u))"
    else:  # a row known by its values is never both inserted and deleted after netting
        update = "FALSE"
    return (
        f"SELECT {cols}, w.{a} AS {m_action}, {update} AS {m_update}, {rid} AS {m_rowid}"
        f" FROM {s.changes} w WHERE {window} AND ((NOT {deletes} AND w.{a} = 'INSERT')"
        f" OR ({deletes} AND w.{p} IN (SELECT p FROM ({kept}) tasksql_p)))"
    )


def has_data_sql(s: StreamDef) -> str:
    return f"(EXISTS (SELECT 1 FROM {s.changes} WHERE {q(POS)} > {_field(s, 'pos')}))"
