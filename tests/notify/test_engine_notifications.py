"""Notifications through a real engine: integrations written in SQL, the whole pipeline from a
settled run to the receiver, ENABLED = FALSE, system.notification_history, and no secret shown."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from notify_support import NOW, item, later
from receiver import Receiver

from tasksql.engine import Engine
from tasksql.model import IntegrationDef, QualifiedName, RunState, ScheduledFrom
from tasksql.model.outbox import OutboxItem, OutboxState
from tasksql.model.run import NewRun, RunOutcome, RunRecord, TaskRuntime
from tasksql.notify import NotificationDispatcher, events_for, verify_signature
from tasksql.settings import Settings
from tasksql.testing import FakeClock

AUTH = "Bearer very-secret-token"
SECRET = "signing-secret-42"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(
        Settings.load(data_dir=tmp_path / "data", cluster_id="tn78p61xz"), clock=FakeClock(NOW)
    ) as e:
        yield e


async def sql(engine: Engine, text: str) -> list[tuple[Any, ...]]:
    return (await engine.execute(text))[-1].rows


async def integrations(engine: Engine) -> dict[str, IntegrationDef]:
    return {r.definition.name: r.definition for r in await engine.catalog.list_integrations()}


async def create_hook(engine: Engine, receiver: Receiver) -> None:
    await engine.execute(
        f"""CREATE NOTIFICATION INTEGRATION My_Hook
            TYPE = WEBHOOK
            ENABLED = TRUE
            WEBHOOK = (
                url = '{receiver.url}',
                method = 'POST',
                authorization_header = '{AUTH}',
                signing_secret = '{SECRET}'
            )"""
    )


async def failing_run(engine: Engine) -> tuple[int, RunRecord]:
    """Fire a run of task ``my_task`` as the scheduler does (it fails: 1/0)."""
    record = await engine.catalog.get_task(QualifiedName("my_task", "public", "tasksql"))
    assert record is not None
    [run] = await engine.catalog.fire(
        [
            NewRun(
                task_id=record.id,
                task_version=record.version,
                name="my_task",
                database_name="tasksql",
                schema_name="public",
                scheduled_time=NOW,
                state=RunState.EXECUTING,
                scheduled_from=ScheduledFrom.SCHEDULE,
                query_start_time=NOW,
                node_id="test",
            )
        ],
        [],
    )
    assert run is not None
    return record.id, run


async def test_a_failed_run_reaches_the_receiver_signed_with_the_databend_payload(
    engine: Engine, receiver: Receiver
) -> None:
    await create_hook(engine, receiver)
    await engine.execute(
        "CREATE TASK my_task SCHEDULE = '1 MINUTE' ERROR_INTEGRATION = 'MY_HOOK' AS SELECT 1/0"
    )
    record = await engine.catalog.get_task(QualifiedName("my_task", "public", "tasksql"))
    assert record is not None
    task_id, run = await failing_run(engine)
    outcome = RunOutcome(
        run_id=run.run_id,
        state=RunState.FAILED,
        completed_time=later(0.5),
        error_code="22012",
        error_message="Division by zero!",
    )
    # what the scheduler does when it settles a run
    assert isinstance(engine.clock, FakeClock)
    engine.clock.set(later(0.5))
    items = events_for(
        task=record.definition,
        task_id=task_id,
        root=None,
        run=run,
        outcome=outcome,
        previous_failures=0,
        auto_suspended=False,
        now=later(0.5),
        cluster_id=engine.settings.cluster_id,
        integrations=await integrations(engine),
    )
    assert await engine.catalog.finish_run(
        outcome, TaskRuntime(task_id=task_id, consecutive_failures=1), items
    )

    dispatcher = NotificationDispatcher(engine.catalog, clock=engine.clock, node_id="n")
    try:
        assert await dispatcher.run_once() == 1
    finally:
        await dispatcher.stop()

    [got] = receiver.requests
    assert got.headers["Authorization"] == AUTH
    assert verify_signature(SECRET, got.headers["X-Tasksql-Signature"], got.body, now=NOW.timestamp())
    payload = got.json()
    assert got.message_id == payload["messageId"] == items[0].message_id
    assert {k: payload[k] for k in ("messageType", "tenantId", "taskName", "taskId", "rootTaskId")} == {
        "messageType": "TASK_FAILED",
        "tenantId": "tn78p61xz",
        "taskName": "tasksql.public.my_task",
        "taskId": str(task_id),
        "rootTaskId": str(task_id),
    }
    assert payload["messages"][0]["errorMessage"] == "Division by zero!"
    assert payload["messages"][0]["runId"] == str(run.run_id)


async def test_enabled_false_creates_no_messages_and_keeps_the_setting(
    engine: Engine, receiver: Receiver
) -> None:
    await create_hook(engine, receiver)
    await engine.execute(
        "CREATE TASK my_task SCHEDULE = '1 MINUTE' ERROR_INTEGRATION = 'my_hook' AS SELECT 1/0"
    )
    record = await engine.catalog.get_task(QualifiedName("my_task", "public", "tasksql"))
    assert record is not None
    task_id, run = await failing_run(engine)
    outcome = RunOutcome(run_id=run.run_id, state=RunState.FAILED, completed_time=NOW, error_code="X")

    def events(available: dict[str, IntegrationDef]) -> list[str]:
        return [
            i.event_type
            for i in events_for(
                task=record.definition,
                task_id=task_id,
                root=None,
                run=run,
                outcome=outcome,
                previous_failures=0,
                auto_suspended=False,
                now=NOW,
                cluster_id="local",
                integrations=available,
            )
        ]

    await engine.execute("ALTER NOTIFICATION INTEGRATION my_hook SET ENABLED = FALSE")
    assert events(await integrations(engine)) == []
    described = dict(await sql(engine, "DESCRIBE NOTIFICATION INTEGRATION my_hook"))
    assert (described["enabled"], described["url"]) == (False, receiver.url)

    await engine.execute("ALTER NOTIFICATION INTEGRATION my_hook SET ENABLED = TRUE")
    assert events(await integrations(engine)) == ["TASK_FAILED"]


async def test_system_notification_history_shows_every_attempt(engine: Engine, receiver: Receiver) -> None:
    await create_hook(engine, receiver)
    clock = engine.clock
    assert isinstance(clock, FakeClock)
    message = OutboxItem(
        message_id="7a0c1f8e-0000-4000-8000-000000000001",
        integration="my_hook",
        event_type="TASK_SUCCEEDED",
        payload=json.dumps({"version": "1.0"}),
        created_at=NOW,
    )
    await engine.catalog.enqueue_notifications([message])
    receiver.script.append(502)
    dispatcher = NotificationDispatcher(engine.catalog, clock=clock, node_id="n")
    try:
        await dispatcher.run_once()
        clock.advance(1)
        await dispatcher.run_once()
    finally:
        await dispatcher.stop()

    result = (await engine.execute("SELECT * FROM system.notification_history ORDER BY attempt"))[-1]
    assert result.columns == (
        "message_id",
        "integration",
        "event_type",
        "attempt",
        "status_code",
        "error",
        "sent_at",
        "duration_ms",
        "state",
        # Databend's columns (databendlabs/databend notification_history_table.rs)
        "created_on",
        "processed",
        "message_source",
        "integration_name",
        "message",
        "status",
        "error_message",
    )
    rows = [r[:7] + r[8:9] for r in result.rows]
    assert rows == [
        (message.message_id, "my_hook", "TASK_SUCCEEDED", 1, 502, "HTTP 502: answer 502", NOW, "DELIVERED"),
        (message.message_id, "my_hook", "TASK_SUCCEEDED", 2, 200, None, later(1), "DELIVERED"),
    ]
    databend = (
        await engine.execute(
            "SELECT created_on, processed, message_source, integration_name, message, status, error_message"
            " FROM system.notification_history WHERE integration_name = 'my_hook' ORDER BY processed"
        )
    )[-1].rows
    assert databend == [
        (NOW, NOW, "TASK", "my_hook", "TASK_SUCCEEDED", "RETRIABLE_FAILURE", "HTTP 502: answer 502"),
        (NOW, later(1), "TASK", "my_hook", "TASK_SUCCEEDED", "SUCCESS", ""),
    ]
    assert all(r[7] >= 0 for r in result.rows)
    assert await engine.catalog.list_notifications(state=OutboxState.DELIVERED)


async def test_no_statement_or_system_table_prints_a_secret(engine: Engine, receiver: Receiver) -> None:
    await create_hook(engine, receiver)
    receiver.status = 401
    await engine.catalog.enqueue_notifications([item("my_hook")])
    dispatcher = NotificationDispatcher(engine.catalog, clock=engine.clock, node_id="n")
    try:
        await dispatcher.run_once()
    finally:
        await dispatcher.stop()

    shown = []
    for statement in (
        "SHOW NOTIFICATION INTEGRATIONS",
        "DESCRIBE NOTIFICATION INTEGRATION my_hook",
        "SELECT * FROM system.notification_integrations",
        "SELECT * FROM system.notification_history",
    ):
        result = (await engine.execute(statement))[-1]
        assert result.rows, statement
        shown.append(repr(result.rows))
    text = "\n".join(shown)
    assert "HTTP 401" in text  # the failed attempt is there ...
    for secret in (AUTH, "very-secret-token", SECRET):  # ... and no secret
        assert secret not in text
