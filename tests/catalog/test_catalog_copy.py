"""Copying a whole catalog between backends (:mod:`tasksql.catalog.copy`): a SQLite file into a
private PostgreSQL server and back into a new file, with everything the contract reads equal on
both sides; refusals of a target with content and of catalogs a node still runs on.

The table list the copy carries must match both backends' schemas: a table or column added to one
without the copy knowing would otherwise be lost silently.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import uuid
from pathlib import Path

import psycopg
import pytest
from catalog_support import NOW, create, fire_run, later
from filled import fill, snapshot

from pgserver import PgServer
from tasksql.catalog import PostgresCatalog, SQLiteCatalog
from tasksql.catalog.copy import copy_catalog
from tasksql.catalog.tables import TABLES
from tasksql.errors import CatalogError
from tasksql.model.run import NodeRecord
from tasksql.testing import FakeClock

#: Tables of the schema a copy leaves alone (each catalog keeps its own).
OWN_TABLES = {"schema_version", "catalog_meta"}

EXPECTED = {spec.name: set(spec.columns) for spec in TABLES}


def sqlite_catalog(path: Path) -> SQLiteCatalog:
    return SQLiteCatalog(path, clock=FakeClock(NOW))


def pg_catalog(server: PgServer) -> PostgresCatalog:
    return PostgresCatalog(server.url, schema=f"c_{uuid.uuid4().hex[:10]}", clock=FakeClock(NOW))


async def test_the_copied_tables_are_every_table_of_the_sqlite_schema(tmp_path: Path) -> None:
    async with sqlite_catalog(tmp_path / "c.db"):
        pass
    conn = sqlite3.connect(tmp_path / "c.db")
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        found = {
            name: {r[1] for r in conn.execute(f"PRAGMA table_info({name})")}
            for name in names
            if not name.startswith("sqlite_") and name not in OWN_TABLES
        }
    finally:
        conn.close()
    assert found == EXPECTED


async def test_the_copied_tables_are_every_table_of_the_postgres_schema(pg_server: PgServer) -> None:
    catalog = pg_catalog(pg_server)
    async with catalog:
        pass
    with psycopg.connect(pg_server.dsn) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s",
            (catalog.schema,),
        ).fetchall()
    found: dict[str, set[str]] = {}
    for name, column in rows:
        if name not in OWN_TABLES:
            found.setdefault(name, set()).add(column)
    found["graph_runs"].discard("seq")  # the insertion counter: rows are copied in its order
    assert found == EXPECTED


async def test_sqlite_to_postgres_and_back_keeps_everything(tmp_path: Path, pg_server: PgServer) -> None:
    first, pg, back = (
        sqlite_catalog(tmp_path / "first.db"),
        pg_catalog(pg_server),
        sqlite_catalog(tmp_path / "back.db"),
    )
    async with first, pg, back:
        filled = await fill(first)
        original = await snapshot(first)
        counters = await first.id_counters()

        report = await copy_catalog(first, pg, replace=False, now=later(3600), batch_size=2)
        assert report.counts == original["counts"]
        assert ("tasks", 3) in report.rows() and ("runs", 3) in report.rows()
        assert await snapshot(pg) == original
        assert await pg.id_counters() == counters

        await copy_catalog(pg, back, replace=False, now=later(3600))
        assert await snapshot(back) == original
        assert await back.id_counters() == counters

        # both copies hand out fresh ids: above the copied ones and the pruned run's
        for copy in (pg, back):
            task = await create(copy, "after_the_copy")
            assert task.id == max(filled.task_ids) + 1
            run = await fire_run(copy, task, later(7200))
            assert run.run_id == filled.max_run_id + 1


async def test_a_target_with_content_is_refused_and_replaced_when_asked(
    tmp_path: Path, pg_server: PgServer
) -> None:
    source, target = sqlite_catalog(tmp_path / "s.db"), pg_catalog(pg_server)
    async with source, target:
        await fill(source)
        await create(target, "only_in_the_target")
        before = await snapshot(target)

        with pytest.raises(CatalogError) as refused:
            await copy_catalog(source, target, replace=False, now=later(3600), target_name="the target")
        assert refused.value.code == "CATALOG_NOT_EMPTY"
        assert str(refused.value) == (
            f"the catalog {target.safe_url} (schema {target.schema}) is not empty (tasks: 1, task versions: 1)"
        )
        assert await snapshot(target) == before

        await copy_catalog(source, target, replace=True, now=later(3600))
        assert await snapshot(target) == await snapshot(source)  # replaced, not merged
        assert await target.get_task(before["tasks"][0].definition.name) is None


@pytest.mark.parametrize("side", ["source", "target"])
async def test_a_node_running_on_either_catalog_stops_the_copy(tmp_path: Path, side: str) -> None:
    source, target = sqlite_catalog(tmp_path / "s.db"), sqlite_catalog(tmp_path / "t.db")
    async with source, target:
        await create(source, "t")
        live = source if side == "source" else target
        now = later(3600)
        # this process, beating a second ago: as alive as a node can be
        node = NodeRecord(
            node_id="node-live",
            host=socket.gethostname(),
            pid=os.getpid(),
            role="scheduler",
            version="0",
            started_at=now,
            heartbeat_at=now,
        )
        await live.register_node(node)
        before = await snapshot(target)

        with pytest.raises(CatalogError) as refused:
            await copy_catalog(source, target, replace=True, now=now, source_name="S", target_name="T")

        assert refused.value.code == "CATALOG_IN_USE"
        assert str(refused.value).startswith(
            f"node node-live (pid {os.getpid()} on {socket.gethostname()}) is running on {side[0].upper()};"
        )
        assert await snapshot(target) == before
        # once it stopped, the copy goes ahead
        await live.stop_node("node-live", now)
        await copy_catalog(source, target, replace=True, now=now)
        assert [t.definition.name.name for t in await target.list_tasks()] == ["t"]
