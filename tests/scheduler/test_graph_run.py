"""The pure graph-run state machine: joins, failure and skip propagation, finalizer, retries."""

from __future__ import annotations

from datetime import UTC, datetime

from tasksql.model import QualifiedName, RunState, SqlBody, TaskDef, TaskState
from tasksql.scheduler.graph_run import GraphRun, graph_members

S = RunState


def n(name: str) -> QualifiedName:
    return QualifiedName(name, "public", "tasksql")


def graph(
    spec: dict[str, list[str]], *, finalizer: str | None = None, suspended: set[str] = frozenset()
) -> GraphRun:
    """spec: task -> predecessors. Task ids are 1, 2, ... in spec order; 'r' is the root."""
    ids = {name: i for i, name in enumerate([*spec, *([finalizer] if finalizer else [])], 1)}
    tasks = {}
    for name, preds in spec.items():
        d = TaskDef(name=n(name), body=SqlBody("SELECT 1"), after=tuple(n(p) for p in preds))
        tasks[ids[name]] = (1, d, TaskState.SUSPENDED if name in suspended else TaskState.STARTED)
    if finalizer:
        d = TaskDef(name=n(finalizer), body=SqlBody("SELECT 1"), finalize=n("r"))
        tasks[ids[finalizer]] = (1, d, TaskState.STARTED)
    by_name = {d.name: t for t, (_, d, _) in tasks.items()}

    def children_of(name: QualifiedName) -> list[int]:
        return [t for t, (_, d, _) in tasks.items() if name in d.after]

    def finalizer_of(name: QualifiedName) -> int | None:
        return next((t for t, (_, d, _) in tasks.items() if d.finalize == name), None)

    members = graph_members(by_name[n("r")], tasks.get, children_of, finalizer_of)
    return GraphRun(
        group_id="g",
        root_id=ids["r"],
        members=members,
        graph_version=1,
        scheduled_time=datetime(2026, 1, 1, tzinfo=UTC),
    )


def names(g: GraphRun, ids: list[int]) -> list[str]:
    return sorted(g.member(i).name.name for i in ids)


def test_chain_runs_one_after_another() -> None:
    g = graph({"r": [], "a": ["r"], "b": ["a"]})
    assert names(g, g.begin().start) == ["r"]
    assert names(g, g.done(1, S.SUCCEEDED).start) == ["a"]
    assert names(g, g.done(2, S.SUCCEEDED).start) == ["b"]
    end = g.done(3, S.SUCCEEDED).end
    assert end is not None and end.state == "SUCCEEDED"


def test_join_waits_for_every_predecessor_and_siblings_run_in_parallel() -> None:
    g = graph({"r": [], "a": ["r"], "b": ["r"], "j": ["a", "b"]})
    g.begin()
    assert names(g, g.done(1, S.SUCCEEDED).start) == ["a", "b"]
    step = g.done(2, S.SUCCEEDED)
    assert step.start == [] and step.end is None
    assert names(g, g.done(3, S.SUCCEEDED).start) == ["j"]


def test_failure_stops_descendants_with_a_reason() -> None:
    g = graph({"r": [], "a": ["r"], "b": ["r"], "c": ["a"], "d": ["c"], "j": ["b", "c"]})
    g.begin()
    g.done(1, S.SUCCEEDED)
    step = g.done(2, S.FAILED, code="42P01", message="no such table")
    # everything downstream of a, the join j included, can no longer run: skipped at once
    assert names(g, [s.task_id for s in step.skip]) == ["c", "d", "j"]
    assert {s.code for s in step.skip} == {"PREDECESSOR_FAILED"}
    assert step.end is None  # b still runs
    step = g.done(3, S.SUCCEEDED)
    assert step.skip == [] and step.end is not None
    assert (step.end.state, step.end.first_error_task, step.end.first_error_code) == (
        "FAILED",
        "tasksql.public.a",
        "42P01",
    )


def test_a_predecessor_skipped_by_its_when_counts_as_done() -> None:
    g = graph({"r": [], "a": ["r"], "b": ["a"]})
    g.begin()
    g.done(1, S.SUCCEEDED)
    assert names(g, g.done(2, S.SKIPPED, code="CONDITION_FALSE").start) == ["b"]


def test_root_when_false_skips_the_whole_graph_run() -> None:
    g = graph({"r": [], "a": ["r"]}, finalizer="f")
    g.begin()
    step = g.done(1, S.SKIPPED, code="CONDITION_FALSE")
    assert step.start == [] and step.end is not None and step.end.state == "SKIPPED"


def test_finalizer_runs_after_everything_even_after_a_failure() -> None:
    g = graph({"r": [], "a": ["r"], "b": ["r"]}, finalizer="f")
    g.begin()
    g.done(1, S.SUCCEEDED)
    assert g.done(2, S.FAILED, code="X").start == []
    step = g.done(3, S.SUCCEEDED)
    assert names(g, step.start) == ["f"] and step.end is None
    end = g.done(4, S.SUCCEEDED).end
    assert end is not None and end.state == "FAILED" and end.first_error_code == "X"


def test_finalizer_runs_when_the_root_fails() -> None:
    g = graph({"r": [], "a": ["r"]}, finalizer="f")
    g.begin()
    step = g.done(1, S.FAILED, code="E")
    assert names(g, [s.task_id for s in step.skip]) == ["a"]
    assert names(g, step.start) == ["f"]


def test_suspended_member_is_skipped_and_blocks_its_descendants() -> None:
    g = graph({"r": [], "a": ["r"], "b": ["a"], "c": ["r"]}, suspended={"a"})
    g.begin()
    step = g.done(1, S.SUCCEEDED)
    assert names(g, step.start) == ["c"]
    assert [(g.member(s.task_id).name.name, s.code) for s in step.skip] == [
        ("a", "TASK_SUSPENDED"),
        ("b", "PREDECESSOR_FAILED"),
    ]


def test_cancelled_member_ends_the_graph_run_cancelled() -> None:
    g = graph({"r": [], "a": ["r"]})
    g.begin()
    g.done(1, S.SUCCEEDED)
    end = g.done(2, S.CANCELLED, code="CANCELLED").end
    assert end is not None and end.state == "CANCELLED"


def test_retry_starts_from_the_failed_tasks() -> None:
    g = graph({"r": [], "a": ["r"], "b": ["r"], "c": ["a", "b"]})
    step = g.begin(prior={1: S.SUCCEEDED, 3: S.SUCCEEDED})
    assert names(g, step.start) == ["a"]
    assert names(g, g.done(2, S.SUCCEEDED).start) == ["c"]


def test_return_values_are_visible_by_name() -> None:
    g = graph({"r": [], "a": ["r"]})
    g.begin()
    g.done(1, S.SUCCEEDED, return_value="42")
    assert g.predecessor_values() == {"tasksql.public.r": "42", "r": "42"}
