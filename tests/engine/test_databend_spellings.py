"""Databend's own spellings through the engine with a real catalog and DuckDB: SHOW TASKS WHERE,
TASK_DEPENDENTS / TASK_DEPENDENTS_ENABLE with and without CALL and SYSTEM$, and task_dependents of
a child listing the whole chain (databendlabs/databend tests/sqllogictests/suites/task/task_dag_test.test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.errors import QueryFailed, TasksqlSyntaxError, ValidationError
from tasksql.settings import Settings


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        await eng.execute(
            "CREATE TASK mytaskroot WAREHOUSE = 'default' SCHEDULE = USING CRON '0 0 0 1 1 ? 2100' AS SELECT 1;"
            "CREATE TASK mytaskchild WAREHOUSE = 'default' AFTER 'mytaskroot' AS SELECT 1;"
            "CREATE TASK other SCHEDULE = 5 MINUTE AS SELECT 2"
        )
        yield eng


async def names(engine: Engine, sql: str) -> list[str]:
    result = (await engine.execute(sql))[-1]
    return [row["name"] for row in result.as_dicts()]


async def test_show_tasks_where_filters_on_its_columns(engine: Engine) -> None:
    assert await names(engine, "SHOW TASKS WHERE name = 'mytaskroot'") == ["mytaskroot"]
    assert await names(engine, "SHOW TASKS WHERE schedule LIKE '%MINUTE%' OR name LIKE '%child'") == [
        "mytaskchild",
        "other",
    ]
    assert await names(engine, "SHOW TASKS LIKE 'my%' WHERE predecessors <> '[]'") == ["mytaskchild"]
    with pytest.raises(QueryFailed) as err:
        await engine.execute("SHOW TASKS WHERE no_such_column = 1")
    assert err.value.message.startswith("SHOW TASKS WHERE no_such_column = 1: ")
    with pytest.raises(TasksqlSyntaxError):
        await engine.execute("SHOW TASKS WHERE")


async def test_task_dependents_of_a_child_lists_the_whole_chain(engine: Engine) -> None:
    sql = "SELECT name, predecessors FROM task_dependents(task_name => 'mytaskchild', recursive => true)"
    rows = (await engine.execute(sql))[-1].rows
    assert [r[0] for r in rows] == ["mytaskroot", "mytaskchild"]
    assert await names(
        engine, "SELECT * FROM task_dependents(task_name => 'mytaskchild', recursive => false)"
    ) == ["mytaskchild"]


@pytest.mark.parametrize(
    "call",
    [
        "call TASK_DEPENDENTS_ENABLE('mytaskchild')",
        "SELECT TASK_DEPENDENTS_ENABLE('mytaskchild')",
        "CALL SYSTEM$TASK_DEPENDENTS_ENABLE('mytaskchild')",
        "SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('mytaskchild')",
    ],
)
async def test_task_dependents_enable_in_every_spelling(engine: Engine, call: str) -> None:
    await engine.execute(call)
    sql = "SELECT name, state FROM task_dependents(task_name => 'mytaskchild', recursive => false)"
    assert (await engine.execute(sql))[-1].rows == [("mytaskchild", "started")]


async def test_alter_integration_set_webhook_patches_only_the_fields_given(engine: Engine) -> None:
    await engine.execute(
        "CREATE NOTIFICATION INTEGRATION SampleNotification TYPE = WEBHOOK ENABLED = TRUE"
        " WEBHOOK = (url = 'http://127.0.0.1:9/hook', method = 'POST', signing_secret = 's')"
    )
    await engine.execute(
        "ALTER NOTIFICATION INTEGRATION SampleNotification SET WEBHOOK = (method = 'PUT',"
        " authorization_header = 'Bearer token')"
    )
    hook = (await engine.catalog.get_integration("samplenotification")).webhook  # type: ignore[union-attr]
    assert hook is not None
    assert (hook.url, hook.method, hook.authorization_header, hook.signing_secret) == (
        "http://127.0.0.1:9/hook",
        "PUT",
        "Bearer token",
        "s",
    )
    await engine.execute("CREATE NOTIFICATION INTEGRATION bare TYPE = WEBHOOK ENABLED = FALSE")
    with pytest.raises(ValidationError) as err:
        await engine.execute("ALTER NOTIFICATION INTEGRATION bare SET WEBHOOK = (method = 'PUT')")
    assert "has no webhook url yet" in err.value.message


async def test_system_tasks_has_databends_columns(engine: Engine) -> None:
    """databendlabs/databend tests/sqllogictests/suites/task/task_dag_test.test and task_ddl_test.test select
    condition_text, after, suspend_task_after_num_failures and session_parameters from system.tasks."""
    await engine.execute(
        "CREATE TASK sessiontask WAREHOUSE = 'default' SCHEDULE = USING CRON '0 0 0 1 1 ? 2100' 'America/Los_Angeles'"
        " SUSPEND_TASK_AFTER_NUM_FAILURES = 199 timezone = 'Asia/Tokyo' WHEN SYSTEM$STREAM_HAS_DATA('s') AS SELECT 1"
    )
    sql = (
        "SELECT name, condition_text, after, suspend_task_after_num_failures, session_parameters, "
        "next_schedule_time IS NOT DISTINCT FROM next_scheduled_time FROM system.tasks ORDER BY name"
    )
    rows = (await engine.execute(sql))[-1].rows
    assert rows == [
        ("mytaskchild", "", "mytaskroot", None, "{}", True),
        ("mytaskroot", "", "", None, "{}", True),
        ("other", "", "", None, "{}", True),
        ("sessiontask", "SYSTEM$STREAM_HAS_DATA('s')", "", 199, '{"timezone": "Asia/Tokyo"}', True),
    ]
    where = "SHOW TASKS WHERE after = 'mytaskroot' OR suspend_task_after_num_failures = 199"
    assert await names(engine, where) == ["mytaskchild", "sessiontask"]


async def test_system_task_history_has_databends_columns(engine: Engine) -> None:
    """As above: task_ddl_test.test selects name, warehouse, schedule, definition and state from
    system.task_history after EXECUTE TASK."""
    await engine.execute("ALTER TASK other MODIFY AS SELECT 2023; EXECUTE TASK other")
    rows = (
        await engine.execute(
            "SELECT name, warehouse, schedule, definition, state, id = task_id, exception_code, owner IS NOT NULL"
            " FROM system.task_history WHERE name = 'other'"
        )
    )[-1].rows
    assert rows == [("other", "default", "5 MINUTES", "SELECT 2023", "SUCCEEDED", True, None, True)]


async def test_a_script_block_with_its_own_transactions_runs_them(engine: Engine) -> None:
    """databendlabs/databend tests/sqllogictests/suites/task/task_ddl_transaction_test.test: a task's
    BEGIN ... END block holding BEGIN; ... COMMIT; (and BEGIN; ... ABORT;) runs its own transactions."""
    await engine.execute("CREATE TABLE t (c VARCHAR)")
    await engine.execute(
        "CREATE TASK transactionTask WAREHOUSE = 'default' SCHEDULE = USING CRON '0 0 0 1 1 ? 2100' AS BEGIN\n"
        "  SELECT 1;\n  BEGIN;\n  INSERT INTO t VALUES (';');\n  COMMIT;\n"
        "  BEGIN;\n  INSERT INTO t VALUES ('aborted');\n  ABORT;\nEND;"
    )
    await engine.execute("EXECUTE TASK transactionTask")
    assert (await engine.execute("SELECT c FROM t"))[-1].rows == [(";",)]
    [(state,)] = (await engine.execute("SELECT state FROM task_history(task_name => 'transactionTask')"))[
        -1
    ].rows
    assert state == "SUCCEEDED"
