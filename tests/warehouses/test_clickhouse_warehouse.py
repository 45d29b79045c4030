"""The warehouse contract on a real ClickHouse server started by the tests (Debian's
``clickhouse-server``, see ``tests/clickhouseserver.py``): statements with types, bodies (no
transactions: what stays after a failure), INTO, session parameters, extra relations, timeouts and
cancellation that stop the query in the server (KILL QUERY by query id), the backstop, and one-line
errors that never show the password."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from clickhouseserver import ClickHouseDatabase, ClickHouseServer
from tasksql.errors import NotSupportedError, QueryCancelled, QueryFailed, QueryTimeout, WarehouseError
from tasksql.warehouses.base import CancelToken, ResultSet
from tasksql.warehouses.clickhouse import ClickHouseWarehouse

from .support import until

#: Runs until interrupted (reads numbers for ever).
SLOW = "SELECT count() FROM system.numbers WHERE number % 7 = 8"


@pytest.fixture
async def warehouse(ch_database: ClickHouseDatabase) -> AsyncIterator[ClickHouseWarehouse]:
    w = ClickHouseWarehouse("events", ch_database.url, max_concurrency=3)
    await w.open()
    yield w
    await w.close()


def running(server: ClickHouseServer, text: str) -> list[str]:
    """The query ids of the server's running statements whose text holds ``text``."""
    rows = server.run(
        f"SELECT query_id FROM system.processes WHERE query LIKE '%{text}%' AND query NOT LIKE '%system.processes%'"
    )
    return [r[0] for r in rows]


# --- statements ----------------------------------------------------------------------------------


async def test_execute_returns_columns_rows_and_types(warehouse: ClickHouseWarehouse) -> None:
    assert warehouse.server_version
    await warehouse.execute(
        "CREATE TABLE t (a Int32, b String, d Nullable(Decimal(5, 2)), ts DateTime) ENGINE = MergeTree ORDER BY a"
    )
    assert (
        await warehouse.execute(
            "INSERT INTO t VALUES (1, 'x', 1.50, '2026-01-01 00:00:00'), (2, 'y', NULL, '2026-01-02 00:00:00')"
        )
    ).columns == ()
    rs = await warehouse.execute("SELECT a, b AS label, d, ts FROM t ORDER BY a;")
    assert rs == ResultSet(
        columns=("a", "label", "d", "ts"),
        rows=[(1, "x", Decimal("1.50"), datetime(2026, 1, 1)), (2, "y", None, datetime(2026, 1, 2))],
    )
    assert rs.types == ("Int32", "String", "Nullable(Decimal(5, 2))", "DateTime")
    empty = await warehouse.execute("SELECT a, b FROM t WHERE a > 5")
    assert empty.columns == ("a", "b") and empty.rows == [] and empty.types == ("Int32", "String")


async def test_values_round_trip_through_a_relation_a_body_reads(warehouse: ClickHouseWarehouse) -> None:
    """Text with tabs, newlines, backslashes and quotes, dates, times, floats and NULLs are sent as
    the rows of a relation and come back unchanged (over HTTP they travel as TabSeparated text)."""
    texts = ["a\tb", "line\nnext", "back\\slash \\N", 'it\'s "q"', "", None]
    rel = pa.table(
        {
            "n": pa.array([1, 2, 3, 4, 5, 6], pa.int64()),
            "s": texts,
            "d": [date(2026, 1, 2)] * 5 + [None],
            "ts": [datetime(2026, 1, 2, 3, 4, 5)] * 5 + [None],
            "f": [1.5, -2.25, None, 0.0, 1e10, 3.0],
        }
    )
    rs = await warehouse.execute("SELECT n, s, d, ts, f FROM rel ORDER BY n", tables={"rel": rel})
    assert rs.rows == [
        (1, "a\tb", date(2026, 1, 2), datetime(2026, 1, 2, 3, 4, 5), 1.5),
        (2, "line\nnext", date(2026, 1, 2), datetime(2026, 1, 2, 3, 4, 5), -2.25),
        (3, "back\\slash \\N", date(2026, 1, 2), datetime(2026, 1, 2, 3, 4, 5), None),
        (4, 'it\'s "q"', date(2026, 1, 2), datetime(2026, 1, 2, 3, 4, 5), 0.0),
        (5, "", date(2026, 1, 2), datetime(2026, 1, 2, 3, 4, 5), 1e10),
        (6, None, None, None, 3.0),
    ]
    uid = "61f0c404-5cb3-11e7-907b-a6006ad3dba0"
    assert (await warehouse.execute(f"SELECT toUUID('{uid}') AS u")).rows == [(uuid.UUID(uid),)]


