"""Fixtures for the warehouse contract tests: one real warehouse per backend.

``backend`` is parametrised over duckdb, sqlite and postgres (the contract module
``test_wh_contract.py`` widens it to every warehouse type); ``make_warehouse(max_concurrency)``
builds an open warehouse of that backend on real storage (a DuckDB file and a SQLite file in
``tmp_path``, a fresh database on the private PostgreSQL, MariaDB or ClickHouse server the tests
start) and closes it after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tasksql.warehouses.base import Warehouse
from tasksql.warehouses.duckdb import DuckDBDatabase
from tasksql.warehouses.sqlite import SQLiteWarehouse

from .support import BACKENDS

MakeWarehouse = Callable[..., Awaitable[Warehouse]]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_warehouse(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[MakeWarehouse]:
    opened: list[Warehouse] = []
    databases: list[DuckDBDatabase] = []
    server_fixture = {
        "postgres": "pg_database",
        "mysql": "mariadb_database",
        "clickhouse": "ch_native_database",
        "clickhouse-http": "ch_http_database",  # the clickhouse type over HTTP (an http:// URL)
    }
    url = request.getfixturevalue(server_fixture[backend]).url if backend in server_fixture else None

    async def make(max_concurrency: int = 4, name: str = "w") -> Warehouse:
        w: Warehouse
        if backend == "duckdb":
            if not databases:
                databases.append(DuckDBDatabase(tmp_path / "warehouse.duckdb"))
            w = databases[0].pool(name, max_concurrency)
        elif backend == "sqlite":
            w = SQLiteWarehouse(name, tmp_path / "warehouse.db", max_concurrency=max_concurrency)
        elif backend == "postgres":
            from tasksql.warehouses.postgres import PostgresWarehouse

            assert url is not None
            w = PostgresWarehouse(name, url, max_concurrency=max_concurrency)
        elif backend == "mysql":
            from tasksql.warehouses.mysql import MySQLWarehouse

            assert url is not None
            w = MySQLWarehouse(name, url, max_concurrency=max_concurrency)
        elif backend in ("clickhouse", "clickhouse-http"):
            from tasksql.warehouses.clickhouse import ClickHouseWarehouse

            assert url is not None
            w = ClickHouseWarehouse(name, url, max_concurrency=max_concurrency)
        elif backend == "chdb":
            from tasksql.warehouses.chdb_local import ChdbWarehouse

            w = ChdbWarehouse(name, request.getfixturevalue("chdb_path"))
        else:
            raise AssertionError(f"no warehouse type {backend}")
        await w.open()
        opened.append(w)
        return w

    yield make
    for w in opened:
        await w.close()
    if backend == "chdb" and opened:
        await _empty_chdb(request.getfixturevalue("chdb_path"))
    for db in databases:
        await db.close()


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one chdb data directory of the test process (chdb opens one per process); each test
    leaves it empty."""
    pytest.importorskip("chdb", reason="chdb is not installed (pip install 'tasksql[chdb]')")
    return tmp_path_factory.mktemp("chdb")


async def _empty_chdb(path: Path) -> None:
    from tasksql.warehouses.chdb_local import ChdbWarehouse

    w = ChdbWarehouse("cleanup", path)
    await w.open()
    try:
        tables = await w.execute("SELECT name FROM system.tables WHERE database = currentDatabase()")
        for (name,) in tables.rows:
            await w.execute(f'DROP TABLE IF EXISTS "{name}"')
    finally:
        await w.close()


@pytest.fixture
async def warehouse(make_warehouse: MakeWarehouse) -> Warehouse:
    return await make_warehouse()


def pytest_configure(config: pytest.Config) -> None:
    # tasksql silences DuckDB's "extra copy" hint for the Arrow detour it takes on purpose (see
    # tasksql.warehouses.duckdb); pytest's per-test warning capture would show it again.
    config.addinivalue_line("filterwarnings", "ignore:Arrow output on a DB-API result:UserWarning")
