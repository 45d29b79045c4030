"""A lost node's claimed run whose body may have started without a completion marker to tell: it is
recorded SKIPPED (NODE_LOST) and never run again, while instants that came after the node was gone
are re-planned as before.

A real catalog and warehouse, a fake clock; a node "dies" by having its row point at an exited
process (see test_lost_nodes.py), its last heartbeat at the moment it is killed. A body "started
within the start-commit window" is run by the runner as the node would, and nothing is written to
the catalog (see test_lost_markers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sched_harness import START, Harness, make_harness
from test_lost_markers import BODY, body_only, logged
from test_lost_nodes import kill, restart, runs

from tasksql.model.run import NodeRecord, RunRecord
from tasksql.procs import NODE_LEASE_S
from tasksql.scheduler import lost_starts
from tasksql.scheduler.lost_starts import UNKNOWN_MESSAGE, LastSeen, last_seen, may_have_started
from tasksql.scheduler.service import Scheduler
from tasksql.testing import FakeClock


async def doomed_fires(h: Harness, task: str, *, at_s: float) -> tuple[Scheduler, RunRecord]:
    """Create ``task``; node ``doomed`` fires it at ``at_s`` s and claims its next instant, whose
    SCHEDULED row is returned."""
    await h.sql(task)
    doomed = h.engine.new_scheduler(node_id="doomed")
    await doomed.start(background=False)
    h.clock.advance(at_s)
    await doomed.tick()
    await doomed.drain()
    await doomed.bookkeeping_written()
    [claim] = [r for r in await h.engine.catalog.list_runs(task_id=1) if r.scheduled_time > h.clock.now()]
    return doomed, claim


@pytest.fixture
async def no_markers(tmp_path: Path) -> AsyncIterator[Harness]:
    h = await make_harness(tmp_path / "data", completion_markers=False)
    try:
        await h.sql("CREATE TABLE log (run_id BIGINT)")
        yield h
    finally:
        await h.engine.close()


@pytest.mark.parametrize("body_started", [True, False])
async def test_markers_off_a_claim_that_came_while_its_node_lived_is_not_run_again(
    no_markers: Harness, body_started: bool
) -> None:
    h = no_markers
    doomed, claim = await doomed_fires(h, f"CREATE TASK t SCHEDULE 10s AS {BODY}", at_s=10)
    h.clock.advance(10)  # 20 s: the claim's instant
    if body_started:  # it started at once; the node died before its start reached the catalog
        await body_only(h, claim, doomed)
    await kill(h, "doomed")
    # 22 s: a claim that never started would be re-planned (within the misfire grace); whether this
    # one started cannot be told (no marker), so it is recorded, and not run again
    fresh = await restart(h, after=2)
    history = [r for r in await runs(h) if r[0] <= 22]
    assert history == [
        (10.0, "SUCCEEDED", None, "doomed", None),
        (20.0, "SKIPPED", "NODE_LOST", "doomed", UNKNOWN_MESSAGE.format(node="doomed")),
    ]
    assert len(await logged(h)) == (2 if body_started else 1)  # 20 s ran at most once
    h.clock.advance(1)
    await fresh.tick()
    await fresh.drain()
    assert len(await logged(h)) == (2 if body_started else 1)
    [record] = await h.engine.catalog.list_tasks()
    assert record.consecutive_failures == 0


async def test_markers_off_a_claim_that_came_after_its_node_was_gone_is_re_planned(
    no_markers: Harness,
) -> None:
    h = no_markers
    await doomed_fires(h, f"CREATE TASK t SCHEDULE 60s AS {BODY}", at_s=60)  # claims 120 s
    await kill(h, "doomed")  # last heartbeat at 60 s: it started nothing after 90 s (the lease)
    await restart(h, after=62)  # 122 s: the claim of 120 s is due, within the misfire grace
    history = [r[:4] for r in await runs(h) if r[0] <= 122]
    assert history == [(60.0, "SUCCEEDED", None, "doomed"), (120.0, "SUCCEEDED", None, "fresh")]
    assert len(await logged(h)) == 2


@pytest.mark.parametrize(
    ("catch_up", "expected"),
    [
        # CATCH_UP NONE: an instant runs at most the misfire grace late, so a claim 30 s before the
        # node's last heartbeat had been started (and its start committed) by then, or never was
        (
            "",
            ("SKIPPED", "MISSED", "instant missed: node doomed was lost before it started (CATCH_UP = NONE)"),
        ),
        # CATCH_UP ALL: it could still have run late (after a catalog outage), within the window
        ("CATCH_UP = ALL", ("SKIPPED", "NODE_LOST", UNKNOWN_MESSAGE.format(node="doomed"))),
    ],
)
async def test_a_claim_long_before_the_nodes_last_heartbeat_follows_how_late_its_task_may_start(
    no_markers: Harness, catch_up: str, expected: tuple[str, str, str]
) -> None:
    h = no_markers
    await doomed_fires(h, f"CREATE TASK t SCHEDULE 10s {catch_up} AS {BODY}", at_s=10)  # claims 20 s
    h.clock.advance(40)
    await kill(h, "doomed")  # alive at 50 s with the claim of 20 s still unstarted (queued, say)
    await restart(h, after=2)
    [claim] = [r for r in await runs(h) if r[0] == 20]
    assert claim[1:] == (expected[0], expected[1], "doomed", expected[2])
    assert all(r[0] != 20 or r[3] == "doomed" for r in await runs(h))  # never run by another node


async def test_markers_off_a_body_without_effects_is_re_planned_as_before(no_markers: Harness) -> None:
    h = no_markers
    await doomed_fires(h, "CREATE TASK t SCHEDULE 10s AS SELECT 1", at_s=10)
    h.clock.advance(10)
    await kill(h, "doomed")
    await restart(h, after=2)
    assert [r[:4] for r in await runs(h) if r[0] <= 22] == [
        (10.0, "SUCCEEDED", None, "doomed"),
        (20.0, "SUCCEEDED", None, "fresh"),  # re-planned: running a query twice does no harm
    ]


async def test_markers_on_a_body_that_cannot_carry_one_is_not_run_again(harness: Harness) -> None:
    """CHECKPOINT cannot run inside a transaction, so it never commits with a marker."""
    doomed, claim = await doomed_fires(harness, "CREATE TASK t SCHEDULE 10s AS CHECKPOINT", at_s=10)
    harness.clock.advance(10)
    await body_only(harness, claim, doomed)
    await kill(harness, "doomed")
    await restart(harness, after=2)
    assert [r[:3] for r in await runs(harness) if r[0] <= 22] == [
        (10.0, "SUCCEEDED", None),
        (20.0, "SKIPPED", "NODE_LOST"),
    ]


async def test_markers_on_a_marked_body_is_re_planned_as_before(harness: Harness) -> None:
    await harness.sql("CREATE TABLE log (run_id BIGINT)")
    await doomed_fires(harness, f"CREATE TASK t SCHEDULE 10s AS {BODY}", at_s=10)
    harness.clock.advance(10)
    await kill(harness, "doomed")  # its body did not commit: no marker
    await restart(harness, after=2)
    assert [r[:4] for r in await runs(harness) if r[0] <= 22] == [
        (10.0, "SUCCEEDED", None, "doomed"),
        (20.0, "SUCCEEDED", None, "fresh"),
    ]
    assert len(await logged(harness)) == 2


# --- the window, as a function -----------------------------------------------------------------


def node(heartbeat: datetime, stopped: datetime | None = None) -> NodeRecord:
    return NodeRecord(
        node_id="n",
        host="h",
        pid=1,
        role="server",
        version="0",
        started_at=heartbeat - timedelta(hours=1),
        heartbeat_at=heartbeat,
        stopped_at=stopped,
    )


def test_when_a_node_was_last_seen_and_gone() -> None:
    t0 = FakeClock(START).now()
    lease = timedelta(seconds=NODE_LEASE_S)
    assert last_seen(node(t0), t0 + timedelta(seconds=3)) == LastSeen(t0, t0 + timedelta(seconds=3))
    assert last_seen(node(t0), t0 + timedelta(hours=1)) == LastSeen(t0, t0 + lease)
    stopped = t0 + timedelta(seconds=1)
    assert last_seen(node(t0, stopped), t0 + timedelta(hours=1)).gone == stopped
    now = t0 + timedelta(minutes=5)
    assert last_seen(None, now) == LastSeen(None, now)


def test_which_claims_may_have_started() -> None:
    t0 = FakeClock(START).now()
    seen = LastSeen(alive=t0, gone=t0 + timedelta(seconds=30))
    early = t0 - timedelta(seconds=5) - lost_starts.START_SLACK  # the grace and the slack before
    assert not may_have_started(early, None, seen)
    assert may_have_started(early + timedelta(milliseconds=1), None, seen)
    assert may_have_started(t0 + timedelta(seconds=30), None, seen)
    assert not may_have_started(t0 + timedelta(seconds=30, milliseconds=1), None, seen)
    nothing_known = LastSeen(alive=None, gone=t0)
    assert may_have_started(t0 - timedelta(days=1), None, nothing_known)
