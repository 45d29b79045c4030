"""The fast splitter (:mod:`tasksql.sql.scan`) finds the statements the tokenizer-based splitter
finds, and its cost is linear: counted in regular-expression steps and tokenized characters, never
timed."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sql_fixtures import error_cases, statement_entries

from tasksql.errors import TasksqlError
from tasksql.model import SqlBody
from tasksql.sql import parse, parse_one, render_task, scan, split, tokenize
from tasksql.sql import tokenizer as tokenizer_module
from tasksql.sql.split import Piece, split_tokens
from tasksql.sql.statements import CreateTask, Passthrough

FIXTURE_TEXTS = [text for _, text in statement_entries()] + [case.text for case in error_cases()]


def _safe_tokens(text: str) -> list[Any]:
    try:
        return tokenize(text)
    except TasksqlError:
        return []


VOCABULARY = sorted({t.raw for text in FIXTURE_TEXTS for t in _safe_tokens(text)})
TRICKY = [
    "'",
    '"',
    "''",
    "E'a\\'b'",
    "e'x'",
    "N'x'",
    "'a;b'",
    '"a;b"',
    "$$",
    "$$a;b$$",
    "$$a;b$$$$a;b$$",  # two dollar-quoted strings side by side
    "$$a;b$$$$",
    "'a'$$;$$",
    '"i"$t$;$t$',
    "$t$x;$t$",
    "$1$$a;b$$",  # a parameter, then a dollar-quoted string
    '$1"Hook"$$a;b$$',  # sqlglot: a tag 1"Hook" (left out of the comparison); DuckDB: $1, "Hook", $$a;b$$
    "a$1$$b;c$$",  # one word
    "1a$$b;c$$",  # a number, then a word
    "ACCOUNT ACCOUNT ACCOUNT ACCOUNT ACCOUNT ACCOUNT ACCOUNT a$b",
    "$t$",
    "$1",
    "a$b",
    "SYSTEM$X",
    "x$$y$$",
    "1$$z$$",
    "a1$$q$$",
    "--",
    "-- c;\n",
    "/*",
    "*/",
    "/* ; */",
    "/* /* */ */",
    ";",
    ";;",
    "(",
    ")",
    "BEGIN",
    "END",
    "END IF",
    "END CASE",
    "CASE",
    "AS",
    "DECLARE",
    "BEGIN TRANSACTION",
    "CREATE TASK t",
    "CREATE OR REPLACE TASK t",
    "ALTER TASK t MODIFY",
    "é",
    "\n",
    "\t",
    "1e5",
    "x.y",
]
EXAMPLES = int(os.environ.get("TASKSQL_FUZZ_EXAMPLES", "300"))


def _shape(pieces: list[Piece]) -> list[tuple[object, ...]]:
    return [(p.start, p.text, p.span, p.terminated, p.unclosed) for p in pieces]


# sqlglot reads any "$...$" without white space as a dollar-quote tag ($1"x"$, $a;b$); DuckDB and
# PostgreSQL only an identifier ($tag$), as the scanner does. Texts where the tokenizer reads such a
# tag are left out of the comparison.
_IDENTIFIER_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")


def _sqlglot_only_tag(text: str) -> bool:
    try:
        tokens = tokenize(text)
    except TasksqlError as err:
        start = err.span.start if err.span is not None else 0
        if err.code != "UNTERMINATED_STRING" or not text.startswith("$", start):
            return False
        return not _IDENTIFIER_TAG.match(text, start)
    return any(t.dollar_quoted and not _IDENTIFIER_TAG.match(t.raw) for t in tokens)


def _both(text: str) -> None:
    """split (scanner) and split_tokens (tokenizer) agree: same pieces, or the same error."""
    if _sqlglot_only_tag(text):
        return
    try:
        expected = split_tokens(text, tokenize(text))
    except TasksqlError as err:
        with pytest.raises(TasksqlError) as info:
            split(text)
        assert (info.value.code, info.value.span) == (err.code, err.span)
        return
    got = split(text)
    assert _shape(got) == _shape(expected), text
    for piece, tokenized in zip(got, expected, strict=True):
        words = []
        for tok in tokenized.tokens:
            if tok.kind.name != "WORD" or len(words) == scan.HEAD_LIMIT:
                break
            words.append(tok.upper)
        # the scanner's head is the tokenizer's leading words, or a prefix of them (it stops at
        # a word that no statement of tasksql's begins with)
        assert tuple(words[: len(piece.head)]) == piece.head, text


@pytest.mark.parametrize("text", FIXTURE_TEXTS)
def test_fixtures_split_alike(text: str) -> None:
    _both(text)
    _both(text + ";\n" + text)


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_fragments_split_alike(text: str) -> None:
    _both(text)
    _both(f"SELECT {text} ; SELECT 2")
    _both(f"CREATE TASK t AS BEGIN {text} ; END; SELECT 2")


@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(VOCABULARY + TRICKY), max_size=30), st.sampled_from([" ", "\n", ""]))
def test_token_soups_split_alike(words: list[str], sep: str) -> None:
    _both(sep.join(words))


# --- linear cost ---------------------------------------------------------------------------------


class _Counting:
    """A compiled pattern that counts its match/finditer calls."""

    def __init__(self, pattern: re.Pattern[str], counter: dict[str, int]) -> None:
        self.pattern = pattern
        self.counter = counter

    def match(self, text: str, pos: int = 0) -> re.Match[str] | None:
        self.counter["steps"] += 1
        return self.pattern.match(text, pos)

    def finditer(self, text: str, pos: int = 0) -> Iterator[re.Match[str]]:
        for m in self.pattern.finditer(text, pos):
            self.counter["steps"] += 1
            yield m


@pytest.fixture
def cost(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts of the work parsing does: regular-expression steps of the scanner and characters
    handed to the (slow) tokenizer."""
    counter = {"steps": 0, "tokenized": 0}
    for name in (
        "_BULK",
        "_LEX",
        "_HEAD",
        "_GAP",
        "_COMMENT_MARK",
        "_STRING_RE",
        "_E_STRING_RE",
        "_IDENT_RE",
        "_QUIET_OUTSIDE",
        "_QUIET_INSIDE",
        "_DOLLAR_TAG_RE",
    ):
        monkeypatch.setattr(scan, name, _Counting(getattr(scan, name), counter))
    original = tokenizer_module._Tokenizer.tokenize

    def counting_tokenize(self: Any, sql: str) -> Any:
        counter["tokenized"] += len(sql)
        return original(self, sql)

    monkeypatch.setattr(tokenizer_module._Tokenizer, "tokenize", counting_tokenize)
    return counter


