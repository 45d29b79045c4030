"""Runs whose warehouse is the catalog's own PostgreSQL database: the outcome commits with the body.

A body's effects and its run's outcome are normally in two databases, committed one after the
other; completion markers (:mod:`tasksql.scheduler.markers`) close that gap after a node loss. When
the warehouse's database *is* the catalog's, there is no gap to close: the body's transaction also
records its run SUCCEEDED in the catalog (:class:`~tasksql.warehouses.base.CatalogSettle`, with
the node's fence when it is a cluster member), so a node killed at any moment leaves both or
neither, and a node that lost its lease commits neither. A member's settling body carries the
node's catalog label as its session's name for its transaction, so that a node stopped while
that transaction holds its node row is ended with its catalog sessions when its lease is revoked.

Which warehouses qualify is found out once per warehouse object (a changed warehouse is a new one),
the first time a body with a marker is about to run there. The test is what the settling write
needs, asked of the warehouse itself: this node writes a random value under a random key into the
catalog's settings, and the warehouse must read that very value from the catalog's schema (so it is
the same database, not a copy or a restored dump), must not be a standby (``pg_is_in_recovery()``),
and its login must be allowed to update the catalog's ``runs`` and lock its ``nodes`` rows
(``UPDATE`` privilege on both). The key is removed afterwards. Connection parameters are not
compared: the same database is often reached under several names (a socket, ``localhost``, an
address, a pooler).

A verdict is kept for the warehouse object's lifetime; a probe that could not be completed (the
warehouse or the catalog unreachable) is tried again at the next run, which meanwhile writes a
marker as usual. After the body: :class:`~tasksql.scheduler.inflight.InFlightRuns` does not write
the run's outcome again; it applies only what the outcome changes besides the run's row (the
task's failure count) and queues its notifications.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
import weakref
from dataclasses import replace
from datetime import datetime

from tasksql.catalog.base import Catalog
from tasksql.errors import TasksqlError
from tasksql.model import RunState
from tasksql.model.run import settling
from tasksql.scheduler.membership import FenceRef
from tasksql.warehouses.base import CatalogSettle, Marker, Warehouse

log = logging.getLogger("tasksql.scheduler")

#: The prefix of the catalog settings a probe writes (each under a random key, removed after).
PROBE_PREFIX = "same_database_probe_"
#: Seconds a probe's query may take in the warehouse.
PROBE_TIMEOUT = 10.0


class SameDatabase:
    """Which warehouses hold this catalog's database, and the settling markers of their runs.

    :param catalog: the node's catalog (only a PostgreSQL catalog can share a database with a
        warehouse; with any other, :meth:`marker` never changes a marker).
    :param fence: the fence of the node's run writes; the one current when a body starts is the
        one its settling write checks.
    """

    def __init__(self, catalog: Catalog, fence: FenceRef) -> None:
        self._catalog = catalog
        self._fence = fence
        self._schema = _postgres_schema(catalog)
        #: warehouse -> its verdict (True: it holds the catalog's database)
        self._verdicts: weakref.WeakKeyDictionary[Warehouse, bool] = weakref.WeakKeyDictionary()
        #: warehouse -> the probe under way (concurrent first runs share it)
        self._probes: weakref.WeakKeyDictionary[Warehouse, asyncio.Task[bool | None]] = (
            weakref.WeakKeyDictionary()
        )

    def may_settle(self, warehouse: Warehouse) -> bool:
        """Whether :meth:`marker` may change a marker for ``warehouse`` (False: it returns it as it
        is; asked first, without a coroutine, by each run with a marker)."""
        return self._schema is not None and warehouse.dialect == "postgres"

    async def marker(
        self,
        warehouse: Warehouse,
        marker: Marker,
        *,
        started: datetime | None,
        return_value: str | None,
    ) -> Marker:
        """``marker``, made to settle its run in the catalog when ``warehouse`` holds the catalog's
        database (``started``: the run's start; ``return_value``: its value so far)."""
        if self._schema is None or warehouse.dialect != "postgres":  # (as may_settle)
            return marker
        if not await self.holds_catalog(warehouse):
            return marker
        settling(RunState.SUCCEEDED)  # the change the settling write makes, checked as every other
        fence = self._fence.current
        settle = CatalogSettle(
            schema=self._schema,
            query_start_time=started,
            return_value=return_value,
            fence=fence,
            label=None if fence is None else _fence_label(self._schema, fence.node_id, fence.epoch),
        )
        return replace(marker, settle=settle)

    async def holds_catalog(self, warehouse: Warehouse) -> bool:
        """Whether ``warehouse``'s database is the catalog's, and usable for settling writes
        (False also while that cannot be told: the probe runs again next time)."""
        verdict = self._verdicts.get(warehouse)
        if verdict is not None:
            return verdict
        probe = self._probes.get(warehouse)
        if probe is None:
            probe = asyncio.ensure_future(self._probe(warehouse))
            self._probes[warehouse] = probe
            probe.add_done_callback(lambda _: self._probes.pop(warehouse, None))
        found = await asyncio.shield(probe)
        if found is None:
            return False
        self._verdicts[warehouse] = found
        return found

    async def _probe(self, warehouse: Warehouse) -> bool | None:
        """The verdict for ``warehouse``; None when it cannot be told now."""
        assert self._schema is not None
        schema = f'"{self._schema}"'
        key, value = PROBE_PREFIX + uuid.uuid4().hex, uuid.uuid4().hex
        try:
            await self._catalog.set_setting(key, value)
        except TasksqlError as err:
            log.debug("cannot tell whether warehouse %s holds the catalog: %s", warehouse.name, err.message)
            return None
        try:
            try:
                rs = await warehouse.execute(
                    f"SELECT value, pg_is_in_recovery() FROM {schema}.settings WHERE key = '{key}'",
                    timeout=PROBE_TIMEOUT,
                )
            except TasksqlError as err:
                if getattr(err, "sqlstate", None) in ("42P01", "3F000", "42501"):
                    return False  # no such schema or table here (another database), or not visible
                log.debug(
                    "cannot tell whether warehouse %s holds the catalog: %s", warehouse.name, err.message
                )
                return None
            if not rs.rows or rs.rows[0][0] != value:
                return False  # a copy of the catalog (or another catalog in the same schema)
            if rs.rows[0][1]:
                return False  # a standby: it cannot write
            rs = await warehouse.execute(
                f"SELECT has_table_privilege('{schema}.runs', 'UPDATE')"
                f" AND has_table_privilege('{schema}.nodes', 'UPDATE')",
                timeout=PROBE_TIMEOUT,
            )
            if not (rs.rows and rs.rows[0][0]):
                log.warning(
                    "warehouse %s is the catalog's database, but its login may not update the"
                    " catalog's tables runs and nodes: its runs' outcomes are recorded after their"
                    " bodies (completion markers)",
                    warehouse.name,
                )
                return False
            log.info(
                "warehouse %s is the catalog's database: its runs' outcomes commit with their bodies",
                warehouse.name,
            )
            return True
        except TasksqlError as err:
            log.debug("cannot tell whether warehouse %s holds the catalog: %s", warehouse.name, err.message)
            return None
        finally:
            try:
                await self._catalog.set_setting(key, None)
            except TasksqlError as err:
                log.debug("cannot remove the catalog setting %s: %s", key, err.message)


def _fence_label(schema: str, node_id: str, epoch: int) -> str:
    """The label the catalog's sessions of ``node_id`` under ``epoch`` carry
    (:func:`tasksql.catalog.postgres.connect.fence_label`), which a settling body's session carries
    too: a node that revokes the lease of a stopped node ends the sessions with that label, those
    holding its node row in a settling write included. Looked up as the catalog's module is (loaded
    with the PostgreSQL catalog, the only one that settles through a warehouse)."""
    label: str = sys.modules["tasksql.catalog.postgres.connect"].fence_label(schema, node_id, epoch)
    return label


def _postgres_schema(catalog: Catalog) -> str | None:
    """``catalog``'s schema when it is a PostgreSQL catalog, else None. Its module is looked up, not
    imported: psycopg is optional (a task's CREATE checks load this module), and a catalog of that
    class exists only once its module is loaded."""
    module = sys.modules.get("tasksql.catalog.postgres.catalog")
    if module is not None and isinstance(catalog, module.PostgresCatalog):
        return str(catalog.schema)
    return None
