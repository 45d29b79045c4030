"""``tasksql serve`` killed with -9 around the commit of a body whose warehouse is the catalog's own
PostgreSQL database: the body's effects and its run's SUCCEEDED outcome are both there or neither.

* Killed while the body's transaction waits to write the run's outcome (the test holds the run's
  row): neither the body's row nor the outcome; the next node settles the run NODE_LOST (the body
  left no effect to find).
* Killed after the body's transaction committed, while the node's own bookkeeping that follows
  (the success notification) waits: the body's row and the SUCCEEDED outcome both, written by one
  transaction; the next node leaves the run as it is and does not run the instant again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from serve_support import ServerProcess, sql, wait_for

from pgserver import PgDatabase

pytestmark = pytest.mark.timeout(180)

BODY = (
    "BEGIN INSERT INTO public.hits SELECT SYSTEM$TASK_RUNTIME_INFO('CURRENT_RUN_ID'),"
    " SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_SCHEDULED_TIME'); SELECT pg_advisory_xact_lock(4242); END"
)


class Db:
    def __init__(self, dsn: str) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True)

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        return self.conn.execute(query).fetchall()  # type: ignore[arg-type]

    def runs(self) -> dict[int, tuple[str, str | None, str]]:
        """run id -> (state, error code, xmin of its row)."""
        rows = self.rows("SELECT run_id, state, error_code, xmin::text FROM tasksql.runs")
        return {int(r[0]): (r[1], r[2], r[3]) for r in rows}

    def hits(self) -> dict[int, str]:
        """run id -> xmin of the body's row."""
        return {int(r[0]): r[1] for r in self.rows("SELECT run_id, xmin::text FROM public.hits")}

    def waiting(self, app: str, event_type: str, query: str) -> bool:
        """A backend of ``app`` waits (``event_type``) in a statement that starts with ``query``;
        ``app`` is a prefix: a member's settling body carries its node's catalog label, which
        starts with it, for the length of its transaction."""
        return bool(
            self.rows(
                f"SELECT 1 FROM pg_stat_activity WHERE application_name LIKE '{app}%'"
                f" AND wait_event_type = '{event_type}' AND query ILIKE '{query}%'"
            )
        )

    def sessions(self, app: str) -> int:
        """Backends whose ``application_name`` starts with ``app``."""
        return int(
            self.rows(f"SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE '{app}%'")[0][0]
        )


def test_a_killed_node_leaves_a_body_and_its_outcome_both_or_neither(
    tmp_path: Path, pg_database: PgDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKSQL_CATALOG", pg_database.url)
    monkeypatch.setenv("TASKSQL_CATALOG_SCHEMA", "tasksql")
    db = Db(pg_database.dsn)
    db.conn.execute("CREATE TABLE public.hits (run_id bigint, instant text)")
    admin = tmp_path / "admin"
    sql(
        admin,
        f"CREATE WAREHOUSE wh TYPE = postgres URL = '{pg_database.url}';"
        " CREATE NOTIFICATION INTEGRATION hook TYPE = WEBHOOK ENABLED = TRUE"
        " WEBHOOK = (url = 'http://127.0.0.1:9/hook', method = 'POST');"
        f" CREATE TASK t WAREHOUSE = wh SCHEDULE = '1 SECOND' SUCCESS_INTEGRATION = hook AS {BODY};",
    )

    # 1. killed while the outcome's write waits: neither
    holder = psycopg.connect(pg_database.dsn, autocommit=True)
    holder.execute("SELECT pg_advisory_lock(4242)")
    first = ServerProcess(tmp_path / "n1", TASKSQL_NODE_ID="n1")
    sql(admin, "ALTER TASK t RESUME")
    wait_for(
        lambda: db.waiting("tasksql", "Lock", "SELECT pg_advisory"), timeout=30, what="a body at its lock"
    )
    [run_id] = [r for r, (state, _, _) in db.runs().items() if state == "EXECUTING"]
    # (pg_stat_activity is read once per transaction: the locks are held on another connection)
    locker = psycopg.connect(pg_database.dsn, autocommit=True)
    with locker.transaction():
        locker.execute(f"SELECT 1 FROM tasksql.runs WHERE run_id = {run_id} FOR UPDATE")
        holder.execute("SELECT pg_advisory_unlock(4242)")
        wait_for(
            lambda: db.waiting("tasksql", "Lock", "UPDATE"), timeout=60, what="the outcome's write to wait"
        )
        first.kill()
    holder.close()
    wait_for(lambda: db.sessions("tasksql") == 0, timeout=30, what="the killed node's sessions to end")
    assert run_id not in db.hits()
    assert db.runs()[run_id][0] == "EXECUTING"

    # 2. killed after the body committed, before the node's bookkeeping that follows it (its success
    #    notification, held back by a lock on the outbox): both
    holder = psycopg.connect(pg_database.dsn, autocommit=True)
    holder.execute("SELECT pg_advisory_lock(4242)")
    second = ServerProcess(tmp_path / "n2", TASKSQL_NODE_ID="n2")
    wait_for(lambda: db.runs()[run_id][0] != "EXECUTING", timeout=30, what="n1's run to be settled")
    wait_for(
        lambda: db.waiting("tasksql", "Lock", "SELECT pg_advisory"), timeout=30, what="n2's body at its lock"
    )
    with locker.transaction():
        locker.execute("LOCK TABLE tasksql.notification_outbox IN EXCLUSIVE MODE")
        holder.execute("SELECT pg_advisory_unlock(4242)")
        wait_for(
            lambda: [r for r, (state, _, _) in db.runs().items() if state == "SUCCEEDED"],
            timeout=60,
            what="n2's body to commit",
        )
        second.kill()
    holder.close()
    assert db.rows("SELECT count(*) FROM tasksql.notification_outbox") == [(0,)]  # killed before it
    assert db.runs()[run_id][:2] == ("FAILED", "NODE_LOST")  # n1's run left no effect, as it says
    succeeded = {r: xmin for r, (state, _, xmin) in db.runs().items() if state == "SUCCEEDED"}
    # at least n2's first run; a later instant may have run and committed too while the node's
    # bookkeeping waited (claimed starts do not wait for the catalog's writer)
    assert len(succeeded) >= 1
    assert db.hits() == succeeded  # the committed body has its outcome, written by the same transaction

    # the next node leaves those runs as they are and runs none of their instants again
    third = ServerProcess(tmp_path / "n3", TASKSQL_NODE_ID="n3")
    try:
        wait_for(
            lambda: (
                # n3 holds a claim of its next instant (SCHEDULED) at any time: the dead nodes' runs
                not db.rows(
                    "SELECT 1 FROM tasksql.runs WHERE node_id IN ('n1', 'n2')"
                    " AND state IN ('SCHEDULED', 'EXECUTING')"
                )
                and len(db.hits()) > len(succeeded)
            ),
            timeout=30,
            what="n2's runs to be settled and n3 to run the task",
        )
    finally:
        third.stop()
    runs = db.runs()
    assert {r: runs[r][2] for r in succeeded} == succeeded  # rows untouched since their commit
    instants = [i for (i,) in db.rows("SELECT instant FROM public.hits")]
    assert len(instants) == len(set(instants))
    done = {r: xmin for r, (state, _, xmin) in runs.items() if state == "SUCCEEDED"}
    assert db.hits() == done
