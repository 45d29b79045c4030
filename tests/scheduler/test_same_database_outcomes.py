"""A task whose PostgreSQL warehouse is the catalog's own database: the body's effects and its run's
outcome commit in ONE transaction (shown by PostgreSQL itself: the body's row and the run's row carry
the same ``xmin``); the scheduler does not write that outcome again; a fenced body whose node lost its
lease commits neither; bodies that cannot run in a transaction, and warehouses in another database,
keep completion markers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sched_harness import Harness, make_harness

from pgserver import PgDatabase, PgServer
from tasksql.model import RunState
from tasksql.model.run import RunOutcome

SCHEMA = "tasksql"
BODY = "INSERT INTO public.hits SELECT SYSTEM$TASK_RUNTIME_INFO('CURRENT_RUN_ID')"


class Monotonic:
    """The node's own clock for its lease deadline: it stands still, so the node may always fire."""

    def __call__(self) -> float:
        return 1000.0


@dataclass
class Db:
    """Direct reads of the database that holds the catalog and the bodies' table."""

    conn: psycopg.Connection[tuple[Any, ...]]

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        return self.conn.execute(query).fetchall()  # type: ignore[arg-type]

    def runs(self) -> list[tuple[Any, ...]]:
        """(run id, state, error code, xmin of the run's row) of every run, oldest first."""
        return self.rows(f"SELECT run_id, state, error_code, xmin::text FROM {SCHEMA}.runs ORDER BY run_id")

    def hits(self) -> dict[int, str]:
        """run id -> the xmin (writing transaction) of the body's row."""
        return {int(r[0]): r[1] for r in self.rows("SELECT run_id, xmin::text FROM public.hits")}


@pytest.fixture
async def setup(tmp_path: Path, pg_database: PgDatabase) -> AsyncIterator[tuple[Harness, Db]]:
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.hits (run_id bigint)")
    h = await make_harness(
        tmp_path / "data", catalog_url=pg_database.url, catalog_schema=SCHEMA, claim_ahead_s=0
    )
    db = Db(psycopg.connect(pg_database.dsn, autocommit=True))
    try:
        await h.sql(f"CREATE WAREHOUSE wh TYPE = postgres URL = '{pg_database.url}'")
        yield h, db
    finally:
        db.conn.close()
        await h.engine.close()


async def create_task(h: Harness, body: str, extra: str = "") -> None:
    await h.sql(f"CREATE TASK t WAREHOUSE = wh SCHEDULE = '1 SECOND' {extra} AS {body}; ALTER TASK t RESUME")
    await h.scheduler.reload()


async def test_a_body_and_its_outcome_commit_in_one_transaction(setup: tuple[Harness, Db]) -> None:
    h, db = setup
    await h.sql(
        "CREATE NOTIFICATION INTEGRATION hook TYPE = WEBHOOK ENABLED = TRUE"
        " WEBHOOK = (url = 'http://127.0.0.1:9/hook', method = 'POST')"
    )
    await create_task(h, BODY, "SUCCESS_INTEGRATION = hook")
    await h.tick(advance=1)
    await h.tick(advance=1)
    runs, hits = db.runs(), db.hits()
    assert [(r[1], r[2]) for r in runs] == [("SUCCEEDED", None)] * 2
    # each body's row and its run's SUCCEEDED row were written by the same transaction
    assert {r[0]: r[3] for r in runs} == hits
    # rows and times are those of the body
    [row] = db.rows(f"SELECT rows_inserted, completed_time >= query_start_time FROM {SCHEMA}.runs LIMIT 1")
    assert row == (1, True)
    # the scheduler did not write the outcome again, and queued the success notification once each
    messages = await h.engine.catalog.list_notifications()
    assert sorted(m.event_type for m in messages) == ["TASK_SUCCEEDED", "TASK_SUCCEEDED"]
    # a later outcome write of the scheduler's (finish_run, settle_later) changes nothing
    run_id = runs[0][0]
    late = RunOutcome(run_id=run_id, state=RunState.FAILED, completed_time=h.clock.now(), error_code="X")
    assert await h.engine.catalog.finish_run(late, None) is False
    assert await h.engine.catalog.settle_later(late) is False
    assert db.runs() == runs
    # the probe that told the warehouse holds the catalog left no setting behind
    assert db.rows(f"SELECT key FROM {SCHEMA}.settings WHERE key LIKE 'same_database_probe_%'") == []


