"""What a run derives from its task definition is computed once per definition object, never
reused for another one (an ALTER makes a new version: a new object), and a failure is not kept."""

from __future__ import annotations

import dataclasses

import pytest

from tasksql.model import IntervalSchedule, QualifiedName, SqlBody, TaskDef
from tasksql.scheduler.runner import _derived


def _task(text: str = "SELECT 1") -> TaskDef:
    return TaskDef(
        name=QualifiedName("t", "public", "tasksql"), body=SqlBody(text), schedule=IntervalSchedule(1000)
    )


def test_once_per_definition_object() -> None:
    task = _task()
    calls: list[str] = []

    def compute() -> str:
        calls.append("x")
        return task.body.text  # type: ignore[union-attr]

    assert _derived(task, "probe", "duckdb", compute) == "SELECT 1"
    assert _derived(task, "probe", "duckdb", compute) == "SELECT 1"
    assert len(calls) == 1
    _derived(task, "probe", "sqlite", compute)  # another variant: its own value
    assert len(calls) == 2


def test_a_new_version_is_computed_again() -> None:
    old = _task("SELECT 1")
    new = dataclasses.replace(old, body=SqlBody("SELECT 2"))
    assert _derived(old, "text", "", lambda: old.body.text) == "SELECT 1"  # type: ignore[union-attr]
    assert _derived(new, "text", "", lambda: new.body.text) == "SELECT 2"  # type: ignore[union-attr]
    same = dataclasses.replace(old)  # equal, but another object: no value of the first is taken
    assert _derived(same, "text", "", lambda: "computed again") == "computed again"


def test_a_failure_is_not_kept() -> None:
    task = _task()
    tries: list[int] = []

    def fail_once() -> int:
        tries.append(1)
        if len(tries) == 1:
            raise ValueError("first")
        return len(tries)

    with pytest.raises(ValueError, match="first"):
        _derived(task, "flaky", "", fail_once)
    assert _derived(task, "flaky", "", fail_once) == 2
