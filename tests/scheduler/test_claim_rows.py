"""A claim's row (``outcomes.claim_run``) is the row ``new_run`` makes for a SCHEDULED instant, made
once per task record and node and copied with each instant."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from tasksql.model import IntervalSchedule, QualifiedName, Spelling, SqlBody, TaskDef, TaskRecord, TaskState
from tasksql.model.run import RunState, ScheduledFrom
from tasksql.scheduler import outcomes

NOW = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)


def a_record(version: int = 1) -> TaskRecord:
    task = TaskDef(
        name=QualifiedName("t", "public", "db"),
        body=SqlBody("SELECT 1"),
        schedule=IntervalSchedule(1000),
        warehouse="w",
    )
    return TaskRecord(
        id=5,
        definition=task,
        version=version,
        state=TaskState.STARTED,
        spelling=Spelling.SNOWFLAKE,
        owner="o",
        created_on=NOW,
        last_committed_on=NOW,
    )


def expected(record: TaskRecord, instant: datetime, node: str) -> object:
    return outcomes.new_run(
        record,
        scheduled_time=instant,
        state=RunState.SCHEDULED,
        scheduled_from=ScheduledFrom.SCHEDULE,
        node_id=node,
        now=NOW,
    )


def test_a_claim_row_is_new_runs_row_for_every_instant() -> None:
    record = a_record()
    for k in range(3):
        instant = NOW + timedelta(seconds=k + 1)
        row = outcomes.claim_run(record, instant, "n1", NOW + timedelta(milliseconds=k))
        assert row == expected(record, instant, "n1")
        assert row.state is RunState.SCHEDULED and row.query_start_time is None and row.completed_time is None


def test_another_record_or_node_gets_its_own_row() -> None:
    old = a_record(1)
    outcomes.claim_run(old, NOW, "n1", NOW)
    new = dataclasses.replace(old, version=2, definition=dataclasses.replace(old.definition, warehouse="v"))
    row = outcomes.claim_run(new, NOW, "n1", NOW)
    assert (row.task_version, row.warehouse) == (2, "v")
    assert outcomes.claim_run(new, NOW, "n2", NOW).node_id == "n2"
