"""A lost node's runs: those that started failed with it; those that never started did not.

A node "dies" here by having its node row point at a process of this host that has exited: it is
lost at once, as a killed ``tasksql serve`` is (see test_lost_nodes_process.py for the real one).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
from datetime import timedelta

import pytest
from sched_harness import START, Harness

from tasksql.model import RunState, ScheduledFrom
from tasksql.model.run import NodeRecord
from tasksql.procs import REUSED_SILENT_S, node_state, process_gone
from tasksql.scheduler import outcomes
from tasksql.scheduler.service import Scheduler
from tasksql.testing import FakeClock


def exited_pid() -> int:
    """The pid of a process of this host that has exited (not reused within a test)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


async def runs(h: Harness, task: str = "t") -> list[tuple[object, ...]]:
    """(offset s, state, error_code, node_id, error_message) of every run of ``task``, oldest first."""
    start = FakeClock(START).now()
    result = await h.rows(
        "SELECT scheduled_time, state, error_code, node_id, error_message FROM task_history("
        f"task_name => '{task}', result_limit => 10000) ORDER BY scheduled_time, run_id"
    )
    return [(round((r[0] - start).total_seconds(), 3), *r[1:]) for r in result]


async def doomed_claims(h: Harness, statement: str, *, at: float) -> Scheduler:
    """Create a task with ``statement``; node ``doomed`` fires it at ``at`` s (claiming its next
    instant) and is then killed: its node row names a process that has exited."""
    await h.sql(statement)
    doomed = h.engine.new_scheduler(node_id="doomed")
    await doomed.start(background=False)
    h.clock.advance(at)
    await doomed.tick()
    await doomed.drain()
    await kill(h, "doomed")
    return doomed


async def kill(h: Harness, node_id: str) -> None:
    now = h.clock.now()
    await h.engine.catalog.register_node(
        NodeRecord(
            node_id=node_id,
            host=socket.gethostname(),
            pid=exited_pid(),
            role="server",
            version="0",
            started_at=now,
            heartbeat_at=now,
        )
    )


async def restart(h: Harness, *, after: float) -> Scheduler:
    """A new node starts ``after`` seconds later (it settles what was left), fires, and drains."""
    h.clock.advance(after)
    fresh = h.engine.new_scheduler(node_id="fresh")
    await fresh.start(background=False)
    await fresh.tick()
    await fresh.drain()
    return fresh


async def test_a_claimed_instant_that_passed_while_its_node_was_dead_is_missed_not_failed(
    harness: Harness,
) -> None:
    await doomed_claims(harness, "CREATE TASK t SCHEDULE 10s AS SELECT 1", at=10)
    await restart(harness, after=40)  # 50 s: the claim of 20 s is long past (CATCH_UP NONE)
    history = await runs(harness)
    assert history[0][:4] == (10.0, "SUCCEEDED", None, "doomed")
    assert history[1] == (
        20.0,
        "SKIPPED",
        "MISSED",
        "doomed",
        "instant missed: node doomed was lost before it started (CATCH_UP = NONE)",
    )
    assert all(r[1] != "FAILED" for r in history)
    assert [r[:4] for r in history if r[0] == 50] == [(50.0, "SUCCEEDED", None, "fresh")]
    [record] = await harness.engine.catalog.list_tasks()
    assert (record.consecutive_failures, record.state.value) == (0, "started")


async def test_a_claimed_instant_still_due_when_a_node_takes_over_runs_once(harness: Harness) -> None:
    await doomed_claims(harness, "CREATE TASK t SCHEDULE 10s AS SELECT 1", at=10)
    await restart(harness, after=12)  # 22 s: the claim of 20 s is 2 s late, within the misfire grace
    history = await runs(harness)
    assert [r[:4] for r in history if r[0] <= 22] == [
        (10.0, "SUCCEEDED", None, "doomed"),
        (20.0, "SUCCEEDED", None, "fresh"),  # re-planned: the same instant, one row
    ]


