"""Ocient's maintenance types on a real SQLite warehouse file (docs.ocient.com/distributed-tasks:
``check_disk`` verifies data by checksums, ``rebuild`` reconstructs what can be rebuilt, ``table_id``
limits a rebuild to one table): check_disk on a deliberately damaged file fails the run (what it
checked, object by object, is tests/engine/test_check_disk.py); rebuild reindexes and analyzes,
one table with ``table_id``; rebuild is accepted on a NODE, rebalance is not."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.errors import ValidationError
from tasksql.settings import Settings


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


def make_file(path: Path) -> int:
    """A SQLite file with two indexed tables; the page number of t's index."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")
    db.execute("CREATE INDEX t_b ON t (b)")
    db.execute("CREATE TABLE u (a INTEGER PRIMARY KEY, b TEXT)")
    db.execute("CREATE INDEX u_b ON u (b)")
    db.executemany("INSERT INTO t VALUES (?, ?)", [(i, "x" * 50 + str(i)) for i in range(5000)])
    db.executemany("INSERT INTO u VALUES (?, ?)", [(i, str(i)) for i in range(100)])
    db.commit()
    [(root,)] = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 't_b'").fetchall()
    db.close()
    return int(root)


async def last_run(engine: Engine, name: str) -> tuple[str, str | None, str | None]:
    assert engine.scheduler is not None
    await engine.scheduler.drain()
    rows = (
        await engine.execute(
            f"SELECT state, error_code, error_message FROM task_history(task_name => '{name}')"
        )
    )[-1].rows
    return rows[0]


async def test_check_disk_fails_on_a_damaged_file(engine: Engine, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.db", tmp_path / "bad.db"
    make_file(good)
    root = make_file(bad)
    with bad.open("r+b") as f:  # overwrite the cell pointers of t_b's root page (pages count from 1)
        f.seek((root - 1) * 4096 + 12)
        f.write(b"\xff" * 300)
    await engine.execute(f"CREATE WAREHOUSE good TYPE = sqlite URL = 'sqlite:///{good}'")
    await engine.execute(f"CREATE WAREHOUSE bad TYPE = sqlite URL = 'sqlite:///{bad}'")
    await engine.start_scheduler()
    await engine.execute("CREATE TASK ok_check TYPE check_disk LOCATION SYSTEM WAREHOUSE = good")
    assert (await last_run(engine, "ok_check"))[0] == "SUCCEEDED"
    await engine.execute("CREATE TASK bad_check TYPE check_disk LOCATION SYSTEM WAREHOUSE = bad")
    state, _, message = await last_run(engine, "bad_check")
    assert state == "FAILED"
    assert message is not None and ("CHECK_DISK_FAILED" in message or "malformed" in message)


async def test_rebuild_reindexes_and_analyzes_one_table(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    make_file(path)
    await engine.execute(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{path}'")
    await engine.start_scheduler()
    await engine.execute("CREATE TASK one TYPE rebuild OPTIONS table_id = 'u' WAREHOUSE = lite")
    assert (await last_run(engine, "one"))[0] == "SUCCEEDED"
    db = sqlite3.connect(path)
    assert {r[0] for r in db.execute("SELECT tbl FROM sqlite_stat1")} == {"u"}  # statistics of u only
    db.close()
    await engine.execute("CREATE TASK all_tables TYPE rebuild WAREHOUSE = lite")
    assert (await last_run(engine, "all_tables"))[0] == "SUCCEEDED"
    db = sqlite3.connect(path)
    assert {r[0] for r in db.execute("SELECT tbl FROM sqlite_stat1")} == {"t", "u"}
    db.close()


async def test_locations(engine: Engine) -> None:
    await engine.execute("CREATE TASK r TYPE rebuild LOCATION NODE 'my_node1' ENABLE")
    with pytest.raises(ValidationError) as err:
        await engine.execute("CREATE TASK b TYPE rebalance LOCATION NODE 'my_node1'")
    assert err.value.code == "INVALID_VALUE"
