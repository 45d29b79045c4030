"""docs/sql-reference.md stays true: its examples parse, and it names every property, statement
and error code of the front end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sql_fixtures import error_cases

from tasksql.sql import parse
from tasksql.sql.parser import CREATE_STATEMENTS, STATEMENTS
from tasksql.sql.properties import PROPERTIES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "sql-reference.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```sql\n(.*?)```", DOC, re.S)


@pytest.mark.parametrize("block", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_examples_parse(block: str) -> None:
    assert parse(block)


def test_every_property_is_documented() -> None:
    for prop in PROPERTIES:
        assert f"`{' '.join(prop.words)}`" in DOC, prop.key


def test_every_statement_is_documented() -> None:
    for leading in [*STATEMENTS, *(("CREATE", *w) for w in CREATE_STATEMENTS)]:
        if leading[0] == "DESCRIBE":
            continue
        words = ("DESC[RIBE]", *leading[1:]) if leading[0] == "DESC" else leading
        assert re.search(r"\b" + r"\s+(?:\S+\s+)*?".join(map(re.escape, words)), DOC), words


def test_every_error_code_is_documented() -> None:
    for code in {c.code for c in error_cases()}:
        assert f"`{code}`" in DOC, code
