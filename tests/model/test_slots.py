"""The faster constructors and copies of frozen slotted dataclasses (``tasksql.model.slots``) make
the same values as the ones dataclasses generates, and the classes stay frozen."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime

import pytest

from tasksql.model.run import (
    InvalidTransition,
    NewRun,
    RunOutcome,
    RunRecord,
    RunState,
    ScheduledFrom,
    evolve,
    started,
)
from tasksql.model.slots import copier, fast_init
from tasksql.scheduler.planner import Action, Decision, FirePlan

NOW = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)


def a_record(**changes: object) -> RunRecord:
    values: dict[str, object] = {
        "run_id": 7,
        "task_id": 3,
        "task_version": 2,
        "name": "t",
        "database_name": "db",
        "schema_name": "s",
        "scheduled_time": NOW,
        "state": RunState.SCHEDULED,
        "scheduled_from": ScheduledFrom.SCHEDULE,
        "attempt_number": 1,
        "query_start_time": None,
        "completed_time": None,
        "error_code": None,
        "error_message": None,
        "query_text": "SELECT 1",
        "condition_text": None,
        "warehouse": "w",
        "node_id": "n",
        "graph_run_group_id": None,
        "root_task_id": None,
        "graph_version": None,
        "config": None,
    }
    values.update(changes)
    return RunRecord(**values)  # type: ignore[arg-type]


def test_fast_init_keeps_the_signature_defaults_and_frozenness() -> None:
    rec = a_record(rows_produced=4)
    assert rec.rows_produced == 4 and rec.query_id is None  # given, and a default
    assert rec == a_record(rows_produced=4) and hash(rec) == hash(a_record(rows_produced=4))
    assert pickle.loads(pickle.dumps(rec)) == rec
    assert repr(RunOutcome(run_id=1, state=RunState.FAILED)).startswith("RunOutcome(run_id=1, state=")
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.state = RunState.FAILED  # type: ignore[misc]
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'state'"):
        RunOutcome(run_id=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="positional argument"):
        RunOutcome(1, RunState.FAILED)  # type: ignore[misc]
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        NewRun(nope=1)  # type: ignore[call-arg]


def test_fast_init_on_positional_fields_and_default_factories() -> None:
    decision = Decision(NOW, Action.RUN)
    assert (decision.instant, decision.action, decision.code) == (NOW, Action.RUN, None)
    assert Decision(NOW, Action.SKIP, "OVERLAP", "m").message == "m"
    first, second = FirePlan(), FirePlan()
    assert first.decisions == [] and first.decisions is not second.decisions  # a new list each
    assert FirePlan([decision], NOW).next_fire == NOW


def test_evolve_is_dataclasses_replace() -> None:
    rec = a_record()
    for changes in (
        {"state": RunState.EXECUTING, "query_start_time": NOW},
        {"state": RunState.SKIPPED, "completed_time": NOW},
        {"query_start_time": NOW, "state": RunState.EXECUTING},  # the same fields in another order
        {},
    ):
        assert evolve(rec, **changes) == dataclasses.replace(rec, **changes)  # type: ignore[arg-type]
    assert evolve(rec) is not rec


def test_started_is_the_checked_move_to_executing() -> None:
    rec = a_record()
    assert started(rec, NOW) == dataclasses.replace(rec, state=RunState.EXECUTING, query_start_time=NOW)
    for settled in (RunState.SUCCEEDED, RunState.CANCELLED, RunState.EXECUTING):
        with pytest.raises(
            InvalidTransition, match=f"a run in state {settled.value} cannot move to EXECUTING"
        ):
            started(a_record(state=settled), NOW)


def test_copier_and_fast_init_refuse_what_they_do_not_cover() -> None:
    with pytest.raises(TypeError, match="no field 'nope'"):
        copier(RunRecord, ("nope",))

    @dataclasses.dataclass
    class Plain:
        x: int

    with pytest.raises(TypeError, match="not a frozen, slotted dataclass"):
        fast_init(Plain)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            pass

    with pytest.raises(TypeError, match="__post_init__"):
        fast_init(Checked)
