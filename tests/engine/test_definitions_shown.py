"""Definitions shown truthfully: DESCRIBE TASK names the keywords users write and shows every
effective default, URLs never show their credentials, durations print without float noise, and the
history of a dropped task stays findable by its name. Real catalog and DuckDB."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tasksql.engine import Engine, Result
from tasksql.engine.describe import DESCRIBE_COLUMNS
from tasksql.errors import TasksqlError
from tasksql.model import RunState, ScheduledFrom
from tasksql.model.run import RunRecord
from tasksql.settings import Settings
from tasksql.sql.properties import PROPERTIES


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data", history_retention_days=3)) as eng:
        yield eng


async def one(engine: Engine, sql: str) -> Result:
    return (await engine.execute(sql))[-1]


async def describe(engine: Engine, name: str) -> dict[str, tuple[Any, bool]]:
    result = await one(engine, f"DESCRIBE TASK {name}")
    assert result.columns == DESCRIBE_COLUMNS
    return {r[0]: (r[1], r[2]) for r in result.rows}


# --- DESCRIBE TASK -------------------------------------------------------------------------------

FACTS = [
    "name",
    "id",
    "state",
    "owner",
    "version",
    "spelling",
    "created_on",
    "last_committed_on",
    "last_suspended_on",
    "last_suspended_reason",
    "next_scheduled_time",
    "scheduler",
    "body_kind",
    "definition",
]


async def test_describe_names_the_keywords_of_create_task(engine: Engine) -> None:
    await engine.execute("CREATE TASK t SCHEDULE = '5 MINUTES' DEFAULT_ORDER = 'desc' AS SELECT 1")
    result = await one(engine, "DESCRIBE TASK t")
    keys = [r[0] for r in result.rows]
    canonical = [p.key for p in PROPERTIES if p.canonical]
    assert keys == FACTS + canonical + ["AFTER", "WHEN", "TAG", "CONTACT", "DEFAULT_ORDER"]
    assert {
        "USER_TASK_TIMEOUT_MS",
        "SUSPEND_TASK_AFTER_NUM_FAILURES",
        "SCHEDULE",
        "HISTORY_RETENTION",
    } <= set(keys)
    props = {r[0]: (r[1], r[2]) for r in result.rows}
    assert props["SCHEDULE"] == ("5 MINUTES", False)
    assert props["DEFAULT_ORDER"] == ("'desc'", False)  # a session parameter (DuckDB's), as written


async def test_every_default_shows_its_effective_value(engine: Engine) -> None:
    await engine.execute("CREATE TASK t SCHEDULE = '5 MINUTES' AS SELECT 1")
    props = await describe(engine, "t")
    assert props["WAREHOUSE"] == ("default", True)
    assert props["USER_TASK_TIMEOUT_MS"] == (3_600_000, True)
    assert props["SUSPEND_TASK_AFTER_NUM_FAILURES"] == (10, True)
    assert props["OVERLAP_POLICY"] == ("NO_OVERLAP", True)
    assert props["TASK_AUTO_RETRY_ATTEMPTS"] == (0, True)
    assert props["TASK_AUTO_RETRY_DELAY"] == ("0 SECONDS", True)
    assert props["TASK_AUTO_RETRY_BACKOFF"] == (2.0, True)
    assert props["MAX_CONCURRENT_RUNS"] == (8, True)
    assert props["DST_POLICY"] == ("STANDARD", True)
    assert props["CATCH_UP"] == ("NONE", True)
    assert props["CATCH_UP_WINDOW"] == ("1 HOUR", True)
    assert props["HISTORY_RETENTION"] == ("3 DAYS", True)  # the server's setting (3 days here)
    # what no value means "none" of stays NULL, flagged as the default
    for key in ("COMMENT", "ERROR_INTEGRATION", "FINALIZE", "INTO", "TASK_AUTO_RETRY_MAX_DELAY"):
        assert props[key] == (None, True), key


async def test_given_values_are_shown_as_written_and_not_flagged_default(engine: Engine) -> None:
    await engine.execute(
        "CREATE TASK t SCHEDULE = '5 MINUTES' USER_TASK_TIMEOUT_MS = 2500 HISTORY_RETENTION = '2 HOURS' "
        "TASK_AUTO_RETRY_ATTEMPTS = 2 TASK_AUTO_RETRY_DELAY = '30 SECONDS' COMMENT = 'c' "
        "WITH TAG (team = 'ops') AS SELECT 1"
    )
    props = await describe(engine, "t")
    assert props["USER_TASK_TIMEOUT_MS"] == (2500, False)
    assert props["HISTORY_RETENTION"] == ("2 HOURS", False)
    assert props["TASK_AUTO_RETRY_ATTEMPTS"] == (2, False)
    assert props["TASK_AUTO_RETRY_DELAY"] == ("30 SECONDS", False)
    assert props["COMMENT"] == ("c", False)
    assert json.loads(props["TAG"][0]) == {"team": "'ops'"}


async def test_on_error_log_turns_off_auto_suspend_and_describe_says_so(engine: Engine) -> None:
    await engine.execute("CREATE TASK t ON SCHEDULE EVERY 5 MINUTES ON ERROR LOG AS SELECT 1")
    props = await describe(engine, "t")
    assert props["ON_ERROR"] == ("LOG", False)
    assert props["SUSPEND_TASK_AFTER_NUM_FAILURES"] == (0, True)


# --- URLs with credentials -----------------------------------------------------------------------

TOKEN = "s3cr3tTOKEN"
PATH_TOKEN = "a1b2c3d4e5f6g7h8i9"
HOOK_URL = f"https://ops:pa55word@hooks.example/services/T0/{PATH_TOKEN}?token={TOKEN}&team=ops#frag{TOKEN}"
SHOWN_URL = "https://ops:***@hooks.example/services/T0/***?token=***&team=***#***"


async def test_a_webhook_url_never_shows_its_credentials(engine: Engine) -> None:
    await engine.execute(
        "CREATE NOTIFICATION INTEGRATION hook TYPE = WEBHOOK ENABLED = TRUE "
        f"WEBHOOK = (url = '{HOOK_URL}') COMMENT = 'on call'"
    )
    described = dict((await one(engine, "DESCRIBE NOTIFICATION INTEGRATION hook")).rows)
    assert described["url"] == SHOWN_URL
    [(url,)] = (await one(engine, "SELECT url FROM system.notification_integrations")).rows
    assert url == SHOWN_URL
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
    for secret in (TOKEN, PATH_TOKEN, "pa55word"):
        assert secret not in everything
    stored = await engine.catalog.get_integration("hook")
    assert stored is not None and stored.webhook is not None
    assert stored.webhook.url == HOOK_URL  # delivery still uses the URL as written
    assert TOKEN not in repr(stored) and "pa55word" not in repr(stored)


async def test_a_warehouse_url_shows_no_password_or_secret_option(engine: Engine) -> None:
    url = "postgresql://app:pa55word@127.0.0.1:1/db?sslmode=disable&sslpassword=s3cr3tTOKEN"
    await engine.execute(f"CREATE WAREHOUSE pg TYPE = postgres URL = '{url}'")
    shown = "postgresql://app:***@127.0.0.1:1/db?sslmode=disable&sslpassword=***"
    assert [r[2] for r in (await one(engine, "SHOW WAREHOUSES LIKE 'pg'")).rows] == [shown]
    assert (await one(engine, "SELECT url FROM system.warehouses WHERE name = 'pg'")).rows == [(shown,)]


# --- durations -----------------------------------------------------------------------------------


def test_a_run_duration_is_exact_to_the_microsecond() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    run = RunRecord(
        run_id=1,
        task_id=1,
        task_version=1,
        name="t",
        database_name="tasksql",
        schema_name="public",
        scheduled_time=start,
        state=RunState.SUCCEEDED,
        scheduled_from=ScheduledFrom.SCHEDULE,
        attempt_number=1,
        query_start_time=start,
        completed_time=start + timedelta(microseconds=1559),
        error_code=None,
        error_message=None,
        query_text=None,
        condition_text=None,
        warehouse=None,
        node_id=None,
        graph_run_group_id=None,
        root_task_id=None,
        graph_version=None,
        config=None,
    )
    assert repr(run.duration_ms) == "1.559"  # timedelta.total_seconds() * 1000 gives 1.5590000000000002


LONG_QUERY = "SELECT sum(hash(i)) FROM range(100000000000) t(i)"


async def test_a_timeout_message_and_the_history_durations_have_no_float_noise(engine: Engine) -> None:
    await engine.execute(f"CREATE TASK slow SCHEDULE = '1 HOUR' USER_TASK_TIMEOUT_MS = 300 AS {LONG_QUERY}")
    await engine.execute("CREATE TASK quick SCHEDULE = '1 HOUR' AS SELECT 1")
    with pytest.raises(TasksqlError) as failed:
        await engine.execute("EXECUTE TASK slow")
    assert "task execution timed out after 0.3 s" in failed.value.message
    await engine.execute("EXECUTE TASK quick")
    rows = (
        await one(engine, "SELECT name, state, error_message, duration_ms FROM task_history() ORDER BY name")
    ).rows
    [(_, quick_state, _, quick_ms), (_, slow_state, message, slow_ms)] = rows
    assert (quick_state, slow_state) == ("SUCCEEDED", "FAILED")
    # every number of seconds in the message has at most 3 decimals ("0.3 s", never "0.299971 s")
    seconds = re.findall(r"(\d+(?:\.\d+)?) s\b", message)
    assert seconds and all(len(s.partition(".")[2]) <= 3 for s in seconds), message
    for ms in (quick_ms, slow_ms):
        assert isinstance(ms, float) and round(ms, 3) == ms


# --- task_history of a dropped task --------------------------------------------------------------


async def test_task_history_by_name_finds_the_kept_runs_of_a_dropped_task(engine: Engine) -> None:
    await engine.execute("CREATE SCHEMA IF NOT EXISTS other")
    await engine.execute("CREATE TASK x SCHEDULE = '1 HOUR' AS SELECT 1")
    await engine.execute("CREATE TASK other.x SCHEDULE = '1 HOUR' AS SELECT 2")  # same name elsewhere
    await engine.execute("EXECUTE TASK x")
    await engine.execute("EXECUTE TASK x")
    await engine.execute("EXECUTE TASK other.x")
    await engine.execute("DROP TASK x")
    query = "SELECT name, schema_name, state FROM task_history(task_name => '{}')"
    assert (await one(engine, query.format("x"))).rows == [("x", "public", "SUCCEEDED")] * 2
    limited = "SELECT count(*) FROM task_history(task_name => 'x', result_limit => 1)"
    assert (await one(engine, limited)).rows == [(1,)]
    assert (await one(engine, query.format("other.x"))).rows == [("x", "other", "SUCCEEDED")]
    assert (await one(engine, query.format("never_was"))).rows == []
    everything = "SELECT count(*) FROM system.task_history WHERE name = 'x'"
    assert (await one(engine, everything)).rows == [(3,)]
