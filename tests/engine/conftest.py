"""Fixtures of the engine tests.

``engine`` is an engine on a fresh data directory with its scheduler started; a test module that
defines its own ``engine`` fixture uses that one instead (pytest's nearest definition wins).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.settings import Settings


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        await eng.start_scheduler()
        yield eng
