"""Change-tracking streams in a warehouse: create, drop, list, and bind statements that read them.

A stream ``s ON TABLE t`` lives in ``t``'s warehouse (its definition and offset in the
``tasksql_streams`` table there, its captured changes next to ``t``; the SQL is in
:mod:`.stream_sql`). A statement that names ``s`` in a FROM / JOIN / USING position is bound
before it runs (:func:`bind_statements`): ``WITH s AS (<the stream's rows>)`` is put in front of it,
and ``SYSTEM$STREAM_HAS_DATA('s')`` / ``STREAM_STATUS('s')`` are replaced by a boolean expression
reading the stream's state. When one of the statements is DML (or the body has INTO), the offset
claim (:func:`.stream_sql.claim_statements`) is put before them and the caller runs them all in ONE
transaction: the offset moves exactly when that transaction commits. A query alone only peeks.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import weakref
from collections.abc import Sequence

from sqlglot import Token, TokenType

from tasksql.errors import QueryFailed, ValidationError
from tasksql.model.trigger import STREAM_FUNCTION
from tasksql.warehouses import stream_mysql
from tasksql.warehouses import stream_sql as sq
from tasksql.warehouses._sqltext import parse_table_name, tokens
from tasksql.warehouses.base import Warehouse, WarehouseTransaction
from tasksql.warehouses.stream_sql import StreamDef

SUPPORTED = frozenset(sq.MODES)
_FUNCTION = STREAM_FUNCTION
_FIRST = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*(\(|[A-Za-z]+)(?:\s+(RECURSIVE)\b)?", re.S | re.I)
_QUERY_WORDS = frozenset({"select", "values", "from", "with", "table", "(", "show", "describe", "explain"})
_DML = re.compile(r"(?i)\b(insert|update|delete|merge)\b")
_CTE_ABLE = frozenset({"select", "values", "from", "with", "(", "insert", "update", "delete"})


def check_dialect(wh: Warehouse) -> None:
    """:raises NotSupportedError-like ValidationError: the warehouse has no stream capture."""
    if wh.dialect not in SUPPORTED:
        raise ValidationError(
            f"streams on tables are not supported on {wh.dialect} warehouses ({wh.name}): they capture"
            " changes with triggers or transactions, which this warehouse type lacks; create the stream"
            " on a DuckDB, SQLite, PostgreSQL or MySQL / MariaDB warehouse",
            code="NOT_SUPPORTED",
        )


#: Warehouses found without a stream registry, and when (monotonic): for :data:`ABSENT_FOR` seconds
#: their statements cost no registry query (a stream created in this process clears them all; one
#: created by another process is seen within that time).
_absent: weakref.WeakKeyDictionary[Warehouse, float] = weakref.WeakKeyDictionary()
ABSENT_FOR = 2.0


async def load(wh: Warehouse) -> dict[str, StreamDef]:
    """Every stream of ``wh`` by name ({} when it has none, or is not a kind that has streams)."""
    if wh.dialect not in SUPPORTED:
        return {}
    seen = _absent.get(wh)
    if seen is not None and time.monotonic() - seen < ABSENT_FOR:
        return {}
    try:
        rs = await wh.execute(sq.load_sql(wh.dialect))
    except QueryFailed as exc:
        if _no_registry(exc):
            _absent[wh] = time.monotonic()
            return {}
        raise
    return {d.name: d for d in map(sq.from_row, rs.rows)}


def _no_registry(exc: QueryFailed) -> bool:
    # A login that may not read the registry (one that only takes mapped roles, role_mapping.py)
    # has no streams it could consume either.
    text = exc.message.lower()
    return exc.sqlstate == "42P01" or (
        sq.REGISTRY in text
        and (
            "no such table" in text or "does not exist" in text or "doesn't exist" in text or "denied" in text
        )
    )


async def _load_in(txn: WarehouseTransaction, dialect: str, name: str) -> StreamDef | None:
    rs = await txn.execute(sq.load_sql(dialect).replace(" ORDER BY name", f" WHERE s.name = {sq.lit(name)}"))
    return sq.from_row(rs.rows[0]) if rs.rows else None


# --- CREATE / DROP -------------------------------------------------------------------------------


async def create(
    wh: Warehouse,
    *,
    name: str,
    table: str,
    append_only: bool,
    show_initial_rows: bool,
    comment: str | None,
    or_replace: bool,
    if_not_exists: bool,
    created_on: str,
) -> bool:
    """Create stream ``name`` on ``table`` (SQL text) with its capture, in one transaction. Returns
    False when it existed and ``if_not_exists`` left it alone.

    :raises QueryFailed: STREAM_EXISTS; TABLE_NOT_FOUND; the warehouse refused a statement.
    """
    check_dialect(wh)
    dialect = wh.dialect
    parse_table_name(table)  # :raises QueryFailed: INVALID_NAME
    _absent.clear()  # every warehouse object of this process looks again
    async with wh.transaction() as txn:
        await txn.execute(sq.registry_ddl(dialect))
        old = await _load_in(txn, dialect, name)
        if old is not None:
            if if_not_exists:
                return False
            if not or_replace:
                raise QueryFailed(
                    f"stream {name} already exists in warehouse {wh.name}", code="STREAM_EXISTS"
                )
            await _drop_objects(txn, dialect, old)
        try:
            columns = (await txn.execute(f"SELECT * FROM {table} LIMIT 0")).columns
        except QueryFailed as exc:
            raise QueryFailed(
                f"table {table} does not exist in warehouse {wh.name}: {exc.message}",
                code="TABLE_NOT_FOUND",
                sqlstate=exc.sqlstate,
            ) from exc
        table_key, keys = await _identity(txn, dialect, table)
        rs = await txn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {sq.REGISTRY}")
        definition = StreamDef(
            name=name,
            id=int(rs.rows[0][0]),
            table=table,
            table_key=table_key,
            mode=sq.MODES[dialect],
            append_only=append_only,
            show_initial_rows=show_initial_rows,
            columns=tuple(columns),
            key_columns=keys,
            comment=comment,
            created_on=created_on,
            read_from=0,
            pos=0,
            stale=False,
        )
        if dialect == "mysql":
            await _create_mysql(txn, definition, table)
            return True
        for sql in sq.capture_ddl(dialect, definition, table):
            await txn.execute(sql)
        await txn.execute(_insert_sql(dialect, definition))
    return True


def _insert_sql(dialect: str, s: StreamDef) -> str:
    values = [
        sq.lit(s.name),
        str(s.id),
        sq.lit(s.table),
        "NULL" if s.table_key is None else sq.lit(s.table_key),
        sq.lit(s.mode),
        _bool(dialect, s.append_only),
        _bool(dialect, s.show_initial_rows),
        sq.lit(json.dumps(list(s.columns))),
        sq.lit(json.dumps(list(s.key_columns))),
        "NULL" if s.comment is None else sq.lit(s.comment),
        sq.lit(s.created_on),
    ]
    pos = sq.initial_pos(dialect)
    return (
        f"INSERT INTO {sq.REGISTRY} (name, id, table_name, table_key, mode, append_only,"
        " show_initial_rows, columns, key_columns, comment, created_on, read_from, pos)"
        f" VALUES ({', '.join(values)}, {pos}, {pos})"
    )


async def _create_mysql(txn: WarehouseTransaction, s: StreamDef, table: str) -> None:
    """MySQL: the change table and triggers (each DDL commits implicitly), then the registry row and
    the initial rows in a transaction of their own. The triggers capture nothing until that commits,
    and a writer either committed before the initial rows are read or waits for the registry row.
    When a step fails, what the DDL made is removed again."""
    try:
        for sql in sq.capture_ddl("mysql", s, table):
            await txn.execute(sql)
        await txn.execute("START TRANSACTION")
        await txn.execute(_insert_sql("mysql", s))
        if s.show_initial_rows:
            await txn.execute(stream_mysql.initial_rows_sql(s, table))
    except BaseException:
        with contextlib.suppress(QueryFailed):
            await txn.execute("ROLLBACK")
            for sql in sq.drop_ddl("mysql", s):
                await txn.execute(sql)
        raise


def _bool(dialect: str, value: bool) -> str:
    if dialect == "sqlite":
        return "1" if value else "0"
    return "TRUE" if value else "FALSE"


async def _identity(
    txn: WarehouseTransaction, dialect: str, table: str
) -> tuple[str | None, tuple[str, ...]]:
    """The table's identity (DuckDB) and its primary key's columns (PostgreSQL, DuckDB)."""
    if dialect == "postgres":
        rs = await txn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
            f" AND a.attnum = ANY(i.indkey) WHERE i.indrelid = {sq.lit(table)}::regclass AND i.indisprimary"
            " ORDER BY array_position(i.indkey::int2[], a.attnum)"
        )
        return None, tuple(str(r[0]) for r in rs.rows)
    if dialect == "mysql":
        rs = await txn.execute(stream_mysql.keys_sql(table))
        return None, tuple(str(r[0]) for r in rs.rows)
    if dialect != "duckdb":
        return None, ()
    name = parse_table_name(table)
    parts = list(zip(name.parts, name.quoted, strict=True))

    def match(column: str, part: tuple[str, bool]) -> str:
        text, quoted = part
        return f"t.{column} = {sq.lit(text)}" if quoted else f"lower(t.{column}) = lower({sq.lit(text)})"

    conds = [match("table_name", parts[-1])]
    conds.append(match("schema_name", parts[-2]) if len(parts) > 1 else "t.schema_name = current_schema()")
    conds.append(
        match("database_name", parts[-3]) if len(parts) > 2 else "t.database_name = current_database()"
    )
    rs = await txn.execute(
        f"SELECT {sq.DUCK_KEY}, t.table_oid FROM duckdb_tables() t WHERE {' AND '.join(conds)}"
    )
    if not rs.rows:
        raise QueryFailed(f"{table} is not a table (a view cannot have a stream)", code="TABLE_NOT_FOUND")
    key, oid = str(rs.rows[0][0]), int(rs.rows[0][1])
    rs = await txn.execute(
        "SELECT constraint_column_names FROM duckdb_constraints()"
        f" WHERE constraint_type = 'PRIMARY KEY' AND table_oid = {oid}"
    )
    return key, tuple(str(c) for c in rs.rows[0][0]) if rs.rows else ()


async def _drop_objects(txn: WarehouseTransaction, dialect: str, s: StreamDef) -> None:
    for sql in sq.drop_ddl(dialect, s):
        await txn.execute(sql)
    await txn.execute(f"DELETE FROM {sq.REGISTRY} WHERE name = {sq.lit(s.name)}")


async def drop(wh: Warehouse, name: str) -> bool:
    """Drop stream ``name`` and its capture; False when there is no such stream."""
    if wh.dialect not in SUPPORTED or name not in await load(wh):
        return False
    async with wh.transaction() as txn:
        s = await _load_in(txn, wh.dialect, name)
        if s is None:
            return False
        await _drop_objects(txn, wh.dialect, s)
    return True


# --- binding statements --------------------------------------------------------------------------


def _wanted(value: str) -> str:
    name = value.replace("''", "'")
    if name.startswith('"') and name.endswith('"') and len(name) > 1:
        return name[1:-1]
    return name.rsplit(".", 1)[-1].lower()


def _named(streams: dict[str, StreamDef], name: str, wh_name: str) -> StreamDef:
    s = streams.get(name)
    if s is None:
        raise QueryFailed(f"stream {name} does not exist in warehouse {wh_name}", code="STREAM_NOT_FOUND")
    if s.stale:
        raise QueryFailed(
            f"stream {name} is stale: its table {s.table} was dropped or replaced since the stream was"
            f" created; CREATE OR REPLACE STREAM {name} ON TABLE {s.table} starts it again",
            code="STREAM_STALE",
        )
    return s


def referenced(dialect: str, sql: str, streams: dict[str, StreamDef]) -> list[str]:
    """The streams ``sql`` reads as relations: a name of ``streams`` right after FROM, JOIN or
    USING, or after a comma in a FROM list (a column of the same name is not a reference)."""
    found: list[str] = []
    for name, _, _ in _references(dialect, sql, streams):
        if name not in found:
            found.append(name)
    return found


def _references(
    dialect: str, sql: str, streams: dict[str, StreamDef]
) -> list[tuple[str, Token, Token | None]]:
    """Each reference to a stream in ``sql``: its name, its token, and the token after it."""
    if not streams:
        return []
    toks = tokens(sql, dialect)
    if toks is None:
        return []
    found: list[tuple[str, Token, Token | None]] = []
    in_from = False
    for i, tok in enumerate(toks):
        tt = tok.token_type
        if tt in (TokenType.FROM, TokenType.JOIN, TokenType.USING):
            in_from = True
        elif tt in (
            TokenType.SELECT,
            TokenType.WHERE,
            TokenType.GROUP_BY,
            TokenType.ORDER_BY,
            TokenType.SET,
            TokenType.VALUES,
            TokenType.ON,
            TokenType.HAVING,
            TokenType.LIMIT,
            TokenType.L_PAREN,
        ):
            in_from = False
        if tt not in (TokenType.VAR, TokenType.IDENTIFIER) or i == 0:
            continue
        name = tok.text if tt is TokenType.IDENTIFIER else tok.text.lower()
        prev = toks[i - 1].token_type
        after_dot = i + 1 < len(toks) and toks[i + 1].token_type is TokenType.DOT
        if (
            name in streams
            and not after_dot
            and (
                prev in (TokenType.FROM, TokenType.JOIN, TokenType.USING)
                or (prev is TokenType.COMMA and in_from)
            )
        ):
            found.append((name, tok, toks[i + 1] if i + 1 < len(toks) else None))
    return found


def consumes(sql: str) -> bool:
    """Whether ``sql`` is DML (its reads of a stream move the offset), not a query."""
    m = _FIRST.match(sql)
    first = m.group(1).lower() if m else ""
    if first == "with":
        return _DML.search(sql) is not None
    return first not in _QUERY_WORDS


def _with(dialect: str, sql: str, ctes: list[str]) -> str:
    m = _FIRST.match(sql)
    first = m.group(1).lower() if m else ""
    if m is None or first not in _CTE_ABLE:
        raise QueryFailed(
            "a stream is read by SELECT, INSERT, UPDATE or DELETE statements; create the table first and"
            " INSERT INTO it the rows of the stream",
            code="STREAM_NOT_READABLE_HERE",
        )
    if first == "with":
        head = m.group(0)
        return f"{head} {', '.join(ctes)}, {sql[m.end() :]}"
    return f"WITH {', '.join(ctes)}\n{sql}"


def _functions(dialect: str, sql: str, streams: dict[str, StreamDef], wh_name: str) -> str:
    if "stream" not in sql.lower():
        return sql
    return _FUNCTION.sub(
        lambda m: sq.has_data_sql(dialect, _named(streams, _wanted(m.group(1)), wh_name)), sql
    )


def bind_text(
    wh: Warehouse, sql: str, streams: dict[str, StreamDef], *, claimed: frozenset[str] = frozenset()
) -> str:
    """``sql`` with its stream functions replaced and its streams' rows put in front as CTEs (the
    claimed window of the streams in ``claimed``, a peek for the others)."""
    dialect = wh.dialect
    sql = _functions(dialect, sql, streams, wh.name)
    if dialect == "mysql":
        return _inline(sql, streams, wh.name, claimed)
    names = referenced(dialect, sql, streams)
    if not names:
        return sql
    ctes = [
        f"{_cte_name(n)} AS ({sq.read_sql(dialect, _named(streams, n, wh.name), claimed=n in claimed)})"
        for n in names
    ]
    return _with(dialect, sql, ctes)


def _inline(sql: str, streams: dict[str, StreamDef], wh_name: str, claimed: frozenset[str]) -> str:
    """MySQL / MariaDB: each reference replaced by a derived table (MariaDB takes no WITH in front
    of INSERT, UPDATE or DELETE), aliased by the stream's name unless the statement gives an alias."""
    out: list[str] = []
    at = 0
    for name, tok, after in _references("mysql", sql, streams):
        rows = sq.read_sql("mysql", _named(streams, name, wh_name), claimed=name in claimed)
        aliased = after is not None and (
            after.token_type in (TokenType.ALIAS, TokenType.VAR, TokenType.IDENTIFIER)
        )
        out.append(sql[at : tok.start])
        out.append(f"({rows})" if aliased else f"({rows}) AS {_mysql_name(name)}")
        at = tok.end + 1
    if not out:
        return sql
    return "".join(out) + sql[at:]


