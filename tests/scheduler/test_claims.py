"""Instants claimed ahead: the next run's row is written when the task fires, used when it comes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sched_harness import START, Harness, make_harness

from tasksql.catalog.base import LostRuns
from tasksql.errors import ConfigError
from tasksql.model.run import NodeRecord
from tasksql.scheduler import claims
from tasksql.testing import FakeClock


async def rows(h: Harness, where: str = "TRUE") -> list[tuple[object, ...]]:
    """(offset s, state, error_code, node_id, run_id) of every run, oldest first."""
    start = FakeClock(START).now()
    result = await h.rows(
        "SELECT scheduled_time, state, error_code, node_id, run_id FROM task_history(result_limit => 10000) "
        f"WHERE {where} ORDER BY scheduled_time, run_id"
    )
    return [(round((r[0] - start).total_seconds(), 3), *r[1:]) for r in result]


async def test_the_next_instant_is_claimed_when_a_task_fires_and_used_when_it_comes(harness: Harness) -> None:
    await harness.sql("CREATE TASK t SCHEDULE 10s AS SELECT 1")
    await harness.tick(advance=10)
    [ran, claimed] = await rows(harness)
    assert ran[:4] == (10.0, "SUCCEEDED", None, "test-node")
    assert claimed[:4] == (20.0, "SCHEDULED", None, "test-node")
    await harness.tick(advance=10)
    [_, second, third] = await rows(harness)
    assert second == (20.0, "SUCCEEDED", None, "test-node", claimed[4])  # the claimed row itself
    assert third[:2] == (30.0, "SCHEDULED")


async def test_a_claimed_instant_that_overlaps_becomes_skipped(harness: Harness) -> None:
    await harness.sql("CREATE TASK slow SCHEDULE 1s AS SELECT count(*) FROM range(100000000000)")
    await harness.tick(advance=1, drain=False)
    [_, claim] = await rows(harness)
    await harness.tick(advance=1, drain=False)
    skipped = await rows(harness, "scheduled_time = TIMESTAMPTZ '2026-03-01 12:00:02+00'")
    assert skipped == [(2.0, "SKIPPED", "OVERLAP", "test-node", claim[4])]
    await harness.sql("CANCEL TASK slow")
    await harness.scheduler.drain()


async def test_instants_beyond_the_horizon_are_not_claimed(tmp_path: Path) -> None:
    h = await make_harness(tmp_path / "data", claim_ahead_s=60.0)
    try:
        await h.sql("CREATE TASK hourly SCHEDULE 1h AS SELECT 1")
        await h.sql("CREATE TASK minutely SCHEDULE 60s AS SELECT 1")
        await h.tick(advance=60)
        states = {(n, s) for n, s in await h.rows("SELECT name, state FROM task_history()")}
        assert states == {("minutely", "SUCCEEDED"), ("minutely", "SCHEDULED")}
    finally:
        await h.engine.close()


async def test_claims_can_be_switched_off(tmp_path: Path) -> None:
    h = await make_harness(tmp_path / "data", claim_ahead_s=0.0)
    try:
        await h.sql("CREATE TASK t SCHEDULE 1s AS SELECT 1")
        for _ in range(3):
            await h.tick(advance=1)
        assert [r[1] for r in await rows(h)] == ["SUCCEEDED"] * 3
    finally:
        await h.engine.close()


async def test_a_fixed_delay_is_not_claimed(harness: Harness) -> None:
    # its next instant counts from the end of the run
    await harness.sql("CREATE TASK t SCHEDULE DELAY 1s AS SELECT 1")
    for _ in range(3):
        await harness.tick(advance=1.5)
    assert "SCHEDULED" not in {r[1] for r in await rows(harness)}


async def test_a_graph_root_is_not_claimed(harness: Harness) -> None:
    await harness.sql("CREATE TASK root SCHEDULE 1s AS SELECT 1")
    await harness.sql("CREATE TASK child AFTER root AS SELECT 2")
    for _ in range(2):
        await harness.tick(advance=1)
    history = await rows(harness)
    assert history and "SCHEDULED" not in {r[1] for r in history}


@pytest.mark.parametrize("change", ["ALTER TASK t SUSPEND", "DROP TASK t"])
async def test_a_change_to_the_task_releases_its_claim(harness: Harness, change: str) -> None:
    await harness.sql("CREATE TASK t SCHEDULE 10s AS SELECT 1")
    await harness.tick(advance=10)
    assert [r[1] for r in await rows(harness)] == ["SUCCEEDED", "SCHEDULED"]
    await harness.sql(change)
    await harness.tick(advance=1)  # the scheduler notices the change
    assert [r[1] for r in await rows(harness)] == ["SUCCEEDED"]


async def test_a_changed_task_runs_its_next_instant_with_the_new_definition(harness: Harness) -> None:
    await harness.sql("CREATE TABLE log (v INTEGER)")
    await harness.sql("CREATE TASK t SCHEDULE 10s AS INSERT INTO log VALUES (1)")
    await harness.tick(advance=10)
    await harness.sql("ALTER TASK t MODIFY AS INSERT INTO log VALUES (2)")
    await harness.tick(advance=10)
    assert await harness.rows("SELECT v FROM log ORDER BY v") == [(1,), (2,)]
    assert [r[:2] for r in await rows(harness, "state <> 'SCHEDULED'")] == [
        (10.0, "SUCCEEDED"),
        (20.0, "SUCCEEDED"),
    ]
    # the claim made under version 1 was released; 20 s ran (and 30 s is claimed) under version 2
    assert await harness.rows("SELECT task_version FROM task_history() ORDER BY scheduled_time") == [
        (1,),
        (2,),
        (2,),
    ]


async def test_an_instant_claimed_by_another_node_is_left_to_it(harness: Harness) -> None:
    await harness.sql("CREATE TASK t SCHEDULE 10s AS SELECT 1")
    other = harness.engine.new_scheduler(node_id="other-node")
    await other.start(background=False)
    try:
        await other.tick()  # loads the task; nothing due yet
        harness.clock.advance(10)
        await other.tick()  # the other node fires 10 s and claims 20 s
        await other.drain()
        await harness.tick()  # this node's 10 s: the fence says it ran elsewhere
        await harness.tick(advance=10)  # 20 s: claimed by the other node
        assert [r[:4] for r in await rows(harness, "state <> 'SCHEDULED'")] == [
            (10.0, "SUCCEEDED", None, "other-node"),
        ]
        await other.tick()
        await other.drain()
        assert [r[:4] for r in await rows(harness, "state <> 'SCHEDULED'")] == [
            (10.0, "SUCCEEDED", None, "other-node"),
            (20.0, "SUCCEEDED", None, "other-node"),
        ]
    finally:
        await other.stop(grace=1)


async def test_stopping_releases_the_claims(harness: Harness) -> None:
    await harness.sql("CREATE TASK t SCHEDULE 10s AS SELECT 1")
    await harness.tick(advance=10)
    await harness.scheduler.stop(grace=1)
    assert [r[1] for r in await rows(harness)] == ["SUCCEEDED"]


async def test_a_claimed_instant_inside_a_summary_of_missed_instants_is_released(harness: Harness) -> None:
    await harness.sql("CREATE TASK t SCHEDULE 1s AS SELECT 1")
    await harness.tick(advance=1)
    await harness.tick(advance=500)  # 499 missed instants: the oldest ones only get a summary row
    history = [r for r in await rows(harness) if r[0] <= 501]  # the claim of 502 s is for later
    assert [r[1] for r in history].count("SCHEDULED") == 0
    assert history[1][:3] == (2.0, "SKIPPED", "MISSED")  # the summary row starts at the claimed one
    # the first run, the summary, the 100 latest missed instants, the instant now due
    assert len(history) == 1 + 1 + 100 + 1
    assert history[-1][:2] == (501.0, "SUCCEEDED")


async def test_show_tasks_last_run_ignores_claims(harness: Harness) -> None:
    await harness.sql("CREATE TASK t SCHEDULE 10s AS SELECT 1")
    await harness.tick(advance=10)
    [(state,)] = await harness.rows("SELECT last_run_state FROM system.tasks")
    assert state == "SUCCEEDED"


async def test_a_restart_with_the_same_node_id_settles_what_the_earlier_process_left(tmp_path: Path) -> None:
    h = await make_harness(tmp_path / "data")
    await h.sql("CREATE TASK t SCHEDULE 10s AS SELECT 1")
    await h.tick(advance=10)
    # the process dies: its claim of 20 s stays
    catalog = h.engine.catalog
    [claim] = await catalog.open_runs("test-node")
    await catalog.register_node(
        NodeRecord(
            node_id="test-node",
            host="elsewhere",
            pid=1,
            role="server",
            version="0",
            started_at=h.clock.now(),
            heartbeat_at=h.clock.now(),
        )
    )
    h.clock.advance(30)  # restarted after the claimed instant, which never started
    again = h.engine.new_scheduler(node_id="test-node")
    await again.start(background=False)
    try:
        lost = await catalog.get_run(claim.run_id)
        assert lost is not None and (lost.state.value, lost.error_code) == ("SKIPPED", "MISSED")
        assert (
            lost.error_message
            == "instant missed: node test-node was lost before it started (CATCH_UP = NONE)"
        )
    finally:
        await again.stop(grace=1)
        await h.engine.close()


async def test_a_live_process_with_the_same_node_id_is_refused(harness: Harness) -> None:
    await harness.engine.catalog.register_node(
        NodeRecord(
            node_id="twin",
            host=os.uname().nodename,
            pid=os.getppid(),  # alive, and not this process
            role="server",
            version="0",
            started_at=harness.clock.now(),
            heartbeat_at=harness.clock.now(),
        )
    )
    with pytest.raises(ConfigError, match="node id twin is in use by process"):
        await harness.engine.new_scheduler(node_id="twin").start(background=False)


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("CREATE TASK t SCHEDULE 5s AS SELECT 1", True),
        ("CREATE TASK t SCHEDULE = 'USING CRON */5 * * * * * UTC' AS SELECT 1", True),
        ("CREATE TASK t SCHEDULE DELAY 5s AS SELECT 1", False),
        ("CREATE TASK t ON SCHEDULE EVERY 5 SECONDS PROCEDURE p", False),  # VoltDB: restarts after an overrun
        (
            "CREATE TASK t SCHEDULE = FROM CLASS 'tasksql.schedules.examples.WeekdaysOnly' WITH ('09:00') "
            "AS SELECT 1",
            False,  # a custom class may look at how the last run went
        ),
    ],
)
async def test_which_schedules_are_claimed(harness: Harness, statement: str, expected: bool) -> None:
    await harness.sql(statement)
    await harness.sql("ALTER TASK t RESUME")
    await harness.tick()
    [record] = await harness.engine.catalog.list_tasks()
    entry = await harness.scheduler.cache.entry_for(record)  # a task far from its instant is cold
    assert entry is not None
    assert claims.claimable(entry) is expected


async def test_settling_a_dead_nodes_runs_deletes_claims_still_to_come_and_never_fails_the_others(
    harness: Harness,
) -> None:
    await harness.sql("CREATE TASK a SCHEDULE 10s AS SELECT 1")
    await harness.sql("CREATE TASK b SCHEDULE 30s AS SELECT 1")
    other = harness.engine.new_scheduler(node_id="doomed")
    await other.start(background=False)
    harness.clock.advance(30)
    await other.tick()  # fires a (10 s, missed: recorded) and b (30 s), claims a 40 s and b 60 s
    await other.drain()
    harness.clock.advance(15)  # 45 s: the claim of 40 s never started, 60 s is still to come
    settled = await harness.engine.catalog.settle_lost_runs(["doomed"], harness.clock.now(), "node stopped")
    assert settled == {"doomed": LostRuns(skipped=1, released=1)}
    left = [(r[0], r[1], r[2]) for r in await rows(harness) if r[3] == "doomed" and r[0] >= 40]
    assert left == [(40.0, "SKIPPED", "NODE_LOST")]


async def test_run_ids_follow_the_instants_from_the_first_fire_on(harness: Harness) -> None:
    # the first fire writes its run row and the claim of the next instant in the same tick
    await harness.sql("CREATE TASK a SCHEDULE 1s AS SELECT 1")
    await harness.sql("CREATE TASK b SCHEDULE DELAY 1s AS SELECT 1")  # never claimed: fires every time
    for _ in range(3):
        await harness.tick(advance=1)
    for name in ("a", "b"):
        ids = [r[4] for r in await rows(harness, f"name = '{name}'")]
        assert ids == sorted(ids)
