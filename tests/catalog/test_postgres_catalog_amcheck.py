"""A PostgreSQL catalog checks its own storage with amcheck once the extension is installed in its
database: each B-tree index of the catalog's schema is one result (``catalog.<index>``)."""

from __future__ import annotations

import uuid

import psycopg
from catalog_support import NOW

from conftest import POLL_INTERVAL
from pgserver import PgServer
from tasksql.catalog import PostgresCatalog
from tasksql.model.storage_check import CheckResult
from tasksql.testing import FakeClock


async def test_every_catalog_index_is_checked_by_amcheck(pg_server: PgServer) -> None:
    db = pg_server.new_database()
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION amcheck")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    async with PostgresCatalog(
        db.url, schema=schema, clock=FakeClock(NOW), poll_interval=POLL_INTERVAL
    ) as cat:
        found = await cat.check_own_storage(quick=False)
    names = {c.storage_id for c in found}
    assert {"catalog.subtasks_run", "catalog.storage_checks_run", "catalog.storage_checks_pkey"} <= names
    assert all(c.object_kind == "index" and c.check == "bt_index_check" for c in found)
    assert {c.result for c in found} == {CheckResult.OK}, [c.detail for c in found][:2]
