"""Every statement in tests/fixtures/statements.sql parses and round-trips through the renderer;
every entry of tests/fixtures/errors.sql raises its pinned error."""

from __future__ import annotations

import re

import pytest
from sql_fixtures import ErrorCase, error_cases, statement_entries

from tasksql import errors
from tasksql.sql import parse, parse_one, render, render_task
from tasksql.sql.parser import masked_secrets
from tasksql.sql.statements import CreateTask, Passthrough

STATEMENTS = statement_entries()
ERRORS = error_cases()


@pytest.mark.parametrize(("line", "text"), STATEMENTS, ids=[f"statements.sql:{n}" for n, _ in STATEMENTS])
def test_statement_round_trips(line: int, text: str) -> None:
    statements = parse(text)
    assert len(statements) == 1, f"statements.sql:{line} holds {len(statements)} statements"
    stmt = statements[0]
    rendered = render(stmt)
    again = parse_one(rendered)
    assert again == stmt, f"statements.sql:{line}: render gave\n{rendered}"
    assert type(again) is type(stmt)
    assert render(again) == rendered  # the canonical form is a fixed point
    if isinstance(stmt, CreateTask):
        assert isinstance(again, CreateTask)
        assert again.definition == stmt.definition
        canonical = render_task(stmt.definition)
        shown = parse_one(canonical)
        assert isinstance(shown, CreateTask)
        assert shown.definition == stmt.definition, f"statements.sql:{line}: render_task gave\n{canonical}"


@pytest.mark.parametrize(("line", "text"), STATEMENTS, ids=[f"statements.sql:{n}" for n, _ in STATEMENTS])
def test_statement_span_and_text_cover_the_statement(line: int, text: str) -> None:
    (stmt,) = parse(text)
    assert text[stmt.span.start : stmt.span.end] == stmt.text
    assert stmt.text.strip() and not stmt.text.rstrip().endswith(";")
    for key, span in stmt.spans.items():
        assert stmt.span.start <= span.start <= span.end <= stmt.span.end, (line, key)


def test_fixtures_cover_every_statement_class() -> None:
    kinds = {type(stmt).__name__ for _, text in STATEMENTS for stmt in parse(text)}
    from tasksql.sql import statements as st

    every = {
        cls.__name__
        for cls in vars(st).values()
        if isinstance(cls, type) and issubclass(cls, st.Statement) and cls is not st.Statement
    }
    assert every <= kinds, f"no fixture for {sorted(every - kinds)}"


def test_fixtures_cover_every_spelling() -> None:
    from tasksql.model import Spelling

    parsed = [stmt for _, text in STATEMENTS for stmt in parse(text)]
    spellings = {stmt.spelling for stmt in parsed if isinstance(stmt, CreateTask)}
    assert spellings == set(Spelling)


def test_seed_statements_are_not_passthrough() -> None:
    """The seed examples of task statements are parsed, not handed to the warehouse."""
    for line, text in STATEMENTS:
        (stmt,) = parse(text)
        sql = "\n".join(x for x in text.splitlines() if not x.strip().startswith("--")).upper()
        head = sql.split("(")[0]
        if re.search(r"\bTASKS?\b", head) and not head.lstrip().startswith(("GRANT", "SELECT")):
            assert not isinstance(stmt, Passthrough), f"statements.sql:{line} fell through to passthrough"


@pytest.mark.parametrize("case", ERRORS, ids=[f"errors.sql:{c.file_line}" for c in ERRORS])
def test_error_is_pinned(case: ErrorCase) -> None:
    with pytest.raises(errors.TasksqlError) as info:
        parse(case.text)
    err = info.value
    got = (type(err).__name__, err.code, err.line, err.column)
    assert got == (case.error_class, case.code, case.line, case.column), err.render()
    assert err.source == masked_secrets(case.text)  # the script, a literal SECRET_STRING masked
    assert err.span is not None and 0 <= err.span.start <= err.span.end <= len(case.text)
    rendered = err.render()
    assert f"[{case.code}]" in rendered and "^" in rendered


def test_every_front_end_error_code_is_pinned() -> None:
    codes = {c.code for c in ERRORS}
    assert {
        "SYNTAX_ERROR",
        "UNTERMINATED_STRING",
        "UNTERMINATED_COMMENT",
        "MISSING_NAME",
        "MISSING_BODY",
        "DUPLICATE_CLAUSE",
        "CONFLICTING_OPTIONS",
        "SELF_DEPENDENCY",
        "CHILD_WITH_SCHEDULE",
        "FINALIZER_WITH_SCHEDULE",
        "TOO_MANY_PREDECESSORS",
        "UNKNOWN_PROPERTY",
        "UNKNOWN_UNIT",
        "INVALID_INTERVAL",
        "INVALID_CRON",
        "UNKNOWN_TIMEZONE",
        "INVALID_VALUE",
    } <= codes


def test_a_secret_value_left_unclosed_is_masked_to_the_end() -> None:
    # the script cannot be split, so where the value ends cannot be told: all after its quote goes
    text = "CREATE SECRET s TYPE = GENERIC_STRING SECRET_STRING = 'abc\ndef"
    assert masked_secrets(text) == "CREATE SECRET s TYPE = GENERIC_STRING SECRET_STRING = '***\n***"
    with pytest.raises(errors.TasksqlSyntaxError) as info:
        parse(text)
    rendered = info.value.render()
    assert "UNTERMINATED_STRING" in rendered and "abc" not in rendered and "def" not in rendered