def _measure(cost: dict[str, int], text: str) -> tuple[int, int]:
    cost["steps"] = cost["tokenized"] = 0
    parse(text)
    return cost["steps"], cost["tokenized"]


def _values(n: int) -> str:
    return "INSERT INTO t VALUES " + ",".join(
        f"({i:06d}, 'name {i:06d}', {i:06d}.5, $$x$$)" for i in range(n)
    )


def _small_statements(n: int) -> str:
    return "".join(f"INSERT INTO t VALUES ({i:06d}, 'x'); -- row {i:06d}\n" for i in range(n))


def _tasks(n: int) -> str:
    return "".join(
        f"CREATE TASK t{i:06d} SCHEDULE = '1 minute' AS BEGIN SELECT {i:06d}; END;\n" for i in range(n)
    )


def _task_values(n: int) -> str:
    """A task whose body is one long INSERT ... VALUES."""
    return "CREATE TASK big SCHEDULE = '1 minute' AS " + _values(n)


def _task_script(n: int) -> str:
    """A task whose body is a BEGIN ... END block of many statements (one with a nested block)."""
    return (
        "CREATE OR REPLACE TASK big SCHEDULE = '1 minute' AS BEGIN\n"
        + _small_statements(n)
        + "IF (x) THEN BEGIN SELECT CASE WHEN y THEN 1 END; END; END IF;\nEND;\nSELECT 2"
    )


def _task_dollar(n: int) -> str:
    """A task whose body is one dollar-quoted string."""
    return "CREATE TASK big SCHEDULE = '1 minute' AS $body$" + _small_statements(n) + "$body$"


