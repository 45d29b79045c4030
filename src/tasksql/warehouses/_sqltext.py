"""Small pieces of SQL text the warehouses build or check: names, session parameters, INTO wrapping.

Everything tasksql splices into SQL goes through here, so it is checked once: table names are split
into identifier parts and re-quoted, session parameter names and values must look like a name and
a literal, and statements are split with sqlglot's tokenizer for the warehouse's dialect (strings,
dollar quotes and comments understood).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlglot import Token, TokenType
from sqlglot.dialects import Dialect
from sqlglot.errors import SqlglotError

from tasksql.errors import QueryFailed

# SQLSTATE values used when tasksql itself refuses a statement.
SQLSTATE_SYNTAX = "42601"
SQLSTATE_UNDEFINED_TABLE = "42P01"
SQLSTATE_INVALID_NAME = "42602"
SQLSTATE_CANCELED = "57014"

_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_PART = re.compile(r'\s*(?:"((?:[^"]|"")*)"|`((?:[^`]|``)*)`|([A-Za-z_][A-Za-z0-9_$]*))\s*')
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)?")
_PARAM_VALUE = re.compile(
    r"""\s*(?:'(?:[^']|'')*'|[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[A-Za-z_][A-Za-z0-9_]*)\s*"""
)


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (PostgreSQL, DuckDB and SQLite all accept it)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True, kw_only=True, slots=True)
class TableName:
    """A table name split into parts; ``sql`` is safe to splice into a statement."""

    parts: tuple[str, ...]
    quoted: tuple[bool, ...]

    @property
    def sql(self) -> str:
        return self.render(quote_ident)

    def render(self, quote: Callable[[str], str]) -> str:
        """The name as SQL, its quoted parts quoted by ``quote`` (a dialect's own quoting)."""
        return ".".join(quote(p) if q else p for p, q in zip(self.parts, self.quoted, strict=True))

    @property
    def name(self) -> str:
        return self.parts[-1]


def parse_table_name(text: str) -> TableName:
    """Split ``[catalog.][schema.]table`` (parts bare, double-quoted or in MySQL's backticks) as
    written in SQL.

    Bare parts are kept bare so that the warehouse folds their case as it always does.

    :raises QueryFailed: ``text`` is not such a name (code ``INVALID_NAME``).
    """
    parts: list[str] = []
    quoted: list[bool] = []
    pos, valid = 0, False
    while len(parts) < 3:
        m = _PART.match(text, pos)
        if m is None:
            valid = False  # nothing, or a dot with no name after it
            break
        if m.group(1) is not None:
            parts.append(m.group(1).replace('""', '"'))
        elif m.group(2) is not None:  # MySQL's backticks
            parts.append(m.group(2).replace("``", "`"))
        else:
            parts.append(m.group(3))
        quoted.append(m.group(3) is None)
        pos, valid = m.end(), True
        if pos < len(text) and text[pos] == ".":
            pos, valid = pos + 1, False
            continue
        break
    if not valid or pos != len(text) or any(p == "" for p in parts):
        raise QueryFailed(
            f"not a valid table name: {text!r}", code="INVALID_NAME", sqlstate=SQLSTATE_INVALID_NAME
        )
    return TableName(parts=tuple(parts), quoted=tuple(quoted))


def check_relation_name(name: str) -> str:
    """A name under which an extra relation (``tables=``) is made visible, double-quoted.

    :raises QueryFailed: empty name (code ``INVALID_NAME``).
    """
    if not name or "\x00" in name:
        raise QueryFailed(
            f"not a valid relation name: {name!r}", code="INVALID_NAME", sqlstate=SQLSTATE_INVALID_NAME
        )
    return quote_ident(name)


