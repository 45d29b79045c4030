"""A node stopped while a task body settles its run through a PostgreSQL warehouse that is the
catalog's own database, on a real server.

Such a body's transaction ends with the catalog's settling UPDATE of its run, which locks the node's
row ``FOR KEY SHARE`` until the COMMIT (see ``scheduler/same_database.py``). A node stopped before
that COMMIT keeps the row locked, and the revocation of its lease (``FOR UPDATE SKIP LOCKED``) skips
it. The other nodes end a stopped node's sessions by the fence label they carry; the warehouse
session carries it for the settling transaction, so it is ended too and the lease is revoked.

Here the body's settling UPDATE waits for the run's row, which a connection of the test's holds: the
warehouse session then holds the node's row and goes no further, as a stopped node's would.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from catalog_support import NOW, eventually, member, new_run
from pg_locks_support import placed_on_a

from pgserver import PgServer
from tasksql.catalog import PostgresCatalog
from tasksql.catalog.postgres.connect import fence_label
from tasksql.errors import TasksqlError
from tasksql.model import RunState
from tasksql.scheduler.membership import FenceRef
from tasksql.scheduler.same_database import SameDatabase
from tasksql.testing import FakeClock
from tasksql.warehouses.base import Marker
from tasksql.warehouses.postgres import PostgresWarehouse

pytestmark = pytest.mark.postgres


async def test_a_node_stopped_while_settling_through_the_catalogs_database_loses_its_lease(
    schema: str, pg_server: PgServer, connect: Any
) -> None:
    effects = f"public.e_{uuid.uuid4().hex[:12]}"
    locker, watcher = connect(), connect()
    locker.execute(f"CREATE TABLE {effects} (n int)")
    locker.commit()
    warehouse = PostgresWarehouse("wh", pg_server.url, max_concurrency=1)
    await warehouse.open()
    try:
        async with PostgresCatalog(pg_server.url, schema=schema, clock=FakeClock(NOW)) as catalog:
            fence = FenceRef(member=True)
            same = SameDatabase(catalog, fence)
            assert await same.holds_catalog(warehouse)  # asked before the short lease starts
            record, a = await placed_on_a(catalog, lease=1.5)
            fence.current = a.fence
            b = await catalog.join(member("b"))
            [run] = await catalog.fire([new_run(record, node="a")], [], fence=a.fence)
            assert run is not None
            marker = await same.marker(
                warehouse,
                Marker(scope="test", run_id=run.run_id, clock=FakeClock(NOW)),
                started=NOW,
                return_value=None,
            )
            assert marker.settle is not None
            assert marker.settle.label == fence_label(schema, "a", a.fence.epoch)

            # the run's row held: the body's settling UPDATE locks a's row, then waits
            locker.execute("SELECT 1 FROM runs WHERE run_id = %s FOR UPDATE", [run.run_id])
            body = asyncio.ensure_future(
                warehouse.run_body([f"INSERT INTO {effects} VALUES (1)"], transactional=True, marker=marker)
            )

            async def row_held() -> bool:
                free = watcher.execute(
                    "SELECT 1 FROM nodes WHERE node_id = 'a' FOR UPDATE SKIP LOCKED"
                ).fetchall()
                watcher.rollback()
                return not free

            await eventually(row_held)
            [name] = watcher.execute(
                "SELECT application_name AS name FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE%%runs%%'"
            ).fetchall()
            watcher.commit()
            assert name["name"] == fence_label(schema, "a", a.fence.epoch)  # only while it settles

            async def taken_over() -> bool:
                return await catalog.claim_placements(b.fence, capacity=4, warehouses=None) == [record.id]

            # b's claims: a's lease runs out, its sessions (the warehouse's among them) are ended a
            # grace later, and a following claim revokes the lease and takes the task
            await eventually(taken_over, within=15.0)
            [a_node] = [m for m in await catalog.cluster_members() if m.node_id == "a"]
            assert a_node.lease_state == "lost"
            with pytest.raises(TasksqlError):
                await body  # its session was ended: rolled back
            locker.rollback()

            [(state, node)] = [(r.state, r.node_id) for r in await catalog.list_runs(task_id=record.id)]
            assert (state, node) == (RunState.EXECUTING, "a")  # not settled by the stopped node
            assert watcher.execute(f"SELECT count(*) AS n FROM {effects}").fetchone() == {"n": 0}
            watcher.commit()
            # the warehouse's next settling body carries no label of a's: its session's name is back
            rs = await warehouse.execute("SELECT current_setting('application_name')")
            assert rs.rows == [("tasksql",)]
    finally:
        await warehouse.close()
        locker.execute(f"DROP TABLE IF EXISTS {effects}")
        locker.commit()
