"""The engine's DuckDB settings reach every embedded DuckDB database it opens (real DuckDB files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.errors import ConfigError
from tasksql.settings import Settings


async def _setting(eng: Engine, warehouse: str, name: str) -> object:
    wh = await eng.warehouse(warehouse)
    rs = await wh.execute(f"SELECT current_setting('{name}')")
    return rs.rows[0][0]


async def test_threads_and_fsync_mode_apply_to_the_default_and_to_file_databases(tmp_path: Path) -> None:
    settings = Settings.load(data_dir=tmp_path / "data", duckdb_threads=1, duckdb_fsync="none")
    async with Engine(settings) as eng:
        await eng.execute(f"CREATE WAREHOUSE own TYPE = duckdb URL = 'duckdb:///{tmp_path / 'own.duckdb'}'")
        for warehouse in ("default", "own"):
            assert await _setting(eng, warehouse, "threads") == 1
            assert str(await _setting(eng, warehouse, "fsync_mode")).lower() == "none"


async def test_the_defaults_keep_duckdbs_own_threads_and_a_synced_commit(tmp_path: Path) -> None:
    async with Engine(Settings.load(data_dir=tmp_path / "data", env={})) as eng:
        assert str(await _setting(eng, "default", "fsync_mode")).lower() == "standard"
        assert int(str(await _setting(eng, "default", "threads"))) >= 1


@pytest.mark.parametrize(
    ("env", "overrides"),
    [
        ({"TASKSQL_DUCKDB_FSYNC": "sometimes"}, {}),
        ({"TASKSQL_DUCKDB_THREADS": "-2"}, {}),
        ({"TASKSQL_DUCKDB_THREADS": "many"}, {}),
        ({}, {"duckdb_fsync": "never"}),
        ({}, {"duckdb_threads": -1}),
    ],
)
def test_bad_values_are_refused_by_name(env: dict[str, str], overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.load(env=env, **overrides)
    assert "DUCKDB" in info.value.message.upper()
