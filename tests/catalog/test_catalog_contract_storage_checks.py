"""The catalog contract for check_disk on both backends: the catalog keeps every object a run
checked, lists them by run, and checks its own storage (SQLite: integrity_check of the catalog
file; PostgreSQL: amcheck when installed, else one SKIPPED result saying why)."""

from __future__ import annotations

from catalog_support import NOW, later

from tasksql.catalog import Catalog
from tasksql.model.storage_check import CheckResult, StorageCheck


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
