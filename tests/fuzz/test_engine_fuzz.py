"""Mutated statements against a real embedded engine: every failure is a TasksqlError, a rejected
statement changes nothing, and the engine keeps answering.

The statements of tests/fixtures/statements.sql and errors.sql are mutated (tokens deleted,
duplicated, swapped, replaced; odd text inserted: lone surrogates, NUL, control characters, deep
nesting, huge numbers, long strings) by a seeded generator and run with ``tasksql.connect(...).sql``
on a data directory of the test's own. The run is bounded: ``TASKSQL_FUZZ_CASES`` cases (default 120,
a few seconds) from seed ``TASKSQL_FUZZ_SEED`` (default 12); a failure names the seed and case to
replay, e.g. ``TASKSQL_FUZZ_SEED=7 TASKSQL_FUZZ_CASES=5000 pytest tests/fuzz``.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sql"))
from sql_fixtures import error_cases, statement_entries

import tasksql
from tasksql.errors import TasksqlError
from tasksql.sql import split, tokenize

SEED = int(os.environ.get("TASKSQL_FUZZ_SEED", "12"))
CASES = int(os.environ.get("TASKSQL_FUZZ_CASES", "120"))

TEXTS = [text for _, text in statement_entries()] + [case.text for case in error_cases()]

#: Odd text inserted between tokens or inside a string.
ODD = [
    "\ud800",
    "\udfff",
    "\x00",
    "\x1b[31m",
    "\r",
    "\x0b",
    "\u2028",
    "\u202e",
    "\ufeff",
    "\n2026-01-01 00:00:00 ERROR forged",
    "(" * 3000 + "1" + ")" * 3000,
    "[" * 3000 + "]" * 3000,
    "$$" + "[" * 5_000 + "]" * 5_000 + "$$",
    "'" + "{" * 5_000 + "'",
    "CASE WHEN TRUE THEN " * 500 + "1" + " END" * 500,
    "9" * 400,
    "1e99999",
    "-9223372036854775809",
    "'" + "x" * 20_000 + "'",
    '"' + "y" * 300 + '"',
    "/* /* */",
    "$x$",
    "--",
    ";",
]

#: What the catalog holds (tasks with their version and state, warehouses, integrations), hashed:
#: a rejected statement must leave it as it was.
SNAPSHOT = """
SELECT
  (SELECT md5(string_agg(concat_ws('|', id, name, state, version, definition, comment, schedule, warehouse,
                                   config), '#' ORDER BY id)) FROM system.tasks),
  (SELECT md5(string_agg(concat_ws('|', name, type, url, max_concurrency, comment), '#' ORDER BY name))
     FROM system.warehouses),
  (SELECT md5(string_agg(concat_ws('|', name, type, enabled, url, method, comment), '#' ORDER BY name))
     FROM system.notification_integrations)
"""

SETUP = """
CREATE TABLE t (a INT, b VARCHAR);
CREATE TABLE t2 (a INT, b VARCHAR);
CREATE TASK t SCHEDULE = '1 minute' AS INSERT INTO t VALUES (1, 'x');
CREATE TASK task_root SCHEDULE = '1 minute' AS SELECT 1;
CREATE TASK child AFTER task_root AS SELECT 2;
CREATE NOTIFICATION INTEGRATION ops_hook TYPE = WEBHOOK ENABLED = FALSE
  WEBHOOK = (url = 'http://127.0.0.1:9/hook');
