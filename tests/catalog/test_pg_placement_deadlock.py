"""Statements that lock several placements of the PostgreSQL catalog lock them in task order, so that
a hand-over of several tasks and a fenced write of several of them never deadlock; two connections
and a third that holds a row on a real server.

Node ``a`` holds tasks t1 < t2 and writes to both in one statement, t2's row first (a start of its
claims, its runs' next instants); another process pins both to ``b`` (``pin_tasks``, which locks
t1's placement, then t2's). The third connection holds the row of t2's run (or task), so that a's
statement, having locked t2's placement, waits there while the pin locks t1's placement and waits
for t2's. Locking in the order of its rows, a's statement then asked for t1's placement, held by
the pin: a deadlock, and PostgreSQL failed one of the two after ``deadlock_timeout``. Locking every
placement first, in task order, a's statement holds both before it waits, and the pin waits for it
holding nothing: both go through, the pin after a's write, which it sees.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from catalog_support import NOW, create, later, member, new_run
from pg_locks_support import Conn
from test_pg_placement_locks import blocked_by

from pgserver import PgServer
from tasksql.catalog import PostgresCatalog
from tasksql.catalog.cluster_rows import fence_params
from tasksql.catalog.postgres.catalog import _Q as PG_QUERIES
from tasksql.catalog.postgres.sets import SET_FORMS
from tasksql.catalog.rows import db_time, runtime_params
from tasksql.model import RunState, TaskRecord, TaskState
from tasksql.model.cluster import Fence
from tasksql.model.run import TaskRuntime
from tasksql.testing import FakeClock

pytestmark = pytest.mark.postgres

#: a's write of ``(connection, fence, [(task, its claim's run id)], t2 first)``: the rows it changed.
Write = Callable[[Conn, Fence, list[tuple[TaskRecord, int]]], int]


def start_claims(conn: Conn, fence: Fence, claims: list[tuple[TaskRecord, int]]) -> int:
    params = {"run_ids": [run for _, run in claims], "at": db_time(later(60)), "node_id": fence.node_id}
    return len(conn.execute(PG_QUERIES["runs_start_claims_fenced"], params | fence_params(fence)).fetchall())


def next_instants(conn: Conn, fence: Fence, claims: list[tuple[TaskRecord, int]]) -> int:
    form = SET_FORMS["task_runtime_fenced"]
    batch = [
        runtime_params(TaskRuntime(task_id=record.id, next_fire_at=later(120)), db_time(NOW))
        | fence_params(fence)
        for record, _ in claims
    ]
    assert form.fits(batch)
    return conn.execute(PG_QUERIES[form.query], form.params(batch)).rowcount


#: a's write, and the row of t2 the third connection holds (a statement on ``runs`` or ``tasks``).
WRITES: dict[str, tuple[Write, str]] = {
    "start_claims": (start_claims, "SELECT 1 FROM runs WHERE run_id = %(run)s FOR UPDATE"),
    "runtime_set": (next_instants, "SELECT 1 FROM tasks WHERE id = %(task)s FOR UPDATE"),
}


@pytest.mark.parametrize("write", sorted(WRITES))
async def test_a_pin_of_several_tasks_and_a_fenced_write_of_them_do_not_deadlock(
    schema: str, pg_server: PgServer, connect: Any, write: str
) -> None:
    async with PostgresCatalog(pg_server.url, schema=schema, clock=FakeClock(NOW)) as catalog:
        t1, t2 = [await create(catalog, name, state=TaskState.STARTED) for name in ("t1", "t2")]
        assert t1.id < t2.id
        a = await catalog.join(member("a"))
        assert sorted(await catalog.claim_placements(a.fence, capacity=4, warehouses=None)) == [t1.id, t2.id]
        # a's claims of the instant at 60 s, t2's first: its run id is the lower
        claims: list[tuple[TaskRecord, int]] = []
        for record in (t2, t1):
            [run] = await catalog.fire(
                [new_run(record, later(60), state=RunState.SCHEDULED, node="a")], [], fence=a.fence
            )
            assert run is not None
            claims.append((record, run.run_id))

        holding, writing, watching = connect(), connect(), connect()
        do_write, hold = WRITES[write]
        holding.execute(hold, {"run": claims[0][1], "task": t2.id})
        written = asyncio.ensure_future(asyncio.to_thread(do_write, writing, a.fence, claims))
        await blocked_by(watching, holding)  # a's write waits for t2's row
        pinned = asyncio.ensure_future(catalog.pin_tasks({t1.id: "b", t2.id: "b"}))
        await blocked_by(watching, writing)  # the pin waits for a's write
        holding.commit()

        assert await written == 2  # no deadlock: both rows written
        writing.commit()
        await pinned  # and the pin went through after it
        placements = {p.task_id: (p.node_id, p.pinned_node) for p in await catalog.list_placements()}
        assert placements == {t1.id: (None, "b"), t2.id: (None, "b")}
        runs = sorted((r.task_id, r.state) for r in await catalog.list_runs() if r.node_id == "a")
        if write == "start_claims":  # started before the hand-over: kept, a's to settle
            assert runs == [(t1.id, RunState.EXECUTING), (t2.id, RunState.EXECUTING)]
        else:  # never started: handed over (deleted, the next instants rewound to them)
            assert runs == []
            for record in (t1, t2):
                task = await catalog.get_task_by_id(record.id)
                assert task is not None and task.next_fire_at == later(60)


async def test_a_pin_given_its_tasks_in_any_order_locks_them_in_task_order(
    schema: str, pg_server: PgServer, connect: Any
) -> None:
    """a's transaction (a group of its writer's) locks t1's placement, then t2's in a later
    statement; a pin of t2 and t1, in that order, locks t1's first all the same, and waits for a's
    transaction holding nothing. Locking t2's first, it made a's second statement wait for it while
    it waited for a's first: a deadlock."""
    async with PostgresCatalog(pg_server.url, schema=schema, clock=FakeClock(NOW)) as catalog:
        t1, t2 = [await create(catalog, name, state=TaskState.STARTED) for name in ("t1", "t2")]
        a = await catalog.join(member("a"))
        assert sorted(await catalog.claim_placements(a.fence, capacity=4, warehouses=None)) == [t1.id, t2.id]
        writing, watching = connect(), connect()

        def next_instant(record: TaskRecord) -> int:
            params = runtime_params(TaskRuntime(task_id=record.id, next_fire_at=later(120)), db_time(NOW))
            return writing.execute(PG_QUERIES["task_runtime_fenced"], params | fence_params(a.fence)).rowcount

        assert next_instant(t1) == 1  # t1's placement locked, not committed
        pinned = asyncio.ensure_future(catalog.pin_tasks({t2.id: "b", t1.id: "b"}))
        await blocked_by(watching, writing)  # the pin waits for a's transaction
        assert await asyncio.to_thread(next_instant, t2) == 1  # t2's placement is free: no deadlock
        writing.commit()
        await pinned
        placements = {p.task_id: (p.node_id, p.pinned_node) for p in await catalog.list_placements()}
        assert placements == {t1.id: (None, "b"), t2.id: (None, "b")}