@pytest.mark.parametrize(
    ("sql", "sqlstate"),
    [
        ("SELEC 1", "42601"),
        ("SELECT * FROM no_such_table", "42P01"),
        ("SELECT no_such_column FROM t", "42703"),
        ("SELECT * FROM no_such_db.t", "3F000"),
        ("SELECT no_such_function(1)", "42883"),
    ],
)
async def test_errors_are_one_line_with_sqlstate(
    warehouse: ClickHouseWarehouse, sql: str, sqlstate: str
) -> None:
    await warehouse.execute("CREATE TABLE t (a Int32) ENGINE = Memory")
    await warehouse.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(QueryFailed) as info:
        await warehouse.execute(sql)
    msg = info.value.message
    assert info.value.sqlstate == sqlstate
    assert "(ClickHouse error " in msg and "\n" not in msg and "Stack trace" not in msg, msg
    assert (await warehouse.execute("SELECT a FROM t")).rows == [(1,)]


async def test_several_statements_are_refused_and_none_runs(warehouse: ClickHouseWarehouse) -> None:
    await warehouse.execute("CREATE TABLE t (a Int32) ENGINE = Memory")
    with pytest.raises(QueryFailed) as info:
        await warehouse.execute("INSERT INTO t VALUES (1); DROP TABLE t")
    assert info.value.code == "MULTIPLE_STATEMENTS"
    assert (await warehouse.execute("SELECT 'a;b' AS s, count() FROM t; -- trailing")).rows == [("a;b", 0)]


# --- bodies and INTO ------------------------------------------------------------------------------


async def test_a_body_is_not_all_or_nothing(warehouse: ClickHouseWarehouse) -> None:
    await warehouse.execute("CREATE TABLE t (a Int32) ENGINE = Memory")
    with pytest.raises(QueryFailed):
        await warehouse.run_body(
            ["INSERT INTO t VALUES (1)", "INSERT INTO nope VALUES (2)"], transactional=True
        )
    # no transactions: the first INSERT stays (documented)
    assert (await warehouse.execute("SELECT a FROM t")).rows == [(1,)]
    result = await warehouse.run_body(
        ["INSERT INTO t VALUES (2)", "SELECT count() AS n FROM t"], transactional=True
    )
    assert result.last is not None and result.last.rows == [(2,)]


async def test_transactions_are_refused(warehouse: ClickHouseWarehouse) -> None:
    with pytest.raises(NotSupportedError) as info:
        async with warehouse.transaction():
            pass
    assert "no transactions" in info.value.message
    with pytest.raises(NotSupportedError):
        await warehouse.begin("BEGIN")


async def test_into_matches_columns_by_name(warehouse: ClickHouseWarehouse) -> None:
    await warehouse.execute(
        "CREATE TABLE target (id Int64, label String DEFAULT 'none', n UInt32) ENGINE = MergeTree ORDER BY id"
    )
    result = await warehouse.run_body(
        ["SELECT number AS ID, toUInt32(number * 2) AS n, 'extra' AS dropped FROM system.numbers LIMIT 3"],
        transactional=True,
        into='"target"',
    )
    # servers before protocol revision 54420 do not say how many rows an INSERT wrote
    assert result.rows_inserted == (3 if warehouse.server_revision >= 54420 else 0)
    rs = await warehouse.execute("SELECT id, label, n FROM target ORDER BY id")
    assert rs.rows == [(0, "none", 0), (1, "none", 2), (2, "none", 4)]
    with pytest.raises(QueryFailed) as info:
        await warehouse.run_body(["SELECT 1 AS x"], transactional=True, into="missing")
    assert info.value.code == "INTO_TABLE_NOT_FOUND"
    assert await warehouse.table_columns("target") == ["id", "label", "n"]
    assert await warehouse.table_columns("missing") is None


async def test_session_params_apply_to_the_run_only(warehouse: ClickHouseWarehouse) -> None:
    setting = "SELECT value FROM system.settings WHERE name = 'max_threads'"
    result = await warehouse.run_body([setting], transactional=False, session_params=[("max_threads", "3")])
    assert result.last is not None and result.last.rows == [("3",)]
    for _ in range(warehouse.max_concurrency + 1):
        assert (await warehouse.execute(setting)).rows != [("3",)]
    with pytest.raises(QueryFailed) as info:
        await warehouse.run_body(["SELECT 1"], transactional=False, session_params=[("no_such_setting", "1")])
    assert info.value.sqlstate == "42704"


async def test_when_conditions(warehouse: ClickHouseWarehouse) -> None:
    assert await warehouse.evaluate("1 = 1")
    assert not await warehouse.evaluate("1 = 2")
    assert not await warehouse.evaluate("NULL")


def arrow_table() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "name": ["a", None, "c'd"],
            "ok": [True, False, None],
            "score": [1.5, 2.0, None],
            "started": pa.array(
                [datetime(2026, 1, 1, 12, tzinfo=UTC), None, None], pa.timestamp("us", tz="UTC")
            ),
            "run_day": [date(2026, 1, 2), None, None],
            "amount": pa.array([Decimal("1.25"), None, None], pa.decimal128(10, 2)),
        }
    )


