"""Logical time in bodies and backfills: ``EXECUTE TASK t FOR WINDOW '<from>' TO '<to>' [STEP ...]
[FORCE]`` runs the body once per window, in order, with ``:window_start`` / ``:window_end`` /
``:scheduled_time`` bound to the window on every warehouse type; windows that succeeded are skipped
unless FORCE; a failing window stops the backfill; bad windows are errors at their line and column."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from clickhouseserver import ClickHouseDatabase
from mariadbserver import MariaDBDatabase
from pgserver import PgDatabase
from tasksql.engine import Engine
from tasksql.errors import RunFailed, TasksqlError
from tasksql.settings import Settings

D1, D2, D3, D4 = (datetime(2026, 1, d) for d in (1, 2, 3, 4))


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


async def rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    return (await engine.execute(sql))[-1].rows


async def test_one_run_per_window_in_order_then_skipped_unless_force(engine: Engine) -> None:
    await engine.execute(
        "CREATE TABLE marks (s TIMESTAMP, e TIMESTAMP, st TIMESTAMP, last TIMESTAMP, n INT);"
        " CREATE TASK load AS INSERT INTO marks SELECT :window_start, :window_end, :scheduled_time,"
        "  :last_success_scheduled_time, (SELECT count(*) FROM marks)"
    )
    result = (await engine.execute("EXECUTE TASK load FOR WINDOW '2026-01-01' TO '2026-01-04' STEP '1 DAY'"))[
        -1
    ]
    assert [(r["window_start"], r["status"], r["state"]) for r in result.as_dicts()] == [
        (datetime(2026, 1, d, tzinfo=UTC), "ran", "SUCCEEDED") for d in (1, 2, 3)
    ]
    assert await rows(engine, "SELECT s, e, st, last, n FROM marks ORDER BY n") == [
        (D1, D2, D2, None, 0),
        (D2, D3, D3, D2, 1),
        (D3, D4, D4, D3, 2),
    ]
    # each run is recorded with its window
    configs = await rows(engine, "SELECT config FROM task_history(task_name => 'load') ORDER BY run_id")
    assert [json.loads(c)["tasksql_window"]["start"] for (c,) in configs] == [
        "2026-01-01T00:00:00+00:00",
        "2026-01-02T00:00:00+00:00",
        "2026-01-03T00:00:00+00:00",
    ]
    again = (await engine.execute("EXECUTE TASK load FOR WINDOW '2026-01-01' TO '2026-01-05' STEP '1 DAY'"))[
        -1
    ]
    assert [r["status"] for r in again.as_dicts()] == ["already succeeded"] * 3 + ["ran"]
    assert await rows(engine, "SELECT count(*) FROM marks") == [(4,)]
    forced = (
        await engine.execute("EXECUTE TASK load FOR WINDOW '2026-01-01' TO '2026-01-02' STEP '1 DAY' FORCE")
    )[-1]
    assert [r["status"] for r in forced.as_dicts()] == ["ran"]
    assert await rows(engine, "SELECT count(*) FROM marks WHERE s = TIMESTAMP '2026-01-01'") == [(2,)]


async def test_without_step_the_schedules_instants_cut_the_windows(engine: Engine) -> None:
    await engine.execute(
        "CREATE TABLE marks (s TIMESTAMP, e TIMESTAMP);"
        " CREATE TASK daily SCHEDULE = 'USING CRON 0 6 * * * UTC' AS INSERT INTO marks SELECT :window_start, :window_end"
    )
    await engine.execute("EXECUTE TASK daily FOR WINDOW '2026-01-01' TO '2026-01-03'")
    assert await rows(engine, "SELECT s, e FROM marks ORDER BY s") == [
        (D1, datetime(2026, 1, 1, 6)),
        (datetime(2026, 1, 1, 6), datetime(2026, 1, 2, 6)),
        (datetime(2026, 1, 2, 6), D3),
    ]


async def test_a_failing_window_stops_the_backfill_and_a_rerun_goes_on_from_it(engine: Engine) -> None:
    await engine.execute(
        "CREATE TABLE marks (s TIMESTAMP); CREATE TABLE broken (s TIMESTAMP);"
        " CREATE TASK load AS INSERT INTO marks SELECT CASE WHEN :window_start IN (SELECT s FROM broken)"
        "  THEN error('bad day') ELSE :window_start END"
    )
    await engine.execute("INSERT INTO broken VALUES (TIMESTAMP '2026-01-02')")
    with pytest.raises(RunFailed) as info:
        await engine.execute("EXECUTE TASK load FOR WINDOW '2026-01-01' TO '2026-01-04' STEP '1 DAY'")
    assert "stopped at window [2026-01-02T00:00:00+00:00, 2026-01-03T00:00:00+00:00)" in info.value.message
    assert "bad day" in info.value.message
    assert await rows(engine, "SELECT s FROM marks") == [(D1,)]  # the third window did not run
    await engine.execute("DELETE FROM broken")
    again = (await engine.execute("EXECUTE TASK load FOR WINDOW '2026-01-01' TO '2026-01-04' STEP '1 DAY'"))[
        -1
    ]
    assert [r["status"] for r in again.as_dicts()] == ["already succeeded", "ran", "ran"]
    assert await rows(engine, "SELECT s FROM marks ORDER BY s") == [(D1,), (D2,), (D3,)]


@pytest.mark.parametrize(
    ("window", "code", "column", "words"),
    [
        ("'2026-01-08' TO '2026-01-01'", "INVALID_VALUE", 46, "must be after its start"),
        ("'Jan 1st' TO '2026-01-08'", "INVALID_VALUE", 30, "expected a date or timestamp"),
        ("'2026-01-01' TO '2026-01-08' STEP '0 DAY'", "INVALID_INTERVAL", 65, "must be positive"),
        ("'2026-01-01' TO '2027-01-08' STEP '1 MINUTE'", "INVALID_VALUE", 64, "more than 10000 windows"),
        ("'2026-01-01'", "SYNTAX_ERROR", 42, "expected TO"),
    ],
)
async def test_bad_windows_are_errors_at_their_place_and_run_nothing(
    engine: Engine, window: str, code: str, column: int, words: str
) -> None:
    await engine.execute(
        "CREATE TABLE marks (s TIMESTAMP); CREATE TASK load AS INSERT INTO marks SELECT :window_start"
    )
    with pytest.raises(TasksqlError) as info:
        await engine.execute(f"\nEXECUTE TASK load FOR WINDOW {window}")
    err = info.value
    assert err.code == code and words in err.message
    assert err.span is not None and (err.span.line, err.span.column) == (2, column)
    assert await rows(engine, "SELECT count(*) FROM task_history(task_name => 'load')") == [(0,)]


async def test_when_reads_logical_time_too(engine: Engine) -> None:
    await engine.execute(
        "CREATE TABLE marks (s TIMESTAMP);"
        " CREATE TASK load WHEN :window_start >= TIMESTAMP '2026-01-02'"
        " AS INSERT INTO marks SELECT :window_start"
    )
    result = (await engine.execute("EXECUTE TASK load FOR WINDOW '2026-01-01' TO '2026-01-03' STEP '1 DAY'"))[
        -1
    ]
    assert [r["state"] for r in result.as_dicts()] == ["SKIPPED", "SUCCEEDED"]
    assert await rows(engine, "SELECT s FROM marks") == [(D2,)]


async def test_strings_comments_and_casts_are_left_alone(engine: Engine) -> None:
    await engine.execute(
        "CREATE TABLE marks (s TIMESTAMP, t TEXT);"
        " CREATE TASK load AS INSERT INTO marks /* :window_start */ SELECT :window_start, ':window_start'"
    )
    await engine.execute("EXECUTE TASK load FOR WINDOW '2026-01-01' TO '2026-01-02'")
    assert await rows(engine, "SELECT s, t FROM marks") == [(D1, ":window_start")]


async def backfill_into(engine: Engine, warehouse: str) -> None:
    await engine.execute(
        f"CREATE TASK load WAREHOUSE = {warehouse} AS INSERT INTO marks SELECT :window_start, :window_end;"
        " EXECUTE TASK load FOR WINDOW '2026-01-01' TO '2026-01-03' STEP '1 DAY'"
    )


async def test_sqlite_warehouse(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "lite.db"
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE marks (s TEXT, e TEXT)")
    await engine.execute(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{path}'")
    await backfill_into(engine, "lite")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        got = conn.execute("SELECT s, e, s < datetime('2026-01-02') FROM marks ORDER BY s").fetchall()
    assert got == [
        ("2026-01-01 00:00:00", "2026-01-02 00:00:00", 1),
        ("2026-01-02 00:00:00", "2026-01-03 00:00:00", 0),
    ]


async def test_postgres_warehouse(engine: Engine, pg_database: PgDatabase) -> None:
    with psycopg.connect(pg_database.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE marks (s timestamptz, e timestamptz)")
    await engine.execute(f"CREATE WAREHOUSE pgw TYPE = postgres URL = '{pg_database.url}'")
    await backfill_into(engine, "pgw")
    with psycopg.connect(pg_database.url, autocommit=True) as conn:
        got = conn.execute("SELECT s, e FROM marks ORDER BY s").fetchall()
    assert got == [
        (D1.replace(tzinfo=UTC), D2.replace(tzinfo=UTC)),
        (D2.replace(tzinfo=UTC), D3.replace(tzinfo=UTC)),
    ]


async def test_mariadb_warehouse(engine: Engine, mariadb_database: MariaDBDatabase) -> None:
    with contextlib.closing(mariadb_database.connect()) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE marks (s DATETIME(6), e DATETIME(6))")
    await engine.execute(f"CREATE WAREHOUSE shop TYPE = mysql URL = '{mariadb_database.url}'")
    await backfill_into(engine, "shop")
    with contextlib.closing(mariadb_database.connect()) as conn, conn.cursor() as cur:
        cur.execute("SELECT s, e FROM marks ORDER BY s")
        assert list(cur.fetchall()) == [(D1, D2), (D2, D3)]


async def test_clickhouse_warehouse(engine: Engine, ch_database: ClickHouseDatabase) -> None:
    ch_database.client().execute(
        "CREATE TABLE marks (s DateTime('UTC'), e DateTime('UTC')) ENGINE = MergeTree ORDER BY s"
    )
    await engine.execute(f"CREATE WAREHOUSE events TYPE = clickhouse URL = '{ch_database.url}'")
    await engine.execute(
        f"CREATE TASK load WAREHOUSE = events AS INSERT INTO {ch_database.name}.marks SELECT :window_start, :window_end;"
        " EXECUTE TASK load FOR WINDOW '2026-01-01' TO '2026-01-03' STEP '1 DAY'"
    )
    got = ch_database.client().execute("SELECT toString(s), toString(e) FROM marks ORDER BY s")
    assert got == [
        ("2026-01-01 00:00:00", "2026-01-02 00:00:00"),
        ("2026-01-02 00:00:00", "2026-01-03 00:00:00"),
    ]
