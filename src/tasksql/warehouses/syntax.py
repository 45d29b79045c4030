"""Is a statement valid SQL for a warehouse? Asked when a task is created, with the warehouse's own
parser where tasksql has it, so that a body that cannot parse is refused at CREATE, not at its
first run (as Databend checks task SQL at CREATE), and a valid one is never refused.

=============  ===========================================================================
dialect        parser, and what it decides
=============  ===========================================================================
duckdb         DuckDB's own parser (``extract_statements`` on an in-memory database: parses,
               runs nothing): every syntax error.
postgres       PostgreSQL's own parser (libpg_query through ``pglast``, in the ``postgres``
               extra; without it nothing is checked): every syntax error; names are not
               looked up.
sqlite         SQLite's own parser (``EXPLAIN`` on an empty in-memory database, which compiles
               and runs nothing): errors that SQLite reports as syntax (``near "x": syntax
               error``, ``incomplete input``, ``unrecognized token``); a missing table is not one.
mysql          no parser of MySQL's: only what MySQL's lexical rules make certain, a string,
               back-quoted name or comment left open. sqlglot's MySQL parser is not trusted to
               refuse (it does not know every MySQL/MariaDB statement).
clickhouse,    no check: ClickHouse's grammar is left to the server at the first run.
chdb
=============  ===========================================================================

A finding's offset is relative to the statement given; ``None`` means no syntax error was found
(or the dialect is not checked).
"""

from __future__ import annotations

import re
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

#: Dialects whose statements are checked at all (the rest is left to the run).
CHECKED_DIALECTS = frozenset({"duckdb", "postgres", "sqlite", "mysql"})


@dataclass(frozen=True, slots=True)
class SyntaxFinding:
    """A syntax error the warehouse's parser reported: ``message`` as the parser says it (one
    line), at ``offset`` (0-based) in the statement, ``parser`` naming who said so."""

    message: str
    offset: int
    parser: str


def find_syntax_error(dialect: str, statement: str) -> SyntaxFinding | None:
    """The syntax error of ``statement`` in ``dialect``, or None (see the module's table)."""
    check = _CHECKS.get(dialect)
    return None if check is None else check(statement)


# --- DuckDB --------------------------------------------------------------------------------------


class _DuckParser:
    """One in-memory DuckDB connection used only to parse, opened at first use, one caller at a
    time (a DuckDB connection is not shared between threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.conn: Any = None


_duck = _DuckParser()
#: DuckDB's error excerpt: ``LINE <n>: <text of the line>`` and a line of carets under the token.
_DUCKDB_LINE = re.compile(r"^LINE (\d+): (.*)\n( *)\^", re.M)


def _duckdb(statement: str) -> SyntaxFinding | None:
    import duckdb

    with _duck.lock:
        if _duck.conn is None:
            _duck.conn = duckdb.connect(":memory:")
        try:
            _duck.conn.extract_statements(statement)
        except duckdb.ParserException as err:
            text = str(err)
        else:
            return None
    message = text.splitlines()[0].removeprefix("Parser Error: ")
    return SyntaxFinding(message, _duckdb_offset(statement, text), "DuckDB")


def _duckdb_offset(statement: str, text: str) -> int:
    m = _DUCKDB_LINE.search(text)
    if m is None:
        return 0
    line_no, excerpt, caret = int(m.group(1)), m.group(2), len(m.group(3)) - len(f"LINE {m.group(1)}: ")
    lines = statement.split("\n")
    if not 1 <= line_no <= len(lines):
        return 0
    line_start = sum(len(line) + 1 for line in lines[: line_no - 1])
    line = lines[line_no - 1]
    shown = excerpt
    if shown.startswith("..."):  # a long line is shown as a window around the error
        shown, caret = shown[3:], caret - 3
    shown = shown.removesuffix("...")
    at = line.find(shown) if shown else 0
    return line_start + max(0, at) + max(0, caret)


# --- PostgreSQL ----------------------------------------------------------------------------------


def _postgres(statement: str) -> SyntaxFinding | None:
    try:
        from pglast import parser
    except ImportError:  # the postgres extra brings it; without it PostgreSQL bodies are not checked
        return None

    try:
        parser.parse_sql(statement)
    except parser.ParseError as err:
        message = err.args[0] if err.args else "syntax error"
        location = err.args[1] if len(err.args) > 1 else None
        # libpg_query's location is a 0-based offset; none means the end of the input
        offset = len(statement.rstrip()) if not isinstance(location, int) else location
        return SyntaxFinding(str(message), max(0, min(offset, len(statement))), "PostgreSQL")
    return None


# --- SQLite --------------------------------------------------------------------------------------

_SQLITE_SYNTAX = re.compile(
    r'near "(?P<near>.*)": syntax error|incomplete input|unrecognized token: "(?P<tok>.*)"'
)


def _sqlite(statement: str) -> SyntaxFinding | None:
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("EXPLAIN " + statement)
    except sqlite3.Warning:
        return None  # more than one statement: not a syntax question
    except sqlite3.Error as err:
        m = _SQLITE_SYNTAX.search(str(err))
        if m is None:
            return None  # no such table, no such function, ...: a question for the run
        word = m.group("near") or m.group("tok")
        offset = statement.find(word) if word else len(statement.rstrip())
        return SyntaxFinding(str(err), max(0, offset), "SQLite")
    finally:
        conn.close()
    return None


# --- MySQL ---------------------------------------------------------------------------------------


def _mysql(statement: str) -> SyntaxFinding | None:
    opened = _mysql_unclosed(statement)
    if opened is None:
        return None
    what = {"'": "string", '"': "string", "`": "quoted name", "/": "comment"}[statement[opened]]
    return SyntaxFinding(f"the {what} opened here is never closed", opened, "MySQL's lexical rules")


def _mysql_unclosed(text: str) -> int | None:
    """Where a string, back-quoted name or ``/* */`` comment that is never closed starts, read as
    MySQL reads text (a backslash escapes in strings, ``''`` doubles a quote, ``#`` and ``-- `` start
    line comments); None when everything opened is closed."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"`":
            j = i + 1
            while j < n:
                if text[j] == "\\" and c != "`":
                    j += 2
                    continue
                if text[j] == c:
                    if j + 1 < n and text[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                return i
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                return i
            i = j + 2
        elif c == "#" or (text.startswith("--", i) and (i + 2 >= n or text[i + 2] in " \t\n")):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
        else:
            i += 1
    return None


_CHECKS = {"duckdb": _duckdb, "postgres": _postgres, "sqlite": _sqlite, "mysql": _mysql}
