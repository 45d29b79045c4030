"""The row lock of a task's placement in the PostgreSQL catalog's fenced writes, with two connections
on a real server.

A fenced insert, start, runtime change or release of a run checks that the task is placed on the
writer's epoch, and locks the placement's row ``FOR SHARE`` until it commits. A hand-over of the
task (here ``pin_tasks`` of another node: the placement's holder cleared, the holder's claims that
never started deleted, all in one transaction) updates that row, and an UPDATE of it waits for the
lock and makes the lock wait for it. So a fenced write and a hand-over happen one after the other:
the write commits first and the hand-over sees it (its claim is handed over), or the write waits
for the hand-over, reads the placement again and is refused. Without the lock the write read the
placement as it was before a hand-over in flight and committed after it: a claim the hand-over
could not see was left to a node that no longer held the task, an instant run nowhere.

(``FOR KEY SHARE``, the lock of the node's row, would not do: an UPDATE of the holder's columns,
which no key covers, takes ``FOR NO KEY UPDATE``, which does not conflict with it.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from catalog_support import NOW, eventually, later, new_run
from pg_locks_support import Conn, placed_on_a

from pgserver import PgServer
from tasksql.catalog import PostgresCatalog
from tasksql.catalog.cluster_rows import fence_params
from tasksql.catalog.postgres.catalog import _Q as PG_QUERIES
from tasksql.catalog.postgres.sets import SET_FORMS
from tasksql.catalog.rows import db_time, new_run_params, outcome_params, runtime_params
from tasksql.model import RunState, ScheduledFrom, TaskRecord
from tasksql.model.cluster import Fence
from tasksql.model.run import RunOutcome, TaskRuntime
from tasksql.testing import FakeClock

pytestmark = pytest.mark.postgres

#: A write of ``(connection, task, fence, id of a queued run of the task)``: True when it applied.
Write = Callable[[Conn, TaskRecord, Fence, int], bool]


def claim(record: TaskRecord, seconds: float, fence: Fence) -> dict[str, Any]:
    """The insert parameters of ``fence``'s claim of ``record``'s instant ``later(seconds)``."""
    run = new_run(record, later(seconds), state=RunState.SCHEDULED, node=fence.node_id)
    return new_run_params(run) | fence_params(fence)


def insert_one(conn: Conn, record: TaskRecord, fence: Fence, queued: int) -> bool:
    return conn.execute(PG_QUERIES["run_insert_fenced"], claim(record, 60, fence)).fetchone() is not None


def insert_set(conn: Conn, record: TaskRecord, fence: Fence, queued: int) -> bool:
    form = SET_FORMS["run_insert_fenced"]
    batch = [claim(record, 60, fence), claim(record, 120, fence)]
    assert form.fits(batch)
    return len(conn.execute(PG_QUERIES[form.query], form.params(batch)).fetchall()) == 2


def start_one(conn: Conn, record: TaskRecord, fence: Fence, queued: int) -> bool:
    start = RunOutcome(run_id=queued, state=RunState.EXECUTING, query_start_time=later(1))
    cur = conn.execute(PG_QUERIES["run_settle_fenced"], outcome_params(start) | fence_params(fence))
    return cur.fetchone() is not None


def start_claim(conn: Conn, record: TaskRecord, fence: Fence, queued: int) -> bool:
    # a claim of a graph run's member is started on its root's placement and is not the hand-over's
    params = {"run_ids": [queued], "at": db_time(later(1)), "node_id": fence.node_id} | fence_params(fence)
    return conn.execute(PG_QUERIES["runs_start_claims_fenced"], params).fetchone() is not None


def next_instant(conn: Conn, record: TaskRecord, fence: Fence, queued: int) -> bool:
    params = runtime_params(TaskRuntime(task_id=record.id, next_fire_at=later(300)), db_time(NOW))
    return conn.execute(PG_QUERIES["task_runtime_fenced"], params | fence_params(fence)).rowcount == 1


WRITES: dict[str, Write] = {
    "insert": insert_one,
    "insert_set": insert_set,
    "start": start_one,
    "start_claim": start_claim,
    "runtime": next_instant,
}


async def queued_run(catalog: PostgresCatalog, record: TaskRecord, fence: Fence) -> int:
    """A run of ``record`` of ``fence``'s node waiting for its start that a hand-over does not
    delete: a queued retry (SCHEDULED, no start time)."""
    run = new_run(
        record,
        later(30),
        state=RunState.SCHEDULED,
        node=fence.node_id,
        scheduled_from=ScheduledFrom.RETRY,
        attempt_number=2,
    )
    [rec] = await catalog.fire([run], [], fence=fence)
    assert rec is not None
    return rec.run_id


def hand_over_to_b(conn: Conn, record: TaskRecord) -> None:
    """The statements of ``pin_tasks({task: 'b'})`` (the catalog's own), not committed."""
    [row] = conn.execute(PG_QUERIES["placement_pin"], {"task_id": record.id, "pinned_node": "b"}).fetchall()
    assert row["node_id"] == "a"
    conn.execute(PG_QUERIES["placement_unhold"], {"task_id": record.id})
    conn.execute(PG_QUERIES["runs_hand_over"], {"node_id": "a", "task_ids": [record.id]})


async def blocked_by(watcher: Conn, holder: Conn) -> None:
    """Wait until some backend waits for a lock that ``holder``'s transaction holds."""
    pid = holder.info.backend_pid

    async def waiting() -> bool:
        row = watcher.execute(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [pid]
        ).fetchone()
        watcher.commit()
        return row is not None and row["n"] > 0

    await eventually(waiting)


async def open_runs_of_a(catalog: PostgresCatalog, record: TaskRecord) -> list[tuple[float, RunState]]:
    return sorted(
        ((r.scheduled_time - NOW) / timedelta(seconds=1), r.state)
        for r in await catalog.list_runs(task_id=record.id)
        if r.node_id == "a" and r.state in (RunState.SCHEDULED, RunState.EXECUTING)
    )


@pytest.mark.parametrize("write", sorted(WRITES))
async def test_a_fenced_write_waits_for_a_hand_over_in_flight_and_is_refused(
    schema: str, pg_server: PgServer, connect: Any, write: str
) -> None:
    async with PostgresCatalog(pg_server.url, schema=schema, clock=FakeClock(NOW)) as catalog:
        record, a = await placed_on_a(catalog)
        queued = await queued_run(catalog, record, a.fence)
        if write == "start_claim":
            queued = await queued_run(catalog, record, a.fence)  # stands for a claim the hand-over keeps
        handing, writing, watching = connect(), connect(), connect()
        hand_over_to_b(handing, record)

        written = asyncio.ensure_future(asyncio.to_thread(WRITES[write], writing, record, a.fence, queued))
        # the write waits for the hand-over: if it did not, it would read the placement as it was
        # before and commit a run (a start, a next instant) of a task its node no longer holds
        await blocked_by(watching, handing)
        assert not written.done()
        handing.commit()
        assert await written is False
        writing.commit()

        assert await open_runs_of_a(catalog, record) == [(30.0, RunState.SCHEDULED)] * (
            2 if write == "start_claim" else 1
        )
        task = await catalog.get_task_by_id(record.id)
        assert task is not None and task.next_fire_at is None  # as created: no next instant written


async def test_a_hand_over_waits_for_a_fenced_claim_in_flight_and_hands_it_over(
    schema: str, pg_server: PgServer, connect: Any
) -> None:
    async with PostgresCatalog(pg_server.url, schema=schema, clock=FakeClock(NOW)) as catalog:
        record, a = await placed_on_a(catalog)
        writing, watching = connect(), connect()
        assert insert_one(writing, record, a.fence, 0)  # a's claim of the instant at 60 s, uncommitted

        pinned = asyncio.ensure_future(catalog.pin_tasks({record.id: "b"}))
        # the hand-over waits for the claim: if it did not, it would not see it, and the claim
        # would commit after it, a claim of a task a no longer holds, which nobody hands over
        await blocked_by(watching, writing)
        assert not pinned.done()
        writing.commit()
        await pinned

        assert await open_runs_of_a(catalog, record) == []  # handed over
        [placement] = await catalog.list_placements()
        assert (placement.node_id, placement.pinned_node) == (None, "b")
