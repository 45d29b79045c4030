"""``wait_for_change(..., poll=...)``: the caller's poll interval replaces the backend's, and on
PostgreSQL a change committed through another catalog object wakes the waiter by its NOTIFY
whatever the poll interval (what lets a cluster node act on another node's change at once)."""

from __future__ import annotations

import asyncio
import time

from catalog_support import create

from conftest import CatalogFactory
from tasksql.catalog import Catalog, PostgresCatalog, SQLiteCatalog
from tasksql.model import TaskState


async def test_a_waiter_with_its_own_poll_sees_another_objects_change(
    catalog: Catalog, catalog_factory: CatalogFactory
) -> None:
    async with catalog_factory() as other:
        seq = await other.change_seq()
        waiter = asyncio.ensure_future(other.wait_for_change(seq, timeout=60, poll=0.02))
        await asyncio.sleep(0.01)
        assert not waiter.done()

        await create(catalog, "t", state=TaskState.STARTED)

        assert await asyncio.wait_for(waiter, 10) > seq


async def test_the_callers_poll_replaces_the_backends(
    catalog: Catalog, catalog_factory: CatalogFactory
) -> None:
    async with catalog_factory() as other:
        seq = await other.change_seq()
        await create(catalog, "t", state=TaskState.STARTED)
        if isinstance(other, SQLiteCatalog):
            # nothing announces another process's change on SQLite: only a look at the sequence
            # finds it, and the first look is the one at the call (it finds the change at once)
            assert await other.wait_for_change(seq, timeout=0.2, poll=3600) > seq
            seq = await other.change_seq()
            t0 = time.monotonic()
            waiter = asyncio.ensure_future(other.wait_for_change(seq, timeout=1.0, poll=3600))
            await asyncio.sleep(0.3)  # past the waiter's first look (a read in a thread)
            assert not waiter.done()
            await create(catalog, "u", state=TaskState.STARTED)
            # the backend's own poll (50 ms in these tests) would have seen it at once; with an
            # hour's, only the last look at the timeout does
            assert await asyncio.wait_for(waiter, 10) > seq
            assert time.monotonic() - t0 >= 0.95
        else:
            assert isinstance(other, PostgresCatalog)
            seq = await other.change_seq()
            waiter = asyncio.ensure_future(other.wait_for_change(seq, timeout=60, poll=3600))
            await asyncio.sleep(0.05)
            assert not waiter.done()
            t0 = time.monotonic()
            await create(catalog, "u", state=TaskState.STARTED)
            # woken by the NOTIFY of the change's transaction, not by a look an hour away
            assert await asyncio.wait_for(waiter, 10) > seq
            assert time.monotonic() - t0 < 5