async def test_catch_up_all_runs_a_lost_claim_and_the_instants_after_it(harness: Harness) -> None:
    await doomed_claims(harness, "CREATE TASK t SCHEDULE 10s CATCH_UP = ALL AS SELECT 1", at=10)
    fresh = await restart(harness, after=32)  # 42 s: 20, 30 and 40 s are to be run
    for _ in range(3):  # catch-up ALL runs them one after another
        await fresh.drain()
    history = [r[:4] for r in await runs(harness) if r[0] <= 42]
    assert history == [
        (10.0, "SUCCEEDED", None, "doomed"),
        (20.0, "SUCCEEDED", None, "fresh"),
        (30.0, "SUCCEEDED", None, "fresh"),
        (40.0, "SUCCEEDED", None, "fresh"),
    ]


async def test_catch_up_latest_skips_a_lost_claim_when_a_later_instant_came(harness: Harness) -> None:
    await doomed_claims(harness, "CREATE TASK t SCHEDULE 10s CATCH_UP = LATEST AS SELECT 1", at=10)
    await restart(harness, after=29)  # 39 s: 30 s is the latest missed instant, not 20 s
    history = await runs(harness)
    assert history[1][:3] == (20.0, "SKIPPED", "MISSED")
    assert "CATCH_UP = LATEST runs a later instant" in str(history[1][4])
    assert history[2][:4] == (30.0, "SUCCEEDED", None, "fresh")


async def test_catch_up_latest_runs_a_lost_claim_that_is_the_latest_instant(harness: Harness) -> None:
    await doomed_claims(harness, "CREATE TASK t SCHEDULE 10s CATCH_UP = LATEST AS SELECT 1", at=10)
    await restart(harness, after=19)  # 29 s: 20 s is missed and the latest instant
    assert [r[:4] for r in await runs(harness) if r[0] <= 29] == [
        (10.0, "SUCCEEDED", None, "doomed"),
        (20.0, "SUCCEEDED", None, "fresh"),
    ]


async def test_a_lost_claim_of_a_task_suspended_since_is_released(harness: Harness) -> None:
    await doomed_claims(harness, "CREATE TASK t SCHEDULE 10s AS SELECT 1", at=10)
    await harness.sql("ALTER TASK t SUSPEND")
    await restart(harness, after=15)
    assert [r[:4] for r in await runs(harness)] == [(10.0, "SUCCEEDED", None, "doomed")]


async def test_only_runs_that_started_fail_and_neither_counts_as_a_failure_of_the_task(
    harness: Harness,
) -> None:
    await doomed_claims(
        harness, "CREATE TASK t SCHEDULE 10s SUSPEND_TASK_AFTER_NUM_FAILURES = 1 AS SELECT 1", at=10
    )
    # a retry that had started on the dead node, and one waiting for its delay
    [record] = await harness.engine.catalog.list_tasks()
    now = harness.clock.now()
    started, waiting = (
        outcomes.new_run(
            record,
            scheduled_time=now - timedelta(seconds=30 + i),
            state=state,
            scheduled_from=ScheduledFrom.RETRY,
            node_id="doomed",
            now=now,
            attempt_number=2,
        )
        for i, state in enumerate((RunState.EXECUTING, RunState.SCHEDULED))
    )
    await harness.engine.catalog.fire([started, waiting], ())
    await restart(harness, after=40)
    history = {r[0]: r[1:4] for r in await runs(harness)}
    assert history[-20.0] == ("FAILED", "NODE_LOST", "doomed")  # it had started
    assert history[-21.0] == ("SKIPPED", "NODE_LOST", "doomed")  # it had not
    assert history[20.0] == ("SKIPPED", "MISSED", "doomed")
    [record] = await harness.engine.catalog.list_tasks()
    # not counted, so not auto-suspended after "1 failure"
    assert (record.consecutive_failures, record.state.value) == (0, "started")
    assert await harness.engine.catalog.list_notifications() == []


