"""Splitting scripts into statements."""

from __future__ import annotations

import pytest

from tasksql.sql import split


def texts(script: str) -> list[str]:
    return [p.text for p in split(script)]


def test_top_level_semicolons_split_and_empty_statements_are_dropped() -> None:
    assert texts("SELECT 1; ;; SELECT 2;\n-- only a comment\n;") == ["SELECT 1", "SELECT 2"]


@pytest.mark.parametrize(
    "script",
    [
        "SELECT 'a;b'; SELECT 2",
        'SELECT "a;b"; SELECT 2',
        "SELECT E'a\\';b'; SELECT 2",
        "SELECT $$a;b$$; SELECT 2",
        "SELECT $fn$ a; $$; b $fn$; SELECT 2",
        "SELECT 1 -- a; b\n; SELECT 2",
        "SELECT 1 /* a; /* nested; */ b; */; SELECT 2",
    ],
)
def test_semicolons_inside_strings_and_comments_do_not_split(script: str) -> None:
    pieces = texts(script)
    assert len(pieces) == 2
    assert pieces[1] == "SELECT 2"


def test_pieces_know_their_place_in_the_script() -> None:
    script = "-- lead\nSELECT 1;\n\n  CREATE TASK t\n  AS SELECT 2;"
    first, second = split(script)
    assert (first.text, first.start, first.span.line, first.span.column) == ("SELECT 1", 8, 2, 1)
    assert second.text == "CREATE TASK t\n  AS SELECT 2"
    assert (second.span.line, second.span.column) == (4, 3)
    assert script[second.start : second.span.end] == second.text
    assert first.terminated and second.terminated


def test_terminated_is_false_for_an_unfinished_last_statement() -> None:
    pieces = split("SELECT 1; SELECT 2")
    assert [p.terminated for p in pieces] == [True, False]


def test_a_task_body_block_is_one_statement() -> None:
    script = """CREATE TASK t WAREHOUSE = 'default' SCHEDULE = 1 MINUTE AS BEGIN
  INSERT INTO a SELECT * FROM s;
  DELETE FROM s;
END;
SELECT 2;"""
    pieces = texts(script)
    assert len(pieces) == 2
    assert pieces[0].endswith("END")
    assert pieces[1] == "SELECT 2"


def test_nested_blocks_and_case_are_counted() -> None:
    script = """CREATE OR REPLACE TASK t AS BEGIN
  SELECT CASE WHEN x THEN 1 ELSE 2 END FROM t;
  BEGIN
    CASE WHEN y THEN SELECT 1; END CASE;
    IF (z) THEN SELECT 2; END IF;
    FOR i IN 1 TO 3 DO SELECT i; END FOR;
    BEGIN TRANSACTION;
  END;
END;
SELECT 'after'"""
    pieces = texts(script)
    assert len(pieces) == 2
    assert pieces[1] == "SELECT 'after'"


def test_declare_block_body() -> None:
    script = "CREATE TASK t AS DECLARE n INT; BEGIN n := 1; RETURN n; END; SELECT 2"
    assert texts(script)[1] == "SELECT 2"


def test_alter_task_modify_as_block() -> None:
    assert len(texts("ALTER TASK t MODIFY AS BEGIN SELECT 1; SELECT 2; END; SELECT 3")) == 2


def test_top_level_begin_is_an_ordinary_statement() -> None:
    assert texts("BEGIN; INSERT INTO t VALUES (1); COMMIT;") == [
        "BEGIN",
        "INSERT INTO t VALUES (1)",
        "COMMIT",
    ]
    assert texts("BEGIN TRANSACTION; SELECT 1; END;") == ["BEGIN TRANSACTION", "SELECT 1", "END"]


def test_as_begin_outside_a_task_does_not_open_a_block() -> None:
    assert texts("SELECT 1 AS begin; SELECT 2") == ["SELECT 1 AS begin", "SELECT 2"]
    assert texts("CREATE TABLE x AS BEGIN; SELECT 2") == ["CREATE TABLE x AS BEGIN", "SELECT 2"]


def test_an_unclosed_block_runs_to_the_end_and_is_not_terminated() -> None:
    (piece,) = split("CREATE TASK t AS BEGIN SELECT 1; SELECT 2;")
    assert not piece.terminated
    assert piece.text.endswith("SELECT 2;")
    assert piece.unclosed is not None and piece.unclosed.column == 18
