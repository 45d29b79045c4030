"""The engine's task language against a real catalog and DuckDB: checks that need the catalog, SHOW,
DESCRIBE, versions, integrations, warehouses, streams and pass-through."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tasksql.catalog import PostgresCatalog
from tasksql.catalog.sqlite import SQLiteCatalog
from tasksql.engine import Engine, Result
from tasksql.errors import (
    CatalogError,
    GraphError,
    IntegrationNotFound,
    ObjectExists,
    TaskNotFound,
    TasksqlError,
    ValidationError,
    WarehouseNotFound,
)
from tasksql.settings import Settings
from tasksql.sql import parse_one


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


async def one(engine: Engine, sql: str) -> Result:
    return (await engine.execute(sql))[-1]


async def rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    return (await one(engine, sql)).rows


async def test_issue_example_create_show_show_create_next_runs(engine: Engine) -> None:
    created = await one(
        engine,
        "CREATE TASK t WAREHOUSE = 'default' SCHEDULE = USING CRON '0 0 9 * * *' 'Asia/Tokyo' "
        "AS INSERT INTO log SELECT now()",
    )
    assert created.message == "Task t successfully created."
    [task] = (await one(engine, "SHOW TASKS")).as_dicts()
    assert (task["name"], task["state"], task["schedule"]) == (
        "t",
        "suspended",
        "CRON 0 0 9 * * * TIMEZONE Asia/Tokyo",  # as Databend prints its cron schedules
    )
    assert task["next_scheduled_time"].hour == 0 and task["next_scheduled_time"].minute == 0  # 09:00 JST
    [(shown, text)] = await rows(engine, "SHOW CREATE TASK t")
    assert shown == "t"
    assert (
        parse_one(text).definition
        == parse_one(  # type: ignore[attr-defined]
            "CREATE TASK t WAREHOUSE = 'default' SCHEDULE = USING CRON '0 0 9 * * *' 'Asia/Tokyo' "
            "AS INSERT INTO log SELECT now()"
        ).definition
    )  # type: ignore[attr-defined]
    runs = await rows(engine, "SELECT n, local_time FROM next_runs('t', 5)")
    assert [r[0] for r in runs] == [1, 2, 3, 4, 5]
    assert all(r[1].endswith("T09:00:00+09:00") for r in runs)


async def test_every_change_is_a_new_version_and_versions_are_kept(engine: Engine) -> None:
    await engine.execute("CREATE TASK t SCHEDULE = '5 MINUTES' AS SELECT 1")
    await engine.execute("ALTER TASK t SET COMMENT = 'second'")
    await engine.execute("ALTER TASK t MODIFY AS SELECT 2")
    await engine.execute("ALTER TASK t RESUME")  # a state change is not a definition change
    versions = await rows(engine, "SELECT version, definition FROM system.task_versions ORDER BY version")
    assert [v[0] for v in versions] == [1, 2, 3]
    assert "COMMENT = 'second'" in versions[1][1] and versions[2][1].endswith("AS SELECT 2")
    [(version,)] = await rows(engine, "SELECT version FROM system.tasks")
    assert version == 3


async def test_create_errors_need_the_catalog(engine: Engine) -> None:
    await engine.execute("CREATE TASK t SCHEDULE = '5 MINUTES' AS SELECT 1")
    with pytest.raises(ObjectExists) as exists:
        await engine.execute("CREATE TASK t SCHEDULE = '5 MINUTES' AS SELECT 1")
    assert (exists.value.code, exists.value.line, exists.value.column) == ("TASK_EXISTS", 1, 13)
    assert (
        await one(engine, "CREATE TASK IF NOT EXISTS t AS SELECT 1")
    ).message == "t already exists, statement succeeded."
    with pytest.raises(TaskNotFound) as missing:
        await engine.execute("CREATE TASK c\n  AFTER t, nope\nAS SELECT 1")
    assert (missing.value.line, missing.value.column) == (2, 12)
    with pytest.raises(WarehouseNotFound):
        await engine.execute("CREATE TASK w WAREHOUSE = nowhere AS SELECT 1")
    with pytest.raises(IntegrationNotFound) as integration:
        await engine.execute("CREATE TASK e SCHEDULE = '1 MINUTES' ERROR_INTEGRATION = 'hook' AS SELECT 1")
    assert integration.value.code == "INTEGRATION_NOT_FOUND"
    with pytest.raises(TaskNotFound):
        await engine.execute("CREATE TASK f FINALIZE = nope AS SELECT 1")
    # nothing of the failed statements was stored
    assert await rows(engine, "SELECT name FROM system.tasks") == [("t",)]


async def test_a_script_with_an_error_runs_nothing(engine: Engine) -> None:
    with pytest.raises(TasksqlError) as err:
        await engine.execute("CREATE TASK a AS SELECT 1;\nCREATE TASK b SCHEDULE = '0 MINUTES' AS SELECT 1")
    assert (err.value.code, err.value.line) == ("INVALID_INTERVAL", 2)
    assert "^" in err.value.render()
    assert await rows(engine, "SELECT count(*) FROM system.tasks") == [(0,)]


async def test_a_script_flushes_its_definition_changes_to_disk_once(engine: Engine) -> None:
    catalog = engine.catalog

    def durable() -> int:
        if isinstance(catalog, SQLiteCatalog):
            return catalog.writer_stats().durable
        assert isinstance(catalog, PostgresCatalog)
        return catalog.durable_commits()

    before = durable()
    await engine.execute(
        ";\n".join(f"CREATE TASK s{i} SCHEDULE = '1 MINUTES' AS SELECT {i}" for i in range(5))
    )
    assert durable() - before == 1  # one flush covers the five commits
    before = durable()
    await engine.execute("CREATE TASK single AS SELECT 1")
    await engine.execute("ALTER TASK single SET COMMENT = 'x'")
    assert durable() - before == 2  # a lone statement: its own flush
    # a failing statement ends the script; what ran before it is flushed all the same
    before = durable()
    with pytest.raises(ObjectExists):
        await engine.execute(
            "CREATE TASK t1 AS SELECT 1; CREATE TASK t2 AS SELECT 1; CREATE TASK s0 AS SELECT 1"
        )
    assert durable() - before == 1
    assert await rows(engine, "SELECT count(*) FROM system.tasks WHERE name IN ('t1', 't2')") == [(2,)]
    # the changes were visible at once, statement by statement (a later one saw an earlier one)
    await engine.execute("CREATE TASK p AS SELECT 1; CREATE TASK c AFTER p AS SELECT 2")
    assert await rows(engine, "SELECT count(*) FROM system.tasks WHERE name = 'c'") == [(1,)]


async def test_graph_limits(engine: Engine) -> None:
    await engine.execute("CREATE TASK r SCHEDULE = '1 HOURS' AS SELECT 1")
    children = ";\n".join(f"CREATE TASK c{i} AFTER r AS SELECT 1" for i in range(100))
    await engine.execute(children)
    with pytest.raises(GraphError) as too_many:
        await engine.execute("CREATE TASK c100 AFTER r AS SELECT 1")
    assert too_many.value.code == "TOO_MANY_CHILDREN"
    preds = ", ".join(f"c{i}" for i in range(100))
    await engine.execute(f"CREATE TASK j AFTER {preds} AS SELECT 1")
    with pytest.raises(ValidationError) as self_dep:
        await engine.execute("ALTER TASK j ADD AFTER j")
    assert self_dep.value.code in ("SELF_DEPENDENCY", "TOO_MANY_PREDECESSORS")


async def test_graph_size_limit(engine: Engine) -> None:
    await engine.execute("CREATE TASK t0 SCHEDULE = '1 HOURS' AS SELECT 1")
    chain = ";\n".join(f"CREATE TASK t{i} AFTER t{i - 1} AS SELECT 1" for i in range(1, 1000))
    await engine.execute(chain)
    with pytest.raises(GraphError) as err:
        await engine.execute("CREATE TASK t1000 AFTER t999 AS SELECT 1")
    assert err.value.code == "GRAPH_TOO_LARGE"


async def test_show_tasks_filters(engine: Engine) -> None:
    await engine.execute(
        "CREATE TASK alpha SCHEDULE = '1 HOURS' AS SELECT 1;"
        "CREATE TASK beta AFTER alpha AS SELECT 1;"
        "CREATE TASK other.gamma SCHEDULE = '1 HOURS' AS SELECT 1"
    )
    names = lambda r: [row[1] for row in r.rows]  # noqa: E731
    assert names(await one(engine, "SHOW TASKS LIKE 'AL%'")) == ["alpha"]
    assert names(await one(engine, "SHOW TASKS STARTS WITH 'b'")) == ["beta"]
    assert names(await one(engine, "SHOW TASKS ROOT ONLY")) == ["gamma", "alpha"]
    assert names(await one(engine, "SHOW TASKS IN SCHEMA other")) == ["gamma"]
    assert names(await one(engine, "SHOW TASKS LIMIT 1")) == ["gamma"]
    terse = await one(engine, "SHOW TERSE TASKS")
    assert terse.columns == ("created_on", "name", "kind", "database_name", "schema_name", "schedule")


async def test_describe_shows_effective_values(engine: Engine) -> None:
    await engine.execute("CREATE TASK t SCHEDULE 5s TIMEOUT 2s AS SELECT 1")
    props = {r[0]: (r[1], r[2]) for r in await rows(engine, "DESCRIBE TASK t")}
    assert props["USER_TASK_TIMEOUT_MS"] == (2000, False)
    assert props["SUSPEND_TASK_AFTER_NUM_FAILURES"] == (10, True)
    assert props["OVERLAP_POLICY"] == ("NO_OVERLAP", True)
    assert props["state"][0] == "started"  # Timeplus spelling


async def test_integrations_never_show_secrets(engine: Engine) -> None:
    await engine.execute(
        "CREATE NOTIFICATION INTEGRATION hook TYPE = WEBHOOK ENABLED = TRUE WEBHOOK = ("
        "url = 'http://127.0.0.1:9/x', method = 'POST', authorization_header = 'Bearer s3cret', "
        "signing_secret = 'k3y') COMMENT = 'on call'"
    )
    everything = json.dumps(
        [
            (await one(engine, q)).rows
            for q in (
                "SHOW NOTIFICATION INTEGRATIONS",
                "DESCRIBE NOTIFICATION INTEGRATION hook",
                "SELECT * FROM system.notification_integrations",
            )
        ],
        default=str,
    )
    assert "s3cret" not in everything and "k3y" not in everything
    assert "********" in everything
    await engine.execute("ALTER NOTIFICATION INTEGRATION hook SET ENABLED = FALSE")
    assert await rows(engine, "SELECT enabled FROM system.notification_integrations") == [(False,)]
    await engine.execute("CREATE TASK t SCHEDULE = '1 HOURS' ERROR_INTEGRATION = hook AS SELECT 1")
    with pytest.raises(CatalogError) as in_use:
        await engine.execute("DROP NOTIFICATION INTEGRATION hook")
    assert in_use.value.code == "INTEGRATION_IN_USE"


async def test_warehouses(engine: Engine) -> None:
    [default] = (await one(engine, "SHOW WAREHOUSES")).as_dicts()
    assert (default["name"], default["type"], default["embedded"]) == ("default", "duckdb", True)
    await engine.execute("CREATE WAREHOUSE etl MAX_CONCURRENCY = 2")
    await engine.execute("CREATE WAREHOUSE pg TYPE = postgres URL = 'postgresql://u:hunter2@127.0.0.1:1/db'")
    shown = json.dumps((await one(engine, "SHOW WAREHOUSES")).rows, default=str)
    assert "hunter2" not in shown and "***" in shown
    # a compute pool over the default DuckDB sees the same data
    await engine.execute("CREATE TABLE shared AS SELECT 7 AS x")
    await engine.execute(
        "CREATE TASK t WAREHOUSE = etl SCHEDULE = '1 HOURS' AS INSERT INTO shared VALUES (8)"
    )
    result = await one(engine, "EXECUTE TASK t")
    assert result.as_dicts()[0]["state"] == "SUCCEEDED"
    assert await rows(engine, "SELECT x FROM shared ORDER BY x") == [(7,), (8,)]
    with pytest.raises(CatalogError) as err:
        await engine.execute("DROP WAREHOUSE default")
    assert err.value.code == "DEFAULT_WAREHOUSE"
    with pytest.raises(CatalogError):
        await engine.execute("DROP WAREHOUSE etl")  # used by t


async def test_streams(engine: Engine) -> None:
    await engine.execute("CREATE STREAM events (id int64, who string, tags array(string), at2 datetime64(3))")
    cols = await rows(
        engine, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'events'"
    )
    assert cols == [
        ("id", "BIGINT"),
        ("who", "VARCHAR"),
        ("tags", "VARCHAR[]"),
        ("at2", "TIMESTAMP WITH TIME ZONE"),
        ("_tp_time", "TIMESTAMP WITH TIME ZONE"),
    ]
    created = await one(engine, "CREATE STREAM s ON TABLE events")  # a change-tracking stream now
    assert created.rows == [("Stream s successfully created.",)]


async def test_passthrough_and_system_tables_join(engine: Engine) -> None:
    await engine.execute(
        "CREATE TABLE owners (task VARCHAR, person VARCHAR); INSERT INTO owners VALUES ('t', 'ann')"
    )
    await engine.execute("CREATE TASK t SCHEDULE = '1 HOURS' AS SELECT 1")
    joined = await rows(
        engine, "SELECT t.name, o.person FROM system.tasks t JOIN owners o ON o.task = t.name"
    )
    assert joined == [("t", "ann")]
    with pytest.raises(ValidationError) as err:
        await engine.execute("SELECT * FROM system.nope")
    assert err.value.code == "UNKNOWN_SYSTEM_TABLE"


async def test_ocient_task_runs_once_when_created(engine: Engine) -> None:
    await engine.start_scheduler()
    await engine.execute("CREATE TASK TYPE check_disk LOCATION SYSTEM")
    assert engine.scheduler is not None
    await engine.scheduler.drain()
    [(name, state, scheduled_from)] = await rows(
        engine, "SELECT name, state, scheduled_from FROM system.task_history"
    )
    assert (name, state, scheduled_from) == ("check_disk_1", "SUCCEEDED", "EXECUTE TASK")


async def test_seed_002_examples_are_accepted(engine: Engine) -> None:
    await engine.execute(
        """
        CREATE TASK mytask1 WAREHOUSE = 'default' SCHEDULE = 2 MINUTE AS SELECT 1;
        CREATE TASK mytask2 WAREHOUSE = 'default' SCHEDULE = USING CRON '0 0 0 * * *' 'Asia/Tokyo' AS SELECT 1;
        CREATE TABLE employees (age INTEGER);
        CREATE TASK mytask3 WAREHOUSE = 'default' SCHEDULE = USING CRON '0 0 1 1 * *' 'UTC'
        AS
        UPDATE employees
        SET age = age + 1;
        ALTER TASK mytask1 RESUME;
        ALTER TASK mytask2 RESUME;
        ALTER TASK mytask3 RESUME;
        """
    )
    got = await rows(engine, "SELECT name, state, schedule FROM system.tasks ORDER BY name")
    assert got == [
        ("mytask1", "started", "2 MINUTES"),
        ("mytask2", "started", "CRON 0 0 0 * * * TIMEZONE Asia/Tokyo"),
        ("mytask3", "started", "CRON 0 0 1 1 * * TIMEZONE UTC"),
    ]