async def test_a_live_node_runs_an_instant_it_saw_claimed_by_a_node_that_died(harness: Harness) -> None:
    await harness.sql("CREATE TASK t SCHEDULE 10s AS SELECT 1")
    doomed = harness.engine.new_scheduler(node_id="doomed")
    await doomed.start(background=False)
    harness.clock.advance(10)
    await doomed.tick()  # runs 10 s and claims 20 s
    await doomed.drain()
    await harness.tick()  # the live node finds 10 s taken and 20 s claimed by doomed
    await kill(harness, "doomed")
    harness.clock.advance(5)
    assert await harness.scheduler.reap() == 1  # the claim of 20 s is released
    await harness.tick(advance=5)
    assert [r[:4] for r in await runs(harness) if r[0] <= 20] == [
        (10.0, "SUCCEEDED", None, "doomed"),
        (20.0, "SUCCEEDED", None, "test-node"),
    ]


async def test_a_live_node_re_plans_an_instant_that_passed_while_its_claimer_was_dead(
    harness: Harness,
) -> None:
    await harness.sql("CREATE TASK t SCHEDULE 10s AS SELECT 1")
    doomed = harness.engine.new_scheduler(node_id="doomed")
    await doomed.start(background=False)
    harness.clock.advance(10)
    await doomed.tick()
    await doomed.drain()
    await harness.tick()
    await kill(harness, "doomed")
    await harness.tick(advance=11)  # 21 s: 20 s is held by doomed, so the live node leaves it
    assert [r[1] for r in await runs(harness) if r[0] == 20] == ["SCHEDULED"]
    assert await harness.scheduler.reap() == 1  # re-planned: still due
    await harness.tick()
    assert [r[:4] for r in await runs(harness) if r[0] == 20] == [(20.0, "SUCCEEDED", None, "test-node")]


async def test_the_reaper_names_only_nodes_that_left_runs(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await doomed_claims(harness, "CREATE TASK t SCHEDULE 10s AS SELECT 1", at=10)
    catalog = harness.engine.catalog
    for idle in ("idle-stopped", "idle-killed"):  # they left nothing
        await kill(harness, idle)
    await catalog.stop_node("idle-stopped", harness.clock.now())
    with caplog.at_level(logging.WARNING, logger="tasksql.scheduler"):
        await restart(harness, after=40)
    lines = [r.getMessage() for r in caplog.records if "was lost" in r.getMessage()]
    assert lines == ["node doomed was lost; its runs: 1 skipped (never started)"]


async def test_system_cluster_shows_a_killed_node_lost_at_once(harness: Harness) -> None:
    await harness.sql("CREATE TASK t SCHEDULE 10s AS SELECT 1")
    other = harness.engine.new_scheduler(node_id="other")
    await other.start(background=False)
    before = dict(await harness.rows("SELECT node_id, node_state FROM system.cluster"))
    assert before["other"] == "running"
    await kill(harness, "other")  # its heartbeat is fresh, its process is gone
    after = dict(await harness.rows("SELECT node_id, node_state FROM system.cluster"))
    assert after == {"test-node": "running", "other": "lost"}


def test_a_node_whose_pid_was_reused_is_gone_once_it_missed_its_heartbeats() -> None:
    proc = subprocess.Popen(["sleep", "30"])
    try:
        from datetime import UTC, datetime

        now = datetime.now(UTC)
        long_ago = now - timedelta(minutes=5)  # the node registered before this process started
        assert process_gone(proc.pid, long_ago, silent_s=REUSED_SILENT_S + 1)
        assert not process_gone(proc.pid, long_ago, silent_s=1.0)  # still beating: a clock may lie
        assert not process_gone(proc.pid, now + timedelta(seconds=1), silent_s=60.0)  # the same process
        assert not process_gone(os.getpid(), long_ago, silent_s=60.0)  # this process is never gone
        node = NodeRecord(
            node_id="n",
            host="elsewhere",
            pid=exited_pid(),
            role="server",
            version="0",
            started_at=now,
            heartbeat_at=now,
        )
        assert node_state(node, now) == "running"  # another host: only its heartbeat tells
        assert node_state(node, now + timedelta(seconds=31)) == "lost"
    finally:
        proc.kill()
        proc.wait()