CREATE WAREHOUSE other
"""


def _raw_tokens(text: str) -> list[str]:
    try:
        return [t.raw for t in tokenize(text)]
    except TasksqlError:
        return text.split()


VOCABULARY = sorted({raw for text in TEXTS for raw in _raw_tokens(text)})


def mutate(rng: random.Random, text: str) -> str:
    """``text`` with one to three mutations of its tokens."""
    tokens = _raw_tokens(text)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):  # mostly one: enough of the statement survives
        if not tokens:
            tokens = [rng.choice(VOCABULARY)]
        i = rng.randrange(len(tokens))
        op = rng.choice(["delete", "duplicate", "swap", "replace", "odd", "odd", "odd_in_string"])
        if op == "delete":
            del tokens[i]
        elif op == "duplicate":
            tokens.insert(i, tokens[i])
        elif op == "swap":
            j = rng.randrange(len(tokens))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif op == "replace":
            tokens[i] = rng.choice(VOCABULARY)
        elif op == "odd":
            tokens.insert(i, rng.choice(ODD))
        else:
            strings = [k for k, t in enumerate(tokens) if t.startswith(("'", "$$"))] or [i]
            k = rng.choice(strings)
            cut = rng.randint(1, max(1, len(tokens[k]) - 1))
            tokens[k] = tokens[k][:cut] + rng.choice(ODD[:10]) + tokens[k][cut:]
    return " ".join(tokens)


#: Statements that open or end a transaction of the warehouse session: a transaction a statement
#: leaves open is the session's state, not damage (test_an_open_transaction_is_the_sessions_own).
TRANSACTION_WORDS = {"BEGIN", "START", "COMMIT", "ROLLBACK", "ABORT", "END", "SAVEPOINT", "RELEASE"}


def _controls_a_transaction(text: str) -> bool:
    try:
        return any(piece.head[:1] and piece.head[0] in TRANSACTION_WORDS for piece in split(text))
    except TasksqlError:
        return False


def cases() -> Iterator[tuple[int, str]]:
    rng = random.Random(SEED)
    number = 0
    while number < CASES:
        text = mutate(rng, rng.choice(TEXTS))
        if not _controls_a_transaction(text):
            yield number, text
            number += 1


def _statement_count(text: str) -> int:
    try:
        return len(split(text))
    except TasksqlError:
        return 0


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tasksql.Connection]:
    con = tasksql.connect(tmp_path / "data")
    con.sql(SETUP)
    yield con
    con.close()


def _snapshot(db: tasksql.Connection) -> list[object]:
    return db.sql(SNAPSHOT).rows


def test_mutated_statements(db: tasksql.Connection) -> None:
    failures: list[str] = []
    before = _snapshot(db)
    for number, text in cases():
        where = f"seed {SEED}, case {number}: {text[:300]!r}"
        rejected: TasksqlError | None = None
        try:
            db.sql(text)
        except TasksqlError as err:
            err.render()  # an error renders without raising, whatever text it quotes
            rejected = err
        except Exception as exc:  # the point of the test: nothing but TasksqlError escapes
            failures.append(f"{where}: {type(exc).__name__}: {exc}")
        try:
            after = _snapshot(db)
            assert db.sql("SELECT 1").rows == [(1,)]
        except Exception as exc:  # a statement that broke the catalog or the engine for good
            failures.append(f"{where}: afterwards the engine fails: {type(exc).__name__}: {exc}")
            break
        if rejected is not None and after != before and _statement_count(text) <= 1:
            failures.append(f"{where}: rejected ({rejected.code}) but the catalog changed")
        before = after
    assert not failures, "\n".join(failures)


def test_an_open_transaction_is_the_sessions_own(db: tasksql.Connection) -> None:
    """A transaction a user leaves open (BEGIN, then an error) holds its own connection: task runs
    never share it, and what cannot be undone is refused until it ends."""
    db.sql("CREATE TABLE log (a INT)")
    db.sql("CREATE TASK logger SCHEDULE = '1 minute' AS INSERT INTO log VALUES (1)")
    db.sql("BEGIN TRANSACTION")
    with pytest.raises(TasksqlError):
        db.sql("SELECT nosuch")
    with pytest.raises(TasksqlError) as refused:
        db.sql("EXECUTE TASK logger")
    assert refused.value.code == "NOT_IN_TRANSACTION"
    db.sql("ROLLBACK")
    assert db.sql("EXECUTE TASK logger").as_dicts()[0]["state"] == "SUCCEEDED"
    assert db.sql("SELECT count(*) FROM log").rows == [(1,)]