def _mysql_name(name: str) -> str:
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else "`" + name.replace("`", "``") + "`"


def _cte_name(name: str) -> str:
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else sq.q(name)


async def bind_statements(
    wh: Warehouse,
    statements: Sequence[str],
    *,
    into: bool = False,
    streams: dict[str, StreamDef] | None = None,
) -> tuple[list[str], bool]:
    """The statements of a body (or one statement) bound to the streams they read, and whether
    they consume (then the result starts with the claims, and must run in ONE transaction).

    A cheap test first: statements without FROM/JOIN/USING or a stream function cost nothing more
    (:func:`may_bind`, which a caller may ask first to skip the call).
    """
    if not may_bind(wh, statements):
        return list(statements), False
    if streams is None:
        streams = await load(wh)
    if not streams:
        return list(statements), False
    reads = [referenced(wh.dialect, sql, streams) for sql in statements]
    consuming = [n for sql, names in zip(statements, reads, strict=True) for n in names if consumes(sql)]
    if into and statements:
        consuming += reads[-1]
    claimed = sorted(set(consuming))
    prefix = [c for n in claimed for c in sq.claim_statements(wh.dialect, _named(streams, n, wh.name))]
    bound = [bind_text(wh, sql, streams, claimed=frozenset(claimed)) for sql in statements]
    return prefix + bound, bool(claimed)


