"""The catalog contract for whole tables (what ``tasksql catalog copy`` is built on): rows read out
in pages with backend-neutral values, row counts, id counters, and loads that replace a catalog's
content in one transaction or change nothing.

Written against the :class:`~tasksql.catalog.Catalog` interface only; every backend runs it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from catalog_support import NOW, create, fire_run, later
from filled import GROUPS, fill, snapshot

from tasksql.catalog import Catalog
from tasksql.catalog.tables import TABLES, TableRow, table
from tasksql.errors import CatalogError
from tasksql.model.run import NodeRecord


async def rows_of(catalog: Catalog, name: str, batch_size: int = 1000) -> list[TableRow]:
    return [row async for page in catalog.export_rows(name, batch_size=batch_size) for row in page]


async def everything(catalog: Catalog) -> dict[str, list[TableRow]]:
    return {spec.name: await rows_of(catalog, spec.name) for spec in TABLES}


# --- reading ----------------------------------------------------------------------------------------


async def test_rows_come_in_pages_in_key_order_with_neutral_values(catalog: Catalog) -> None:
    filled = await fill(catalog)
    counts = await catalog.row_counts()

    pages = [page async for page in catalog.export_rows("runs", batch_size=2)]
    assert [len(page) for page in pages][:-1] == [2] * (len(pages) - 1) and 1 <= len(pages[-1]) <= 2
    runs = [row for page in pages for row in page]
    assert len(runs) == counts["runs"] == 3
    assert [row["run_id"] for row in runs] == sorted(row["run_id"] for row in runs)
    assert runs[-1]["run_id"] == filled.max_run_id
    assert runs[0]["scheduled_time"] == NOW and runs[0]["scheduled_time"].tzinfo == UTC
    assert (runs[0]["state"], runs[0]["error_message"]) == ("FAILED", "Division by zero!")
    assert (runs[1]["rows_produced"], runs[1]["return_value"]) == (3, "ok")
    for spec in TABLES:
        rows = await rows_of(catalog, spec.name, batch_size=1)
        assert len(rows) == counts[spec.name], spec.name
        assert all(set(row) == set(spec.columns) for row in rows), spec.name
        keys = [tuple(row[k] for k in spec.key) for row in rows]
        assert len(set(keys)) == len(keys), spec.name
        for row in rows:
            for column, value in row.items():
                if column in spec.instants and value is not None:
                    assert isinstance(value, datetime) and value.utcoffset() is not None, (spec.name, column)
                if column in spec.booleans:
                    assert isinstance(value, bool), (spec.name, column)

    hook, slack = await rows_of(catalog, "integrations")
    assert hook["enabled"] is True and hook["webhook_secret"] is None
    assert slack["webhook_secret"] == "secrets_db\x1fs\x1fslack_url"  # the secret's catalog key
    [secret] = await rows_of(catalog, "secrets")
    assert (secret["source"], secret["value"], secret["owner"]) == ("STRING", "T0/B0/XX", "sysadmin")
    tasks = await rows_of(catalog, "tasks")
    assert [row["id"] for row in tasks] == list(filled.task_ids)
    assert tasks[-1]["dropped_on"] == later(2)
    # graph runs of one instant come in the order they were inserted, not by id
    assert [row["graph_run_group_id"] for row in await rows_of(catalog, "graph_runs", 1)] == list(GROUPS)


async def test_counts_and_id_counters_include_what_was_pruned(catalog: Catalog) -> None:
    filled = await fill(catalog)

    counts = await catalog.row_counts()
    counters = await catalog.id_counters()

    assert counts["tasks"] == 3 and counts["task_versions"] == 4 and counts["warehouses"] == 2
    assert counters["tasks"] == max(filled.task_ids)
    assert counters["runs"] == filled.max_run_id > filled.pruned_run_id
    assert counters["notification_history"] == 2
    assert set(counters) == {spec.name for spec in TABLES if spec.identity}


class _Probe(Exception):
    pass


async def refusal(catalog: Catalog) -> str | None:
    """Why a load without ``replace`` is refused (None: the catalog counts as empty); changes nothing."""
    try:
        async with catalog.load_rows(replace=False):
            raise _Probe  # rolls the load back
    except _Probe:
        return None
    except CatalogError as exc:
        assert exc.code == "CATALOG_NOT_EMPTY"
        return exc.message


async def test_what_every_catalog_has_does_not_make_it_non_empty(catalog: Catalog) -> None:
    assert await refusal(catalog) is None  # the seeded default warehouse
    assert await catalog.id_counters() == {
        "tasks": 0,
        "runs": 0,
        "notification_history": 0,
        "subtasks": 0,
        "storage_checks": 0,
        "audit_log": 0,
    }

    await catalog.register_node(
        NodeRecord(
            node_id="n", host="h", pid=1, role="scheduler", version="0", started_at=NOW, heartbeat_at=NOW
        )
    )
    await catalog.set_setting("catalog_id", "0f" * 16)  # the scope of completion markers
    assert await refusal(catalog) is None
    assert (await catalog.row_counts())["nodes"] == 1  # the probe changed nothing

    await create(catalog, "t")
    await catalog.set_setting("history_retention_days", "3")
    message = await refusal(catalog)
    assert message is not None and message.endswith(" is not empty (settings: 1, tasks: 1, task versions: 1)")


# --- loading -----------------------------------------------------------------------------------------


async def load(
    catalog: Catalog, tables: dict[str, list[TableRow]], counters: dict[str, int], **kw: Any
) -> None:
    async with catalog.load_rows(**kw) as loader:
        for spec in TABLES:
            await loader.insert(spec.name, tables[spec.name])
        await loader.continue_ids(counters)


async def test_a_load_into_a_catalog_with_content_is_refused_unless_replacing(catalog: Catalog) -> None:
    await fill(catalog)
    before = await snapshot(catalog)

    with pytest.raises(CatalogError) as refused:
        async with catalog.load_rows(replace=False):
            pytest.fail("entered a load of a catalog with content")

    assert refused.value.code == "CATALOG_NOT_EMPTY"
    assert "(settings: 1, warehouses: 1, integrations: 2, secrets: 1, tasks: 3, task versions: 4," in str(
        refused.value
    )
    assert await snapshot(catalog) == before


async def test_a_replacing_load_of_the_same_rows_gives_the_same_catalog(catalog: Catalog) -> None:
    await fill(catalog)
    before = await snapshot(catalog)
    rows, counters = await everything(catalog), await catalog.id_counters()
    seq = await catalog.change_seq()

    await load(catalog, rows, counters, replace=True)

    assert await snapshot(catalog) == before
    assert await everything(catalog) == rows
    assert await catalog.change_seq() > seq


async def test_a_load_that_fails_midway_changes_nothing(catalog: Catalog) -> None:
    await fill(catalog)
    before = await snapshot(catalog)
    rows = await everything(catalog)

    with pytest.raises(RuntimeError, match="stop here"):
        async with catalog.load_rows(replace=True) as loader:
            await loader.insert("settings", rows["settings"])
            await loader.insert("tasks", rows["tasks"])
            raise RuntimeError("stop here")
    assert await snapshot(catalog) == before

    twice = {**rows, "runs": rows["runs"] + rows["runs"][:1]}  # a duplicate run id
    with pytest.raises(CatalogError) as refused:
        await load(catalog, twice, {}, replace=True)
    assert refused.value.code == "CONSTRAINT_VIOLATION"
    assert await snapshot(catalog) == before


async def test_after_a_load_new_ids_continue_after_the_copied_ones(catalog: Catalog) -> None:
    await fill(catalog)
    rows = await everything(catalog)
    top_task, top_run = max(r["id"] for r in rows["tasks"]), max(r["run_id"] for r in rows["runs"])
    # a source that handed out more ids than it still holds (runs pruned away)
    counters = {"tasks": top_task + 10, "runs": top_run + 100, "notification_history": 0}

    await load(catalog, rows, counters, replace=True)

    task = await create(catalog, "brand_new")
    assert task.id == top_task + 11
    run = await fire_run(catalog, task, later(3600))
    assert run.run_id == top_run + 101
    assert (await catalog.id_counters())["notification_history"] == 2  # never below what is stored


async def test_a_load_into_an_empty_catalog_needs_no_replace(catalog: Catalog) -> None:
    row = dict.fromkeys(table("settings").columns) | {"key": "k", "value": "v"}
    rows: dict[str, list[TableRow]] = {spec.name: [] for spec in TABLES}
    rows["settings"] = [row]

    await load(catalog, rows, {}, replace=False)

    assert await catalog.get_setting("k") == "v"
    message = await refusal(catalog)
    assert message is not None and message.endswith("(settings: 1)")