@pytest.mark.parametrize(
    "script", [_values, _small_statements, _tasks, _task_values, _task_script, _task_dollar]
)
def test_cost_is_linear(cost: dict[str, int], script: Any) -> None:
    small_steps, small_tokenized = _measure(cost, script(1000))
    big_steps, big_tokenized = _measure(cost, script(4000))
    assert big_steps <= 4 * small_steps + 10
    assert big_tokenized <= 4 * small_tokenized + 10


def test_statements_for_the_warehouse_are_never_tokenized(cost: dict[str, int]) -> None:
    text = _values(20_000) + ";\n" + _small_statements(5_000)  # about 1 MB
    assert len(text) > 900_000
    steps, tokenized = _measure(cost, text)
    assert tokenized == 0
    assert steps < 4 * text.count("'")  # a few steps per string, none per other character
    statements = parse(text)
    assert len(statements) == 5_001 and all(isinstance(s, Passthrough) for s in statements)


def test_task_statements_are_tokenized_once(cost: dict[str, int]) -> None:
    text = _tasks(200)
    _, tokenized = _measure(cost, text)
    assert tokenized <= len(text)


@pytest.mark.parametrize("script", [_task_values, _task_script, _task_dollar])
def test_task_bodies_are_never_tokenized(cost: dict[str, int], script: Any) -> None:
    """The head of a task statement is tokenized, its body (about 1 MB) is not, and few regular
    expression steps skip it; SHOW CREATE TASK renders it without tokenizing it either."""
    text = script(25_000)
    assert len(text) > 900_000
    steps, tokenized = _measure(cost, text)
    assert tokenized < 100
    # skipped in bulk: a few steps per block and per dollar-quoted string, none per statement
    assert steps < 100 + 4 * text.count("$$x$$"), steps
    stmt = parse(text)[0]
    assert isinstance(stmt, CreateTask) and isinstance(stmt.definition.body, SqlBody)
    start = stmt.spans["body"].start
    assert text.startswith("AS ", start - 3)
    body = text[start : stmt.span.end]
    expected = body[len("$body$") : -len("$body$")] if body.startswith("$body$") else body
    assert stmt.definition.body.text == expected.strip()
    cost["steps"] = cost["tokenized"] = 0
    shown = render_task(stmt.definition)
    assert cost["tokenized"] == 0 and cost["steps"] < 100 + 4 * text.count("$$x$$")
    again = parse_one(shown)
    assert isinstance(again, CreateTask) and again.definition == stmt.definition


def test_a_task_statement_with_an_error_in_its_head_is_not_tokenized_whole(cost: dict[str, int]) -> None:
    text = "CREATE TASK big SCHEDULE = '1 minute' TIMEOUT = 'soon' AS " + _values(20_000)
    with pytest.raises(TasksqlError) as info:
        _measure(cost, text)
    assert cost["tokenized"] < 100
    assert info.value.code == "INVALID_INTERVAL"
    assert info.value.span is not None and info.value.span.start < text.index(" AS ")  # in the head


@pytest.mark.parametrize(
    "text",
    [
        "a" + "$" * 200_000,  # one word of dollars
        "1" * 200_000 + "$$x$$",  # a long number before a dollar-quoted string
        "a1$" * 70_000,  # dollars after digits inside a word
        "SELECT " + "/*" * 100_000 + "*/" * 100_000,  # deeply nested comments
        "SELECT " + "'x' " * 50_000,  # many strings
        "CREATE TASK t AS " + "BEGIN " * 50_000 + "END; " * 50_000,  # deep BEGIN blocks
        "CREATE TASK t AS BEGIN " + "CASE x END CASE " * 20_000 + "END",  # block words all the way
        "CREATE TASK t AS BEGIN " + "é; " * 50_000 + "END",  # words the bulk run does not read
        "CREATE TASK t " + "AS " * 50_000,  # a body start at every word
    ],
)
def test_hostile_text_costs_linear_steps(cost: dict[str, int], text: str) -> None:
    with contextlib.suppress(TasksqlError):
        parse(text)
    assert cost["steps"] <= 3 * len(text) // 2 + 10