async def test_tables_are_visible_to_the_call_only(warehouse: ClickHouseWarehouse) -> None:
    await warehouse.execute("CREATE TABLE history (id Int64) ENGINE = Memory")
    await warehouse.execute("INSERT INTO history VALUES (100)")
    rs = await warehouse.execute(
        "SELECT id, name, ok, score, started, run_day, amount FROM history ORDER BY id",
        tables={"history": arrow_table()},
    )
    assert rs.rows[0] == (1, "a", 1, 1.5, datetime(2026, 1, 1, 12), date(2026, 1, 2), Decimal("1.25"))
    assert rs.rows[2][:2] == (3, "c'd")
    for _ in range(warehouse.max_concurrency + 1):
        assert (await warehouse.execute("SELECT id FROM history")).rows == [(100,)]


# --- stopping a query in the server ---------------------------------------------------------------


async def test_a_timeout_kills_the_query_in_the_server_quickly(
    warehouse: ClickHouseWarehouse, ch_server: ClickHouseServer
) -> None:
    started = time.monotonic()
    with pytest.raises(QueryTimeout) as info:
        await warehouse.run_body([SLOW], transactional=False, timeout=0.3)
    assert time.monotonic() - started < 1.0
    assert "exceeded its timeout of 0.3 s" in info.value.message
    assert await until(lambda: running(ch_server, "number % 7 = 8") == [], within=5)
    rows = await asyncio.gather(*(warehouse.execute("SELECT 1") for _ in range(3)))
    assert all(r.rows == [(1,)] for r in rows)


async def test_cancel_token_kills_a_running_query(
    warehouse: ClickHouseWarehouse, ch_server: ClickHouseServer
) -> None:
    token = CancelToken()
    call = asyncio.ensure_future(warehouse.execute(SLOW, token=token))
    assert await until(lambda: bool(running(ch_server, "number % 7 = 8")), within=10)
    started = time.monotonic()
    token.cancel("CANCEL TASK")
    with pytest.raises(QueryCancelled) as info:
        await call
    # the query never ends by itself (and has no time limit to end it): the bound is generous for a
    # loaded machine
    assert time.monotonic() - started < 10
    assert "CANCEL TASK" in info.value.message
    assert await until(lambda: running(ch_server, "number % 7 = 8") == [], within=5)


async def test_the_server_side_limit_is_a_backstop(warehouse: ClickHouseWarehouse) -> None:
    assert warehouse._backstop_params(1.0) == [("tasksql$max_execution_time", "4")]
    # the limit itself stops a statement in the server (here set low by hand)
    with pytest.raises(QueryFailed) as info:
        await warehouse.run_body([SLOW], transactional=False, session_params=[("max_execution_time", "1")])
    assert info.value.sqlstate == "57014" and "(ClickHouse error 159)" in info.value.message


# --- connecting ---------------------------------------------------------------------------------------


async def test_connection_errors_are_one_line_without_the_password(ch_database: ClickHouseDatabase) -> None:
    good = ch_database
    cases = [
        (f"clickhouse://{good.user}:wrong-pw-123@{good.host}:{good.port}/{good.name}", "password"),
        (
            f"clickhouse://{good.user}:{good.password}@{good.host}:{good.port}/no_such_db",
            "no_such_db doesn't exist",
        ),
        (f"clickhouse://{good.user}:{good.password}@127.0.0.1:1/{good.name}?connect_timeout=2", "refused"),
    ]
    for url, expected in cases:
        w = ClickHouseWarehouse("events", url)
        with pytest.raises(WarehouseError) as info:
            await w.open()
        msg = info.value.message
        assert msg.startswith("warehouse events: cannot connect to clickhouse://tasksql:***@"), msg
        assert expected in msg and "\n" not in msg, msg
        assert "wrong-pw-123" not in msg and good.password not in msg
        await w.close()


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://u:secret@h:8123/db?compression=lz4", "compression is an option of the native"),
        ("ftp://u:secret@h/db", "expected clickhouse://"),
        ("mysql://u:secret@h/db", "expected clickhouse://"),
        ("clickhouse://u:secret@h:99999/db", "does not parse"),
        ("clickhouse://u:secret@h/db?sslmode=require", "unknown option 'sslmode'"),
        ("clickhouse://u:secret@h/db?connect_timeout=soon", "connect_timeout must be"),
        ("clickhouse://u:secret@/db", "names no host"),
    ],
)
def test_a_bad_url_is_refused_in_one_line(url: str, why: str) -> None:
    with pytest.raises(WarehouseError) as info:
        ClickHouseWarehouse("events", url)
    assert info.value.code == "INVALID_URL"
    assert why in info.value.message and "secret" not in info.value.message


@pytest.mark.parametrize(
    ("url", "http", "port", "secure"),
    [
        ("http://u@h/db", True, 8123, False),
        ("https://u@h/db", True, 8443, True),
        ("http://u@h:18123/db", True, 18123, False),
        ("clickhouse://u@h/db", False, 9000, False),
        ("clickhouses://u@h/db", False, 9440, True),
    ],
)
def test_the_scheme_picks_the_transport(url: str, http: bool, port: int, secure: bool) -> None:
    target = ClickHouseWarehouse("events", url).target
    assert (target.http, target.port, target.secure, target.database) == (http, port, secure, "db")
