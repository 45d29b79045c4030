"""Snowflake's session parameters on a task (docs.snowflake.com/en/sql-reference/parameters; "a task
supports all session parameters", docs.snowflake.com/en/user-guide/tasks-intro): applied where the
warehouse has an equivalent (TIMEZONE, LOCK_TIMEOUT, SEARCH_PATH on real DuckDB, PostgreSQL and
SQLite runs), QUERY_TAG recorded with each run, STATEMENT_TIMEOUT_IN_SECONDS bounding the run, the
others kept with a notice; ALTER TASK ... UNSET of an unknown name refused, UNSET CONTACT."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from engine_runs import last_run, rows
from pgserver import PgDatabase
from tasksql.engine import Engine
from tasksql.errors import ValidationError
from tasksql.model import QualifiedName, SqlBody, TaskDef, WarehouseType, effective_timeout_ms
from tasksql.sql.snowflake_params import SNOWFLAKE_PARAMS, applied


async def test_snowflake_doc_example_with_timestamp_input_format_creates_and_runs(engine: Engine) -> None:
    await engine.execute("CREATE TABLE mytable (ts TIMESTAMP)")
    # docs.snowflake.com/en/sql-reference/sql/create-task, Examples
    [result] = await engine.execute(
        "CREATE TASK t1 SCHEDULE = '60 MINUTES' TIMESTAMP_INPUT_FORMAT = 'YYYY-MM-DD HH24'"
        " USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE = 'XSMALL'"
        " AS INSERT INTO mytable(ts) VALUES(CURRENT_TIMESTAMP)"
    )
    assert any("TIMESTAMP_INPUT_FORMAT is kept but has no effect" in n for n in result.notices)
    await engine.execute("EXECUTE TASK t1")
    assert (await last_run(engine, "t1"))[0] == "SUCCEEDED"
    assert await rows(engine, "SELECT count(*) FROM mytable") == [(1,)]
    [(_, shown)] = await rows(engine, "SHOW CREATE TASK t1")
    assert "TIMESTAMP_INPUT_FORMAT = 'YYYY-MM-DD HH24'" in shown
    described = await rows(engine, "DESCRIBE TASK t1")
    assert ("TIMESTAMP_INPUT_FORMAT", "'YYYY-MM-DD HH24'", False) in described


async def test_timezone_is_the_run_s_duckdb_time_zone_and_query_tag_is_in_history(engine: Engine) -> None:
    await engine.execute("CREATE TABLE out (tz VARCHAR)")
    await engine.execute(
        "CREATE TASK t SCHEDULE = '1 MINUTE' TIMEZONE = 'America/Los_Angeles' QUERY_TAG = 'nightly'"
        " AS INSERT INTO out SELECT current_setting('TimeZone')"
    )
    await engine.execute("EXECUTE TASK t")
    assert (await last_run(engine, "t"))[0] == "SUCCEEDED"
    assert await rows(engine, "SELECT tz FROM out") == [("America/Los_Angeles",)]
    await engine.execute("ALTER TASK t UNSET QUERY_TAG")
    await engine.execute("EXECUTE TASK t")
    await last_run(engine, "t")
    tags = await rows(engine, "SELECT task_version, query_tag FROM task_history(task_name => 't')")
    assert tags == [(2, None), (1, "nightly")]


async def test_a_time_zone_duckdb_does_not_know_is_one_line_naming_the_fix(engine: Engine) -> None:
    with pytest.raises(ValidationError) as info:
        await engine.execute("CREATE TASK t SCHEDULE = '1 MINUTE' TIMEZONE = 'Mars/X' AS SELECT 1")
    message = info.value.message
    assert info.value.code == "UNSUPPORTED_PARAMETER"
    assert "\n" not in message and "\\n" not in message
    assert "no such time zone" in message and "'America/Los_Angeles'" in message
    assert (info.value.span.line, info.value.span.column) == (1, 37)  # type: ignore[union-attr]
    assert await rows(engine, "SHOW TASKS") == []


async def test_postgres_run_gets_time_zone_lock_timeout_and_search_path(
    engine: Engine, pg_database: PgDatabase
) -> None:
    await engine.execute(f"CREATE WAREHOUSE pg TYPE = postgres URL = '{pg_database.url}'")
    with psycopg.connect(pg_database.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE seen (tz text, lock text, path text)")
    await engine.execute(
        "CREATE TASK t WAREHOUSE = pg TIMEZONE = 'Asia/Tokyo' LOCK_TIMEOUT = 7"
        " SEARCH_PATH = '$current, $public' DATE_OUTPUT_FORMAT = 'YYYY'"
        " AS INSERT INTO seen SELECT current_setting('TimeZone'), current_setting('lock_timeout'),"
        " current_setting('search_path')"
    )
    await engine.execute("EXECUTE TASK t")
    assert (await last_run(engine, "t"))[0] == "SUCCEEDED"
    with psycopg.connect(pg_database.url) as conn:
        assert conn.execute("SELECT * FROM seen").fetchall() == [("Asia/Tokyo", "7s", "public")]


async def test_sqlite_run_waits_lock_timeout_seconds_for_a_lock(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    sqlite3.connect(path).execute("CREATE TABLE seen (ms INTEGER)").connection.commit()
    await engine.execute(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{path}'")
    await engine.execute(
        "CREATE TASK t WAREHOUSE = lite LOCK_TIMEOUT = 3 TIMEZONE = 'UTC'"
        " AS INSERT INTO seen SELECT * FROM pragma_busy_timeout"
    )
    await engine.execute("EXECUTE TASK t")
    assert (await last_run(engine, "t"))[0] == "SUCCEEDED"
    assert sqlite3.connect(path).execute("SELECT ms FROM seen").fetchall() == [(3000,)]


def test_statement_timeout_in_seconds_bounds_the_run_with_user_task_timeout_ms() -> None:
    base = TaskDef(name=QualifiedName("t"), body=SqlBody("SELECT 1"))
    assert (
        effective_timeout_ms(base.with_changes(session_params=(("statement_timeout_in_seconds", "5"),)))
        == 5000
    )
    both = base.with_changes(timeout_ms=2000, session_params=(("statement_timeout_in_seconds", "5"),))
    assert effective_timeout_ms(both) == 2000
    zero = base.with_changes(timeout_ms=2000, session_params=(("statement_timeout_in_seconds", "0"),))
    assert effective_timeout_ms(zero) == 2000


def test_every_parameter_kept_or_applied_per_warehouse_type() -> None:
    params = tuple((name, "'x'") for name in SNOWFLAKE_PARAMS)
    assert applied(params, WarehouseType.DUCKDB) == [
        ("timezone", "'x'"),
        ("search_path", "'x'"),
        ("default_null_order", "'nulls_x'"),
    ]
    assert applied((("timezone", "'UTC'"), ("lock_timeout", "5")), WarehouseType.MYSQL) == [
        ("time_zone", "'+00:00'"),
        ("innodb_lock_wait_timeout", "5"),
    ]
    assert applied((("threads", "2"),), WarehouseType.DUCKDB) == [("threads", "2")]


async def test_unset_of_an_unknown_name_is_refused_and_unset_contact_removes_it(engine: Engine) -> None:
    await engine.execute(
        "CREATE TASK t SCHEDULE = '1 MINUTE' TIMEZONE = 'UTC' WITH CONTACT (steward = ops) AS SELECT 1"
    )
    with pytest.raises(ValidationError) as info:
        await engine.execute("ALTER TASK t UNSET COMMENT, timezon")
    assert info.value.code == "UNKNOWN_PROPERTY"
    assert (info.value.span.line, info.value.span.column) == (1, 29)  # type: ignore[union-attr]
    assert "did you mean TIMEZONE?" in info.value.message
    await engine.execute("ALTER TASK t UNSET TIMEZONE, CONTACT steward")
    [(_, shown)] = await rows(engine, "SHOW CREATE TASK t")
    assert "CONTACT" not in shown and "TIMEZONE" not in shown


async def test_a_time_zone_duckdb_does_not_know_fails_a_run_in_one_line(engine: Engine) -> None:
    await engine.execute(
        "CREATE TASK t SCHEDULE = '1 MINUTE' AS SELECT TIMESTAMPTZ '2026-01-01 00:00 Mars/X'"
    )
    await engine.execute("EXECUTE TASK t")
    state, _, message = await last_run(engine, "t")
    assert state == "FAILED" and message is not None
    assert message.startswith("unknown time zone 'Mars/X': DuckDB has no such time zone")
    assert "\n" not in message and message.endswith("such as 'America/Los_Angeles' or 'UTC'")


def test_databend_settings_are_kept_except_where_clickhouse_shares_them() -> None:
    params = (("enable_query_result_cache", "1"), ("max_threads", "4"), ("threads", "2"))
    assert applied(params, WarehouseType.DUCKDB) == [("threads", "2")]
    assert applied(params, WarehouseType.CLICKHOUSE) == list(params)
