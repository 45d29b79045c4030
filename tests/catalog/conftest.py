"""Fixtures of the catalog tests.

``catalog`` is an opened catalog of each backend, on a fresh database; the contract tests use only
the :class:`~tasksql.catalog.Catalog` interface, so a new backend is tested by adding a parameter.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from catalog_support import NOW

from tasksql.catalog import Catalog, SQLiteCatalog
from tasksql.testing import FakeClock

CHILD_SCRIPT = Path(__file__).with_name("catalog_child.py")


@pytest.fixture(params=["sqlite"])
async def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Catalog]:
    """An opened, empty catalog (plus the seeded ``default`` warehouse)."""
    assert request.param == "sqlite"
    async with SQLiteCatalog(tmp_path / "catalog.db", clock=FakeClock(NOW), poll_interval=0.05) as opened:
        yield opened


@pytest.fixture
def child_command() -> list[str]:
    """The command that runs ``catalog_child.py`` in a new Python process."""
    return [sys.executable, str(CHILD_SCRIPT)]


@pytest.fixture
def child_env() -> dict[str, str]:
    """The environment of child processes: ours, with this folder importable."""
    env = dict(os.environ)
    here = str(CHILD_SCRIPT.parent)
    env["PYTHONPATH"] = here + os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else here
    return env
