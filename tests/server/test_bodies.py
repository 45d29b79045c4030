"""Request bodies within bounds: size (413), JSON nesting (400 before decoding), text (UTF-8, no
lone surrogates, strict JSON). Each refused body would have created a task; none is created."""

from __future__ import annotations

import json
import time

import pytest
from api_support import Client, assert_error_shape
from hypothesis import given, settings
from hypothesis import strategies as st

from tasksql.server.bodies import MAX_BODY_BYTES, MAX_JSON_DEPTH, json_depth_exceeds


def _depth(text: str) -> int:
    """Reference: the deepest nesting, by walking every character (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH,
        "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1),
        '{"a":' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1),
        '["[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]',
        '["\\"[[", ' + "[" * 70 + "]" * 70 + "]",
        "[" * 100_000,  # never closed: a decoder would still descend
        "]" * 100 + "[" * 100,  # a decoder stops at the first "]"
        '{"a": "\\\\", "b": ' + "[" * 70 + "]" * 70 + "}",  # an escaped backslash ends no string
        "[]" * 10_000,
        ("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) * 50,
        "{" * 40 + "[" * 40 + "]" * 40 + "}" * 40,
    ],
)
def test_depth_check_agrees_with_a_character_walk(text: str) -> None:
    assert json_depth_exceeds(text) == (_depth(text) > MAX_JSON_DEPTH)


def test_depth_check_is_fast_on_large_bodies() -> None:
    # this thread's CPU time, not the wall clock: on a loaded machine the thread waits for a core
    started = time.thread_time()
    assert json_depth_exceeds("[" * 100_000 + "]" * 100_000)
    assert not json_depth_exceeds(json.dumps([[1, [2, {"a": '[[["\\'}]]] * 50_000))
    assert not json_depth_exceeds(("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) * 8_000)
    assert time.thread_time() - started < 2.0


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b'{"sql": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400, "JSON_TOO_DEEP"),
        (b"[" * 100_000, 400, "JSON_TOO_DEEP"),
        (b'{"sql": "SELECT 1"', 400, "BAD_REQUEST"),  # truncated
        (b'{"sql": NaN}', 400, "BAD_REQUEST"),
        (b'{"sql": "\\ud800"}', 400, "BAD_REQUEST"),  # a lone surrogate cannot be stored
        (b'{"sql": "\xff"}', 400, "BAD_REQUEST"),  # not UTF-8
        (b"", 400, "BAD_REQUEST"),
        (b"1" * 5000, 400, "BAD_REQUEST"),  # an integer past Python's digit limit
        (b'["sql"]', 400, "BAD_REQUEST"),
    ],
)
async def test_bad_bodies_are_clear_400s(client: Client, raw: bytes, status: int, code: str) -> None:
    resp = await client.post("/api/v1/sql", data=raw, headers={"Content-Type": "application/json"})
    body = await resp.json()
    assert resp.status == status, body
    assert_error_shape(body, status, code)
    assert "Traceback" not in body["error"]["message"]


async def test_oversized_body_is_a_413_naming_the_limit(client: Client) -> None:
    script = "SELECT 1;" * (MAX_BODY_BYTES // 9 + 1)
    resp = await client.post("/api/v1/sql", json={"sql": script})
    body = await resp.json()
    assert resp.status == 413
    assert_error_shape(body, 413, "BODY_TOO_LARGE")
    assert "MiB" in body["error"]["message"]


async def test_deep_config_on_execute_is_refused(client: Client) -> None:
    await client.post("/api/v1/sql", json={"sql": "CREATE TASK t AS SELECT 1"})
    deep: object = 1
    for _ in range(MAX_JSON_DEPTH + 5):
        deep = [deep]
    resp = await client.post("/api/v1/tasks/t/execute", json={"config": deep})
    assert_error_shape(await resp.json(), 400, "JSON_TOO_DEEP")
    runs = (await (await client.get("/api/v1/tasks/t/runs")).json())["runs"]
    assert runs == []


@pytest.mark.parametrize("payload", [[1], "x", {"config": {}, "extra": 1}])
async def test_execute_body_must_be_an_object_with_config(client: Client, payload: object) -> None:
    await client.post("/api/v1/sql", json={"sql": "CREATE TASK t AS SELECT 1"})
    resp = await client.post("/api/v1/tasks/t/execute", json=payload)
    assert_error_shape(await resp.json(), 400, "BAD_REQUEST")
    assert (await (await client.get("/api/v1/tasks/t/runs")).json())["runs"] == []


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:', max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=200,
)


def _value_depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_value_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_value_depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=150, deadline=None, derandomize=True)
@given(value=_json_values, limit=st.integers(min_value=0, max_value=12))
def test_depth_check_matches_the_depth_of_any_json_value(value: object, limit: int) -> None:
    """Strings full of brackets, quotes and backslashes do not fool it (hypothesis, derandomized)."""
    assert json_depth_exceeds(json.dumps(value), limit) == (_value_depth(value) > limit)
