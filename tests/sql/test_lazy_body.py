"""Task statements parsed with their body untokenized (:mod:`tasksql.sql.lazy_body`) give what the
parse of the whole statement's tokens gives: the same statement, or the same error."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sql_fixtures import error_cases, statement_entries

from tasksql.errors import TasksqlError
from tasksql.sql import lazy_body, parse, parser
from tasksql.sql.bodies import reads_back_as_body
from tasksql.sql.split import split
from tasksql.sql.statements import AlterTask, CreateTask, ModifyAs
from tasksql.sql.tokenizer import LineIndex

FIXTURE_TEXTS = [text for _, text in statement_entries()] + [case.text for case in error_cases()]
EXAMPLES = int(os.environ.get("TASKSQL_FUZZ_EXAMPLES", "300"))

Outcome = tuple[object, ...]


def _outcome(text: str) -> Outcome:
    try:
        return ("parsed", parse(text))
    except TasksqlError as err:
        return ("error", type(err), err.code, err.span, str(err), tuple(err.expected or ()))


def _both(text: str, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    """The outcome of parsing ``text``, after checking it equals that of the full token lists."""
    lazily = _outcome(text)
    with monkeypatch.context() as m:
        m.setattr(parser, "lazy_cursor", lambda *args: None)
        tokenized = _outcome(text)
    assert lazily == tokenized, text
    return lazily


@pytest.mark.parametrize("text", FIXTURE_TEXTS)
def test_fixtures_parse_alike(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _both(text, monkeypatch)


@pytest.mark.parametrize(
    "text",
    [
        "CREATE TASK t AS SELECT 1",
        "CREATE TASK t AS $$SELECT 1; SELECT 2$$",  # a lone dollar-quoted body is unwrapped
        "CREATE TASK t AS $q$ SELECT '$$' $q$",
        "CREATE TASK t AS $$x$$ || 'y'",  # not lone: kept as written
        "CREATE TASK t AS /* c */ SELECT 1 -- c",
        "CREATE TASK t AS BEGIN SELECT 1; SELECT 2; END",
        "CREATE TASK t ON SCHEDULE EVERY 10 MINUTES AS USER bob AS DELETE FROM s WHERE x",
        "CREATE TASK t AS USER bob",  # AS USER is no body
        "CREATE TASK t WHEN CAST(x AS INT) > (SELECT 1 AS y) AS SELECT 2",
        "CREATE TASK t WHEN x AS AS SELECT 2",
        "CREATE TASK t TAG (a = 'x') AS SELECT (1) AS y",
        "CREATE TASK TYPE rebuild OPTIONS k = 1, AS = 2",  # AS as an option name
        "CREATE TASK TYPE rebuild OPTIONS k = 1, AS SELECT 2",
        "CREATE TASK t SCHEDULE = AS SELECT 1",  # AS where a value belongs
        "CREATE TASK t COMMENT = 'AS' AS SELECT 1",
        "CREATE TASK t SCHEDULE = '1 minute' AFTER u AS SELECT 1",  # both: an error
        "CREATE TASK t x = AS AS SELECT 1",
        "CREATE TASK AS AS SELECT 1",
        "CREATE TASK t AS",
        "CREATE TASK t AS$$x$$",
        "CREATE TASK t AS (SELECT 1)",
        "CREATE TASK t AS = 1",
        "ALTER TASK t MODIFY AS SELECT 1; ",
        "ALTER TASK t MODIFY AS $$a$$ b",
        "ALTER TASK t MODIFY WHEN AS x y",
        "ALTER TASK t SET AS = 1 AS SELECT 1",
        "ALTER TASK t SET SCHEDULE = '1 minute' AS SELECT 1",
        "ALTER TASK t SET AS USER = 'x'",
    ],
)
def test_edge_cases_parse_alike(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _both(text, monkeypatch)


_WORDS = [
    "AS", "USER", "=", ",", "(", ")", "[", "]", "WHEN", "AFTER", "u", "SCHEDULE", "'1 minute'", "TAG",
    "COMMENT", "'c'", "PROCEDURE", "p", "ENABLE", "ON", "ERROR", "STOP", "BEGIN", "END", "CASE", ";",
    "SELECT", "1", "x", "$$x$$", "$t$ a $t$", "'a'", '"q"', "-- c\n", "/* c */", "\n", "TYPE", "OPTIONS",
    "rebuild", "INTO", "TIMEOUT", "5s", "MODIFY", "SET", "DECLARE", "a.b", "CAST", "INT",
]  # fmt: skip
_HEADS = [
    "CREATE TASK t ",
    "CREATE OR REPLACE TASK t SCHEDULE = '1 minute' ",
    "CREATE TASK IF NOT EXISTS a.b ",
    "CREATE TASK ",
    "ALTER TASK t ",
    "ALTER TASK t MODIFY ",
]


@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_HEADS), st.lists(st.sampled_from(_WORDS), max_size=12), st.sampled_from([" ", ""]))
def test_task_statement_soups_parse_alike(head: str, words: list[str], sep: str) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        _both(head + sep.join(words), monkeypatch)


def test_the_body_is_kept_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    body = "BEGIN\n  INSERT INTO t VALUES (1, 'a;b');\n  SELECT $$;$$; -- c\nEND"
    text = f"CREATE TASK t SCHEDULE = '1 minute' AS {body};\nSELECT 2"
    outcome = _both(text, monkeypatch)
    assert outcome[0] == "parsed"
    stmt = outcome[1][0]  # type: ignore[index]
    assert isinstance(stmt, CreateTask)
    assert stmt.definition.body.text == body  # type: ignore[union-attr]
    assert stmt.spans["body"].start == text.index("BEGIN")
    assert stmt.text == text[: text.index(";\nSELECT 2")]


def test_a_lazy_parse_that_looked_past_the_head_is_not_trusted() -> None:
    """The first AS is the value of x: the parsers reach the rest token, and the full tokens
    decide."""
    text = "CREATE TASK t x = AS AS SELECT 1"
    (piece,) = split(text)
    cur = lazy_body.lazy_cursor(text, piece, LineIndex(text))
    assert cur is not None and cur.watch is not None
    parser._dispatch(cur)
    assert not lazy_body.trusted(cur)
    (stmt,) = parse(text)  # the full token list reads AS as the value of x
    assert isinstance(stmt, CreateTask) and stmt.definition.session_params == (("x", "AS"),)


@pytest.mark.parametrize(
    ("body", "verbatim"),
    [
        ("SELECT 1", True),
        ("$$SELECT 1$$", False),  # would be unwrapped
        ("$$a$$ || $$b$$", True),
        ("SELECT 1; SELECT 2", False),
        ("BEGIN", False),
        ("BEGIN SELECT 1; END", True),
        (" SELECT 1", True),
        ("SELECT 1 -- c", False),
        ("", False),
    ],
)
def test_reads_back_as_body(body: str, verbatim: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    assert reads_back_as_body(body) is verbatim
    if verbatim:
        outcome = _both(f"ALTER TASK t MODIFY AS {body}", monkeypatch)
        stmt = outcome[1][0]  # type: ignore[index]
        assert isinstance(stmt, AlterTask) and isinstance(stmt.action, ModifyAs)
        assert stmt.action.body.text == body.strip()
