"""The named queries file: its format, and that every query is valid and used."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

import tasksql.catalog
from tasksql.catalog.migrate import load_schema
from tasksql.catalog.queries import load_queries, parse_queries
from tasksql.catalog.sqlite.schema import split_sqlite_script
from tasksql.errors import CatalogError

CATALOG_SOURCE = Path(tasksql.catalog.__file__).parent


class _AnyParameter(dict[str, object]):
    """Binds NULL to every named parameter, so any query can be prepared."""

    def __missing__(self, key: str) -> object:
        return None


def test_parse_queries_reads_names_descriptions_and_sql() -> None:
    text = """-- file comment

-- name: first_one
-- Reads one thing.
SELECT 1
FROM t;

-- name: second
-- Writes it.
INSERT INTO t VALUES (:x);
"""
    queries = parse_queries(text)

    assert list(queries) == ["first_one", "second"]
    assert queries["first_one"].description == "Reads one thing."
    assert queries["first_one"].sql == "SELECT 1\nFROM t"
    assert queries["second"].sql == "INSERT INTO t VALUES (:x)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-- name: a\nSELECT 1;", "description"),
        ("-- name: a\n-- d\nSELECT 1;\n-- name: a\n-- d\nSELECT 2;", "twice"),
        ("-- name: Bad-Name\n-- d\nSELECT 1;", "bad query name"),
        ("-- name: a\n-- d\n\n-- name: b\n-- d\nSELECT 1;", "no SQL"),
        ("-- name:\n-- d\nSELECT 1;", "bad query name"),
    ],
)
def test_parse_queries_refuses_malformed_files(text: str, message: str) -> None:
    with pytest.raises(CatalogError) as info:
        parse_queries(text, "q.sql")
    assert info.value.code == "BAD_QUERIES_FILE"
    assert message in str(info.value) and "q.sql:" in str(info.value)


def test_every_query_is_valid_against_the_schema() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for statement in split_sqlite_script(load_schema("sqlite")):
            conn.execute(statement)
        for query in load_queries("sqlite").values():
            assert query.description, query.name
            conn.execute("EXPLAIN " + query.sql, _AnyParameter()).fetchall()
    finally:
        conn.close()


def test_every_query_is_used_by_the_catalog() -> None:
    # the SQLite package and the code every backend shares (not another backend's package)
    paths = [*CATALOG_SOURCE.glob("*.py"), *(CATALOG_SOURCE / "jobs").glob("*.py")]
    paths += (CATALOG_SOURCE / "sqlite").glob("*.py")
    source = "\n".join(path.read_text() for path in paths)
    used = set(re.findall(r"""["']([a-z][a-z0-9_]*)["']""", source))

    unused = sorted(set(load_queries("sqlite")) - used)

    assert unused == []
