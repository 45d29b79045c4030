"""Which messages a settled run produces, and the exact shape and values of their payloads.

Runs and tasks are real catalog records (a SQLite catalog in tmp_path); the payloads are compared
field by field with the Databend task error payload (seed 002).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

import pytest
from notify_support import NOW, create_task, failed, fire_run, integration, later, succeeded

from tasksql.catalog import Catalog
from tasksql.errors import SchemaVersionError, ValidationError
from tasksql.model import IntegrationDef, OnError, RunState
from tasksql.notify.events import EventType, error_kind, events_for, read_payload

#: The top-level fields of the Databend task error payload, in its order.
DATABEND_FIELDS = [
    "version",
    "messageId",
    "messageType",
    "timestamp",
    "tenantId",
    "taskName",
    "taskId",
    "rootTaskName",
    "rootTaskId",
    "messages",
]
DATABEND_MESSAGE_FIELDS = [
    "runId",
    "scheduledTime",
    "queryStartTime",
    "completedTime",
    "queryId",
    "errorKind",
    "errorCode",
    "errorMessage",
]
EMITTED = later(1)


def hooks(*defs: IntegrationDef) -> dict[str, IntegrationDef]:
    return {d.name: d for d in defs}


ERRORS = integration("errors", "http://127.0.0.1:9/errors")
SUCCESSES = integration("successes", "http://127.0.0.1:9/ok")


async def test_failure_payload_has_exactly_the_databend_fields_and_values(catalog: Catalog) -> None:
    record = await create_task(catalog, error_integration="errors", success_integration="successes")
    run = await fire_run(catalog, record)
    outcome = failed(run)

    [item] = events_for(
        task=record.definition,
        task_id=record.id,
        root=None,
        run=run,
        outcome=outcome,
        previous_failures=0,
        auto_suspended=False,
        now=EMITTED,
        cluster_id="tn78p61xz",
        integrations=hooks(ERRORS, SUCCESSES),
    )

    assert (item.integration, item.event_type, item.created_at) == ("errors", "TASK_FAILED", EMITTED)
    assert uuid.UUID(item.message_id).version == 4
    payload = json.loads(item.payload)
    assert list(payload) == DATABEND_FIELDS
    assert list(payload["messages"][0]) == DATABEND_MESSAGE_FIELDS
    assert payload == {
        "version": "1.0",
        "messageId": item.message_id,
        "messageType": "TASK_FAILED",
        "timestamp": "2026-03-19T02:37:22.160705Z",
        "tenantId": "tn78p61xz",
        "taskName": "tasksql.public.my_task",
        "taskId": str(record.id),
        "rootTaskName": "tasksql.public.my_task",
        "rootTaskId": str(record.id),
        "messages": [
            {
                "runId": str(run.run_id),
                "scheduledTime": "2026-03-19T02:37:21.160705Z",
                "queryStartTime": "2026-03-19T02:37:21.165705Z",
                "completedTime": "2026-03-19T02:37:21.202705Z",
                "queryId": "88bb9d5d-5d5e-4e52-92cc-b1953406245a",
                "errorKind": "QueryError",
                "errorCode": "22012",
                "errorMessage": "Division by zero!",
            }
        ],
    }


async def test_success_payload_has_the_same_shape_with_null_error_fields(catalog: Catalog) -> None:
    record = await create_task(catalog, error_integration="errors", success_integration="successes")
    run = await fire_run(catalog, record)

    [item] = events_for(
        task=record.definition,
        task_id=record.id,
        root=("tasksql.public.root", 7),
        run=run,
        outcome=succeeded(run),
        previous_failures=0,
        auto_suspended=False,
        now=EMITTED,
        cluster_id="local",
        integrations=hooks(ERRORS, SUCCESSES),
    )

    assert (item.integration, item.event_type) == ("successes", "TASK_SUCCEEDED")
    payload = json.loads(item.payload)
    assert list(payload) == DATABEND_FIELDS
    assert payload["messageType"] == "TASK_SUCCEEDED"
    assert (payload["rootTaskName"], payload["rootTaskId"]) == ("tasksql.public.root", "7")
    assert payload["messages"] == [
        {
            "runId": str(run.run_id),
            "scheduledTime": "2026-03-19T02:37:21.160705Z",
            "queryStartTime": "2026-03-19T02:37:21.165705Z",
            "completedTime": "2026-03-19T02:37:21.167705Z",
            "queryId": None,
            "errorKind": None,
            "errorCode": None,
            "errorMessage": None,
        }
    ]


async def test_a_run_that_auto_suspends_sends_failed_then_auto_suspended(catalog: Catalog) -> None:
    record = await create_task(catalog, error_integration="errors", suspend_after_failures=3)
    run = await fire_run(catalog, record)
    outcome = replace(failed(run), state=RunState.FAILED_AND_AUTO_SUSPENDED)

    items = events_for(
        task=record.definition,
        task_id=record.id,
        root=None,
        run=run,
        outcome=outcome,
        previous_failures=2,
        auto_suspended=True,
        now=EMITTED,
        cluster_id="local",
        integrations=hooks(ERRORS),
    )

    assert [(i.integration, i.event_type) for i in items] == [
        ("errors", "TASK_FAILED"),
        ("errors", "TASK_AUTO_SUSPENDED"),
    ]
    assert len({i.message_id for i in items}) == 2
    suspended = json.loads(items[1].payload)
    assert list(suspended) == [*DATABEND_FIELDS, "consecutiveFailures"]
    assert suspended["consecutiveFailures"] == 3
    assert suspended["messages"][0]["errorCode"] == "22012"
    assert suspended["messages"][0]["errorMessage"] == "Division by zero!"


async def test_first_success_after_failures_sends_recovered_to_the_error_integration(
    catalog: Catalog,
) -> None:
    record = await create_task(catalog, error_integration="errors", success_integration="successes")
    run = await fire_run(catalog, record)

    items = events_for(
        task=record.definition,
        task_id=record.id,
        root=None,
        run=run,
        outcome=succeeded(run),
        previous_failures=4,
        auto_suspended=False,
        now=EMITTED,
        cluster_id="local",
        integrations=hooks(ERRORS, SUCCESSES),
    )

    assert [(i.integration, i.event_type) for i in items] == [
        ("successes", "TASK_SUCCEEDED"),
        ("errors", "TASK_RECOVERED"),
    ]
    recovered = json.loads(items[1].payload)
    assert recovered["previousFailures"] == 4
    assert recovered["messages"][0]["errorCode"] is None
    # a later success (no failures before it) is not a recovery
    again = events_for(
        task=record.definition,
        task_id=record.id,
        root=None,
        run=run,
        outcome=succeeded(run),
        previous_failures=0,
        auto_suspended=False,
        now=EMITTED,
        cluster_id="local",
        integrations=hooks(ERRORS, SUCCESSES),
    )
    assert [i.event_type for i in again] == ["TASK_SUCCEEDED"]


async def test_on_error_ignore_sends_no_failure_and_no_recovery(catalog: Catalog) -> None:
    record = await create_task(catalog, error_integration="errors", on_error=OnError.IGNORE)
    run = await fire_run(catalog, record)
    common = {
        "task": record.definition,
        "task_id": record.id,
        "root": None,
        "run": run,
        "now": EMITTED,
        "cluster_id": "local",
        "integrations": hooks(ERRORS),
    }

    assert events_for(outcome=failed(run), previous_failures=0, auto_suspended=False, **common) == []
    assert events_for(outcome=succeeded(run), previous_failures=3, auto_suspended=False, **common) == []
    # suspending the task is still news, whatever the error policy
    [suspended] = events_for(outcome=failed(run), previous_failures=0, auto_suspended=True, **common)
    assert suspended.event_type == "TASK_AUTO_SUSPENDED"


@pytest.mark.parametrize(
    "available",
    [
        pytest.param({}, id="missing"),
        pytest.param({"errors": replace(ERRORS, enabled=False)}, id="disabled"),
        pytest.param({"errors": replace(ERRORS, webhook=None)}, id="no-webhook"),
    ],
)
async def test_no_message_for_a_missing_disabled_or_hookless_integration(
    catalog: Catalog, available: dict[str, IntegrationDef]
) -> None:
    record = await create_task(catalog, error_integration="errors")
    run = await fire_run(catalog, record)

    items = events_for(
        task=record.definition,
        task_id=record.id,
        root=None,
        run=run,
        outcome=failed(run),
        previous_failures=9,
        auto_suspended=True,
        now=EMITTED,
        cluster_id="local",
        integrations=available,
    )

    assert items == []


@pytest.mark.parametrize("state", [RunState.CANCELLED, RunState.SKIPPED, RunState.EXECUTING])
async def test_cancelled_skipped_and_started_runs_send_nothing(catalog: Catalog, state: RunState) -> None:
    record = await create_task(catalog, error_integration="errors", success_integration="successes")
    run = await fire_run(catalog, record)

    items = events_for(
        task=record.definition,
        task_id=record.id,
        root=None,
        run=run,
        outcome=replace(failed(run), state=state),
        previous_failures=1,
        auto_suspended=False,
        now=EMITTED,
        cluster_id="local",
        integrations=hooks(ERRORS, SUCCESSES),
    )

    assert items == []


async def test_a_task_without_integrations_sends_nothing(catalog: Catalog) -> None:
    record = await create_task(catalog)
    run = await fire_run(catalog, record)
    for outcome in (failed(run), succeeded(run)):
        assert (
            events_for(
                task=record.definition,
                task_id=record.id,
                root=None,
                run=run,
                outcome=outcome,
                previous_failures=1,
                auto_suspended=True,
                now=NOW,
                cluster_id="local",
                integrations=hooks(ERRORS, SUCCESSES),
            )
            == []
        )


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("TIMEOUT_EXCEEDED", "Timeout"),
        ("NODE_LOST", "NodeLost"),
        ("22012", "QueryError"),
        ("QUERY_FAILED", "QueryError"),
        ("WAREHOUSE_NOT_FOUND", "WarehouseError"),
        ("INTERNAL_ERROR", "UnexpectedError"),
        ("RETURN_VALUE_TOO_LARGE", "TaskError"),
        (None, "UnexpectedError"),
    ],
)
def test_error_kind_classifies_error_codes(code: str | None, kind: str) -> None:
    assert error_kind(code) == kind


def test_read_payload_accepts_its_version_and_refuses_newer_ones() -> None:
    assert read_payload('{"version": "1.7", "messageType": "TASK_FAILED"}')["messageType"] == "TASK_FAILED"
    with pytest.raises(SchemaVersionError, match="upgrade tasksql"):
        read_payload('{"version": "2.0"}')
    for bad in ("not json", "[1]", '{"messageId": "x"}', '{"version": "x.1"}'):
        with pytest.raises(ValidationError) as info:
            read_payload(bad)
        assert info.value.code == "INVALID_PAYLOAD"


def test_event_types_are_the_documented_message_types() -> None:
    assert [e.value for e in EventType] == [
        "TASK_FAILED",
        "TASK_SUCCEEDED",
        "TASK_AUTO_SUSPENDED",
        "TASK_RECOVERED",
    ]
