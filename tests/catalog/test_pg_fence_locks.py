"""The row locks of the PostgreSQL catalog's fence, with two connections on a real server.

A fenced write locks its node's row ``FOR KEY SHARE`` until it commits; every statement that ends
the lease or gives the node id a new epoch locks the row ``FOR UPDATE`` first. So a renewal (an
UPDATE of columns no key covers: ``FOR NO KEY UPDATE``) never waits for a fenced write in flight,
while an end of the lease and a fenced write of that lease happen one after the other: the write
commits first and the end comes after it, or the write waits for the end and is refused.

The fenced write here is the catalog's own statement (``run_insert_fenced``), left uncommitted on a
connection of the test's; the ends are the catalog's own calls (``join`` of the same node id,
``leave``) or, left uncommitted, the statements they run.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from catalog_support import NOW, eventually, member
from pg_locks_support import fenced_insert, placed_on_a

from pgserver import PgServer
from tasksql.catalog import PostgresCatalog
from tasksql.catalog.cluster_rows import join_params, lease_params
from tasksql.catalog.postgres.catalog import _Q as PG_QUERIES
from tasksql.model import TaskRecord
from tasksql.testing import FakeClock

pytestmark = pytest.mark.postgres

#: A lock wait longer than this fails a statement that must not wait (PostgreSQL's lock_timeout):
#: a statement that takes no conflicting lock never waits at all, so the bound only has to be
#: finite, not tight.
NO_WAIT = "5s"


async def blocked_by(watcher: psycopg.Connection[dict[str, Any]], holder: psycopg.Connection[Any]) -> None:
    """Wait until some backend waits for a lock that ``holder``'s transaction holds."""
    pid = holder.info.backend_pid

    async def waiting() -> bool:
        row = watcher.execute(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [pid]
        ).fetchone()
        watcher.commit()
        return row is not None and row["n"] > 0

    await eventually(waiting)


async def runs_of(catalog: PostgresCatalog, record: TaskRecord) -> list[int]:
    return [run.run_id for run in await catalog.list_runs(task_id=record.id)]


async def test_a_renewal_does_not_wait_for_a_fenced_write_in_flight(
    schema: str, pg_server: PgServer, connect: Any
) -> None:
    async with PostgresCatalog(pg_server.url, schema=schema, clock=FakeClock(NOW)) as catalog:
        record, a = await placed_on_a(catalog)
        writing, renewing = connect(), connect()
        assert fenced_insert(writing, record, a.fence) is not None  # holds a's node row, uncommitted

        renewing.execute(f"SET lock_timeout = '{NO_WAIT}'")
        # the catalog's renewal, heartbeat and claimer's own-row update: none waits for the write
        renewed = renewing.execute(
            PG_QUERIES["lease_renew"], lease_params(a.fence) | {"running": 1}
        ).fetchall()
        renewing.execute(PG_QUERIES["node_heartbeat"], {"node_id": "a", "now": NOW})
        claimer = lease_params(a.fence) | {"capacity": 4, "warehouses": None}
        claimed = renewing.execute(PG_QUERIES["lease_claimer"], claimer).fetchall()
        renewing.commit()
        assert len(renewed) == 1 and [r["lease_state"] for r in claimed] == ["live"]

        writing.commit()  # and the write, begun before the renewal, still commits
        assert len(await runs_of(catalog, record)) == 1


@pytest.mark.parametrize("end", ["rejoin", "leave"])
async def test_an_end_of_the_lease_waits_for_a_fenced_write_in_flight(
    schema: str, pg_server: PgServer, connect: Any, end: str
) -> None:
    async with PostgresCatalog(pg_server.url, schema=schema, clock=FakeClock(NOW)) as catalog:
        record, a = await placed_on_a(catalog)
        writing, watching = connect(), connect()
        run_id = fenced_insert(writing, record, a.fence)
        assert run_id is not None

        ending = asyncio.ensure_future(
            catalog.join(member("a")) if end == "rejoin" else catalog.leave(a.fence)
        )
        # the end waits for the write: if it did not, the write would commit after the node id had a
        # new epoch (or after its placements were released), where the next holder cannot see it
        await blocked_by(watching, writing)
        assert not ending.done()
        writing.commit()
        ended = await ending

        if end == "rejoin":
            assert ended.fence.epoch > a.fence.epoch
        else:
            assert ended is True
        assert await runs_of(catalog, record) == [run_id]  # committed before the end
        # and a write of the ended lease after it is refused
        assert fenced_insert(writing, record, a.fence) is None
        writing.rollback()


@pytest.mark.parametrize("end", ["rejoin", "leave"])
async def test_a_fenced_write_waits_for_an_end_of_the_lease_in_flight_and_is_refused(
    schema: str, pg_server: PgServer, connect: Any, end: str
) -> None:
    async with PostgresCatalog(pg_server.url, schema=schema, clock=FakeClock(NOW)) as catalog:
        record, a = await placed_on_a(catalog)
        ending, writing, watching = connect(), connect(), connect()
        if end == "rejoin":
            cur = ending.execute(PG_QUERIES["node_join"], join_params(member("a")))
        else:
            cur = ending.execute(PG_QUERIES["lease_leave"], lease_params(a.fence))
        assert len(cur.fetchall()) == 1  # uncommitted

        write = asyncio.ensure_future(asyncio.to_thread(fenced_insert, writing, record, a.fence))
        # the write waits for the end: if it did not, it would read the row as it was before the end
        # and commit a run of a lease that is over
        await blocked_by(watching, ending)
        assert not write.done()
        ending.commit()
        assert await write is None
        writing.commit()
        assert await runs_of(catalog, record) == []


async def test_a_renewal_does_not_wait_for_a_claim_in_flight(
    schema: str, pg_server: PgServer, connect: Any
) -> None:
    async with PostgresCatalog(pg_server.url, schema=schema, clock=FakeClock(NOW)) as catalog:
        a = await catalog.join(member("a", capacity=4))
        claiming, renewing = connect(), connect()
        claimer = lease_params(a.fence) | {"capacity": 4, "warehouses": None}
        # a claim's first statement, its transaction (a writer's group) not committed yet
        held = claiming.execute(PG_QUERIES["lease_claimer"], claimer).fetchall()
        assert [r["lease_state"] for r in held] == ["live"]

        renewing.execute(f"SET lock_timeout = '{NO_WAIT}'")
        renewed = renewing.execute(
            PG_QUERIES["lease_renew"], lease_params(a.fence) | {"running": 0}
        ).fetchall()
        renewing.commit()
        assert len(renewed) == 1

        # slots that changed are recorded (that claim's UPDATE does lock the row until it commits)
        changed = claiming.execute(PG_QUERIES["lease_claimer"], claimer | {"capacity": 9}).fetchall()
        claiming.commit()
        assert [r["lease_state"] for r in changed] == ["live"]
        [node] = [m for m in await catalog.cluster_members() if m.node_id == "a"]
        assert node.capacity == 9
