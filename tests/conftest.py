"""Fixtures shared by the whole test suite.

``pg_server`` starts one private PostgreSQL server per test session (see ``tests/pgserver.py``);
``pg_database`` gives each test its own database on it, dropped afterwards. Tests that use them
are skipped, with the reason, only when the PostgreSQL server binaries are not installed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pgserver import PgDatabase, PgServer, find_bindir


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A running private PostgreSQL server (``.url``, ``.dsn``, ``.new_database()``)."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) are not installed; set PG_BIN or install them"
        )
    with PgServer(bindir) as server:
        yield server


@pytest.fixture
def pg_database(pg_server: PgServer) -> Iterator[PgDatabase]:
    """A fresh, empty database on the session's server (``.url``, ``.dsn``), dropped after the test."""
    with pg_server.database() as db:
        yield db
