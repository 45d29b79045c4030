"""What cannot run is refused (or flagged) when it is written, not at every run: warehouses whose type
or URL no run could use, INTO targets in another warehouse, started tasks with no live scheduler.
Real catalog, real DuckDB and SQLite files."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tasksql.engine import Engine, Result
from tasksql.errors import ValidationError, WarehouseError
from tasksql.model.run import NodeRecord
from tasksql.settings import Settings

NO_SCHEDULER = (
    "no scheduler is running for this data directory: task {} is started but will not run until one "
    "runs (tasksql serve, or tasksql.connect(...).start() in Python)"
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


async def one(engine: Engine, sql: str) -> Result:
    return (await engine.execute(sql))[-1]


async def warehouses(engine: Engine) -> list[tuple[Any, ...]]:
    """The warehouses created by the test (the default one is always listed)."""
    return [(r[0], r[1], r[2]) for r in (await one(engine, "SHOW WAREHOUSES")).rows if r[0] != "default"]


async def task_names(engine: Engine) -> list[str]:
    return [str(n) for n in (await one(engine, "SHOW TASKS")).column("name")]


# --- CREATE / ALTER WAREHOUSE --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["clickhouse", "CLICKHOUSE"])
async def test_a_url_the_type_cannot_read_is_refused_at_create_and_nothing_is_stored(
    engine: Engine, kind: str
) -> None:
    sql = f"CREATE WAREHOUSE w TYPE = {kind} URL = 'x://h/db'"
    with pytest.raises(WarehouseError) as info:
        await engine.execute(sql)
    assert info.value.code == "INVALID_URL"
    assert (
        "expected clickhouse://user@host:9000/database or http://user@host:8123/database, not x:"
        in info.value.message
    )
    assert await warehouses(engine) == []


async def test_alter_to_a_type_that_cannot_read_the_url_is_refused_and_changes_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    await engine.execute(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{tmp_path}/l.db'")
    with pytest.raises(WarehouseError):
        await engine.execute("ALTER WAREHOUSE lite SET TYPE = clickhouse")
    assert await warehouses(engine) == [("lite", "sqlite", f"sqlite:///{tmp_path}/l.db")]


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE WAREHOUSE w TYPE = sqlite",
        "CREATE WAREHOUSE w TYPE = postgres",
        "CREATE WAREHOUSE w TYPE = sqlite URL = 'sqlite:///tmp/x.db?fast=yes'",
        "CREATE WAREHOUSE w TYPE = sqlite URL = 'postgresql://h/db'",
        "CREATE WAREHOUSE w TYPE = mysql",
        "CREATE WAREHOUSE w TYPE = mariadb URL = 'mysql://etl@h:3306'",
        "CREATE WAREHOUSE w TYPE = mysql URL = 'x://h/db'",
        "ALTER WAREHOUSE default SET TYPE = mysql",
    ],
)
async def test_a_url_no_run_could_use_is_refused_at_create(engine: Engine, sql: str) -> None:
    with pytest.raises(WarehouseError) as info:
        await engine.execute(sql)
    assert info.value.code == "INVALID_URL"
    assert await warehouses(engine) == []


# --- INTO ----------------------------------------------------------------------------------------


@pytest.fixture
async def lite(engine: Engine, tmp_path: Path) -> Path:
    """A SQLite warehouse ``lite`` with a table ``lite_sink``; the default warehouse has ``sink``."""
    path = tmp_path / "lite.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE lite_sink (a INTEGER)")
    await engine.execute(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{path}'")
    await engine.execute("CREATE TABLE sink (a INTEGER)")
    return path


async def test_into_a_table_of_another_warehouse_is_refused_naming_both(engine: Engine, lite: Path) -> None:
    sql = "CREATE TASK t SCHEDULE 1s WAREHOUSE = lite INTO sink AS SELECT 1 AS a"
    with pytest.raises(ValidationError) as info:
        await engine.execute(sql)
    err = info.value
    assert err.code == "INTO_OTHER_WAREHOUSE"
    assert err.message.startswith(
        "INTO table sink exists in warehouse default, but task t runs on warehouse lite:"
    )
    assert (
        'write INTO "default".sink to insert into warehouse default, or create sink in warehouse lite'
        in err.message
    )
    assert err.span is not None and sql[err.span.start : err.span.end] == "sink"
    assert await task_names(engine) == []


async def test_into_a_table_of_the_tasks_own_warehouse_is_accepted(engine: Engine, lite: Path) -> None:
    created = await one(
        engine, "CREATE TASK t SCHEDULE = '1 MINUTE' WAREHOUSE = lite INTO lite_sink AS SELECT 1 AS a"
    )
    assert created.message == "Task t successfully created."
    assert created.notices == (NO_SCHEDULER.format("t"),)  # INTO makes it Timeplus: started


async def test_into_a_table_that_exists_nowhere_is_accepted_with_a_notice(engine: Engine, lite: Path) -> None:
    created = await one(engine, "CREATE TASK t SCHEDULE = '1 MINUTE' INTO later AS SELECT 1 AS a")
    assert created.notices == (
        "task t: INTO table later does not exist in warehouse default yet; its runs fail"
        " (INTO_TABLE_NOT_FOUND) until it is created there",
        NO_SCHEDULER.format("t"),
    )
    await engine.execute("CREATE TABLE later (a INTEGER)")
    again = await one(engine, "CREATE OR ALTER TASK t SCHEDULE = '1 MINUTE' INTO later AS SELECT 2 AS a")
    assert again.notices == ()


async def test_alter_moving_a_task_away_from_its_into_table_is_refused(engine: Engine, lite: Path) -> None:
    await engine.execute("CREATE TASK t SCHEDULE = '1 MINUTE' INTO sink AS SELECT 1 AS a")
    sql = "ALTER TASK t SET WAREHOUSE = lite"
    with pytest.raises(ValidationError) as info:
        await engine.execute(sql)
    assert info.value.code == "INTO_OTHER_WAREHOUSE"
    assert info.value.span is not None and sql[info.value.span.start : info.value.span.end] == "lite"
    [warehouse] = (await one(engine, "SHOW TASKS")).column("warehouse")
    assert warehouse is None  # unchanged


async def test_into_on_an_unreachable_warehouse_is_accepted_with_a_notice(engine: Engine) -> None:
    await engine.execute("CREATE WAREHOUSE pg TYPE = postgres URL = 'postgresql://u:pw@127.0.0.1:1/x'")
    created = await one(engine, "CREATE TASK t SCHEDULE = '1 MINUTE' WAREHOUSE = pg INTO sink AS SELECT 1")
    first = created.notices[0]
    assert first.startswith("task t: INTO sink was not checked: warehouse pg cannot be reached now (")
    assert "\n" not in first and ":pw@" not in first
    assert await task_names(engine) == ["t"]


# --- a started task with no scheduler ------------------------------------------------------------


async def test_a_started_task_without_scheduler_gets_a_notice_and_shows_it(engine: Engine) -> None:
    created = await one(engine, "CREATE TASK noserver SCHEDULE 1s AS SELECT 1")  # Timeplus: started
    assert created.notices == (NO_SCHEDULER.format("noserver"),)
    suspended = await one(engine, "CREATE TASK later SCHEDULE = '1 MINUTE' AS SELECT 1")  # suspended
    assert suspended.notices == ()
    resumed = await one(engine, "ALTER TASK later RESUME")
    assert resumed.notices == (NO_SCHEDULER.format("later"),)
    assert (await one(engine, "SHOW TASKS")).column("scheduler") == ["none", "none"]
    assert (await one(engine, "SELECT DISTINCT scheduler FROM system.tasks")).rows == [("none",)]
    props = {r[0]: r[1] for r in (await one(engine, "DESCRIBE TASK noserver")).rows}
    assert props["scheduler"] == "none"


async def test_with_a_scheduler_in_this_process_there_is_no_notice(engine: Engine) -> None:
    await engine.start_scheduler()
    created = await one(engine, "CREATE TASK t SCHEDULE 1s AS SELECT 1")
    assert created.notices == ()
    assert (await one(engine, "SHOW TASKS")).column("scheduler") == ["live"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize(
    ("host", "pid", "silent_s", "stopped", "role", "expected"),
    [
        ("other-host", 1, 1.0, False, "server", "live"),  # another machine that beats
        ("this-host", None, 1.0, False, "server", "live"),  # a live process here
        ("other-host", 1, 120.0, False, "server", "none"),  # silent for two minutes
        ("other-host", 1, 1.0, True, "server", "none"),  # stopped cleanly
        ("this-host", "dead", 1.0, False, "server", "none"),  # killed: its process is gone
        ("other-host", 1, 1.0, False, "embedded", "none"),  # an EXECUTE TASK helper, no loop
    ],
)
async def test_a_scheduler_elsewhere_is_live_while_it_beats_and_its_process_exists(
    engine: Engine, host: str, pid: int | str | None, silent_s: float, stopped: bool, role: str, expected: str
) -> None:
    now = engine.now()
    beat = now - timedelta(seconds=silent_s)
    node = NodeRecord(
        node_id="n1",
        host=socket.gethostname() if host == "this-host" else host,
        pid=_dead_pid() if pid == "dead" else int(pid) if isinstance(pid, int) else os.getpid(),
        role=role,
        version="x",
        started_at=beat,
        heartbeat_at=beat,
    )
    await engine.catalog.register_node(node)
    if stopped:
        await engine.catalog.stop_node("n1", now)
    created = await one(engine, "CREATE TASK t SCHEDULE 1s AS SELECT 1")
    assert (await one(engine, "SHOW TASKS")).column("scheduler") == [expected]
    assert created.notices == (() if expected == "live" else (NO_SCHEDULER.format("t"),))
