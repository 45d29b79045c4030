"""rebuild's table_id on a DuckDB warehouse (docs/sql-reference.md, TYPE rebuild): a name that is no
table fails the run with TABLE_NOT_FOUND before anything runs, as on SQLite and PostgreSQL (it was
a failed ANALYZE step, REBUILD_FAILED with DuckDB's message); ``<schema>.<table>`` names a table
outside schema main (it was quoted as one name and never found); names are case-insensitive."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tasksql.engine import Engine
from tasksql.settings import Settings


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        await eng.start_scheduler()
        yield eng


async def last_run(engine: Engine, name: str) -> tuple[Any, ...]:
    assert engine.scheduler is not None
    await engine.scheduler.drain()
    found = (
        await engine.execute(
            f"SELECT state, error_code, error_message FROM task_history(task_name => '{name}')"
        )
    )[-1].rows
    return tuple(found[0])


async def test_a_table_id_that_names_no_duckdb_table_fails_table_not_found(engine: Engine) -> None:
    await engine.execute("CREATE TABLE orders (id INT)")
    await engine.execute("CREATE TASK typo TYPE rebuild OPTIONS table_id = 'order'")
    state, code, message = await last_run(engine, "typo")
    assert state == "FAILED", (state, code, message)
    assert "TABLE_NOT_FOUND" in f"{code} {message}", (code, message)
    assert "'order' names no table of warehouse default" in (message or ""), message
    assert "ANALYZE" not in (message or "")  # refused before any step ran


async def test_duckdb_table_ids_with_a_schema_and_in_any_case(engine: Engine) -> None:
    await engine.execute("CREATE SCHEMA sales")
    await engine.execute("CREATE TABLE sales.orders (id INT)")
    await engine.execute("CREATE TABLE Lines (id INT)")
    for n, table_id in enumerate(["sales.orders", "SALES.Orders", "lines", "main.LINES"]):
        await engine.execute(f"CREATE TASK ok{n} TYPE rebuild OPTIONS table_id = '{table_id}'")
        assert (await last_run(engine, f"ok{n}"))[:2] == ("SUCCEEDED", None), table_id
    # an unqualified name is schema main's, as DuckDB's search path resolves it
    await engine.execute("CREATE TASK elsewhere TYPE rebuild OPTIONS table_id = 'orders'")
    state, code, message = await last_run(engine, "elsewhere")
    assert state == "FAILED" and "TABLE_NOT_FOUND" in f"{code} {message}", (code, message)
