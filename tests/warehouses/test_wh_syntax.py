"""tasksql.warehouses.syntax: each warehouse's own parser decides, names are never looked up, and
valid statements of each dialect (including ones sqlglot does not know) are never refused."""

from __future__ import annotations

import pytest

from tasksql.warehouses.syntax import find_syntax_error

VALID = {
    "duckdb": [
        "SELECT * FROM no_such_table",
        "PIVOT t ON a USING sum(b)",
        "SELECT {'a': 1}, [1, 2, 3][2], 'x'::VARCHAR",
        "CREATE OR REPLACE MACRO m(a) AS a + 1",
        "COPY t TO 'out.parquet' (FORMAT parquet)",
        "INSERT OR REPLACE INTO t SELECT * FROM s",
        "SELECT * EXCLUDE (a) FROM t",
        "SUMMARIZE t",
    ],
    "postgres": [
        "VACUUM (ANALYZE, VERBOSE) t",
        "CALL refresh(1, 'x')",
        "INSERT INTO t SELECT * FROM s ON CONFLICT (a) DO UPDATE SET b = EXCLUDED.b",
        "SELECT a FROM t FOR UPDATE SKIP LOCKED",
        "REFRESH MATERIALIZED VIEW CONCURRENTLY mv",
        "SELECT $$dollar$$, E'esc\\n', x::int",
        "LISTEN channel",
    ],
    "sqlite": [
        "INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO NOTHING",
        "SELECT * FROM no_such_table",
        "PRAGMA integrity_check",
        "VACUUM",
        "REPLACE INTO t VALUES (1)",
        "SELECT json_extract(x, '$.a') FROM t",
    ],
    "mysql": [
        "HANDLER t OPEN",
        "SELECT 1 FROM DUAL",
        "REPLACE INTO t VALUES (1)",
        "SELEC 1",
        "SELECT 'it\\'s', \"a\"\"b\", `x``y` # a comment with ' in it",
        "SELECT 1 -- ' comment\n",
    ],
    "clickhouse": ["SELEC whatever ( FROM"],
}

INVALID = [
    ("duckdb", "SELECT 1 +\n  FROM t", 13, "FROM"),
    ("duckdb", "SELEC 1", 0, "SELEC"),
    ("postgres", "SELECT a FROM WHERE a > 1", 14, "WHERE"),
    ("postgres", "SELECT 'open", 7, "'open"),
    ("sqlite", "SELEC 1", 0, "SELEC"),
    ("sqlite", "INSERT INTO t VALUES (1", 23, ""),
    ("mysql", "SELECT 'open", 7, "'open"),
    ("mysql", "SELECT 'it\\'s', `name", 16, "`name"),
    ("mysql", "SELECT 1 /* never closed", 9, "/*"),
]


@pytest.mark.parametrize(("dialect", "statement"), [(d, s) for d, ss in VALID.items() for s in ss])
def test_valid_statements_are_never_refused(dialect: str, statement: str) -> None:
    assert find_syntax_error(dialect, statement) is None


@pytest.mark.parametrize(("dialect", "statement", "offset", "there"), INVALID)
def test_a_syntax_error_is_found_where_it_is(dialect: str, statement: str, offset: int, there: str) -> None:
    found = find_syntax_error(dialect, statement)
    assert found is not None
    assert found.offset == offset and statement[found.offset :].startswith(there)


def test_a_long_line_is_located_through_duckdbs_window() -> None:
    statement = "SELECT " + ", ".join(f"column_{i}" for i in range(60)) + " FROM t WHERE AND x"
    found = find_syntax_error("duckdb", statement)
    assert found is not None
    assert statement[found.offset :].startswith("AND")
