"""Named SQL queries, read from ``catalog/sql/<dialect>/queries.sql``.

The catalog's SQL lives in ``.sql`` files, not in Python strings. In ``queries.sql`` each query
starts with a header line ``-- name: <query_name>``, followed by a one-line ``-- <description>``,
followed by the SQL text (one statement; a trailing semicolon is dropped). Lines before the first
header are the file's own comments. A backend loads the file once and looks queries up by name.
A query with optional filters has one line per filter ending in ``-- if <filter>``; the catalog runs
it with only the lines of the filters given (:meth:`~tasksql.catalog.dialect.CatalogDialect.shaped`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import NoReturn

from tasksql.errors import CatalogError

_HEADER = re.compile(r"^--\s*name:\s*(?P<name>\S*)\s*$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Query:
    """One named query: ``sql`` is ready to execute (no trailing semicolon)."""

    name: str
    description: str
    sql: str


def sql_text(dialect: str, relative: str) -> str:
    """The text of ``catalog/sql/<dialect>/<relative>``, shipped as package data.

    :raises CatalogError: (code ``SQL_FILE_MISSING``) no such file.
    """
    path = resources.files("tasksql.catalog").joinpath("sql", dialect, *relative.split("/"))
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError(
            f"catalog SQL file {dialect}/{relative} is missing", code="SQL_FILE_MISSING"
        ) from None


def parse_queries(text: str, source: str = "queries.sql") -> dict[str, Query]:
    """Split a queries file into named queries, in file order.

    :raises CatalogError: (code ``BAD_QUERIES_FILE``) a header without a valid name, a duplicate
        name, a query without a description line or without SQL.
    """
    out: dict[str, Query] = {}
    current: str | None = None
    description = ""
    body: list[str] = []

    def finish(lineno: int) -> None:
        if current is None:
            return
        sql = "\n".join(body).strip().removesuffix(";").strip()
        if not sql:
            _bad(source, lineno, f"query {current!r} has no SQL")
        out[current] = Query(name=current, description=description, sql=sql)

    for lineno, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            finish(lineno)
            current, description, body = header["name"], "", []
            if not _NAME.match(current):
                _bad(source, lineno, f"bad query name {current!r} (lower case letters, digits, _)")
            if current in out:
                _bad(source, lineno, f"query {current!r} is defined twice")
            continue
        if current is None:
            continue
        if not description and not body:
            if not line.startswith("--") or not line.removeprefix("--").strip():
                _bad(source, lineno, f"query {current!r} needs a one-line '-- description' after its name")
            description = line.removeprefix("--").strip()
            continue
        body.append(line)
    finish(len(text.splitlines()))
    return out


def _bad(source: str, lineno: int, message: str) -> NoReturn:
    raise CatalogError(f"{source}:{lineno}: {message}", code="BAD_QUERIES_FILE")


@cache
def load_queries(dialect: str) -> dict[str, Query]:
    """The named queries of one dialect (read once per process). Do not mutate the result."""
    return parse_queries(sql_text(dialect, "queries.sql"), f"{dialect}/queries.sql")
