"""What is particular to each backend in cluster coordination: a catalog written by the previous
release takes the cluster tables in place, and PostgreSQL's row locks keep a lease from being revoked
under a write in flight without making anyone wait.

The protocol itself is the contract, tested on both backends by ``test_catalog_contract_cluster.py``.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import psycopg
import pytest
from catalog_support import NOW, SHORT, create, eventually, expired, member
from psycopg import sql

from pgserver import PgServer
from tasksql.catalog import PostgresCatalog, SQLiteCatalog
from tasksql.catalog.cluster_rows import lease_params
from tasksql.catalog.migrate import load_migrations
from tasksql.catalog.postgres.catalog import _Q as PG_QUERIES
from tasksql.catalog.postgres.connect import parse_target
from tasksql.catalog.postgres.schema import apply_schema as pg_apply_schema
from tasksql.catalog.queries import load_queries
from tasksql.catalog.sqlite.schema import apply_schema as sqlite_apply_schema
from tasksql.clock import monotonic
from tasksql.model.cluster import LeaseState
from tasksql.testing import FakeClock

STAMP = "2026-01-01T00:00:00.000000Z"
NODE_ROW = (
    "INSERT INTO nodes (node_id, host, pid, role, version, started_at, heartbeat_at, stopped_at) "
    "VALUES ('old', 'h', 7, 'scheduler', '0.9', '2026-01-01T00:00:00Z', '2026-01-01T00:00:05Z', NULL)"
)


async def test_a_sqlite_catalog_of_the_previous_release_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    before = [m for m in load_migrations("sqlite") if m.name != "cluster"]
    queries = {name: q.sql for name, q in load_queries("sqlite").items()}
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    sqlite_apply_schema(conn, schema=before[0].sql, migrations=before[:1], queries=queries, now=STAMP)
    sqlite_apply_schema(conn, schema="", migrations=before, queries=queries, now=STAMP)
    conn.execute(NODE_ROW)
    conn.execute("COMMIT")
    conn.close()

    async with SQLiteCatalog(path, clock=FakeClock(NOW)) as catalog:
        [old] = await catalog.cluster_members()
        record = await create(catalog, "t")
        lease = await catalog.join(member("a"))
        claimed = await catalog.claim_placements(lease.fence, capacity=4, warehouses=None)

    assert (old.node_id, old.pid, old.version, old.epoch, old.lease_state) == (
        "old",
        7,
        "0.9",
        0,
        LeaseState.NONE,
    )
    assert claimed == [record.id] and lease.fence.epoch == 1


@pytest.mark.postgres
async def test_a_postgres_catalog_of_the_previous_release_upgrades_in_place(pg_server: PgServer) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    # the previous release: without the cluster tables and without warehouses.role_mapping
    before = [m for m in load_migrations("postgres") if m.name not in ("cluster", "warehouse_role_mapping")]
    target = parse_target(pg_server.url, schema)
    with psycopg.connect(target.url, **target.kwargs) as conn, conn.transaction(), conn.cursor() as cur:
        pg_apply_schema(
            cur, schema_name=schema, schema=before[0].sql, migrations=before, queries=PG_QUERIES, now=STAMP
        )
        cur.execute(NODE_ROW)

    async with PostgresCatalog(pg_server.url, schema=schema, clock=FakeClock(NOW)) as catalog:
        [old] = await catalog.cluster_members()
        record = await create(catalog, "t")
        lease = await catalog.join(member("a"))
        claimed = await catalog.claim_placements(lease.fence, capacity=4, warehouses=None)

    assert (old.node_id, old.pid, old.version, old.epoch, old.lease_state) == (
        "old",
        7,
        "0.9",
        0,
        LeaseState.NONE,
    )
    assert claimed == [record.id] and lease.fence.epoch == 1


@pytest.mark.postgres
async def test_a_lease_is_not_revoked_under_a_write_in_flight_and_nobody_waits(pg_server: PgServer) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    a_view = PostgresCatalog(pg_server.url, schema=schema, clock=FakeClock(NOW))
    b_view = PostgresCatalog(pg_server.url, schema=schema, clock=FakeClock(NOW))
    async with a_view, b_view:
        record = await create(a_view, "t")
        a = await a_view.join(member("a", lease=SHORT))
        b = await b_view.join(member("b"))
        assert await a_view.claim_placements(a.fence, capacity=4, warehouses=None) == [record.id]
        with psycopg.connect(pg_server.dsn) as writing:
            # a fenced write of a's, begun while its lease was live and not committed yet, holds a's
            # node row (the fence's own check, FOR KEY SHARE)
            writing.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema)))
            assert writing.execute(PG_QUERIES["lease_held"], lease_params(a.fence)).fetchall()
            await eventually(lambda: expired(b_view, "a"))

            started = monotonic()
            assert await b_view.claim_placements(b.fence, capacity=4, warehouses=None) == []
            # the revocation skipped the locked row: a claim that waited for it would wait until the
            # rollback below (the bound is generous for a loaded machine)
            assert monotonic() - started < 20

            nodes = {m.node_id: m for m in await b_view.cluster_members()}
            assert nodes["a"].lease_state is LeaseState.LIVE and not nodes["a"].live  # not revoked yet
            writing.rollback()

        assert await b_view.claim_placements(b.fence, capacity=4, warehouses=None) == [record.id]
        assert {m.node_id: m.lease_state for m in await b_view.cluster_members()}["a"] is LeaseState.LOST
