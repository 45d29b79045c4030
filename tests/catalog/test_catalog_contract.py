"""The catalog contract, tested through the :class:`~tasksql.catalog.Catalog` interface only.

Every backend must pass this file (see the ``catalog`` fixture in ``conftest.py``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from catalog_support import NOW, create, later, qname, task_def

from tasksql.catalog import UNCHANGED, Catalog, TaskUpdate
from tasksql.errors import CatalogError, ConcurrentModification, ObjectExists, TaskNotFound
from tasksql.model import (
    DEFAULT_WAREHOUSE,
    IntegrationDef,
    QualifiedName,
    Spelling,
    SqlBody,
    SuspendReason,
    TaskState,
    WarehouseDef,
    WarehouseType,
    Webhook,
)

# --- create, get, list ---------------------------------------------------------------------------


async def test_create_returns_version_one_and_reads_back_equal(catalog: Catalog) -> None:
    record = await create(catalog, "hourly", state=TaskState.STARTED)

    assert record.version == 1
    assert record.definition == task_def("hourly")
    assert record.state is TaskState.STARTED
    assert record.owner == "alice"
    assert record.created_on == record.last_committed_on == NOW
    assert record.next_fire_at == later(60)
    assert record.consecutive_failures == 0
    assert record.last_suspended_on is None
    assert await catalog.get_task(qname("hourly")) == record
    assert await catalog.get_task_by_id(record.id) == record
    assert await catalog.list_tasks() == [record]


async def test_missing_tasks_are_none(catalog: Catalog) -> None:
    assert await catalog.get_task(qname("nope")) is None
    assert await catalog.get_task_by_id(12345) is None
    assert await catalog.list_tasks() == []
    assert await catalog.task_versions(12345) == []


async def test_list_is_ordered_by_database_schema_name(catalog: Catalog) -> None:
    names = [qname("b"), qname("a", schema="zeta"), qname("c"), qname("a"), qname("z", database="alpha")]
    for name in names:
        await create(catalog, name)

    listed = [record.name for record in await catalog.list_tasks()]

    assert listed == [
        qname("z", database="alpha"),
        qname("a"),
        qname("b"),
        qname("c"),
        qname("a", schema="zeta"),
    ]


async def test_stubs_carry_the_scheduling_facts_and_graph_membership(catalog: Catalog) -> None:
    plain = await create(catalog, "plain", state=TaskState.STARTED)
    child = await create(catalog, "child", after=(qname("plain"),), schedule=None)
    fin = await create(catalog, "fin", finalize=qname("plain"), schedule=None)
    mentions = await create(catalog, "mentions", body=SqlBody('SELECT \'{"after": 1, "finalize": 2}\''))
    gone = await create(catalog, "gone")
    await catalog.update_tasks([TaskUpdate(task_id=gone.id, expected_version=1, drop=True)], now=later(1))

    stubs = await catalog.list_task_stubs()

    assert [s.id for s in stubs] == [plain.id, child.id, fin.id, mentions.id]
    first = stubs[0]
    assert (first.version, first.state, first.suspend_reason) == (1, TaskState.STARTED, None)
    assert (first.next_fire_at, first.last_committed_on, first.resumed_on) == (
        later(60),
        NOW,
        plain.resumed_on,
    )
    assert first.consecutive_failures == 0
    assert [s.in_graph for s in stubs] == [False, True, True, False]  # a body's text is not a key
    assert [s.id for s in await catalog.list_task_stubs(after_id=child.id, limit=1)] == [fin.id]


async def test_tasks_by_ids_skips_dropped_and_unknown_ids(catalog: Catalog) -> None:
    a = await create(catalog, "a")
    b = await create(catalog, "b")
    c = await create(catalog, "c")
    await catalog.update_tasks([TaskUpdate(task_id=b.id, expected_version=1, drop=True)], now=later(1))

    assert await catalog.get_tasks_by_ids([c.id, 999_999, b.id, a.id]) == [a, c]
    assert await catalog.get_tasks_by_ids([]) == []


async def test_history_retentions_of_the_tasks_that_set_one(catalog: Catalog) -> None:
    await create(catalog, "default")
    kept = await create(catalog, "kept", history_retention_ms=86_400_000)

    assert await catalog.history_retentions() == {kept.id: 86_400_000}


async def test_same_name_in_another_schema_is_another_task(catalog: Catalog) -> None:
    first = await create(catalog, qname("t"))
    second = await create(catalog, qname("t", schema="other"))

    assert first.id != second.id
    assert (await catalog.get_task(qname("t", schema="other"))) == second


async def test_create_existing_name_raises_and_changes_nothing(catalog: Catalog) -> None:
    original = await create(catalog, "t", comment="first")
    seq = await catalog.change_seq()

    with pytest.raises(ObjectExists) as info:
        await create(catalog, "t", comment="second")

    assert info.value.code == "TASK_EXISTS"
    assert await catalog.get_task(qname("t")) == original
    assert len(await catalog.task_versions(original.id)) == 1
    assert await catalog.change_seq() == seq


async def test_replace_keeps_id_and_history_and_makes_a_version(catalog: Catalog) -> None:
    original = await create(catalog, "t", state=TaskState.STARTED, comment="first")
    await catalog.update_tasks(
        [TaskUpdate(task_id=original.id, expected_version=1, consecutive_failures=3)], now=later(10)
    )

    replaced = await create(catalog, "t", replace=True, now=later(20), comment="second", actor="bob")

    assert replaced.id == original.id
    assert replaced.version == 2
    assert replaced.definition.comment == "second"
    assert replaced.created_on == NOW
    assert replaced.last_committed_on == later(20)
    assert replaced.consecutive_failures == 0
    assert replaced.state is TaskState.SUSPENDED
    assert replaced.suspend_reason is SuspendReason.CREATED
    assert replaced.last_suspended_on == later(20)  # it went from started to suspended
    assert await catalog.get_task(qname("t")) == replaced
    versions = await catalog.task_versions(original.id)
    assert [(v.version, v.definition.comment, v.actor) for v in versions] == [
        (1, "first", "alice"),
        (2, "second", "bob"),
    ]
    assert (await catalog.get_task_version(original.id, 1)).comment == "first"


async def test_replace_without_a_live_task_creates(catalog: Catalog) -> None:
    record = await create(catalog, "fresh", replace=True)

    assert record.version == 1
    assert await catalog.get_task(qname("fresh")) == record


async def test_unresolved_names_are_refused(catalog: Catalog) -> None:
    with pytest.raises(CatalogError) as info:
        await create(catalog, QualifiedName("bare"))
    assert info.value.code == "NAME_NOT_RESOLVED"
    with pytest.raises(CatalogError) as info:
        await catalog.get_task(QualifiedName("bare", "public"))
    assert info.value.code == "NAME_NOT_RESOLVED"
    assert await catalog.list_tasks() == []


async def test_canonical_sql_is_kept_with_each_version(catalog: Catalog) -> None:
    record = await catalog.create_task(
        task_def("t"),
        spelling=Spelling.SNOWFLAKE,
        state=TaskState.SUSPENDED,
        suspend_reason=SuspendReason.CREATED,
        owner="alice",
        now=NOW,
        next_fire_at=None,
        canonical_sql="CREATE TASK t ...",
    )
    await catalog.update_tasks(
        [
            TaskUpdate(
                task_id=record.id,
                expected_version=1,
                definition=task_def("t", comment="x"),
                canonical_sql="CREATE TASK t COMMENT = 'x' ...",
            )
        ],
        now=later(1),
    )

    versions = await catalog.task_versions(record.id)

    assert [v.canonical_sql for v in versions] == ["CREATE TASK t ...", "CREATE TASK t COMMENT = 'x' ..."]


async def test_instants_are_returned_in_utc(catalog: Catalog) -> None:
    riga = timezone(timedelta(hours=2))
    local_noon = datetime(2026, 1, 1, 14, 0, 0, 123456, tzinfo=riga)

    record = await create(catalog, "t", now=local_noon)
    naive = await catalog.update_tasks(
        [TaskUpdate(task_id=record.id, expected_version=1, next_fire_at=datetime(2026, 1, 2, 3, 4, 5))],
        now=NOW,
    )

    stored = await catalog.get_task(qname("t"))
    assert stored is not None
    assert stored.created_on == datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert stored.created_on.tzinfo is UTC
    assert stored.next_fire_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert naive[0] == stored


# --- update_tasks --------------------------------------------------------------------------------


async def test_state_changes_are_not_versions(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)

    [suspended] = await catalog.update_tasks(
        [
            TaskUpdate(
                task_id=record.id,
                expected_version=1,
                state=TaskState.SUSPENDED,
                suspend_reason=SuspendReason.USER,
                next_fire_at=None,
            )
        ],
        now=later(5),
    )

    assert suspended.version == 1
    assert suspended.state is TaskState.SUSPENDED
    assert suspended.suspend_reason is SuspendReason.USER
    assert suspended.last_suspended_on == later(5)
    assert suspended.next_fire_at is None
    assert suspended.last_committed_on == NOW
    assert len(await catalog.task_versions(record.id)) == 1
    assert await catalog.get_task_by_id(record.id) == suspended

    [resumed] = await catalog.update_tasks(
        [
            TaskUpdate(
                task_id=record.id,
                expected_version=1,
                state=TaskState.STARTED,
                suspend_reason=None,
                resumed_on=later(9),
                next_fire_at=later(60),
            )
        ],
        now=later(9),
    )

    assert resumed.version == 1
    assert resumed.suspend_reason is None
    assert resumed.resumed_on == later(9)
    assert resumed.last_suspended_on == later(5)  # only set when the state becomes suspended


async def test_suspending_a_suspended_task_keeps_last_suspended_on(catalog: Catalog) -> None:
    record = await create(catalog, "t")

    [again] = await catalog.update_tasks(
        [TaskUpdate(task_id=record.id, expected_version=1, state=TaskState.SUSPENDED)], now=later(5)
    )

    assert again.last_suspended_on is None


async def test_unchanged_fields_keep_their_values_and_none_clears(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    [failed] = await catalog.update_tasks(
        [TaskUpdate(task_id=record.id, expected_version=1, consecutive_failures=2, owner="bob")], now=later(1)
    )
    assert failed.next_fire_at == later(60)
    assert failed.state is TaskState.STARTED
    assert (failed.consecutive_failures, failed.owner) == (2, "bob")

    [cleared] = await catalog.update_tasks(
        [
            TaskUpdate(
                task_id=record.id, expected_version=1, next_fire_at=None, consecutive_failures=UNCHANGED
            )
        ],
        now=later(2),
    )

    assert cleared.next_fire_at is None
    assert cleared.consecutive_failures == 2


async def test_every_definition_change_is_a_kept_version(catalog: Catalog) -> None:
    record = await create(catalog, "t")
    comments = ["one", "two", "three"]
    version = record.version
    for i, comment in enumerate(comments, start=1):
        [record] = await catalog.update_tasks(
            [
                TaskUpdate(
                    task_id=record.id, expected_version=version, definition=task_def("t", comment=comment)
                )
            ],
            now=later(i),
            actor=f"user{i}",
        )
        version = record.version

    assert record.version == 4
    assert record.last_committed_on == later(3)
    assert record.created_on == NOW
    versions = await catalog.task_versions(record.id)
    assert [(v.version, v.definition.comment, v.actor, v.created_on) for v in versions] == [
        (1, None, "alice", NOW),
        (2, "one", "user1", later(1)),
        (3, "two", "user2", later(2)),
        (4, "three", "user3", later(3)),
    ]
    for v in versions:
        assert await catalog.get_task_version(record.id, v.version) == v.definition


async def test_an_equal_definition_is_not_a_new_version(catalog: Catalog) -> None:
    record = await create(catalog, "t")

    [same] = await catalog.update_tasks(
        [TaskUpdate(task_id=record.id, expected_version=1, definition=task_def("t"))], now=later(1)
    )

    assert same.version == 1
    assert len(await catalog.task_versions(record.id)) == 1


async def test_stale_expected_version_raises_and_changes_nothing(catalog: Catalog) -> None:
    record = await create(catalog, "t")
    await catalog.update_tasks(
        [TaskUpdate(task_id=record.id, expected_version=1, definition=task_def("t", comment="won"))],
        now=later(1),
    )
    current = await catalog.get_task(qname("t"))

    with pytest.raises(ConcurrentModification):
        await catalog.update_tasks(
            [TaskUpdate(task_id=record.id, expected_version=1, definition=task_def("t", comment="lost"))],
            now=later(2),
        )
    with pytest.raises(ConcurrentModification):
        await catalog.update_tasks(
            [TaskUpdate(task_id=record.id, expected_version=1, state=TaskState.STARTED)], now=later(2)
        )

    assert await catalog.get_task(qname("t")) == current
    assert len(await catalog.task_versions(record.id)) == 2


@pytest.mark.parametrize("failure", ["stale", "missing", "rename_taken"])
async def test_one_bad_update_applies_none(catalog: Catalog, failure: str) -> None:
    a = await create(catalog, "a")
    b = await create(catalog, "b")
    before = await catalog.list_tasks()
    seq = await catalog.change_seq()
    good = TaskUpdate(
        task_id=a.id, expected_version=1, definition=task_def("a", comment="changed"), state=TaskState.STARTED
    )
    bad = {
        "stale": TaskUpdate(task_id=b.id, expected_version=7, state=TaskState.STARTED),
        "missing": TaskUpdate(task_id=999_999, expected_version=1, state=TaskState.STARTED),
        "rename_taken": TaskUpdate(task_id=b.id, expected_version=1, definition=task_def("a")),
    }[failure]
    expected = {"stale": ConcurrentModification, "missing": TaskNotFound, "rename_taken": ObjectExists}[
        failure
    ]

    with pytest.raises(expected):
        await catalog.update_tasks([good, bad], now=later(1))

    assert await catalog.list_tasks() == before
    assert len(await catalog.task_versions(a.id)) == 1
    assert await catalog.change_seq() == seq


async def test_updates_apply_in_order_within_one_call(catalog: Catalog) -> None:
    record = await create(catalog, "t")

    results = await catalog.update_tasks(
        [
            TaskUpdate(task_id=record.id, expected_version=1, definition=task_def("t", comment="a")),
            TaskUpdate(task_id=record.id, expected_version=2, definition=task_def("t", comment="b")),
            TaskUpdate(task_id=record.id, expected_version=3, consecutive_failures=1),
        ],
        now=later(1),
    )

    assert [r.version for r in results] == [2, 3, 3]
    assert results[-1] == await catalog.get_task_by_id(record.id)
    assert results[-1].definition.comment == "b"


async def test_empty_update_is_a_no_op(catalog: Catalog) -> None:
    seq = await catalog.change_seq()

    assert await catalog.update_tasks([], now=NOW) == []
    assert await catalog.change_seq() == seq


async def test_rename_frees_the_old_name(catalog: Catalog) -> None:
    record = await create(catalog, "old")

    [renamed] = await catalog.update_tasks(
        [TaskUpdate(task_id=record.id, expected_version=1, definition=task_def("new"))], now=later(1)
    )

    assert renamed.name == qname("new")
    assert renamed.version == 2
    assert await catalog.get_task(qname("old")) is None
    assert await catalog.get_task(qname("new")) == renamed
    assert (await create(catalog, "old")).id != record.id


async def test_update_with_an_unresolved_definition_name_is_refused(catalog: Catalog) -> None:
    record = await create(catalog, "t")
    bad = task_def("t").with_changes(name=QualifiedName("t"))

    with pytest.raises(CatalogError) as info:
        await catalog.update_tasks(
            [TaskUpdate(task_id=record.id, expected_version=1, definition=bad)], now=NOW
        )

    assert info.value.code == "NAME_NOT_RESOLVED"


def test_task_update_refuses_meaningless_values() -> None:
    with pytest.raises(CatalogError) as info:
        TaskUpdate(task_id=1, expected_version=1, consecutive_failures=-1)
    assert info.value.code == "INVALID_UPDATE"
    with pytest.raises(CatalogError):
        TaskUpdate(task_id=1, expected_version=1, canonical_sql="CREATE TASK ...")


# --- drop ----------------------------------------------------------------------------------------


async def test_drop_hides_the_task_keeps_versions_and_frees_the_name(catalog: Catalog) -> None:
    record = await create(catalog, "t", comment="v1")
    await catalog.update_tasks(
        [TaskUpdate(task_id=record.id, expected_version=1, definition=task_def("t", comment="v2"))],
        now=later(1),
    )

    [dropped] = await catalog.update_tasks(
        [TaskUpdate(task_id=record.id, expected_version=2, drop=True)], now=later(2)
    )

    assert dropped.id == record.id and dropped.version == 2
    assert await catalog.get_task(qname("t")) is None
    assert await catalog.get_task_by_id(record.id) is None
    assert await catalog.list_tasks() == []
    assert [v.definition.comment for v in await catalog.task_versions(record.id)] == ["v1", "v2"]
    assert (await catalog.get_task_version(record.id, 1)).comment == "v1"

    again = await create(catalog, "t", comment="reborn")

    assert again.id != record.id
    assert again.version == 1
    assert [v.definition.comment for v in await catalog.task_versions(again.id)] == ["reborn"]
    assert [v.definition.comment for v in await catalog.task_versions(record.id)] == ["v1", "v2"]
    with pytest.raises(TaskNotFound):
        await catalog.update_tasks(
            [TaskUpdate(task_id=record.id, expected_version=2, drop=True)], now=later(3)
        )


async def test_missing_version_raises(catalog: Catalog) -> None:
    record = await create(catalog, "t")

    with pytest.raises(TaskNotFound) as info:
        await catalog.get_task_version(record.id, 2)

    assert info.value.code == "TASK_VERSION_NOT_FOUND"


# --- integrations --------------------------------------------------------------------------------

HOOK = IntegrationDef(
    name="ops",
    webhook=Webhook(
        url="https://hooks.example.com/T0/B0",
        method="PUT",
        authorization_header="Bearer s3cr3t",
        signing_secret="hmac-key",
        body_template='{"text":"告警\uff1aDATABEND_WEBHOOK_MESSAGE"}',
    ),
    comment="pager",
)


async def test_integrations_round_trip_with_secrets(catalog: Catalog) -> None:
    await catalog.put_integration(HOOK, replace=False, now=NOW)
    disabled = IntegrationDef(name="mute", enabled=False)
    await catalog.put_integration(disabled, replace=False, now=later(1))

    assert await catalog.get_integration("ops") == HOOK
    assert await catalog.get_integration("mute") == disabled
    assert await catalog.get_integration("nope") is None
    records = await catalog.list_integrations()
    assert [(r.definition, r.created_on, r.last_altered_on) for r in records] == [
        (disabled, later(1), later(1)),
        (HOOK, NOW, NOW),
    ]


async def test_integration_exists_unless_replaced(catalog: Catalog) -> None:
    await catalog.put_integration(HOOK, replace=False, now=NOW)

    with pytest.raises(ObjectExists) as info:
        await catalog.put_integration(IntegrationDef(name="ops"), replace=False, now=later(1))
    assert info.value.code == "INTEGRATION_EXISTS"
    assert await catalog.get_integration("ops") == HOOK

    changed = IntegrationDef(name="ops", enabled=False, webhook=Webhook(url="https://other.example.com"))
    await catalog.put_integration(changed, replace=True, now=later(2))  # the body template cleared too

    assert await catalog.get_integration("ops") == changed
    [record] = await catalog.list_integrations()
    assert (record.created_on, record.last_altered_on) == (NOW, later(2))


async def test_drop_integration(catalog: Catalog) -> None:
    await catalog.put_integration(HOOK, replace=False, now=NOW)

    assert await catalog.drop_integration("ops") is True
    assert await catalog.drop_integration("ops") is False
    assert await catalog.get_integration("ops") is None
    assert await catalog.list_integrations() == []


# --- warehouses ----------------------------------------------------------------------------------


async def test_default_warehouse_is_seeded(catalog: Catalog) -> None:
    default = await catalog.get_warehouse(DEFAULT_WAREHOUSE)

    assert default is not None and default.embedded
    assert [r.definition.name for r in await catalog.list_warehouses()] == [DEFAULT_WAREHOUSE]


async def test_default_warehouse_cannot_be_dropped_or_moved(catalog: Catalog) -> None:
    with pytest.raises(CatalogError) as info:
        await catalog.drop_warehouse(DEFAULT_WAREHOUSE)
    assert info.value.code == "DEFAULT_WAREHOUSE"
    with pytest.raises(CatalogError) as info:
        await catalog.put_warehouse(
            WarehouseDef(name=DEFAULT_WAREHOUSE, type=WarehouseType.SQLITE, url="/tmp/x.db"),
            replace=True,
            now=NOW,
        )
    assert info.value.code == "DEFAULT_WAREHOUSE"
    with pytest.raises(ObjectExists) as info:
        await catalog.put_warehouse(WarehouseDef(name=DEFAULT_WAREHOUSE), replace=False, now=NOW)
    assert info.value.code == "WAREHOUSE_EXISTS"

    altered = WarehouseDef(name=DEFAULT_WAREHOUSE, max_concurrency=3, comment="local")
    await catalog.put_warehouse(altered, replace=True, now=later(1))

    assert await catalog.get_warehouse(DEFAULT_WAREHOUSE) == altered


async def test_warehouses_round_trip(catalog: Catalog) -> None:
    pg = WarehouseDef(
        name="pg",
        type=WarehouseType.POSTGRES,
        url="postgresql://etl:hunter2@db.example.com:5432/dw",
        max_concurrency=4,
        comment="warehouse",
    )
    await catalog.put_warehouse(pg, replace=False, now=later(1))

    assert await catalog.get_warehouse("pg") == pg
    assert await catalog.get_warehouse("nope") is None
    with pytest.raises(ObjectExists) as info:
        await catalog.put_warehouse(WarehouseDef(name="pg"), replace=False, now=later(2))
    assert info.value.code == "WAREHOUSE_EXISTS"

    lite = WarehouseDef(name="pg", type=WarehouseType.SQLITE, url="sqlite:///srv/x.db")
    await catalog.put_warehouse(lite, replace=True, now=later(3))

    records = {r.definition.name: r for r in await catalog.list_warehouses()}
    assert sorted(records) == [DEFAULT_WAREHOUSE, "pg"]
    assert records["pg"].definition == lite
    assert (records["pg"].created_on, records["pg"].last_altered_on) == (later(1), later(3))
    assert await catalog.drop_warehouse("pg") is True
    assert await catalog.drop_warehouse("pg") is False
    assert await catalog.get_warehouse("pg") is None


async def test_bad_warehouse_values_are_refused(catalog: Catalog) -> None:
    with pytest.raises(CatalogError):
        await catalog.put_warehouse(WarehouseDef(name="w", max_concurrency=0), replace=False, now=NOW)
    with pytest.raises(CatalogError):
        await catalog.put_warehouse(WarehouseDef(name=""), replace=False, now=NOW)

    assert await catalog.get_warehouse("w") is None


# --- settings ------------------------------------------------------------------------------------


async def test_settings(catalog: Catalog) -> None:
    assert await catalog.get_setting("history_retention") is None

    await catalog.set_setting("history_retention", "7 days")
    await catalog.set_setting("history_retention", "30 days")
    await catalog.set_setting("other", "x")

    assert await catalog.get_setting("history_retention") == "30 days"
    await catalog.set_setting("history_retention", None)
    assert await catalog.get_setting("history_retention") is None
    assert await catalog.get_setting("other") == "x"
    await catalog.set_setting("never-set", None)


# --- change signals ------------------------------------------------------------------------------


async def test_change_seq_grows_with_definition_changes_only(catalog: Catalog) -> None:
    async def grows(action: object) -> bool:
        before = await catalog.change_seq()
        await action  # type: ignore[misc]
        after = await catalog.change_seq()
        assert after >= before
        return after > before

    record = await create(catalog, "t", state=TaskState.STARTED)
    assert await catalog.change_seq() > 0

    def update(**fields: object) -> TaskUpdate:
        return TaskUpdate(task_id=record.id, expected_version=1, **fields)  # type: ignore[arg-type]

    assert not await grows(catalog.update_tasks([update(next_fire_at=later(120))], now=NOW))
    assert not await grows(catalog.update_tasks([update(consecutive_failures=1, resumed_on=NOW)], now=NOW))
    assert not await grows(catalog.set_setting("k", "v"))
    assert await grows(catalog.update_tasks([update(state=TaskState.SUSPENDED)], now=NOW))
    assert await grows(catalog.update_tasks([update(suspend_reason=SuspendReason.USER)], now=NOW))
    assert await grows(
        catalog.update_tasks([update(definition=task_def("t", body=SqlBody("SELECT 2")))], now=NOW)
    )
    assert await grows(catalog.put_integration(HOOK, replace=False, now=NOW))
    assert await grows(catalog.drop_integration("ops"))
    assert await grows(catalog.put_warehouse(WarehouseDef(name="w"), replace=False, now=NOW))
    assert await grows(catalog.drop_warehouse("w"))
    assert await grows(
        catalog.update_tasks([TaskUpdate(task_id=record.id, expected_version=2, drop=True)], now=NOW)
    )


async def test_wait_for_change_times_out_without_a_change(catalog: Catalog) -> None:
    seq = await catalog.change_seq()

    assert await catalog.wait_for_change(seq, timeout=0.05) == seq
    assert await catalog.wait_for_change(seq, timeout=0) == seq


async def test_wait_for_change_returns_at_once_when_already_past(catalog: Catalog) -> None:
    seq = await catalog.change_seq()
    await create(catalog, "t")

    assert await asyncio.wait_for(catalog.wait_for_change(seq, timeout=60), 10) > seq


async def test_wait_for_change_wakes_on_a_change(catalog: Catalog) -> None:
    seq = await catalog.change_seq()
    waiter = asyncio.ensure_future(catalog.wait_for_change(seq, timeout=60))
    await asyncio.sleep(0.01)
    assert not waiter.done()

    await create(catalog, "t")

    assert await asyncio.wait_for(waiter, 10) == await catalog.change_seq() > seq


# --- life cycle ----------------------------------------------------------------------------------


async def test_a_closed_catalog_refuses_calls(catalog: Catalog) -> None:
    await catalog.close()
    await catalog.close()  # idempotent

    with pytest.raises(CatalogError) as info:
        await catalog.list_tasks()
    assert info.value.code == "CATALOG_CLOSED"
    with pytest.raises(CatalogError) as info:
        await create(catalog, "t")
    assert info.value.code == "CATALOG_CLOSED"
