"""Helpers of the notification tests: real catalogs, tasks, runs and outcomes, and outbox items."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tasksql.catalog import Catalog
from tasksql.model import (
    IntegrationDef,
    IntervalSchedule,
    QualifiedName,
    RunState,
    Spelling,
    SqlBody,
    TaskDef,
    TaskRecord,
    TaskState,
    Webhook,
)
from tasksql.model.outbox import OutboxItem
from tasksql.model.run import NewRun, RunOutcome, RunRecord

NOW = datetime(2026, 3, 19, 2, 37, 21, 160705, tzinfo=UTC)


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def integration(name: str, url: str, **changes: Any) -> IntegrationDef:
    """A webhook integration; ``changes`` may set ``enabled`` or webhook fields."""
    hook = {k: changes.pop(k) for k in ("method", "authorization_header", "signing_secret") if k in changes}
    return IntegrationDef(name=name, webhook=Webhook(url=url, **hook), **changes)


async def put_integration(catalog: Catalog, name: str, url: str, **changes: Any) -> IntegrationDef:
    definition = integration(name, url, **changes)
    await catalog.put_integration(definition, replace=True, now=NOW)
    return definition


async def create_task(catalog: Catalog, name: str = "my_task", **changes: Any) -> TaskRecord:
    """A started task (``SELECT 1/0`` every minute) with ``changes`` to its definition."""
    definition = TaskDef(
        name=QualifiedName(name, "public", "tasksql"),
        body=SqlBody("SELECT 1/0"),
        schedule=IntervalSchedule(60_000),
    ).with_changes(**changes)
    return await catalog.create_task(
        definition,
        spelling=Spelling.SNOWFLAKE,
        state=TaskState.STARTED,
        suspend_reason=None,
        owner="alice",
        now=NOW,
        next_fire_at=later(60),
    )


async def fire_run(catalog: Catalog, record: TaskRecord, scheduled: datetime = NOW) -> RunRecord:
    """Insert an EXECUTING run of ``record`` for the instant ``scheduled`` (as the scheduler does)."""
    task = record.definition
    [run] = await catalog.fire(
        [
            NewRun(
                task_id=record.id,
                task_version=record.version,
                name=task.name.name,
                database_name=task.name.database or "",
                schema_name=task.name.schema or "",
                scheduled_time=scheduled,
                state=RunState.EXECUTING,
                query_start_time=scheduled + timedelta(milliseconds=5),
                query_text="SELECT 1/0",
                warehouse="default",
                node_id="node-a",
            )
        ],
        [],
    )
    assert run is not None
    return run


def failed(run: RunRecord, *, code: str = "22012", message: str = "Division by zero!") -> RunOutcome:
    return RunOutcome(
        run_id=run.run_id,
        state=RunState.FAILED,
        query_start_time=run.query_start_time,
        completed_time=run.scheduled_time + timedelta(milliseconds=42),
        error_code=code,
        error_message=message,
        query_id="88bb9d5d-5d5e-4e52-92cc-b1953406245a",
    )


def succeeded(run: RunRecord) -> RunOutcome:
    return RunOutcome(
        run_id=run.run_id,
        state=RunState.SUCCEEDED,
        query_start_time=run.query_start_time,
        completed_time=run.scheduled_time + timedelta(milliseconds=7),
        rows_produced=1,
    )


def item(integration_name: str = "hook", *, created_at: datetime = NOW, n: int = 0) -> OutboxItem:
    """A queued message with a small JSON payload that names its own id."""
    message_id = str(uuid.uuid4())
    return OutboxItem(
        message_id=message_id,
        integration=integration_name,
        event_type="TASK_FAILED",
        payload=f'{{"version":"1.0","messageId":"{message_id}","n":{n}}}',
        created_at=created_at,
    )
