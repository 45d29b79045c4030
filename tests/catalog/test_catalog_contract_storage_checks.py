"""The catalog contract for check_disk on both backends: the catalog keeps every object a run
checked, lists them by run, prunes them (and a run's sub-tasks) with the run's history, and checks
its own storage (SQLite: integrity_check of the catalog file; PostgreSQL: amcheck when installed,
else one SKIPPED result saying why)."""

from __future__ import annotations

from catalog_support import NOW, create, ended, fire_run, later

from tasksql.catalog import Catalog
from tasksql.model import TaskState
from tasksql.model.storage_check import CheckResult, StorageCheck
from tasksql.model.subtask import NewSubtask


def check(run_id: int, storage_id: str, result: CheckResult) -> StorageCheck:
    return StorageCheck(
        run_id=run_id,
        task_id=7,
        task_name="nightly",
        node_id="n1",
        object_kind="table",
        storage_id=storage_id,
        check="integrity_check",
        result=result,
        detail=None if result is CheckResult.OK else "row 3 missing from index t_b",
        checked_at=later(1),
    )


async def test_checks_are_kept_in_order_and_listed_by_run(catalog: Catalog) -> None:
    await catalog.record_storage_checks(
        [check(1, "lite.t", CheckResult.OK), check(1, "lite.u", CheckResult.FIXED)]
    )
    await catalog.record_storage_checks([check(2, "lite.t", CheckResult.DAMAGED)])
    everything = await catalog.list_storage_checks()
    assert [(c.run_id, c.storage_id, c.result) for c in everything] == [
        (1, "lite.t", CheckResult.OK),
        (1, "lite.u", CheckResult.FIXED),
        (2, "lite.t", CheckResult.DAMAGED),
    ]
    [only] = await catalog.list_storage_checks(run_id=2)
    assert only.detail == "row 3 missing from index t_b" and only.checked_at == later(1) > NOW
    assert only.check_id is not None and only.check == "integrity_check" and only.task_name == "nightly"


async def test_checks_and_subtasks_are_pruned_with_their_runs_history(catalog: Catalog) -> None:
    a = await create(catalog, "a", state=TaskState.STARTED)
    b = await create(catalog, "b", state=TaskState.STARTED)  # a retention of its own, longer
    old_a, new_a = await fire_run(catalog, a, NOW), await fire_run(catalog, a, later(3600))
    old_b = await fire_run(catalog, b, NOW)
    running = await fire_run(catalog, a, later(5))  # still executing: kept, whatever its age
    for run in (old_a, new_a, old_b):
        await catalog.finish_run(ended(run), None)
    for run in (old_a, new_a, old_b, running):
        await catalog.record_storage_checks([check(run.run_id, "lite.t", CheckResult.OK)])
        await catalog.create_subtasks(
            run, task_type="check_disk", location="SYSTEM", subtasks=[NewSubtask(node_id="n1")], now=NOW
        )

    assert await catalog.prune_runs(later(60), {b.id: later(-60)}) == 1  # old_a; old_b is in b's

    kept = {old_b.run_id, new_a.run_id, running.run_id}
    assert {c.run_id for c in await catalog.list_storage_checks()} == kept
    assert {s.run_id for s in await catalog.list_subtasks()} == kept
    await catalog.prune_runs(later(60), {b.id: later(60)})  # b's retention ends now too
    assert {c.run_id for c in await catalog.list_storage_checks()} == {new_a.run_id, running.run_id}
    assert {s.run_id for s in await catalog.list_subtasks()} == {new_a.run_id, running.run_id}
    assert await catalog.list_storage_checks(run_id=old_a.run_id) == []


async def test_the_catalog_checks_its_own_storage(catalog: Catalog) -> None:
    found = await catalog.check_own_storage(quick=False)
    assert found, "at least one object is reported"
    if type(catalog).__name__.startswith("SQLite"):
        [one] = found
        assert (one.storage_id, one.check, one.result) == ("catalog", "integrity_check", CheckResult.OK)
        [quick] = await catalog.check_own_storage(quick=True)
        assert (quick.check, quick.result) == ("quick_check", CheckResult.OK)
    else:  # amcheck is checked index by index, or the one row says why it was not
        results = {c.result for c in found}
        assert results <= {CheckResult.OK, CheckResult.SKIPPED}
        if CheckResult.SKIPPED in results:
            [one] = found
            assert one.detail is not None and "amcheck" in one.detail
        else:
            assert all(c.storage_id.startswith("catalog.") and c.object_kind == "index" for c in found)
