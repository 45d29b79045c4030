"""Fixtures of the catalog tests.

``catalog`` is an opened catalog of each backend on fresh storage: a SQLite file, and a schema of
its own on the session's private PostgreSQL server (``pg_server``, see ``tests/pgserver.py``). The
contract tests use only the :class:`~tasksql.catalog.Catalog` interface, so a new backend is tested
by adding a parameter here. ``catalog_factory`` makes further, unopened catalog objects on the same
storage (another process's view of the same catalog). ``schema`` names a fresh PostgreSQL schema,
and ``connect`` opens plain connections of the test's on it.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from catalog_support import NOW
from psycopg import sql
from psycopg.rows import dict_row

from pgserver import PgServer
from tasksql.catalog import Catalog, PostgresCatalog, SQLiteCatalog
from tasksql.testing import FakeClock

CHILD_SCRIPT = Path(__file__).with_name("catalog_child.py")

#: Seconds between polls of the change sequence in tests (fast, so that a missed wake-up shows as
#: slowness rather than as a timeout).
POLL_INTERVAL = 0.05

CatalogFactory = Callable[[], Catalog]


@pytest.fixture(params=["sqlite", "postgres"])
def catalog_factory(request: pytest.FixtureRequest, tmp_path: Path) -> CatalogFactory:
    """Makes unopened catalogs on one fresh storage of the backend named by the parameter."""
    if request.param == "sqlite":
        path = tmp_path / "catalog.db"
        return lambda: SQLiteCatalog(path, clock=FakeClock(NOW), poll_interval=POLL_INTERVAL)
    assert request.param == "postgres"
    url = request.getfixturevalue("pg_server").url
    schema = f"t_{uuid.uuid4().hex[:12]}"
    return lambda: PostgresCatalog(url, schema=schema, clock=FakeClock(NOW), poll_interval=POLL_INTERVAL)


@pytest.fixture
async def catalog(catalog_factory: CatalogFactory) -> AsyncIterator[Catalog]:
    """An opened, empty catalog (plus the seeded ``default`` warehouse)."""
    async with catalog_factory() as opened:
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


@pytest.fixture
def schema() -> str:
    """A fresh name for a PostgreSQL catalog's schema."""
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def connect(pg_server: PgServer, schema: str) -> Iterator[Callable[..., psycopg.Connection[Any]]]:
    """Open connections on the catalog's schema of ``schema``, named ``application_name`` (a
    transaction begins at the first statement); all closed at the end of the test."""
    opened: list[psycopg.Connection[dict[str, Any]]] = []

    def open_one(application_name: str = "test") -> psycopg.Connection[dict[str, Any]]:
        conn = psycopg.connect(pg_server.dsn, row_factory=dict_row, application_name=application_name)
        conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema)))
        conn.commit()
        opened.append(conn)
        return conn

    yield open_one
    for conn in opened:
        conn.close()
