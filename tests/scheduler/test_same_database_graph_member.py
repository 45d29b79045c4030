"""A graph run on a cluster member whose members' PostgreSQL warehouse is the catalog's own database:
each member's body records its run's outcome in its own transaction, so the graph step's write of
that outcome changes nothing, and that is not a refusal: the step goes on (the next member starts)
and the graph run ends SUCCEEDED. A member's step is written all or nothing on its outcome only
where the scheduler writes the outcome itself (see ``test_graph_member_refused.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sched_harness import Harness, make_harness

from pgserver import PgDatabase

SCHEMA = "tasksql"
BODY = "INSERT INTO public.hits SELECT SYSTEM$TASK_RUNTIME_INFO('CURRENT_RUN_ID')"


class Monotonic:
    """The node's own clock for its lease deadline: it stands still, so the node may always fire."""

    def __call__(self) -> float:
        return 1000.0


@pytest.fixture
async def setup(
    tmp_path: Path, pg_database: PgDatabase
) -> AsyncIterator[tuple[Harness, psycopg.Connection[tuple[Any, ...]]]]:
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.hits (run_id bigint)")
    h = await make_harness(
        tmp_path / "data", catalog_url=pg_database.url, catalog_schema=SCHEMA, claim_ahead_s=0
    )
    db = psycopg.connect(pg_database.dsn, autocommit=True)
    try:
        await h.sql(f"CREATE WAREHOUSE wh TYPE = postgres URL = '{pg_database.url}'")
        yield h, db
    finally:
        db.close()
        await h.engine.close()


async def test_a_graph_whose_bodies_record_their_outcomes_goes_on_under_the_fence(
    setup: tuple[Harness, psycopg.Connection[tuple[Any, ...]]],
) -> None:
    h, db = setup
    await h.sql(f"CREATE TASK r WAREHOUSE = wh SCHEDULE = '10 SECONDS' AS {BODY}")
    await h.sql(f"CREATE TASK c WAREHOUSE = wh AFTER r AS {BODY}")
    await h.sql("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('r')")
    await h.scheduler.reload()
    member = await h.scheduler.join_cluster(monotonic=Monotonic())
    assert member.fence is not None

    await h.tick(advance=10)

    runs = db.execute(f"SELECT name, state, run_id, xmin::text FROM {SCHEMA}.runs ORDER BY run_id").fetchall()
    assert [(name, state) for name, state, _, _ in runs] == [("r", "SUCCEEDED"), ("c", "SUCCEEDED")]
    # each outcome committed with its body (same transaction), not written by the scheduler
    hits = dict(db.execute("SELECT run_id, xmin::text FROM public.hits").fetchall())
    assert {run_id: xmin for _, _, run_id, xmin in runs} == hits
    graphs = db.execute(f"SELECT state, first_error_code FROM {SCHEMA}.graph_runs").fetchall()
    assert graphs == [("SUCCEEDED", None)]
    assert h.scheduler.runs.refused_mark == 0
