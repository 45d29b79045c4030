"""A node stopped mid-transaction on a PostgreSQL catalog, with connections on a real server.

A node stopped (SIGSTOP) while it was sending a pipelined batch keeps its session ``active`` on
``ClientRead``, its node row locked ``FOR KEY SHARE``, and no server timeout ends it; a revocation
(``FOR UPDATE SKIP LOCKED``) skips that row. Here the stopped node's session is a connection of the
test's that carries the node's fence label and holds the catalog's own fenced insert uncommitted:
either sent in a pipeline without its Sync (the catalog's idle-in-transaction timeout set, and not
applying), or between two statements with no such timeout. It never commits by itself, as a
stopped node never does.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from catalog_support import NOW, eventually, member, new_run
from pg_locks_support import Conn, fenced_insert, placed_on_a
from psycopg import sql
from psycopg.rows import dict_row

from pgserver import PgServer
from tasksql.catalog import PostgresCatalog
from tasksql.catalog.cluster_rows import fence_params
from tasksql.catalog.postgres.catalog import _Q as PG_QUERIES
from tasksql.catalog.postgres.cluster import STUCK_GRACE_MS
from tasksql.catalog.postgres.connect import IDLE_IN_TRANSACTION_MS, fence_label
from tasksql.catalog.rows import new_run_params
from tasksql.model import TaskRecord
from tasksql.model.cluster import Fence
from tasksql.testing import FakeClock

pytestmark = pytest.mark.postgres


async def lease_state(catalog: PostgresCatalog, node_id: str) -> str:
    [node] = [m for m in await catalog.cluster_members() if m.node_id == node_id]
    return node.lease_state


def stop_in_pipeline(dsn: str, schema: str, label: str, record: TaskRecord, fence: Fence) -> Conn:
    """A session of ``fence``'s node configured like the catalog's (its idle-in-transaction timeout
    included), stopped while it was sending a pipelined batch: BEGIN and the fenced insert sent,
    the Sync never. The server runs both and then waits for the rest (``active``, ``ClientRead``)."""
    options = f"-c search_path={schema} -c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"
    conn = psycopg.connect(dsn, autocommit=True, application_name=label, options=options)
    params = new_run_params(new_run(record, node=fence.node_id)) | fence_params(fence)
    insert = psycopg.ClientCursor(conn).mogrify(PG_QUERIES["run_insert_fenced"], params)
    pgconn = conn.pgconn
    pgconn.enter_pipeline_mode()
    for statement in ("BEGIN", insert):
        pgconn.send_query_params(statement.encode(), None)
    pgconn.send_flush_request()
    while pgconn.flush():
        pass
    return conn


@pytest.mark.parametrize("stopped_in", ["pipeline", "transaction"])
async def test_a_stopped_node_holding_its_row_loses_its_lease_and_commits_nothing(
    schema: str, pg_server: PgServer, connect: Any, stopped_in: str
) -> None:
    async with PostgresCatalog(pg_server.url, schema=schema, clock=FakeClock(NOW)) as catalog:
        record, a = await placed_on_a(catalog, lease=0.3)
        b = await catalog.join(member("b"))
        label = fence_label(schema, "a", a.fence.epoch)
        watcher = connect()
        # a's session, stopped in the middle of a fenced write: its row held, never committed
        if stopped_in == "pipeline":
            stopped = stop_in_pipeline(pg_server.dsn, schema, label, record, a.fence)
        else:  # between two statements, with no idle-in-transaction timeout
            stopped = connect(label)
            assert fenced_insert(stopped, record, a.fence) is not None
        pid = stopped.pgconn.backend_pid
        other = connect(fence_label(schema, "a", a.fence.epoch + 1000))  # not a's fence: left alone

        async def row_held() -> bool:
            # a revocation's own lock: the row is skipped while a's session holds it
            free = watcher.execute(
                "SELECT 1 FROM nodes WHERE node_id = 'a' FOR UPDATE SKIP LOCKED"
            ).fetchall()
            watcher.rollback()
            return not free

        await eventually(row_held)
        if stopped_in == "pipeline":
            [session] = watcher.execute(
                "SELECT state, wait_event FROM pg_stat_activity WHERE pid = %s", [pid]
            ).fetchall()
            watcher.commit()
            assert session == {"state": "active", "wait_event": "ClientRead"}

        claims = 0

        async def taken_over() -> bool:
            nonlocal claims
            claims += 1
            taken = await catalog.claim_placements(b.fence, capacity=4, warehouses=None)
            return taken == [record.id]

        # b claims every 50 ms or so: a's lease runs out after 0.3 s, its sessions are ended a
        # grace later (the idle timeout has long passed by then), and a following claim revokes it
        await eventually(taken_over, within=10.0)
        assert await lease_state(catalog, "a") == "lost"
        assert claims < (300 + STUCK_GRACE_MS) / 50 + 40  # until the grace is over, and some more

        # a's session is gone, its transaction rolled back: the run it inserted was never written
        gone = watcher.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchall()
        watcher.commit()
        assert gone == []
        if stopped_in == "transaction":
            with pytest.raises(psycopg.OperationalError):
                stopped.commit()
        assert await catalog.list_runs(task_id=record.id) == []
        # a session with another label was not touched
        assert other.execute("SELECT 1 AS one").fetchone() == {"one": 1}
        stopped.close()


async def test_the_catalogs_connections_carry_its_nodes_fence(
    schema: str, pg_server: PgServer, connect: Any
) -> None:
    watcher = connect()

    def labels() -> list[str]:
        rows = watcher.execute(
            "SELECT application_name AS name FROM pg_stat_activity "
            "WHERE application_name LIKE 'tasksql-catalog%%' AND pid <> pg_backend_pid()"
        ).fetchall()
        watcher.commit()
        return [str(row["name"]) for row in rows]

    async with PostgresCatalog(pg_server.url, schema=schema, clock=FakeClock(NOW)) as catalog:
        a = await catalog.join(member("a"))
        label = fence_label(schema, "a", a.fence.epoch)
        assert label not in labels()  # none carries it before its next transaction
        await catalog.renew_lease(a.fence, running=0)  # a write
        await catalog.cluster_members()  # a read
        assert labels().count(label) >= 2  # the writer's connection and a reader's
        again = await catalog.join(member("a"))
        await catalog.renew_lease(again.fence, running=0)
        assert fence_label(schema, "a", again.fence.epoch) in labels()


def test_a_fence_label_fits_and_keeps_catalogs_apart() -> None:
    assert fence_label("tasksql", "n1", 7) == "tasksql-catalog/tasksql/7/n1"
    assert fence_label("tasksql", "n1", 7) != fence_label("other", "n1", 7)
    long = fence_label("tasksql", "node-" + "x" * 80, 7)
    assert len(long.encode()) <= 63 and long != fence_label("tasksql", "node-" + "x" * 81, 7)
    assert fence_label("tasksql", "nœud", 7).isascii()


async def test_without_the_privilege_to_end_them_one_line_names_it_and_the_grant_fixes_it(
    schema: str, pg_server: PgServer, connect: Any, caplog: pytest.LogCaptureFixture
) -> None:
    tag = uuid.uuid4().hex[:8]
    claimer, holder = f"b_{tag}", f"a_{tag}"  # b's catalog user, and the stopped node a's
    admin = connect()
    for role in (claimer, holder):
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    admin.execute(
        sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(*map(sql.Identifier, (schema, claimer)))
    )
    admin.commit()
    url = pg_server.url.replace(f"//{pg_server.user}@", f"//{claimer}@")
    async with PostgresCatalog(url, schema=schema, clock=FakeClock(NOW)) as catalog:
        record, a = await placed_on_a(catalog, lease=0.3)
        b = await catalog.join(member("b"))
        admin.execute(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(*map(sql.Identifier, (schema, holder)))
        )
        admin.execute(
            sql.SQL("GRANT ALL ON ALL TABLES IN SCHEMA {} TO {}").format(
                *map(sql.Identifier, (schema, holder))
            )
        )
        admin.commit()
        stopped = psycopg.connect(
            pg_server.dsn.replace(f"user={pg_server.user}", f"user={holder}"),
            row_factory=dict_row,
            application_name=fence_label(schema, "a", a.fence.epoch),
        )
        try:
            stopped.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema)))
            stopped.commit()
            assert fenced_insert(stopped, record, a.fence) is not None

            async def warned() -> bool:
                assert await catalog.claim_placements(b.fence, capacity=4, warehouses=None) == []
                return any("pg_signal_backend" in r.getMessage() for r in caplog.records)

            await eventually(warned, within=10.0)
            for _ in range(3):  # later claims still work, and say nothing more
                assert await catalog.claim_placements(b.fence, capacity=4, warehouses=None) == []
            lines = [r for r in caplog.records if "pg_signal_backend" in r.getMessage()]
            assert len(lines) == 1 and "a/" in lines[0].getMessage()
            assert await lease_state(catalog, "a") == "live"  # ran out, not revoked: the row is held

            admin.execute(sql.SQL("GRANT pg_signal_backend TO {}").format(sql.Identifier(claimer)))
            admin.commit()

            async def taken_over() -> bool:
                return await catalog.claim_placements(b.fence, capacity=4, warehouses=None) == [record.id]

            await eventually(taken_over, within=10.0)
            with pytest.raises(psycopg.OperationalError):
                stopped.commit()
            assert await catalog.list_runs(task_id=record.id) == []
        finally:
            stopped.close()
