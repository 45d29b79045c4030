"""Helpers shared by the catalog tests and by the child processes they start."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tasksql.catalog import Catalog
from tasksql.clock import monotonic
from tasksql.model import (
    IntegrationDef,
    IntervalSchedule,
    QualifiedName,
    RunState,
    Spelling,
    SqlBody,
    SuspendReason,
    TaskDef,
    TaskRecord,
    TaskState,
    Webhook,
)
from tasksql.model.cluster import Membership
from tasksql.model.outbox import OutboxItem
from tasksql.model.run import NewRun, RunOutcome, RunRecord

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def qname(name: str, schema: str = "public", database: str = "tasksql") -> QualifiedName:
    return QualifiedName(name, schema, database)


def task_def(name: str | QualifiedName, **changes: Any) -> TaskDef:
    """A small resolved definition: ``SELECT 1`` every minute, plus ``changes``."""
    qualified = qname(name) if isinstance(name, str) else name
    base = TaskDef(name=qualified, body=SqlBody("SELECT 1"), schedule=IntervalSchedule(60_000))
    return base.with_changes(**changes) if changes else base


async def create(
    catalog: Catalog,
    name: str | QualifiedName,
    *,
    state: TaskState = TaskState.SUSPENDED,
    now: datetime = NOW,
    replace: bool = False,
    actor: str | None = "alice",
    **changes: Any,
) -> TaskRecord:
    """Create a task the way the engine does for a Snowflake spelling."""
    return await catalog.create_task(
        task_def(name, **changes),
        spelling=Spelling.SNOWFLAKE,
        state=state,
        suspend_reason=SuspendReason.CREATED if state is TaskState.SUSPENDED else None,
        owner="alice",
        now=now,
        next_fire_at=later(60) if state is TaskState.STARTED else None,
        replace=replace,
        actor=actor,
    )


# --- runs ----------------------------------------------------------------------------------------


def new_run(
    record: TaskRecord,
    scheduled: datetime = NOW,
    *,
    state: RunState = RunState.EXECUTING,
    node: str = "node-a",
    **changes: Any,
) -> NewRun:
    """A run of ``record`` for the instant ``scheduled``, as the scheduler inserts it."""
    name = record.definition.name
    fields: dict[str, Any] = {
        "task_id": record.id,
        "task_version": record.version,
        "name": name.name,
        "database_name": name.database or "",
        "schema_name": name.schema or "",
        "scheduled_time": scheduled,
        "state": state,
        "query_start_time": scheduled + timedelta(milliseconds=5) if state is RunState.EXECUTING else None,
        "query_text": "SELECT 1",
        "warehouse": "default",
        "node_id": node,
        **changes,
    }
    return NewRun(**fields)


async def fire_run(
    catalog: Catalog, record: TaskRecord, scheduled: datetime = NOW, **changes: Any
) -> RunRecord:
    """Insert one run (EXECUTING unless ``state`` says otherwise) and return it."""
    [run] = await catalog.fire([new_run(record, scheduled, **changes)], [])
    assert run is not None
    return run


def ended(run: RunRecord, state: RunState = RunState.SUCCEEDED, **changes: Any) -> RunOutcome:
    """The final outcome of ``run`` (42 ms after its instant)."""
    fields: dict[str, Any] = {
        "run_id": run.run_id,
        "state": state,
        "query_start_time": run.query_start_time,
        "completed_time": run.scheduled_time + timedelta(milliseconds=42),
        **changes,
    }
    return RunOutcome(**fields)


async def state_and_times(catalog: Catalog, run_id: int) -> tuple[RunState, datetime | None, datetime | None]:
    """Run ``run_id``'s stored state, query start time and completion time; fails when the run is
    not stored."""
    stored = await catalog.get_run(run_id)
    assert stored is not None
    return stored.state, stored.query_start_time, stored.completed_time


# --- notifications -------------------------------------------------------------------------------


async def put_integration(catalog: Catalog, name: str, url: str, *, enabled: bool = True) -> IntegrationDef:
    """Create (or replace) a webhook integration."""
    definition = IntegrationDef(name=name, enabled=enabled, webhook=Webhook(url=url))
    await catalog.put_integration(definition, replace=True, now=NOW)
    return definition


def item(integration_name: str = "hook", *, created_at: datetime = NOW) -> OutboxItem:
    """A message to queue, with a small JSON payload that names its own id."""
    message_id = str(uuid.uuid4())
    return OutboxItem(
        message_id=message_id,
        integration=integration_name,
        event_type="TASK_FAILED",
        payload=f'{{"version":"1.0","messageId":"{message_id}"}}',
        created_at=created_at,
    )


# --- cluster -------------------------------------------------------------------------------------

#: A lease long enough never to run out during a test.
LONG = 60.0
#: A lease short enough to run out while a test waits for it.
SHORT = 0.4


def member(
    node_id: str, *, lease: float = LONG, capacity: int = 4, warehouses: tuple[str, ...] | None = None
) -> Membership:
    """What node ``node_id`` declares when it joins."""
    return Membership(
        node_id=node_id,
        host="host-" + node_id,
        pid=100,
        version="test",
        started_at=NOW,
        lease_seconds=lease,
        capacity=capacity,
        warehouses=warehouses,
        address=f"http://{node_id}:8801",
    )


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 30.0) -> None:
    """Poll ``check`` until it holds, failing after ``within`` seconds."""
    deadline = monotonic() + within
    while not await check():
        assert monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def expired(catalog: Catalog, node_id: str) -> bool:
    """Whether ``node_id``'s lease is not live, as the catalog judges it now."""
    [node] = [m for m in await catalog.cluster_members() if m.node_id == node_id]
    return not node.live
