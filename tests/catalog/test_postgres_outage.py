"""The PostgreSQL catalog through outages: run bookkeeping waits and is committed once, the rest
fails fast, and writes cut off by terminated connections are applied exactly once.

End-to-end behaviour of a node (the scheduler pausing, catch-up, history) is in
``tests/e2e/test_catalog_outage.py``.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import psycopg
import pytest
from catalog_support import NOW, create, ended, fire_run, new_run, qname

from pgserver import PgServer, find_bindir
from tasksql.catalog import PostgresCatalog
from tasksql.errors import CatalogError
from tasksql.model import RunState, TaskState
from tasksql.testing import FakeClock

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def own_server() -> Iterator[PgServer]:
    """A server of this module's own: a test stops it."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    with PgServer(bindir) as server:
        yield server


def catalog_at(url: str) -> PostgresCatalog:
    return PostgresCatalog(url, schema=f"t_{uuid.uuid4().hex[:12]}", clock=FakeClock(NOW))


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def fails_fast(call: Callable[[], object]) -> CatalogError:
    began = time.monotonic()
    with pytest.raises(CatalogError) as info:
        await call()  # type: ignore[misc]
    # at once: a call that waited for the server (as bookkeeping does) would wait until it is resumed,
    # after the calls; the bound is generous for a loaded machine
    assert time.monotonic() - began < 10
    assert info.value.code == "CATALOG_UNAVAILABLE"
    return info.value


async def test_bookkeeping_waits_out_a_stopped_server_and_the_rest_fails_fast(own_server: PgServer) -> None:
    async with catalog_at(own_server.url) as catalog:
        record = await create(catalog, "t", state=TaskState.STARTED)
        run = await fire_run(catalog, record)
        assert catalog.outage() is None

        own_server.halt("fast")
        try:
            # nobody writes: the listener's lost connection is what makes the writer look
            await until(lambda: catalog.outage() is not None, 60, "the outage to be noticed")
            outcome = catalog.settle_later(ended(run))
            claims = catalog.record_fires(
                "node-a", [], [], [new_run(record, NOW + timedelta(minutes=1), state=RunState.SCHEDULED)]
            )
            error = await fails_fast(lambda: create(catalog, "other"))
            assert "unreachable since" in str(error) and "\n" not in str(error)
            await fails_fast(lambda: catalog.get_task(qname("t")))
            await fails_fast(lambda: catalog.heartbeat("node-a", NOW))
            assert not await catalog.wait_reachable(0.3)
            assert not outcome.done() and not claims.done()  # held, not failed
        finally:
            own_server.resume()

        assert await catalog.wait_reachable(60)
        assert await asyncio.wait_for(outcome, 60) is True
        [claimed] = await asyncio.wait_for(claims, 60)
        assert claimed is not None and claimed.state is RunState.SCHEDULED
        stored = await catalog.get_run(run.run_id)
        assert stored is not None and stored.state is RunState.SUCCEEDED
        assert len(await catalog.list_runs(task_id=record.id)) == 2
        await create(catalog, "other")  # statements work again
        assert catalog.outage() is None


async def test_writes_cut_off_by_terminated_connections_are_applied_exactly_once(
    pg_server: PgServer, caplog: pytest.LogCaptureFixture
) -> None:
    stop = threading.Event()

    def terminate() -> None:
        with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
            while not stop.is_set():
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'tasksql-catalog' AND pid <> pg_backend_pid()"
                )
                time.sleep(0.05)

    async with catalog_at(pg_server.url) as catalog:
        record = await create(catalog, "t", state=TaskState.STARTED)
        killer = threading.Thread(target=terminate, daemon=True)
        killer.start()
        try:
            instants: list[datetime] = []
            fired = []
            # 20 runs in flight at a time: at least 200 instants, and on until three groups were cut off
            # (how often the killer's beat meets a write depends on the machine's load)
            while len(instants) < 200 or (caplog.text.count("was lost") < 3 and len(instants) < 4000):
                batch = [NOW + timedelta(seconds=len(instants) + i) for i in range(20)]
                instants += batch
                fired += await asyncio.gather(*(catalog.fire([new_run(record, at)], []) for at in batch))
        finally:
            stop.set()
            killer.join()
        # None would mean "another node holds the instant": a write applied twice (once before the
        # connection broke, once again after)
        records = [rec for [rec] in fired]
        assert all(rec is not None for rec in records)
        assert len({rec.run_id for rec in records if rec is not None}) == len(instants)
        runs = await catalog.list_runs(task_id=record.id)
        assert sorted(r.scheduled_time for r in runs) == instants
    assert caplog.text.count("was lost") >= 3  # groups were cut off, and repaired


async def test_claimed_starts_cut_off_by_terminated_connections_start_each_run_once(
    pg_server: PgServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Claimed starts go on a connection of their own; when it is killed, the same start goes
    through the writer, and a start whose commit was cut off is neither lost nor applied twice."""
    stop = threading.Event()

    def terminate() -> None:
        with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
            while not stop.is_set():
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'tasksql-catalog' AND pid <> pg_backend_pid()"
                )
                time.sleep(0.05)

    async with catalog_at(pg_server.url) as catalog:
        record = await create(catalog, "t", state=TaskState.STARTED)
        claims = await catalog.record_fires(
            "a",
            [],
            [],
            [
                new_run(record, NOW + timedelta(seconds=i), state=RunState.SCHEDULED, node="a")
                for i in range(400)
            ],
            urgent=True,
        )
        ids = [c.run_id for c in claims if c is not None]
        assert len(ids) == 400
        killer = threading.Thread(target=terminate, daemon=True)
        killer.start()
        started: list[int] = []
        try:
            for lo in range(0, len(ids), 4):  # a tick's starts, one call each
                at = NOW + timedelta(seconds=lo)
                started += await catalog.start_claims("a", ids[lo : lo + 4], at)
        finally:
            stop.set()
            killer.join()
        assert sorted(started) == ids  # each claim started once, none lost
        runs = await catalog.list_runs(task_id=record.id)
        assert {r.state for r in runs} == {RunState.EXECUTING}
        assert all(
            r.query_start_time == NOW + timedelta(seconds=4 * (i // 4))
            for i, r in enumerate(sorted(runs, key=lambda r: r.run_id))
        )
    assert "through the writer" in caplog.text  # the line was cut off, and the writer took over
