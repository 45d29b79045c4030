"""Fixtures for the warehouse contract tests: one real warehouse per backend.

``backend`` is parametrised over duckdb, sqlite and postgres; ``make_warehouse(max_concurrency)``
builds an open warehouse of that backend on real storage (a DuckDB file and a SQLite file in
``tmp_path``, a fresh database on the private PostgreSQL server) and closes it after the test.
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
    url = request.getfixturevalue("pg_database").url if backend == "postgres" else None

    async def make(max_concurrency: int = 4, name: str = "w") -> Warehouse:
        w: Warehouse
        if backend == "duckdb":
            if not databases:
                databases.append(DuckDBDatabase(tmp_path / "warehouse.duckdb"))
            w = databases[0].pool(name, max_concurrency)
        elif backend == "sqlite":
            w = SQLiteWarehouse(name, tmp_path / "warehouse.db", max_concurrency=max_concurrency)
        else:
            from tasksql.warehouses.postgres import PostgresWarehouse

            assert url is not None
            w = PostgresWarehouse(name, url, max_concurrency=max_concurrency)
        await w.open()
        opened.append(w)
        return w

    yield make
    for w in opened:
        await w.close()
    for db in databases:
        await db.close()


@pytest.fixture
async def warehouse(make_warehouse: MakeWarehouse) -> Warehouse:
    return await make_warehouse()


def pytest_configure(config: pytest.Config) -> None:
    # tasksql silences DuckDB's "extra copy" hint for the Arrow detour it takes on purpose (see
    # tasksql.warehouses.duckdb); pytest's per-test warning capture would show it again.
    config.addinivalue_line("filterwarnings", "ignore:Arrow output on a DB-API result:UserWarning")
