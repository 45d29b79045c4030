"""The catalog contract for pins written in a task's definition (``NODE = 'a'``, Ocient's
``LOCATION NODE a``): claims and fenced starts read the pin from the stored definition in their own
statement, so a pin moved by an ALTER holds from its commit on (no window in which the previous
holder still starts the task), and the previous holder hands the task over at its next claim.

Every backend runs it (the ``catalog`` fixture); two nodes are two catalog objects on one catalog.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from catalog_support import LONG, NOW, create, later, member, new_run

from conftest import CatalogFactory
from tasksql.catalog import Catalog, TaskUpdate
from tasksql.model import LocationKind, MaintenanceBody, MaintenanceKind, RunState, TaskRecord, TaskState


async def placed(catalog: Catalog) -> dict[int, tuple[str | None, str | None]]:
    """task id -> (holder, pin)."""
    return {p.task_id: (p.node_id, p.pinned_node) for p in await catalog.list_placements()}


async def alter(catalog: Catalog, record: TaskRecord, **changes: object) -> TaskRecord:
    """Store a new definition of ``record`` (an ALTER TASK)."""
    new = record.definition.with_changes(**changes)
    await catalog.update_tasks(
        [TaskUpdate(task_id=record.id, expected_version=record.version, definition=new)], now=NOW, actor="t"
    )
    stored = await catalog.get_task_by_id(record.id)
    assert stored is not None and stored.definition == new
    return stored


@pytest.fixture
async def other(catalog: Catalog, catalog_factory: CatalogFactory) -> AsyncIterator[Catalog]:
    """A second catalog object on the same catalog: another node's view."""
    async with catalog_factory() as opened:
        yield opened


async def test_a_task_pinned_by_its_definition_waits_for_its_node(catalog: Catalog, other: Catalog) -> None:
    pinned = await create(catalog, "p", node="a")
    check = await create(
        catalog,
        "c",
        schedule=None,
        body=MaintenanceBody(kind=MaintenanceKind.CHECK_DISK, location=LocationKind.NODE, location_name="a"),
    )
    free = await create(catalog, "f")
    b = await other.join(member("b"))

    assert await other.claim_placements(b.fence, capacity=4, warehouses=None) == [free.id]
    assert await placed(other) == {pinned.id: (None, "a"), check.id: (None, "a"), free.id: ("b", None)}

    a = await catalog.join(member("a", lease=LONG))
    assert await catalog.claim_placements(a.fence, capacity=4, warehouses=None) == [pinned.id, check.id]


async def test_an_altered_pin_holds_from_its_commit_and_the_holder_hands_the_task_over(
    catalog: Catalog, other: Catalog
) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    a = await catalog.join(member("a"))
    assert await catalog.claim_placements(a.fence, capacity=4, warehouses=None) == [record.id]
    # a claimed an instant to come (a SCHEDULED row that never started)
    await catalog.record_fires(
        "a",
        [],
        [],
        [new_run(record, later(60), state=RunState.SCHEDULED, node="a")],
        urgent=True,
        fence=a.fence,
    )
    b = await other.join(member("b"))

    record = await alter(other, record, node="b")

    # from the commit on, a may not start the task, though it still holds the placement
    assert await catalog.fire([new_run(record, later(30), node="a")], [], fence=a.fence) == [None]
    assert (await placed(other))[record.id] == ("a", "b")
    assert await other.claim_placements(b.fence, capacity=4, warehouses=None) == []  # not an orphan yet

    # a's next claim hands it over, with the instant it claimed but never started
    assert await catalog.claim_placements(a.fence, capacity=4, warehouses=None) == []
    assert (await placed(other))[record.id] == (None, "b")
    assert await other.list_runs(task_id=record.id) == []
    stored = await other.get_task_by_id(record.id)
    assert stored is not None and stored.next_fire_at == later(60)
    assert await other.claim_placements(b.fence, capacity=4, warehouses=None) == [record.id]
    [run] = await other.fire([new_run(record, later(60), node="b")], [], fence=b.fence)
    assert run is not None

    # unpinned again: b keeps it, a takes nothing
    await alter(other, record, node=None)
    assert await catalog.claim_placements(a.fence, capacity=4, warehouses=None) == []
    assert await other.claim_placements(b.fence, capacity=4, warehouses=None) == []
    assert (await placed(other))[record.id] == ("b", None)


async def test_the_definitions_pin_wins_over_an_explicit_one(catalog: Catalog, other: Catalog) -> None:
    record = await create(catalog, "t", node="a")
    await catalog.pin_tasks({record.id: "b"})
    assert (await placed(catalog))[record.id] == (None, "a")
    b = await other.join(member("b"))
    assert await other.claim_placements(b.fence, capacity=4, warehouses=None) == []

    record = await alter(catalog, record, node=None)  # the explicit pin applies again
    assert (await placed(catalog))[record.id] == (None, "b")
    assert await other.claim_placements(b.fence, capacity=4, warehouses=None) == [record.id]


async def test_a_pinned_node_must_serve_the_tasks_warehouse(catalog: Catalog, other: Catalog) -> None:
    record = await create(catalog, "t", node="a", warehouse="pg")
    a = await catalog.join(member("a", warehouses=("default",)))
    assert await catalog.claim_placements(a.fence, capacity=4, warehouses=("default",)) == []
    assert await catalog.claim_placements(a.fence, capacity=4, warehouses=("default", "pg")) == [record.id]
