"""The change watcher on a real SQLite catalog: it reports a change committed through another
catalog object (another process's view) without waiting for its poll when the catalog announces
it, and coalesces a burst of changes into a few reports, the last of them covering the whole burst.

``seen`` and ``changed`` stand for the scheduler's cache: a report "reloads" by taking the catalog's
change sequence, as :meth:`TaskCache.reload` does."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

from tasksql.catalog import SQLiteCatalog
from tasksql.model import WarehouseDef
from tasksql.scheduler.changes import COALESCE_S, ChangeWatcher

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Reloads:
    """What the watcher reports to: each report is one reload of the change sequence."""

    def __init__(self, catalog: SQLiteCatalog, seq: int) -> None:
        self.catalog = catalog
        self.seq = seq
        self.count = 0

    def changed(self) -> None:
        self.count += 1
        asyncio.get_running_loop().create_task(self._reload())

    async def _reload(self) -> None:
        self.seq = await self.catalog.change_seq()


async def _wait(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_a_burst_of_changes_is_coalesced_and_the_last_one_reported(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    async with SQLiteCatalog(path, poll_interval=3600) as mine, SQLiteCatalog(path) as writer:
        reloads = Reloads(mine, await mine.change_seq())
        # a slow reload (100 ms) widens the gap between two reports to 200 ms
        watcher = ChangeWatcher(
            mine, seen=lambda: reloads.seq, changed=reloads.changed, poll=0.01, reload_s=lambda: 0.1
        )
        stopping = False
        task = asyncio.create_task(watcher.loop(lambda: stopping))
        try:
            t0 = time.monotonic()
            for i in range(200):
                await writer.put_warehouse(WarehouseDef(name=f"w{i}"), replace=False, now=NOW)
            burst_s = time.monotonic() - t0
            final = await writer.change_seq()
            await _wait(lambda: reloads.seq >= final, timeout=10)
            assert 1 <= reloads.count <= burst_s / 0.2 + 2, (reloads.count, burst_s)
            assert reloads.count < 200
        finally:
            stopping = True
            task.cancel()


async def test_a_change_through_this_catalog_object_is_reported_without_the_poll(tmp_path: Path) -> None:
    async with SQLiteCatalog(tmp_path / "catalog.db", poll_interval=3600) as catalog:
        reloads = Reloads(catalog, await catalog.change_seq())
        watcher = ChangeWatcher(catalog, seen=lambda: reloads.seq, changed=reloads.changed, poll=3600)
        task = asyncio.create_task(watcher.loop(lambda: False))
        try:
            await asyncio.sleep(COALESCE_S)
            assert reloads.count == 0
            t0 = time.monotonic()
            await catalog.put_warehouse(WarehouseDef(name="w"), replace=False, now=NOW)
            await _wait(lambda: reloads.count == 1, timeout=5)
            assert time.monotonic() - t0 < 5  # the poll is an hour: the catalog's own signal woke it
        finally:
            task.cancel()
