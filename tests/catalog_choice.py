"""Which catalog the tests' engines use: the SQLite file of each data directory, or PostgreSQL.

``pytest --catalog=postgres`` (or ``TASKSQL_TEST_CATALOG=postgres``) runs the engine-level tests on
a PostgreSQL catalog: before each test, the autouse fixture ``test_catalog`` (tests/conftest.py)
sets ``TASKSQL_CATALOG`` to the session's private PostgreSQL server (``pg_server``) and
``TASKSQL_CATALOG_SCHEMA`` to a fresh schema of the test's own. Everything that reads its settings
from the environment follows: ``Settings.load()``, ``tasksql.connect()``, ``Engine``, and every
``tasksql`` process a test starts with its environment. With the default ``--catalog=sqlite`` the
fixture removes both variables, so a machine's own settings never leak into a test.

Helpers that start processes with the machine's ``TASKSQL_*`` settings removed keep the test's
catalog with :func:`clean_env`. A test that is about the SQLite file itself (its path, its lock,
its permissions) says so with ``@pytest.mark.sqlite_catalog("why")`` and is skipped on PostgreSQL
with that reason.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from tasksql.catalog import Catalog, PostgresCatalog, SQLiteCatalog
from tasksql.clock import Clock

#: The environment variables that name the test's catalog (set per test on PostgreSQL).
CATALOG_VARS = ("TASKSQL_CATALOG", "TASKSQL_CATALOG_SCHEMA")

#: What :func:`catalog_rows` raises when the catalog cannot be read (not created yet, say).
CatalogReadError = (sqlite3.Error, psycopg.Error)

#: The backends ``--catalog`` accepts.
BACKENDS = ("sqlite", "postgres")


def on_postgres() -> bool:
    """Whether the running test's engines use a PostgreSQL catalog."""
    return bool(os.environ.get("TASKSQL_CATALOG"))


def catalog_env() -> dict[str, str]:
    """The test's catalog variables (empty on SQLite), for a process started with an environment
    of its own."""
    return {k: os.environ[k] for k in CATALOG_VARS if k in os.environ}


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the machine's ``TASKSQL_*`` settings, but with the test's catalog,
    plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSQL_")}
    env.update(catalog_env())
    env.update(extra)
    return env


def catalog_factory(data_dir: Path, *, clock: Clock, poll_interval: float) -> Callable[[], Catalog]:
    """Makes unopened catalog objects on the test's catalog: ``catalog.db`` in ``data_dir`` on
    SQLite, the test's schema on PostgreSQL. Each object is what another process would have."""
    if on_postgres():
        url, schema = os.environ["TASKSQL_CATALOG"], os.environ["TASKSQL_CATALOG_SCHEMA"]
        return lambda: PostgresCatalog(url, schema=schema, clock=clock, poll_interval=poll_interval)
    path = data_dir / "catalog.db"
    return lambda: SQLiteCatalog(path, clock=clock, poll_interval=poll_interval)


def catalog_rows(data_dir: Path, query: str) -> list[tuple[Any, ...]]:
    """Run ``query`` on the test's catalog tables directly, as a reader outside tasksql would:
    ``catalog.db`` in ``data_dir`` (read only) on SQLite, the test's schema on PostgreSQL (instants
    are then ``datetime`` values instead of text; ``from_db_time`` reads both).

    :raises CatalogReadError: the catalog cannot be read (not created yet, say).
    """
    if on_postgres():
        url, schema = os.environ["TASKSQL_CATALOG"], os.environ["TASKSQL_CATALOG_SCHEMA"]
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            rows = conn.execute(query).fetchall()  # type: ignore[call-overload]  # a test's own text
            return [tuple(row) for row in rows]
    conn = sqlite3.connect(f"file:{data_dir / 'catalog.db'}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()
