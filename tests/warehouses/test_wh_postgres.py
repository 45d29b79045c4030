"""PostgreSQL specifics: secrets in URLs, the statement_timeout backstop, and the test server itself."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator

import psycopg
import pytest

from pgserver import PgDatabase, PgServer, free_port
from tasksql.errors import WarehouseError
from tasksql.warehouses.postgres import PostgresWarehouse

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg(pg_database: PgDatabase) -> AsyncIterator[PostgresWarehouse]:
    w = PostgresWarehouse("pg", pg_database.url, max_concurrency=2)
    await w.open()
    yield w
    await w.close()


async def test_a_password_never_appears_in_errors() -> None:
    w = PostgresWarehouse("remote", f"postgresql://bob:Sup3rS3cret@127.0.0.1:{free_port()}/app")
    with pytest.raises(WarehouseError) as info:
        await w.open()
    text = str(info.value) + info.value.render()
    assert "Sup3rS3cret" not in text
    assert "postgresql://bob:***@127.0.0.1" in text


async def test_a_wrong_password_is_reported_without_it(pg_server: PgServer) -> None:
    # The test server trusts everyone; a database that does not exist still makes the login fail.
    w = PostgresWarehouse("remote", f"postgresql://postgres:Sup3rS3cret@127.0.0.1:{pg_server.port}/nope")
    with pytest.raises(WarehouseError) as info:
        await w.open()
    assert "Sup3rS3cret" not in str(info.value)
    assert "nope" in str(info.value)


async def test_an_invalid_url() -> None:
    w = PostgresWarehouse("bad", "postgresql://bob:pw@host:notaport/db?nonsense_option=1")
    with pytest.raises(WarehouseError) as info:
        await w.open()
    assert info.value.code == "INVALID_URL"
    assert "pw@" not in str(info.value)


@pytest.mark.parametrize("transactional", [True, False])
async def test_statement_timeout_backstop_is_scoped_to_the_call(
    pg: PostgresWarehouse, transactional: bool
) -> None:
    result = await pg.run_body(
        ["SELECT 1", "SELECT current_setting('statement_timeout')"], transactional=transactional, timeout=10
    )
    assert result.last is not None and result.last.rows == [("13s",)]  # 10 s + grace + 1 s
    for _ in range(3):
        assert (await pg.execute("SHOW statement_timeout")).rows == [("0",)]


async def test_dollar_quoted_text_is_one_statement(pg: PostgresWarehouse) -> None:
    assert (await pg.execute("SELECT $$a; b$$ AS s;")).rows == [("a; b",)]
    await pg.execute("CREATE FUNCTION two() RETURNS int LANGUAGE sql AS $f$ SELECT 1; SELECT 2; $f$")
    assert (await pg.execute("SELECT two()")).rows == [(2,)]


async def test_the_pool_stays_within_max_concurrency(pg: PostgresWarehouse, pg_database: PgDatabase) -> None:
    import asyncio

    await asyncio.gather(*(pg.execute("SELECT pg_sleep(0.05)") for _ in range(10)))
    with psycopg.connect(pg_database.dsn) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = 'tasksql'"
        ).fetchone() or (0,)
    assert 1 <= count <= 2


def test_server_databases_are_separate_and_dropped_even_when_in_use(pg_server: PgServer) -> None:
    a, b = pg_server.new_database(), pg_server.new_database()
    assert a.name != b.name
    with psycopg.connect(a.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE only_in_a (x int)")
        with psycopg.connect(b.dsn) as other:
            assert other.execute("SELECT to_regclass('only_in_a')").fetchone() == (None,)
        pg_server.drop_database(a.name)  # while this connection is still open
    pg_server.drop_database(b.name)
    with psycopg.connect(pg_server.dsn) as conn:
        names = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
    assert a.name not in names and b.name not in names


def test_server_is_reachable_from_another_process(pg_database: PgDatabase) -> None:
    code = (
        f"import psycopg; print(psycopg.connect({pg_database.url!r}).execute('SELECT 40 + 2').fetchone()[0])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "42"


async def test_timeouts_cancel_from_the_kept_connection_and_survive_losing_it(
    pg: PostgresWarehouse, pg_database: PgDatabase
) -> None:
    from tasksql.errors import QueryTimeout
    from tasksql.warehouses.postgres import CANCEL_APPLICATION_NAME

    def cancel_connections() -> list[tuple[int]]:
        with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
            return conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
                (CANCEL_APPLICATION_NAME,),
            ).fetchall()

    def sleeping() -> int:
        with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(3600)' AND state = 'active'"
            ).fetchone()
            return int(row[0]) if row else -1

    [(kept,)] = cancel_connections()  # opened with the warehouse, ready before the first timeout
    for round_ in range(3):
        if round_ == 1:  # the kept connection is lost: the next cancel falls back, then a new one is kept
            with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
                conn.execute("SELECT pg_terminate_backend(%s)", (kept,))
        with pytest.raises(QueryTimeout):
            await pg.execute("SELECT pg_sleep(3600)", timeout=0.3)
        assert sleeping() == 0
    assert len(cancel_connections()) == 1 and cancel_connections() != [(kept,)]