def may_bind(wh: Warehouse, statements: Sequence[str]) -> bool:
    """Whether :func:`bind_statements` may change ``statements`` (False: they read no stream, and
    it would return them as they are, consuming nothing). No catalog or warehouse is read."""
    return wh.dialect in SUPPORTED and any(map(_may_read, statements))


_MAY_READ = re.compile(r"(?i)\b(?:from|join|using|stream_has_data|stream_status)\b")


def _may_read(sql: str) -> bool:
    # Every run asks this of its statements: the case-insensitive search costs several µs, a
    # look for the words in ASCII text lowered a fraction of that (exact: the pattern cannot
    # match without one of them; other text, whose case folding differs, is searched as before).
    if sql.isascii():
        low = sql.lower()
        # the words _MAY_READ cannot match without (spelled out: a generator over them was a
        # frame and up to four resumes per run)
        if not ("from" in low or "join" in low or "using" in low or "stream_" in low):
            return False
    return _MAY_READ.search(sql) is not None


async def bind_condition(wh: Warehouse, condition: str) -> str:
    """A WHEN condition with SYSTEM$STREAM_HAS_DATA / STREAM_STATUS replaced by the stream's state."""
    if wh.dialect not in SUPPORTED or _FUNCTION.search(condition) is None:
        return condition
    streams = await load(wh)
    return _functions(wh.dialect, condition, streams, wh.name)


async def has_data(wh: Warehouse, names: Sequence[str]) -> bool:
    """Whether one of the streams ``names`` (as written in ``SYSTEM$STREAM_HAS_DATA('...')``) has
    data: the registry, then one query of the streams' state and nothing else (the check of a
    triggered task).

    :raises QueryFailed: STREAM_NOT_FOUND, STREAM_STALE, or the warehouse failed.
    """
    check_dialect(wh)
    streams = await load(wh)
    parts = [sq.has_data_sql(wh.dialect, _named(streams, _wanted(n), wh.name)) for n in names]
    if not parts:
        return False
    rs = await wh.execute(f"SELECT {' OR '.join(parts)}")
    return bool(rs.rows and rs.rows[0][0])
