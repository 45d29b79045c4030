"""Result values nested deeply (DuckDB ``SELECT [[[...]]]``, which goes up to a thousand levels):
``tasksql sql`` in every format and the HTTP API of a real ``tasksql serve`` answer with one
VALUE_TOO_DEEP error, never a RecursionError; values nested up to the bound travel whole.

DuckDB needs half a minute to build a value a thousand levels deep (its time grows with the square
of the depth), so the queries here go just past the bound; a value 100,000 deep is checked in
Python."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from interface_support import post_sql, served, tasksql

from tasksql.client import MAX_VALUE_DEPTH, RemoteServer, check_value_depth, encode_value
from tasksql.errors import TasksqlError

__all__ = ["served"]  # the fixture

TOO_DEEP = MAX_VALUE_DEPTH + 20


def nested(depth: int) -> str:
    """A DuckDB list literal ``depth`` levels deep around the number 1."""
    return "[" * depth + "1" + "]" * depth


def depth_of(value: Any) -> int:
    depth = 0
    while isinstance(value, list):
        assert len(value) == 1
        value, depth = value[0], depth + 1
    assert value == 1
    return depth


def too_deep_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "RecursionError" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error [VALUE_TOO_DEEP]: ")
    assert "CAST(value AS VARCHAR)" in lines[0]
    return lines[0]


def test_the_depth_check_is_exact_and_needs_no_recursion() -> None:
    value: Any = 1
    for _ in range(MAX_VALUE_DEPTH):
        value = [value]
    check_value_depth(value)
    assert depth_of(encode_value(value)) == MAX_VALUE_DEPTH
    check_value_depth({"k": (value[0][0], 2)})  # a dict and a tuple count as levels too
    with pytest.raises(TasksqlError):
        check_value_depth({"k": (value[0], 2)})
    deeper: Any = [1]
    for _ in range(100_000):  # far beyond the interpreter's recursion limit
        deeper = [deeper]
    for wrapped in (deeper, {"k": deeper}, (deeper,), [[1], {"a": [deeper]}]):
        with pytest.raises(TasksqlError) as info:
            encode_value(wrapped)
        assert info.value.code == "VALUE_TOO_DEEP"
    assert encode_value({"a": [(1, 2.5), {"b": None}]}) == {"a": [[1, 2.5], {"b": None}]}


@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
def test_sql_refuses_a_value_too_deep_in_one_line(tmp_path: Path, fmt: str) -> None:
    done = tasksql(
        tmp_path / "data", "--format", fmt, "sql", f"SELECT 1 AS a; SELECT {nested(TOO_DEEP)} AS v"
    )
    too_deep_error(done)
    assert "1" in done.stdout  # the result before it was printed
    if fmt == "json":
        assert done.stdout.splitlines() == ['[{"a": 1}]']
    if fmt == "csv":
        assert done.stdout.splitlines() == ["a", "1"]  # nothing of the refused result


def test_sql_prints_a_value_nested_to_the_bound(tmp_path: Path) -> None:
    done = tasksql(tmp_path / "data", "--format", "json", "sql", f"SELECT {nested(MAX_VALUE_DEPTH)} AS v")
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)
    assert depth_of(row["v"]) == MAX_VALUE_DEPTH
    done = tasksql(
        tmp_path / "data", "--format", "json", "sql", f"SELECT CAST({nested(TOO_DEEP)} AS VARCHAR) AS v"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["v"] == nested(TOO_DEEP).replace(",", ", ")


def test_the_api_answers_a_value_too_deep_with_its_error(served: tuple[Path, RemoteServer]) -> None:
    data, server = served
    status, answer = post_sql(server, f"SELECT {nested(TOO_DEEP)} AS v")
    assert status == 400
    assert answer["ok"] is False and answer["error"]["code"] == "VALUE_TOO_DEEP"
    status, answer = post_sql(server, f"SELECT {nested(MAX_VALUE_DEPTH)} AS v")
    assert status == 200
    assert depth_of(answer["results"][0]["rows"][0][0]) == MAX_VALUE_DEPTH
    # the CLI as a client of the server: the same one line, and the server still answers
    too_deep_error(tasksql(data, "--format", "json", "sql", f"SELECT {nested(TOO_DEEP)} AS v"))
    assert server.answers_as(server.node_id)
    done = tasksql(data, "--format", "json", "sql", f"SELECT {nested(MAX_VALUE_DEPTH)} AS v")
    assert done.returncode == 0, done.stderr
    assert depth_of(json.loads(done.stdout)[0]["v"]) == MAX_VALUE_DEPTH
