"""Completion markers on PostgreSQL: the privileges they need, and what a login without them gets."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
from psycopg import sql

from pgserver import PgDatabase
from tasksql.testing import FakeClock
from tasksql.warehouses.base import Marker
from tasksql.warehouses.postgres import PostgresWarehouse

pytestmark = pytest.mark.postgres

CLOCK = FakeClock("2026-03-01T12:00:00+00:00")


def marker(run_id: int) -> Marker:
    return Marker(scope="cat1", run_id=run_id, clock=CLOCK)


@pytest.fixture
def weak_login(pg_database: PgDatabase) -> Iterator[str]:
    """A login that may create tables in ``public`` but not schemas in the database."""
    role = f"weak_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT ALL ON SCHEMA public TO {}").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("REVOKE CREATE ON DATABASE {} FROM PUBLIC").format(sql.Identifier(pg_database.name))
        )
        conn.execute("CREATE TABLE public.t (x integer)")
        conn.execute(sql.SQL("GRANT ALL ON public.t TO {}").format(sql.Identifier(role)))
    yield f"postgresql://{role}@{pg_database.host}:{pg_database.port}/{pg_database.name}"


@pytest.fixture
async def weak(weak_login: str) -> AsyncIterator[PostgresWarehouse]:
    w = PostgresWarehouse("weak", weak_login, max_concurrency=2)
    await w.open()
    yield w
    await w.close()


async def test_without_the_privilege_bodies_run_without_markers_and_say_so_once(
    weak: PostgresWarehouse, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tasksql.warehouses"):
        for run_id in (1, 2):
            result = await weak.run_body(
                ["INSERT INTO t VALUES (1)"], transactional=False, marker=marker(run_id)
            )
            assert not result.marked
    assert (await weak.execute("SELECT count(*) FROM t")).rows == [(2,)]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "warehouse weak: task bodies run without completion markers (at least once)" in warnings[0]
    assert await weak.find_markers("cat1", [1, 2]) == {}


async def test_a_schema_made_by_an_administrator_is_enough(pg_database: PgDatabase, weak_login: str) -> None:
    role = weak_login.split("://", 1)[1].split("@", 1)[0]
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA tasksql_markers AUTHORIZATION {}").format(sql.Identifier(role)))
    w = PostgresWarehouse("weak", weak_login, max_concurrency=1)
    await w.open()
    try:
        result = await w.run_body(["INSERT INTO t VALUES (1)"], transactional=False, marker=marker(5))
        assert result.marked and w.markers_off is None
        assert list(await w.find_markers("cat1", [5])) == [5]
    finally:
        await w.close()


async def test_a_marker_table_of_another_login_that_this_one_cannot_use(
    pg_database: PgDatabase, weak_login: str
) -> None:
    admin = PostgresWarehouse("admin", pg_database.url, max_concurrency=1)
    await admin.open()
    try:
        assert (await admin.run_body(["SELECT 1"], transactional=False, marker=marker(1))).marked
    finally:
        await admin.close()
    w = PostgresWarehouse("weak", weak_login, max_concurrency=1)
    await w.open()
    try:  # the table exists, but belongs to the administrator: no markers, and the body still runs
        result = await w.run_body(["INSERT INTO t VALUES (1)"], transactional=False, marker=marker(2))
        assert not result.marked and w.markers_off is not None
        assert (await w.execute("SELECT count(*) FROM t")).rows == [(1,)]
    finally:
        await w.close()
