"""What the warehouses splice into SQL: table names, session parameters, statement counts, INTO queries,
file URLs, and URLs with passwords."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasksql.errors import QueryFailed, WarehouseError
from tasksql.warehouses._files import file_path
from tasksql.warehouses._sqltext import check_session_params, count_statements, parse_table_name, query_text
from tasksql.warehouses.base import redact_url


@pytest.mark.parametrize(
    ("text", "sql", "name"),
    [
        ("t", "t", "t"),
        ("public.t", "public.t", "t"),
        ('"My Table"', '"My Table"', "My Table"),
        ('db."sch ema".t_1$', 'db."sch ema".t_1$', "t_1$"),
        (' "a""b" . c ', '"a""b".c', "c"),
    ],
)
def test_table_names(text: str, sql: str, name: str) -> None:
    parsed = parse_table_name(text)
    assert (parsed.sql, parsed.name) == (sql, name)


@pytest.mark.parametrize("text", ["", "t;", "t WHERE 1=1", "a.b.c.d", "1abc", '""', "t.", "(t)", "t -- x"])
def test_invalid_table_names(text: str) -> None:
    with pytest.raises(QueryFailed) as info:
        parse_table_name(text)
    assert info.value.code == "INVALID_NAME"


@pytest.mark.parametrize(
    ("sql", "dialect", "count"),
    [
        ("SELECT 1", "postgres", 1),
        ("SELECT 1;", "postgres", 1),
        ("SELECT 1; ;; ", "postgres", 1),
        ("SELECT 1; SELECT 2", "postgres", 2),
        ("SELECT 'a;b'", "postgres", 1),
        ("SELECT $$a;b$$", "postgres", 1),
        ("SELECT $fn$ x; y $fn$", "postgres", 1),
        ('SELECT 1 AS "x;y"', "sqlite", 1),
        ("SELECT 1 /* ; */", "duckdb", 1),
        ("SELECT 1; -- ; trailing", "duckdb", 1),
        ("   ", "postgres", 0),
        (";", "postgres", 0),
    ],
)
def test_count_statements(sql: str, dialect: str, count: int) -> None:
    assert count_statements(sql, dialect) == count


@pytest.mark.parametrize(
    ("sql", "text"),
    [
        ("SELECT 1", "SELECT 1"),
        ("SELECT 1;  ", "SELECT 1"),
        ("SELECT 1; -- done", "SELECT 1"),
        ("WITH x AS (SELECT 1) SELECT * FROM x", "WITH x AS (SELECT 1) SELECT * FROM x"),
        (
            "WITH RECURSIVE r(i) AS (SELECT 1) SELECT i FROM r",
            "WITH RECURSIVE r(i) AS (SELECT 1) SELECT i FROM r",
        ),
        ("(SELECT 1) UNION ALL (SELECT 2)", "(SELECT 1) UNION ALL (SELECT 2)"),
        ("VALUES (1), (2)", "VALUES (1), (2)"),
    ],
)
def test_query_text(sql: str, text: str) -> None:
    assert query_text(sql, "postgres") == text


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO t VALUES (1)",
        "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
        "DELETE FROM t",
        "",
        ";",
    ],
)
def test_query_text_refuses_what_is_not_a_query(sql: str) -> None:
    with pytest.raises(QueryFailed) as info:
        query_text(sql, "postgres")
    assert info.value.code == "INTO_NOT_A_QUERY"


def test_session_params() -> None:
    ok = [("TimeZone", " 'Asia/Tokyo' "), ("statement_timeout", "500"), ("my.setting", "on"), ("x", "-1.5e3")]
    assert check_session_params(ok) == [
        ("TimeZone", "'Asia/Tokyo'"),
        ("statement_timeout", "500"),
        ("my.setting", "on"),
        ("x", "-1.5e3"),
    ]
    assert check_session_params([("search_path", "'it''s'")]) == [("search_path", "'it''s'")]


@pytest.mark.parametrize(
    "param",
    [("a b", "1"), ("a;", "1"), ("a", "1; DROP TABLE t"), ("a", "'x' || 'y'"), ("a", "'unclosed"), ("a", "")],
)
def test_bad_session_params(param: tuple[str, str]) -> None:
    with pytest.raises(QueryFailed) as info:
        check_session_params([param])
    assert info.value.code == "INVALID_SESSION_PARAM"


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("postgresql://bob:s3cret@db.example:5432/app", "postgresql://bob:***@db.example:5432/app"),
        ("postgresql://bob@db/app", "postgresql://bob@db/app"),
        ("postgresql://:s3cret@db/app", "postgresql://:***@db/app"),
        (
            "postgresql://db/app?user=bob&password=s3cret&sslmode=require",
            "postgresql://db/app?user=bob&password=***&sslmode=require",
        ),
        ("host=db user=bob password=s3cret dbname=app", "host=db user=bob password=*** dbname=app"),
        ("host=db password='s3 cret' dbname=app", "host=db password=*** dbname=app"),
        ("sqlite:///data/x.db", "sqlite:///data/x.db"),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted
    assert "s3cret" not in redact_url(url) and "s3 cret" not in redact_url(url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///abs/x.db", "/abs/x.db"),
        ("sqlite:////abs/x.db", "/abs/x.db"),
        ("sqlite:rel/x.db", "BASE/rel/x.db"),
        ("sqlite://rel/x.db", "BASE/rel/x.db"),
        ("SQLITE:x.db", "BASE/x.db"),
        ("x.db", "BASE/x.db"),
        ("/abs/y.db", "/abs/y.db"),
    ],
)
def test_file_urls(url: str, expected: str, tmp_path: Path) -> None:
    assert str(file_path(url, "sqlite", tmp_path)) == expected.replace("BASE", str(tmp_path))


@pytest.mark.parametrize("url", ["postgresql://h/db", "sqlite:", "sqlite://"])
def test_bad_file_urls(url: str, tmp_path: Path) -> None:
    with pytest.raises(WarehouseError) as info:
        file_path(url, "sqlite", tmp_path)
    assert info.value.code == "INVALID_URL"


@pytest.mark.parametrize(
    "text",
    [
        "INSERT INTO t VALUES (1)",
        "  insert into t select 1",
        "-- a comment\nUPDATE t SET a = 1",
        "/* block */ DELETE FROM t",
        "SELECT 'a;b'",
        "SELECT 1; SELECT 2",
        "WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a",
        "(SELECT 1)",
        "CREATE TABLE t2 (a INTEGER)",
        "-- only a comment",
        "",
        "INSERT INTO t VALUES (1) RETURNING a",
        "selectx 1",
    ],
)
def test_duckdb_classify_matches_the_parser(text: str) -> None:
    """The shortcut for plain statements gives what DuckDB's parser gives (or fails the same way)."""
    from tasksql.warehouses.duckdb import _classify, _parse

    try:
        expected: object = _parse(text)
    except QueryFailed:
        expected = QueryFailed
    try:
        got: object = _classify(text)
    except QueryFailed:
        got = QueryFailed
    assert got == expected
