"""Completion markers, the scheduler's side: which catalog they belong to, reading them, pruning them.

A run's body commits together with its *completion marker* (its run id, in a small table of the
warehouse; see :class:`tasksql.warehouses.base.Marker` and :mod:`tasksql.warehouses._markers`).
When a node dies, its runs' outcomes may not have reached the catalog; the reaper
(:mod:`tasksql.scheduler.lost`) then asks each run's warehouse for the markers (:func:`lookup`): a run
whose marker exists committed its body, and is recorded SUCCEEDED instead of lost, and never
re-planned.

Markers are scoped by the catalog's id (the catalog setting ``catalog_id``, a random hex string
written on first use), so that several catalogs may share a warehouse. A marker is needed only
while its run is not settled in the catalog: :func:`sweep` deletes, every
:data:`SWEEP_EVERY_S`, the markers of the warehouses this node wrote to whose runs are settled (or
gone), and the reaper deletes the markers it used.

A run whose warehouse is the catalog's own PostgreSQL database has no marker: its body's transaction
records the run's outcome in the catalog itself (:mod:`tasksql.scheduler.same_database`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tasksql.clock import Clock
from tasksql.errors import TasksqlError, WarehouseNotFound
from tasksql.model.run import RunRecord
from tasksql.warehouses.base import Marker, Warehouse

if TYPE_CHECKING:
    from tasksql.catalog.base import Catalog
    from tasksql.scheduler.deps import WarehouseProvider

log = logging.getLogger("tasksql.scheduler")

#: The catalog setting holding the scope of this catalog's markers.
SCOPE_SETTING = "catalog_id"
#: Seconds between two sweeps of settled runs' markers.
SWEEP_EVERY_S = 10.0
#: Markers read per step of a sweep.
SWEEP_BATCH = 5000
#: How long a lost run whose warehouse cannot be asked for its marker (unreachable) is left
#: unsettled, counted from its start (or instant): past it, it is settled as if it had no marker.
LOOKUP_PATIENCE = timedelta(minutes=10)


async def catalog_scope(catalog: Catalog) -> str:
    """The scope of ``catalog``'s markers, created on first use.

    Two nodes doing this at the very same moment on a catalog without one may briefly use
    different scopes (the last write wins); a marker written under the lost one is not found, and
    its run is settled as before markers existed (NODE_LOST).
    """
    scope = await catalog.get_setting(SCOPE_SETTING)
    if scope is None:
        await catalog.set_setting(SCOPE_SETTING, uuid.uuid4().hex)
        scope = await catalog.get_setting(SCOPE_SETTING)
    assert scope is not None
    return scope


class MarkerBook:
    """This node's markers: the scope they are written under and the warehouses that hold some."""

    def __init__(self, scope: str, clock: Clock) -> None:
        self.scope = scope
        self.clock = clock
        self._written: dict[int, Warehouse] = {}

    def marker(self, run_id: int) -> Marker:
        return Marker(scope=self.scope, run_id=run_id, clock=self.clock)

    def wrote(self, warehouse: Warehouse) -> None:
        """``warehouse`` committed a marker: sweep it from now on."""
        self._written.setdefault(id(warehouse), warehouse)

    @property
    def warehouses(self) -> list[Warehouse]:
        return list(self._written.values())


async def lookup(
    book: MarkerBook | None, warehouses: WarehouseProvider, runs: Iterable[RunRecord], now: datetime
) -> tuple[dict[int, datetime], set[int]]:
    """The markers of ``runs``: (run id -> time the marker was written, for runs whose body
    committed; run ids that cannot be told now, their warehouse being unreachable, and that are
    within :data:`LOOKUP_PATIENCE`). A run of a dropped warehouse, or of one without transactions,
    has no marker (nor any run without ``book``: no markers are written)."""
    found: dict[int, datetime] = {}
    unknown: set[int] = set()
    if book is None:
        return found, unknown
    by_warehouse: dict[str | None, list[RunRecord]] = {}
    for run in runs:
        by_warehouse.setdefault(run.warehouse, []).append(run)
    for name, group in by_warehouse.items():
        try:
            warehouse = await warehouses.get(name)
            found.update(await warehouse.find_markers(book.scope, [r.run_id for r in group]))
        except WarehouseNotFound:
            continue  # dropped since: its runs are settled without markers
        except TasksqlError as err:
            waiting = [r.run_id for r in group if _patient(r, now)]
            log.warning(
                "cannot read completion markers in warehouse %s (%s); %d lost run(s) wait for it",
                name,
                err.message,
                len(waiting),
            )
            unknown.update(waiting)
    return found, unknown


def _patient(run: RunRecord, now: datetime) -> bool:
    return now - (run.query_start_time or run.scheduled_time) < LOOKUP_PATIENCE


async def forget(book: MarkerBook | None, warehouses: WarehouseProvider, runs: Sequence[RunRecord]) -> None:
    """Delete the markers of ``runs`` (settled: nobody needs them any more); failures are logged."""
    if book is None or not runs:
        return
    by_warehouse: dict[str | None, list[int]] = {}
    for run in runs:
        by_warehouse.setdefault(run.warehouse, []).append(run.run_id)
    for name, ids in by_warehouse.items():
        try:
            await (await warehouses.get(name)).delete_markers(book.scope, ids)
        except TasksqlError as err:
            log.warning("cannot delete completion markers in warehouse %s: %s", name, err.message)


async def sweep(book: MarkerBook | None, catalog: Catalog, clock: Clock) -> int:
    """Delete the markers of settled (or pruned) runs in the warehouses this node wrote markers to;
    returns how many were deleted.

    Safe against runs still in flight: a marker read in step 1 was committed after its run's row,
    so a run not unsettled in step 2 (read after step 1) is settled for good, and its marker is no
    longer needed by anyone; markers committed after step 1 are not touched.
    """
    if book is None:
        return 0
    deleted = 0
    for warehouse in book.warehouses:
        try:
            deleted += await _sweep_one(catalog, clock, book.scope, warehouse)
        except TasksqlError as err:
            log.warning("cannot prune completion markers in warehouse %s: %s", warehouse.name, err.message)
    return deleted


async def _sweep_one(catalog: Catalog, clock: Clock, scope: str, warehouse: Warehouse) -> int:
    deleted = 0
    after = 0
    while True:
        ids = await warehouse.marker_ids(scope, SWEEP_BATCH, after=after)  # 1.
        if not ids:
            return deleted
        now = clock.now()
        nodes = [n.node_id for n in await catalog.list_nodes(now)]
        unsettled = {r.run_id for r in await catalog.open_runs(*nodes)}  # 2.
        done = [i for i in ids if i not in unsettled]
        if done:
            deleted += await warehouse.delete_markers(scope, done)  # 3.
        if len(ids) < SWEEP_BATCH:
            return deleted
        after = max(ids)
