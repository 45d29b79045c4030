"""Fixtures of the notification tests: a real SQLite catalog driven by a fake clock, and a real
HTTP receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from notify_support import NOW
from receiver import Receiver

from tasksql.catalog import SQLiteCatalog
from tasksql.testing import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
async def catalog(tmp_path: Path, clock: FakeClock) -> AsyncIterator[SQLiteCatalog]:
    async with SQLiteCatalog(tmp_path / "catalog.db", clock=clock, poll_interval=0.05) as opened:
        yield opened


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    try:
        yield r
    finally:
        await r.stop()
