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
            # the change is made once the waiter's first look is done (a read in a thread, which a
            # loaded machine delays): that look must not be the one that finds it
            looked = asyncio.Event()
            read_seq = other.change_seq

            async def change_seq() -> int:
                try:
                    return await read_seq()
                finally:
                    looked.set()

            other.change_seq = change_seq  # type: ignore[method-assign]
            t0 = time.monotonic()
            waiter = asyncio.ensure_future(other.wait_for_change(seq, timeout=1.0, poll=3600))
            await asyncio.wait_for(looked.wait(), 60)
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
            # woken by the NOTIFY of the change's transaction, not by a look an hour away nor by the
            # waiter's timeout (60 s): the wait for it is bounded well below that, generously above
            # what a loaded machine takes
            assert await asyncio.wait_for(waiter, 30) > seq
            assert time.monotonic() - t0 < 30
