"""Property tests: whatever the input, the front end answers with statements or a TasksqlError.

Random text, random token soups, and mutations of the fixture statements (tokens deleted,
duplicated, swapped, replaced; text truncated) must only ever raise TasksqlError subclasses, and
an error must point inside the text. When a mutation still parses, rendering it must read back to
an equal statement, as for the fixtures.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sql_fixtures import statement_entries

from tasksql.errors import TasksqlError
from tasksql.sql import parse, parse_one, render, render_task, split, tokenize
from tasksql.sql.statements import CreateTask

FIXTURE_TEXTS = [text for _, text in statement_entries()]
FIXTURE_TOKENS = [[t.raw for t in tokenize(text)] for text in FIXTURE_TEXTS]
VOCABULARY = sorted({raw for tokens in FIXTURE_TOKENS for raw in tokens})
EXTRA = [
    "'",
    '"',
    "$$",
    "$x$",
    "/*",
    "*/",
    "--",
    ";",
    "(",
    ")",
    "[",
    "]",
    ",",
    "=",
    ".",
    "-",
    "\n",
    "BEGIN",
    "END",
]

SETTINGS = settings(
    max_examples=int(os.environ.get("TASKSQL_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)


def _check(text: str) -> None:
    try:
        statements = parse(text)
    except TasksqlError as err:
        assert err.code
        if err.span is not None:
            assert 0 <= err.span.start <= err.span.end <= len(text)
            assert err.span.line >= 1 and err.span.column >= 1
        err.render()
        return
    for stmt in statements:
        assert text[stmt.span.start : stmt.span.end] == stmt.text
        rendered = render(stmt)
        again = parse_one(rendered)
        assert again == stmt, rendered
        if isinstance(stmt, CreateTask):
            shown = parse_one(render_task(stmt.definition))
            assert isinstance(shown, CreateTask)
            assert shown.definition == stmt.definition


@SETTINGS
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    _check(text)


@SETTINGS
@given(st.lists(st.sampled_from(VOCABULARY + EXTRA), max_size=40), st.sampled_from([" ", "", "\n"]))
def test_token_soup(words: list[str], sep: str) -> None:
    _check(sep.join(words))


@st.composite
def mutated(draw: st.DrawFn) -> str:
    tokens = list(draw(st.sampled_from(FIXTURE_TOKENS)))
    for _ in range(draw(st.integers(1, 3))):
        if not tokens:
            break
        i = draw(st.integers(0, len(tokens) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "replace", "truncate"]))
        if op == "delete":
            del tokens[i]
        elif op == "duplicate":
            tokens.insert(i, tokens[i])
        elif op == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif op == "replace":
            tokens[i] = draw(st.sampled_from(VOCABULARY + EXTRA))
        else:
            tokens = tokens[:i]
    return " ".join(tokens)


@SETTINGS
@given(mutated())
def test_mutated_fixtures(text: str) -> None:
    _check(text)


@SETTINGS
@given(st.sampled_from(FIXTURE_TEXTS), st.data())
def test_truncated_fixture_text(text: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(text)))
    _check(text[:cut])


@pytest.mark.parametrize("text", FIXTURE_TEXTS[:20])
def test_split_pieces_are_slices(text: str) -> None:
    for piece in split(text):
        assert text[piece.start : piece.start + len(piece.text)] == piece.text
