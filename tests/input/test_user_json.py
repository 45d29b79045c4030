"""JSON a user writes (CONFIG, USING CONFIG) is decoded within bounds, never with a RecursionError."""

from __future__ import annotations

import re

import pytest

from tasksql.errors import ValidationError
from tasksql.jsontext import MAX_JSON_DEPTH, JsonTextError, loads_user_json, nesting_beyond
from tasksql.sql import parse


def test_nesting_is_measured_without_recursion() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    assert nesting_beyond(deep) == MAX_JSON_DEPTH  # the bracket that opens level 65
    assert nesting_beyond("[" * 64 + "]" * 64) is None
    assert nesting_beyond('["[[[[", {"a": "}}}"}]', limit=2) is None  # brackets in strings do not nest
    assert nesting_beyond('{"a": [[1]]}', limit=2) == 7


def test_deep_json_is_refused_with_the_limit() -> None:
    with pytest.raises(JsonTextError, match="deeper than 64 levels") as info:
        loads_user_json('{"a":' * 100_000 + "1" + "}" * 100_000)
    assert info.value.offset == 5 * MAX_JSON_DEPTH
    assert loads_user_json("[" * 64 + "]" * 64) is not None


@pytest.mark.parametrize(
    ("text", "message", "offset"),
    [
        ('{"a": "\\ud800"}', "\\ud800 is a lone surrogate", 7),
        ('["x\\udc00"]', "\\udc00 is a lone surrogate", 3),
        ('["\\ud83d x"]', "\\ud83d is a lone surrogate", 2),
        ('["\\u0000"]', "\\u0000 is a NUL character", 2),
        ('{"a": NaN}', "NaN is not a JSON value", 6),
        ('{"a": 1,}', "Expecting property name", 8),
        ('["\ud800"]', "lone surrogate (U+D800)", 2),
    ],
)
def test_refused_json(text: str, message: str, offset: int) -> None:
    with pytest.raises(JsonTextError, match=re.escape(message)) as info:
        loads_user_json(text)
    assert info.value.offset == offset


@pytest.mark.parametrize("text", ['["\\ud83d\\ude00"]', '["\\\\ud800"]', '{"a": [1, "b", null]}'])
def test_accepted_json(text: str) -> None:
    loads_user_json(text)


def test_config_errors_point_inside_the_string() -> None:
    text = "CREATE TASK t SCHEDULE = '1 minute'\nCONFIG = $$" + "[" * 1000 + "]" * 1000 + "$$ AS SELECT 1"
    with pytest.raises(ValidationError) as info:
        parse(text)
    err = info.value
    assert err.code == "INVALID_VALUE"
    assert "deeper than 64 levels" in err.message
    assert err.span is not None and (err.span.line, err.span.column) == (2, 12 + 64)


def test_using_config_is_bounded_too() -> None:
    with pytest.raises(
        ValidationError, match="USING CONFIG must be valid JSON: arrays and objects nested deeper"
    ):
        parse("EXECUTE TASK t USING CONFIG = '" + "[" * 100_000 + "'")


def test_a_webhook_receiver_reads_a_deep_body_without_recursion() -> None:
    from tasksql.notify.events import read_payload

    with pytest.raises(ValidationError, match="deeper than 64 levels") as info:
        read_payload('{"version": "1.0", "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert info.value.code == "INVALID_PAYLOAD"
