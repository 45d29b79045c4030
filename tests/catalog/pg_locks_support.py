"""Helpers of the tests of the PostgreSQL catalog's row locks and fence (connections of the test's
that run the catalog's own statements next to a catalog)."""

from __future__ import annotations

from typing import Any

import psycopg
from catalog_support import create, member, new_run

from tasksql.catalog import PostgresCatalog
from tasksql.catalog.cluster_rows import fence_params
from tasksql.catalog.postgres.catalog import _Q as PG_QUERIES
from tasksql.catalog.rows import new_run_params
from tasksql.model import TaskRecord
from tasksql.model.cluster import Fence, Lease

Conn = psycopg.Connection[dict[str, Any]]


def fenced_insert(conn: Conn, record: TaskRecord, fence: Fence) -> int | None:
    """The catalog's fenced run insert for ``fence``'s node, not committed (its node row locked FOR
    KEY SHARE): the new run's id, None when the fence refused it."""
    params = new_run_params(new_run(record, node=fence.node_id)) | fence_params(fence)
    row = conn.execute(PG_QUERIES["run_insert_fenced"], params).fetchone()
    return None if row is None else int(row["run_id"])


async def placed_on_a(catalog: PostgresCatalog, *, lease: float | None = None) -> tuple[TaskRecord, Lease]:
    """Create task ``t``, join node ``a`` (with a lease of ``lease`` seconds when given) and have
    ``a`` claim the task; fails unless the claim takes exactly that task."""
    record = await create(catalog, "t")
    a = await catalog.join(member("a") if lease is None else member("a", lease=lease))
    assert await catalog.claim_placements(a.fence, capacity=4, warehouses=None) == [record.id]
    return record, a
