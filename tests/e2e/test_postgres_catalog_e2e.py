"""The whole engine and scheduler on a PostgreSQL catalog: a task created through
``tasksql.connect(..., catalog_url=...)`` runs on schedule, and its history is plain rows in the
catalog's schema that any PostgreSQL client can read."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

import tasksql
from pgserver import PgServer

pytestmark = pytest.mark.postgres


def test_a_scheduled_task_runs_and_its_history_is_in_postgresql(pg_server: PgServer, tmp_path: Path) -> None:
    schema = f"e2e_{uuid.uuid4().hex[:8]}"
    runs = sql.SQL(
        "SELECT name, state, scheduled_time FROM {}.runs WHERE state = 'SUCCEEDED' ORDER BY scheduled_time"
    ).format(sql.Identifier(schema))

    with tasksql.connect(tmp_path / "data", catalog_url=pg_server.url, catalog_schema=schema) as con:
        con.sql("CREATE TABLE ticks (ts TIMESTAMP)")
        con.sql("CREATE TASK tick SCHEDULE = '1 SECOND' AS INSERT INTO ticks SELECT now()")
        con.sql("ALTER TASK tick RESUME")
        con.start()
        with psycopg.connect(pg_server.dsn, autocommit=True) as pg:
            deadline = time.monotonic() + 20
            while len(rows := pg.execute(runs).fetchall()) < 2:
                assert time.monotonic() < deadline, f"2 SUCCEEDED runs expected, history has {rows}"
                time.sleep(0.1)
        con.stop()

    assert [(name, state) for name, state, _ in rows[:2]] == [("tick", "SUCCEEDED")] * 2
    assert rows[1][2] > rows[0][2]
    assert not (tmp_path / "data" / "catalog.db").exists()  # the catalog is in PostgreSQL only
