"""Helpers shared by the catalog tests and by the child processes they start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tasksql.catalog import Catalog
from tasksql.model import (
    IntervalSchedule,
    QualifiedName,
    Spelling,
    SqlBody,
    SuspendReason,
    TaskDef,
    TaskRecord,
    TaskState,
)

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
