"""The scheduler driven by a fake clock: what runs when, and what history records.

Offsets in the expected histories are seconds from 12:00:00 UTC on 2026-03-01, when every test's
clock starts (and when the tasks are created or resumed).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sched_harness import Harness, make_harness

LONG_QUERY = "SELECT sum(hash(i)) FROM range(100000000000) t(i)"


async def test_interval_task_runs_on_its_instants_and_records_history(harness: Harness) -> None:
    await harness.sql("CREATE TABLE log (n INTEGER)")
    await harness.sql("CREATE TASK t SCHEDULE = '10 SECONDS' AS INSERT INTO log VALUES (1)")
    await harness.sql("ALTER TASK t RESUME")
    await harness.tick(advance=9.9)  # nothing due yet
    assert await harness.history("t") == []
    await harness.tick(advance=0.1)
    await harness.tick(advance=10)
    assert await harness.history("t") == [
        (10.0, "SUCCEEDED", None, "SCHEDULE"),
        (20.0, "SUCCEEDED", None, "SCHEDULE"),
    ]
    assert await harness.rows("SELECT count(*) FROM log") == [(2,)]
    [(next_time,)] = await harness.rows("SELECT next_scheduled_time FROM system.tasks WHERE name = 't'")
    assert (next_time - harness.clock.now()).total_seconds() == 10


async def test_snowflake_spelling_is_created_suspended_and_never_runs(harness: Harness) -> None:
    await harness.sql("CREATE TASK t WAREHOUSE = 'default' SCHEDULE = '1 SECONDS' AS SELECT 1")
    for _ in range(3):
        await harness.tick(advance=1)
    assert await harness.history("t") == []


async def test_timeplus_spelling_is_created_started(harness: Harness) -> None:
    await harness.sql("CREATE TASK t SCHEDULE 2s AS SELECT 1")
    await harness.tick(advance=2)
    assert await harness.history("t") == [(2.0, "SUCCEEDED", None, "SCHEDULE")]


async def test_overlapping_instant_is_skipped_with_the_reason(harness: Harness) -> None:
    await harness.sql(f"CREATE TASK slow SCHEDULE 1s AS {LONG_QUERY}")
    await harness.tick(advance=1, drain=False)  # the 1 s run starts and keeps executing
    await asyncio.sleep(0.2)
    await harness.tick(advance=1, drain=False)  # 2 s comes while it still runs
    [(state, code, message)] = await harness.rows(
        "SELECT state, error_code, error_message FROM task_history(task_name => 'slow') WHERE state = 'SKIPPED'"
    )
    assert (state, code) == ("SKIPPED", "OVERLAP")
    assert "still executing" in message
    await harness.sql("CANCEL TASK slow")
    await harness.scheduler.drain()
    assert await harness.history("slow") == [
        (1.0, "CANCELLED", "CANCELLED", "SCHEDULE"),
        (2.0, "SKIPPED", "OVERLAP", "SCHEDULE"),
    ]


async def test_allow_overlapping_execution_lets_runs_overlap_up_to_the_bound(harness: Harness) -> None:
    await harness.sql(
        f"CREATE TASK slow SCHEDULE 1s ALLOW_OVERLAPPING_EXECUTION = TRUE MAX_CONCURRENT_RUNS = 2 AS {LONG_QUERY}"
    )
    for _ in range(3):
        await harness.tick(advance=1, drain=False)
        await asyncio.sleep(0.1)
    states = [(t, s, c) for t, s, c, _ in await harness.history("slow")]
    assert states == [
        (1.0, "EXECUTING", None),
        (2.0, "EXECUTING", None),
        (3.0, "SKIPPED", "MAX_CONCURRENT_RUNS"),
    ]
    await harness.sql("CANCEL TASK slow")
    await harness.scheduler.drain()


async def test_fixed_delay_counts_from_the_end_of_the_previous_run(harness: Harness) -> None:
    await harness.sql(f"CREATE MACRO slow() AS TABLE {LONG_QUERY}")
    await harness.sql("CREATE TASK d ON SCHEDULE DELAY 5 SECONDS PROCEDURE slow ON ERROR LOG")
    await harness.tick(advance=5, drain=False)  # first run: 5 s after creation; it keeps executing
    await asyncio.sleep(0.1)
    harness.clock.advance(3)
    await harness.sql("CANCEL TASK d")  # it ends at 8 s: the next one is due at 8 + 5 = 13 s
    await harness.scheduler.drain()
    await harness.tick(advance=4.9, drain=False)
    assert [h[0] for h in await harness.history("d")] == [5.0]
    await harness.tick(advance=0.1, drain=False)
    assert [h[0] for h in await harness.history("d")] == [5.0, 13.0]
    await harness.sql("ALTER TASK d SUSPEND")
    await harness.sql("CANCEL TASK d")
    await harness.scheduler.drain()


async def test_execute_task_runs_now_without_moving_the_schedule(harness: Harness) -> None:
    await harness.sql("CREATE TASK t SCHEDULE 10s AS SELECT 1")
    await harness.tick(advance=3)
    [row] = (await harness.sql("EXECUTE TASK t")).as_dicts()
    assert row["state"] == "EXECUTING"
    await harness.scheduler.drain()
    await harness.tick(advance=7)
    assert await harness.history("t") == [
        (3.0, "SUCCEEDED", None, "EXECUTE TASK"),
        (10.0, "SUCCEEDED", None, "SCHEDULE"),
    ]


async def test_execute_task_on_a_suspended_task_runs_it(harness: Harness) -> None:
    await harness.sql("CREATE TASK t SCHEDULE = '1 MINUTE' AS SELECT 1")
    await harness.sql("EXECUTE TASK t")
    await harness.scheduler.drain()
    assert await harness.history("t") == [(0.0, "SUCCEEDED", None, "EXECUTE TASK")]
    [(state,)] = await harness.rows("SELECT state FROM system.tasks")
    assert state == "suspended"


async def test_suspend_stops_new_runs_and_resume_anchors_a_fresh_schedule(harness: Harness) -> None:
    await harness.sql("CREATE TASK t SCHEDULE 10s AS SELECT 1")
    await harness.tick(advance=10)
    await harness.sql("SYSTEM PAUSE TASK t")
    await harness.tick(advance=10)
    await harness.tick(advance=3)
    await harness.sql("SYSTEM RESUME TASK t")  # at 23 s: runs at 33 s, not 30 s
    await harness.tick(advance=7)
    await harness.tick(advance=3)
    assert [h[0] for h in await harness.history("t")] == [10.0, 33.0]


async def test_missed_instants_after_downtime_are_recorded_not_replayed(harness: Harness) -> None:
    await harness.sql("CREATE TASK t SCHEDULE 10s AS SELECT 1")
    await harness.tick(advance=10)
    await harness.tick(advance=36)  # the scheduler did not run from 10 s to 46 s (40 s is 6 s late)
    assert await harness.history("t") == [
        (10.0, "SUCCEEDED", None, "SCHEDULE"),
        (20.0, "SKIPPED", "MISSED", "SCHEDULE"),
        (30.0, "SKIPPED", "MISSED", "SCHEDULE"),
        (40.0, "SKIPPED", "MISSED", "SCHEDULE"),
    ]
    await harness.tick(advance=4)
    assert (await harness.history("t"))[-1] == (50.0, "SUCCEEDED", None, "SCHEDULE")


async def test_catch_up_latest_runs_the_last_missed_instant(harness: Harness) -> None:
    await harness.sql("CREATE TASK t SCHEDULE 10s CATCH_UP = LATEST AS SELECT 1")
    await harness.tick(advance=36)
    assert await harness.history("t") == [
        (10.0, "SKIPPED", "MISSED", "SCHEDULE"),
        (20.0, "SKIPPED", "MISSED", "SCHEDULE"),
        (30.0, "SUCCEEDED", None, "SCHEDULE"),
    ]


async def test_catch_up_all_runs_every_missed_instant_in_order(harness: Harness) -> None:
    await harness.sql("CREATE TASK t SCHEDULE 10s CATCH_UP = ALL AS SELECT 1")
    await harness.tick(advance=36)
    for _ in range(5):
        await harness.scheduler.drain()
        await asyncio.sleep(0.05)
    assert await harness.history("t") == [(s, "SUCCEEDED", None, "SCHEDULE") for s in (10.0, 20.0, 30.0)]


async def test_timeout_really_cancels_and_next_instant_runs(harness: Harness) -> None:
    await harness.sql(f"CREATE TASK slow SCHEDULE 10s TIMEOUT 1s AS {LONG_QUERY}")
    await harness.tick(advance=10)  # real time: about 1 s until the timeout interrupts the query
    [(state, code, message)] = await harness.rows(
        "SELECT state, error_code, error_message FROM task_history() WHERE state <> 'SCHEDULED'"
    )
    assert (state, code) == ("FAILED", "TIMEOUT_EXCEEDED")
    assert "timed out" in message
    await harness.sql("ALTER TASK slow MODIFY AS SELECT 1")
    await harness.tick(advance=10)
    assert [h[1] for h in await harness.history("slow")] == ["FAILED", "SUCCEEDED"]


async def test_auto_suspend_after_consecutive_failures(harness: Harness) -> None:
    await harness.sql(
        "CREATE TASK bad SCHEDULE 1s SUSPEND_TASK_AFTER_NUM_FAILURES = 3 AS SELECT * FROM missing"
    )
    for _ in range(5):
        await harness.tick(advance=1)
    assert [h[1] for h in await harness.history("bad")] == ["FAILED", "FAILED", "FAILED_AND_AUTO_SUSPENDED"]
    [(state, reason)] = await harness.rows("SELECT state, last_suspended_reason FROM system.tasks")
    assert (state, reason) == ("suspended", "AUTO_SUSPENDED")


async def test_a_success_resets_the_failure_count(harness: Harness) -> None:
    await harness.sql("CREATE TABLE flag (ok BOOLEAN)")
    await harness.sql(
        "CREATE TASK flaky SCHEDULE 1s SUSPEND_TASK_AFTER_NUM_FAILURES = 2 "
        "AS SELECT CASE WHEN (SELECT count(*) FROM flag) = 0 THEN error('no flag') ELSE 1 END"
    )
    await harness.tick(advance=1)
    await harness.sql("INSERT INTO flag VALUES (TRUE)")
    await harness.tick(advance=1)
    await harness.sql("DELETE FROM flag")
    await harness.tick(advance=1)
    assert [h[1] for h in await harness.history("flaky")] == ["FAILED", "SUCCEEDED", "FAILED"]
    [(state,)] = await harness.rows("SELECT state FROM system.tasks")
    assert state == "started"


async def test_voltdb_on_error_stop_suspends_at_the_first_error(harness: Harness) -> None:
    await harness.sql("CREATE TASK v ON SCHEDULE EVERY 1 SECONDS PROCEDURE no_such_macro")
    await harness.tick(advance=1)
    await harness.tick(advance=1)
    assert [h[1] for h in await harness.history("v")] == ["FAILED"]
    [(reason,)] = await harness.rows("SELECT last_suspended_reason FROM system.tasks")
    assert reason == "ON_ERROR_STOP"


async def test_when_false_records_skipped_and_body_never_runs(harness: Harness) -> None:
    await harness.sql("CREATE TABLE log (n INTEGER)")
    await harness.sql("CREATE TABLE gate (open BOOLEAN)")
    await harness.sql(
        "CREATE TASK w SCHEDULE 1s WHEN (SELECT count(*) FROM gate) > 0 AS INSERT INTO log VALUES (1)"
    )
    await harness.tick(advance=1)
    await harness.sql("INSERT INTO gate VALUES (TRUE)")
    await harness.tick(advance=1)
    assert [(h[1], h[2]) for h in await harness.history("w")] == [
        ("SKIPPED", "CONDITION_FALSE"),
        ("SUCCEEDED", None),
    ]
    assert await harness.rows("SELECT count(*) FROM log") == [(1,)]


async def test_into_matches_columns_by_name_and_reads_system_tables(harness: Harness) -> None:
    await harness.sql("CREATE STREAM node_states (cluster_id string, node_id string, node_state string)")
    await harness.sql(
        "CREATE TASK refresh_node_states SCHEDULE 5s TIMEOUT 2s INTO node_states "
        "AS SELECT cluster_id, node_id, node_state FROM system.cluster"
    )
    await harness.tick(advance=5)
    await harness.tick(advance=5)
    rows = await harness.rows("SELECT cluster_id, node_id, node_state, _tp_time IS NOT NULL FROM node_states")
    assert rows == [("local", harness.scheduler.node_id, "running", True)] * 2


async def test_drop_task_stops_scheduling_but_keeps_history(harness: Harness) -> None:
    await harness.sql("CREATE TASK t SCHEDULE 1s AS SELECT 1")
    await harness.tick(advance=1)
    await harness.sql("DROP TASK t")
    await harness.tick(advance=1)
    rows = await harness.rows("SELECT name, state FROM system.task_history")
    assert rows == [("t", "SUCCEEDED")]


async def test_history_is_pruned_after_the_retention(harness: Harness) -> None:
    await harness.sql("CREATE TASK keep SCHEDULE 1s AS SELECT 1")
    await harness.sql("CREATE TASK short SCHEDULE 1s HISTORY_RETENTION = '2 SECONDS' AS SELECT 1")
    for _ in range(5):
        await harness.tick(advance=1)
    await harness.scheduler.prune()
    assert len(await harness.history("keep")) == 5
    assert [h[0] for h in await harness.history("short")] == [3.0, 4.0, 5.0]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        # America/Los_Angeles springs forward on 2025-03-09: 02:00 PST -> 03:00 PDT; 02:30 does not exist.
        ("STANDARD", ["2025-03-08T02:30:00-08:00", "2025-03-09T03:00:00-07:00", "2025-03-10T02:30:00-07:00"]),
        ("SNOWFLAKE", ["2025-03-08T02:30:00-08:00", "2025-03-10T02:30:00-07:00"]),
    ],
)
async def test_cron_runs_across_spring_forward_follow_the_dst_policy(
    tmp_path: Path, policy: str, expected: list[str]
) -> None:
    from zoneinfo import ZoneInfo

    h = await make_harness(tmp_path / "data", start="2025-03-08T00:00:00-08:00")
    try:
        await h.sql(
            f"CREATE TASK d SCHEDULE = USING CRON '30 2 * * *' 'America/Los_Angeles' DST_POLICY = '{policy}' "
            "AS SELECT 1"
        )
        await h.sql("ALTER TASK d RESUME")
        for _ in range(3 * 24 * 4):  # three days in 15-minute steps
            await h.tick(advance=900)
        rows = await h.rows("SELECT scheduled_time FROM system.task_history ORDER BY scheduled_time")
        la = ZoneInfo("America/Los_Angeles")
        assert [r[0].astimezone(la).isoformat() for r in rows] == expected
    finally:
        await h.engine.close()
