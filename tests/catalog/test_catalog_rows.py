"""Decoding stored definitions: memoised by fingerprint, never keeping the stored text alive."""

from __future__ import annotations

import sys

from catalog_support import task_def

from tasksql.catalog.rows import parse_definition
from tasksql.model import SqlBody, task_to_json


def _text(i: int) -> str:
    # built at run time, so the test holds the only other reference
    return task_to_json(task_def(f"memo_{i}", body=SqlBody(f"SELECT {i}")))


def test_a_text_is_decoded_once_and_the_same_value_is_shared() -> None:
    first = parse_definition(_text(1))
    again = parse_definition(_text(1))  # an equal text from another fetch
    assert again is first
    other = parse_definition(_text(2))
    assert other is not first and other.body == SqlBody("SELECT 2")
    assert first.body == SqlBody("SELECT 1") and str(first.name.name) == "memo_1"


def test_the_memo_does_not_keep_the_stored_text_alive() -> None:
    text = _text(3)
    before = sys.getrefcount(text)
    parse_definition(text)
    parse_definition(text)
    assert sys.getrefcount(text) == before
