"""Fixtures of the notification tests: a real catalog (the test's: a SQLite file, or a schema on
PostgreSQL with ``--catalog=postgres``) driven by a fake clock, and a real HTTP receiver on
127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from notify_support import NOW
from receiver import Receiver

from catalog_choice import catalog_factory
from tasksql.catalog import Catalog
from tasksql.testing import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def new_catalog(tmp_path: Path, clock: FakeClock) -> Callable[[], Catalog]:
    """Makes unopened catalog objects on the test's catalog (what another process would have)."""
    return catalog_factory(tmp_path, clock=clock, poll_interval=0.05)


@pytest.fixture
async def catalog(new_catalog: Callable[[], Catalog]) -> AsyncIterator[Catalog]:
    async with new_catalog() as opened:
        yield opened


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    try:
        yield r
    finally:
        await r.stop()
