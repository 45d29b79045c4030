"""A catalog with rows in every table, written through the contract only (for the tests of whole
tables and of ``tasksql catalog copy``), and a snapshot of what it holds, read through the
contract, to compare two catalogs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from catalog_support import NOW, create, ended, fire_run, item, later, new_run, put_integration

from tasksql.catalog import Catalog, TaskUpdate
from tasksql.catalog.tables import TABLES
from tasksql.model import (
    IntegrationDef,
    QualifiedName,
    RunState,
    ScheduledFrom,
    SqlBody,
    TaskState,
    WarehouseDef,
    WarehouseType,
    Webhook,
)
from tasksql.model.outbox import AttemptResult, DeliveryAttempt
from tasksql.model.run import NewGraphRun, NodeRecord
from tasksql.model.secret import SecretDef, SecretSource, SecretString
from tasksql.model.security import (
    AuditEntry,
    GranteeKind,
    ObjectKind,
    PrivilegeGrant,
    RoleGrant,
    RoleRecord,
    UserRecord,
)
from tasksql.model.storage_check import CheckResult, StorageCheck
from tasksql.model.subtask import NewSubtask, SubtaskState

#: Graph run group ids of the two graph runs of one instant (their order is that of insertion).
GROUPS = ("ffff0000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002")


@dataclass(frozen=True, slots=True)
class Filled:
    """What :func:`fill` made: the ids a test may look for."""

    task_ids: tuple[int, ...]
    dropped_id: int
    pruned_run_id: int
    max_run_id: int


def _graph_run(root_id: int, group: str) -> NewGraphRun:
    return NewGraphRun(
        graph_run_group_id=group,
        root_task_id=root_id,
        root_task_name="root",
        database_name="tasksql",
        schema_name="public",
        graph_version=1,
        scheduled_from=ScheduledFrom.EXECUTE_TASK,
        scheduled_time=NOW,
        query_start_time=later(0.005),
        node_id="node-a",
        root_run_index=None,
    )


async def fill(catalog: Catalog) -> Filled:
    """Rows in every table of :data:`~tasksql.catalog.tables.TABLES`."""
    await catalog.set_setting("history_retention_days", "3")
    await catalog.put_warehouse(
        WarehouseDef(
            name="pg", type=WarehouseType.POSTGRES, url="postgresql://u:secret@h/db", max_concurrency=2
        ),
        replace=False,
        now=NOW,
    )
    await put_integration(catalog, "hook", "https://hooks.example/abc", enabled=False)
    slack = QualifiedName("slack_url", "s", "secrets_db")
    await catalog.put_secret(
        SecretDef(name=slack, secret_string=SecretString(SecretSource.STRING, "T0/B0/XX"), owner="sysadmin"),
        replace=False,
        now=NOW,
    )
    await catalog.put_integration(
        IntegrationDef(
            name="slack",
            webhook=Webhook(url="https://hooks.slack.com/services/SNOWFLAKE_WEBHOOK_SECRET"),
            webhook_secret=slack,
        ),
        replace=False,
        now=NOW,
    )
    root = await create(catalog, "root", state=TaskState.STARTED)
    child = await create(catalog, "child", after=(root.definition.name,), schedule=None)
    [child] = await catalog.update_tasks(
        [
            TaskUpdate(
                task_id=child.id,
                expected_version=1,
                definition=child.definition.with_changes(body=SqlBody("SELECT 2")),
                canonical_sql="CREATE TASK child AS SELECT 2",
            )
        ],
        now=later(1),
        actor="bob",
    )
    gone = await create(catalog, "gone")
    await catalog.update_tasks([TaskUpdate(task_id=gone.id, expected_version=1, drop=True)], now=later(2))
    assert (await catalog.get_task_by_id(child.id)) is not None
    await catalog.graph_version(root.id, {root.id: 1, child.id: 2})
    await catalog.pin_tasks({child.id: "node-a"})
    await catalog.register_node(
        NodeRecord(
            node_id="node-a",
            host="elsewhere",
            pid=1,
            role="scheduler",
            version="0",
            started_at=NOW,
            heartbeat_at=NOW,
            stopped_at=later(3),
        )
    )
    # a run pruned away (its id stays handed out), then settled runs and an open one
    old = await fire_run(catalog, root, NOW - timedelta(days=30))
    await catalog.finish_run(ended(old), None)
    assert await catalog.prune_runs(NOW - timedelta(days=1), {}) == 1
    first = await fire_run(catalog, root, NOW)
    await catalog.finish_run(
        ended(first, RunState.FAILED, error_code="22012", error_message="Division by zero!"), None
    )
    second = await fire_run(catalog, root, later(60))
    await catalog.finish_run(ended(second, rows_produced=3, return_value="ok"), None, [item("hook")])
    # a sub-task of that run, settled with its progress
    [sub] = await catalog.create_subtasks(
        second,
        task_type="rebuild",
        location="CLUSTER east",
        subtasks=[NewSubtask(node_id="node-a", items_total=2, detail='{"moves": {}}')],
        now=later(60),
    )
    await catalog.settle_subtask(
        sub.subtask_id, SubtaskState.FAILED, now=later(61), items_done=1, error_code="X"
    )
    # what a check_disk run of it checked
    await catalog.record_storage_checks(
        [
            StorageCheck(
                run_id=second.run_id,
                task_id=second.task_id,
                task_name=second.name,
                node_id="node-a",
                object_kind="table",
                storage_id="lite.t",
                check="integrity_check",
                result=CheckResult.FIXED,
                detail="row 1 missing from index t_b",
                checked_at=later(61),
            )
        ]
    )
    manual = new_run(
        root,
        later(90),
        scheduled_from=ScheduledFrom.EXECUTE_TASK,
        graph_run_group_id=GROUPS[0],
        root_task_id=root.id,
        graph_version=1,
        config='{"k": 1}',
    )
    [open_run] = await catalog.fire([manual], [], [_graph_run(root.id, GROUPS[0])])
    assert open_run is not None
    await catalog.fire([], [], [_graph_run(root.id, GROUPS[1])])
    # the outbox: one message delivered after a failed attempt, one pending
    [delivered] = await catalog.list_notifications()
    await catalog.enqueue_notifications([item("hook", created_at=later(5))])
    await put_integration(catalog, "hook", "https://hooks.example/abc")  # enabled: claims may begin
    claimed = await catalog.claim_notifications("node-a", now=later(200), lease_seconds=30, limit=1)
    assert [m.message_id for m in claimed] == [delivered.message_id]
    for attempt, result in ((1, AttemptResult.RETRY), (2, AttemptResult.DELIVERED)):
        if attempt == 2:
            await catalog.claim_notifications("node-a", now=later(300), lease_seconds=30, limit=1)
        await catalog.record_notification_attempt(
            DeliveryAttempt(
                message_id=delivered.message_id,
                node_id="node-a",
                attempt=attempt,
                result=result,
                sent_at=later(200 + attempt),
                duration_ms=12.5,
                status_code=500 if attempt == 1 else 200,
                error="HTTP 500" if attempt == 1 else None,
                retry_at=later(250),
            )
        )
    # users, roles, grants and the audit log
    await catalog.create_user(UserRecord(name="alice", token_sha256="a" * 64, created_by="root"), now=NOW)
    await catalog.create_role(RoleRecord(name="myrole", owner="securityadmin"), now=NOW)
    await catalog.grant_role(
        RoleGrant(role="myrole", grantee_kind=GranteeKind.USER, grantee="alice"), now=NOW
    )
    await catalog.grant_privilege(
        PrivilegeGrant(privilege="USAGE", object_kind=ObjectKind.WAREHOUSE, object_name="pg", role="myrole"),
        now=NOW,
    )
    await catalog.record_audit(
        [
            AuditEntry(
                at=NOW, user_name="alice", role_name="myrole", statement="CREATE ROLE r", outcome="SUCCEEDED"
            )
        ]
    )
    counts = await catalog.row_counts()
    assert all(counts[spec.name] for spec in TABLES), counts
    return Filled(
        task_ids=(root.id, child.id, gone.id),
        dropped_id=gone.id,
        pruned_run_id=old.run_id,
        max_run_id=open_run.run_id,
    )


async def snapshot(catalog: Catalog) -> dict[str, Any]:
    """Everything the catalog holds, read through the contract (for comparing two catalogs)."""
    ids = range(1, (await catalog.id_counters())["tasks"] + 1)  # dropped tasks keep their versions
    return {
        "tasks": await catalog.list_tasks(),
        "versions": {task_id: await catalog.task_versions(task_id) for task_id in ids},
        "runs": await catalog.list_runs(),
        "graph_runs": await catalog.list_graph_runs(),
        "graph_members": {task_id: await catalog.graph_version_members(task_id, 1) for task_id in ids},
        "integrations": await catalog.list_integrations(),
        "secrets": await catalog.list_secrets(),
        "warehouses": await catalog.list_warehouses(),
        "setting": await catalog.get_setting("history_retention_days"),
        "nodes": await catalog.list_nodes(NOW),
        "placements": await catalog.list_placements(),
        "notifications": await catalog.list_notifications(),
        "deliveries": await catalog.notification_history(),
        "security": await catalog.security_state(),
        "audit": await catalog.list_audit(),
        "counts": await catalog.row_counts(),
    }
