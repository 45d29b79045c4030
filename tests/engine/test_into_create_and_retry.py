"""INTO another warehouse, on real databases: ``CREATE IF NOT EXISTS`` (parsed, printed back, the
table created with the mapped types), what a failure or a cancel halfway leaves (a transactional
target as it was; on ClickHouse the rows of the failed attempt, replaced by the retry of the same
run), clear errors at CREATE (a warehouse that does not exist) and at run (a value the target's
column cannot hold)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from clickhouseserver import ClickHouseDatabase
from mariadbserver import MariaDBDatabase
from pgserver import PgDatabase
from tasksql.engine import Engine, Result
from tasksql.errors import QueryCancelled, QueryFailed, RunFailed, ValidationError
from tasksql.scheduler import cross_into
from tasksql.scheduler.cross_into import run_into_other
from tasksql.settings import Settings
from tasksql.warehouses.base import CancelToken


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


async def one(engine: Engine, sql: str) -> Result:
    return (await engine.execute(sql))[-1]


def pg(db: PgDatabase, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(db.url, autocommit=True) as conn:
        cur = conn.execute(sql)
        return list(cur.fetchall()) if cur.description else []


async def test_create_if_not_exists_reads_back_and_creates_the_table_in_postgres(
    engine: Engine, pg_database: PgDatabase
) -> None:
    await engine.execute(f"CREATE WAREHOUSE pgw TYPE = postgres URL = '{pg_database.url}'")
    created = await one(
        engine,
        "CREATE TASK copy INTO pgw.public.made CREATE IF NOT EXISTS AS"
        " SELECT i AS id, i * 1.5 AS amount, TIMESTAMP '2026-01-01 10:00:00' AS ts, 'n' || i AS note,"
        " i % 2 = 0 AS even FROM range(3) t(i)",
    )
    assert created.notices[0] == (
        "task copy: INTO table public.made does not exist in warehouse pgw yet; its first run creates it"
    )
    shown = (await one(engine, "SHOW CREATE TASK copy")).rows[0][-1]
    assert "INTO pgw.public.made\n  CREATE IF NOT EXISTS\n" in shown
    await engine.execute("DROP TASK copy")
    await engine.execute(shown)  # the canonical text creates the same task
    assert (await one(engine, "SHOW CREATE TASK copy")).rows[0][-1] == shown
    await engine.execute("EXECUTE TASK copy")
    types = pg(
        pg_database,
        "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns"
        " WHERE table_name = 'made' ORDER BY ordinal_position",
    )
    assert types == [
        ("id", "bigint", 64, 0),
        ("amount", "numeric", 38, 1),  # DuckDB's DECIMAL(21,1), widened: later rows may need more
        ("ts", "timestamp without time zone", None, None),
        ("note", "text", None, None),
        ("even", "boolean", None, None),
    ]
    assert pg(pg_database, "SELECT id, note, even FROM made ORDER BY id") == [
        (0, "n0", True),
        (1, "n1", False),
        (2, "n2", True),
    ]
    await engine.execute("EXECUTE TASK copy")  # exists now: appended to
    assert pg(pg_database, "SELECT count(*) FROM made") == [(6,)]


async def test_create_if_not_exists_in_mariadb_commits_nothing_early(
    engine: Engine, mariadb_database: MariaDBDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MySQL commits at CREATE TABLE: the table is created before the rows' transaction, so a
    # failure after some batches still leaves no rows
    monkeypatch.setattr(cross_into, "BATCH_ROWS", 1000)
    await engine.execute(f"CREATE WAREHOUSE shop TYPE = mysql URL = '{mariadb_database.url}'")
    await engine.execute(
        "CREATE TASK ship INTO shop.made CREATE IF NOT EXISTS AS SELECT i AS id,"
        " CASE WHEN i >= 90000 THEN error('source failed') ELSE 'n' || i END AS note FROM range(100000) t(i)"
    )
    with pytest.raises(RunFailed) as info:
        await engine.execute("EXECUTE TASK ship")
    assert "source failed" in info.value.message
    with contextlib.closing(mariadb_database.connect()) as conn, conn.cursor() as cur:
        cur.execute("SELECT column_name, column_type FROM information_schema.columns"
                    " WHERE table_name = 'made' AND table_schema = DATABASE() ORDER BY ordinal_position")  # fmt: skip
        assert list(cur.fetchall()) == [("id", "bigint(20)"), ("note", "longtext")]
        cur.execute("SELECT count(*) FROM made")
        assert cur.fetchall()[0][0] == 0


async def test_a_cancel_halfway_leaves_a_postgres_target_as_it_was(
    engine: Engine, pg_database: PgDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cross_into, "BATCH_ROWS", 2000)
    pg(pg_database, "CREATE TABLE t (id bigint)")
    pg(pg_database, "INSERT INTO t VALUES (-1)")
    await engine.execute(f"CREATE WAREHOUSE pgw TYPE = postgres URL = '{pg_database.url}'")
    source, target = await engine.warehouse("default"), await engine.warehouse("pgw")
    token = CancelToken()
    move = asyncio.ensure_future(
        run_into_other(
            source, target, "t", ["SELECT i AS id FROM range(5000000) r(i)"], transactional=False,
            session_params=[], tables={}, remaining=lambda: 120.0, token=token,
        )
    )  # fmt: skip
    # halfway: the target's transaction holds written batches (seen as its last INSERT, not committed)
    written = (
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'INSERT INTO%t%' AND state LIKE 'idle in%'"
    )
    while not move.done() and pg(pg_database, written) == [(0,)]:
        await asyncio.sleep(0.01)
    assert not move.done(), "the move ended before it could be cancelled halfway"
    token.cancel("stop halfway")
    with pytest.raises(QueryCancelled):
        await move
    assert pg(pg_database, "SELECT id FROM t") == [(-1,)]


async def test_a_failed_attempt_on_clickhouse_is_replaced_by_its_retry(
    engine: Engine, ch_database: ClickHouseDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cross_into, "BATCH_ROWS", 1000)
    await engine.execute(f"CREATE WAREHOUSE events TYPE = clickhouse URL = '{ch_database.url}'")
    await engine.execute("CREATE TABLE ctl (fail BOOLEAN)")
    await engine.execute("INSERT INTO ctl VALUES (TRUE)")
    source, target = await engine.warehouse("default"), await engine.warehouse("events")
    body = [
        "SELECT i AS id, CASE WHEN i >= 90000 AND (SELECT fail FROM ctl) THEN error('source failed')"
        " ELSE 'n' || i END AS note FROM range(100000) t(i)"
    ]

    async def attempt() -> object:
        return await run_into_other(
            source, target, f"{ch_database.name}.hits", body, transactional=False, session_params=[],
            tables={}, remaining=lambda: 120.0, token=CancelToken(), run_key="7@2026-01-01T00:00:00+00:00",
            create=True,
        )  # fmt: skip

    with pytest.raises(QueryFailed) as info:
        await attempt()
    assert "source failed" in info.value.message
    client = ch_database.client()
    left = client.execute("SELECT count(), uniqExact(tasksql_run) FROM hits")[0]
    assert 0 < left[0] < 100000 and left[1] == 1  # no transactions: the batches written stay
    await engine.execute("UPDATE ctl SET fail = FALSE")
    await attempt()  # the retry: same run key
    assert client.execute("SELECT count(), uniqExact(id) FROM hits") == [(100000, 100000)]
    created = client.execute(f"SHOW CREATE TABLE {ch_database.name}.hits")[0][0]
    assert "tasksql_run String" in created and "Nullable(Int64)" in created
    # another run (another key) appends
    await run_into_other(
        source, target, f"{ch_database.name}.hits", body, transactional=False, session_params=[],
        tables={}, remaining=lambda: 120.0, token=CancelToken(), run_key="7@2026-01-01T00:01:00+00:00",
    )  # fmt: skip
    assert client.execute("SELECT count() FROM hits") == [(200000,)]


async def test_a_warehouse_that_does_not_exist_is_an_error_at_create(engine: Engine) -> None:
    with pytest.raises(ValidationError) as info:
        await engine.execute("CREATE TASK lost INTO nowhere.public.t AS SELECT 1 AS a")
    assert info.value.code == "INTO_WAREHOUSE_NOT_FOUND"
    assert "there is no warehouse nowhere (warehouses: default)" in info.value.message
    with pytest.raises(ValidationError) as info:
        await engine.execute("CREATE TASK mine INTO t CREATE IF NOT EXISTS AS SELECT 1 AS a")
    assert info.value.code == "INTO_CREATE_LOCAL"
    with pytest.raises(ValidationError) as info:
        await engine.execute("CREATE TASK bare CREATE IF NOT EXISTS AS SELECT 1 AS a")
    assert info.value.code == "INTO_CREATE_WITHOUT_INTO"
    assert "(line 1, column 18)" in str(info.value)
    assert (await one(engine, "SHOW TASKS")).rows == []


async def test_a_value_the_target_column_cannot_hold_is_a_clear_run_error(
    engine: Engine, pg_database: PgDatabase
) -> None:
    pg(pg_database, "CREATE TABLE nums (id integer, n integer)")
    await engine.execute(f"CREATE WAREHOUSE pgw TYPE = postgres URL = '{pg_database.url}'")
    await engine.execute("CREATE TASK bad INTO pgw.nums AS SELECT 1 AS id, 'many' AS n")
    with pytest.raises(RunFailed) as info:
        await engine.execute("EXECUTE TASK bad")
    assert (
        "INTO nums in warehouse pgw: the table refused rows 1 to 1 (id int32, n string):"
        in info.value.message
    )
    assert pg(pg_database, "SELECT count(*) FROM nums") == [(0,)]


async def test_unset_into_leaves_a_definition_that_reads_back(
    engine: Engine, pg_database: PgDatabase
) -> None:
    await engine.execute(f"CREATE WAREHOUSE pgw TYPE = postgres URL = '{pg_database.url}'")
    await engine.execute("CREATE TASK t INTO pgw.public.made CREATE IF NOT EXISTS AS SELECT 1 AS a")
    await engine.execute("ALTER TASK t UNSET INTO")
    shown = (await one(engine, "SHOW CREATE TASK t")).rows[0][-1]
    assert "INTO" not in shown and "CREATE IF NOT EXISTS" not in shown
    await engine.execute("DROP TASK t")
    await engine.execute(shown)