def check_session_params(params: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Validate (name, SQL literal) pairs: a name (``a`` or ``a.b``) and ONE literal each.

    Literals are a quoted string, a number or a bare word (``on``, ``true``, ``UTC``).

    :raises QueryFailed: anything else (code ``INVALID_SESSION_PARAM``), so nothing can be
        smuggled into the SET statements.
    """
    out: list[tuple[str, str]] = []
    for name, value in params:
        if not _PARAM_NAME.fullmatch(name):
            raise QueryFailed(
                f"invalid session parameter name: {name!r}",
                code="INVALID_SESSION_PARAM",
                sqlstate=SQLSTATE_INVALID_NAME,
            )
        if not _PARAM_VALUE.fullmatch(value):
            raise QueryFailed(
                f"invalid value for session parameter {name}: {value!r} (expected one SQL literal)",
                code="INVALID_SESSION_PARAM",
                sqlstate="22023",
            )
        out.append((name, value.strip()))
    return out


# --- statements ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _tokenizer(dialect: str) -> Dialect:
    return Dialect.get_or_raise(dialect)


def tokens(sql: str, dialect: str) -> list[Token] | None:
    """sqlglot's tokens of ``sql``, or None when sqlglot cannot tokenize it (left to the warehouse)."""
    try:
        return list(_tokenizer(dialect).tokenize(sql))
    except SqlglotError:
        return None


#: Statements up to this many characters have their analysis cached (tasks run the same text again
#: and again); longer ones (bulk VALUES lists) are analysed every time rather than kept in memory.
CACHE_TEXT_LIMIT = 4000


def count_statements(sql: str, dialect: str) -> int:
    """How many statements ``sql`` holds (empty ones between semicolons do not count).

    Returns 1 when the text cannot be tokenized: the warehouse's own parser then reports the error.
    """
    if ";" not in sql:
        return 1 if sql.strip() else 0
    if len(sql) <= CACHE_TEXT_LIMIT:
        return _count_cached(sql, dialect)
    return _count(sql, dialect)


@functools.lru_cache(maxsize=4096)
def _count_cached(sql: str, dialect: str) -> int:
    return _count(sql, dialect)


def _count(sql: str, dialect: str) -> int:
    toks = tokens(sql, dialect)
    if toks is None:
        return 1
    count, pending = 0, False
    for t in toks:
        if t.token_type == TokenType.SEMICOLON:
            count += pending
            pending = False
        else:
            pending = True
    return count + pending


def multiple_statements(sql: str) -> QueryFailed:
    return QueryFailed(
        f"only one statement can run here; send statements one at a time (got: {sql.strip()[:80]!r})",
        code="MULTIPLE_STATEMENTS",
        sqlstate=SQLSTATE_SYNTAX,
    )


_QUERY_START = {TokenType.SELECT, TokenType.VALUES, TokenType.FROM, TokenType.L_PAREN, TokenType.TABLE}
_NOT_QUERY = {TokenType.INSERT, TokenType.UPDATE, TokenType.DELETE, TokenType.MERGE}


def query_text(sql: str, dialect: str) -> str:
    """The text of a query without trailing semicolons and comments, ready to wrap in a subquery.

    :raises QueryFailed: ``sql`` is not a query (SELECT, WITH ... SELECT, VALUES, set operations;
        code ``INTO_NOT_A_QUERY``).
    """
    toks = tokens(sql, dialect)
    if toks is None:  # let the warehouse report what is wrong with it
        return sql.strip().rstrip(";")
    while toks and toks[-1].token_type == TokenType.SEMICOLON:
        toks.pop()
    if not toks or not _is_query(toks):
        head = sql.strip().split(None, 1)[0] if sql.strip() else "nothing"
        raise QueryFailed(
            f"INTO needs the last statement of the body to be a query (SELECT ...), not {head.upper()}",
            code="INTO_NOT_A_QUERY",
        )
    return sql[: toks[-1].end + 1]


def _is_query(toks: list[Token]) -> bool:
    first = toks[0].token_type
    if first in _QUERY_START:
        return True
    if first != TokenType.WITH:
        return False
    # WITH a AS (...), b AS (...) <main statement>: the first keyword at depth 0 that starts a
    # statement decides.
    depth = 0
    for t in toks[1:]:
        if t.token_type == TokenType.L_PAREN:
            depth += 1
        elif t.token_type == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and t.token_type in _QUERY_START - {TokenType.L_PAREN, TokenType.FROM}:
            return True
        elif depth == 0 and t.token_type in _NOT_QUERY:
            return False
    return False


def wrap_query(query: str, alias: str = "tasksql_into") -> str:
    """``query`` as a derived table (newlines keep a trailing comment from eating the parenthesis)."""
    return f"(\n{query}\n) AS {alias}"