async def test_a_fenced_body_whose_lease_was_lost_commits_neither_effects_nor_outcome(
    setup: tuple[Harness, Db], pg_database: PgDatabase
) -> None:
    h, db = setup
    # the body waits on a lock the test holds, after its INSERT: the lease is lost meanwhile
    await create_task(h, f"BEGIN {BODY}; SELECT pg_advisory_xact_lock(4242); END")
    member = await h.scheduler.join_cluster(monotonic=Monotonic())
    assert member.fence is not None
    with psycopg.connect(pg_database.dsn, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(4242)")
        tick = asyncio.create_task(h.tick(advance=1))
        await wait_until(lambda: waiting_on(db, "advisory"), what="the body to wait for the lock")
        db.conn.execute(
            f"UPDATE {SCHEMA}.nodes SET lease_until = clock_timestamp() - interval '1 second'"
            " WHERE node_id = 'test-node'"
        )
        holder.execute("SELECT pg_advisory_unlock(4242)")
        await asyncio.wait_for(tick, 30)
    # no effect, and no outcome: the body's transaction was rolled back, and the FAILED outcome the
    # node wrote after it was refused by the fence as well
    assert db.hits() == {}
    [(_, state, _, _)] = db.runs()
    assert state == "EXECUTING"
    assert h.scheduler.runs.refused_mark == 1


async def test_a_member_holding_its_lease_commits_both(setup: tuple[Harness, Db]) -> None:
    h, db = setup
    await create_task(h, BODY)
    await h.scheduler.join_cluster(monotonic=Monotonic())
    await h.tick(advance=1)
    [(run_id, state, _, xmin)] = db.runs()
    assert state == "SUCCEEDED" and db.hits() == {run_id: xmin}
    assert h.scheduler.runs.refused_mark == 0  # the scheduler wrote nothing that was refused


async def test_a_body_that_cannot_run_in_a_transaction_keeps_to_the_normal_path(
    setup: tuple[Harness, Db],
) -> None:
    h, db = setup
    await create_task(h, "VACUUM public.hits")
    await h.tick(advance=1)
    # VACUUM cannot run inside a transaction block: it ran on its own, its outcome written after it
    assert [(r[1], r[2]) for r in db.runs()] == [("SUCCEEDED", None)]


async def test_a_warehouse_in_another_database_writes_a_completion_marker(
    tmp_path: Path, pg_server: PgServer
) -> None:
    with pg_server.database() as catalog_db, pg_server.database() as other:
        with psycopg.connect(other.dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE public.hits (run_id bigint)")
        h = await make_harness(
            tmp_path / "data", catalog_url=catalog_db.url, catalog_schema=SCHEMA, claim_ahead_s=0
        )
        try:
            await h.sql(f"CREATE WAREHOUSE wh TYPE = postgres URL = '{other.url}'")
            await create_task(h, BODY)
            await h.tick(advance=1)
            [(state,)] = (await h.sql("SELECT state FROM task_history('t')")).rows
            assert state == "SUCCEEDED"
            with psycopg.connect(other.dsn, autocommit=True) as conn:
                [(markers,)] = conn.execute("SELECT count(*) FROM tasksql_markers.run_markers").fetchall()
            assert markers == 1
        finally:
            await h.engine.close()


def waiting_on(db: Db, event: str) -> bool:
    # a member's settling body carries its node's catalog label (tasksql-catalog/...) meanwhile
    return bool(
        db.rows(
            f"SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'tasksql%' AND wait_event = '{event}'"
        )
    )


async def wait_until(probe: Callable[[], bool], *, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
