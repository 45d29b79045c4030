"""The warehouse contract on a real MariaDB server started by the tests (``mariadb_server``):
statements, bodies, INTO, session parameters, extra relations, timeouts and cancellation that stop
the query in the server (KILL QUERY), completion markers, and one-line errors that never show the
password."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from mariadbserver import MariaDBDatabase, MariaDBServer
from tasksql.clock import SystemClock
from tasksql.errors import QueryCancelled, QueryFailed, QueryTimeout, WarehouseError
from tasksql.model import WarehouseType
from tasksql.warehouses.base import BodyResult, CancelToken, Marker, ResultSet
from tasksql.warehouses.mysql import MySQLWarehouse
from tasksql.warehouses.session_settings import SOURCES, list_settings

from .support import until

SLOW = "SELECT SLEEP(3600)"


@pytest.fixture
async def warehouse(mariadb_database: MariaDBDatabase) -> AsyncIterator[MySQLWarehouse]:
    w = MySQLWarehouse("shop", mariadb_database.url, max_concurrency=3)
    await w.open()
    yield w
    await w.close()


def processlist(db: MariaDBDatabase, text: str) -> list[Any]:
    """The server's running statements whose text holds ``text`` (seen from another connection)."""
    with contextlib.closing(db.connect()) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT id, info FROM information_schema.processlist WHERE info LIKE %s AND id <> CONNECTION_ID()",
            (f"%{text}%",),
        )
        return list(cur.fetchall())


# --- statements ----------------------------------------------------------------------------------


async def test_execute_returns_columns_rows_and_types(warehouse: MySQLWarehouse) -> None:
    assert warehouse.mariadb and "MariaDB" in warehouse.server_version
    await warehouse.execute("CREATE TABLE t (a INTEGER, b TEXT, c VARBINARY(4), d DECIMAL(5,2))")
    await warehouse.execute("INSERT INTO t VALUES (1, 'x', 'ab', 1.50), (2, \"y\", NULL, NULL)")
    rs = await warehouse.execute("SELECT a, b AS label, c, d FROM t ORDER BY a;")
    assert rs == ResultSet(
        columns=("a", "label", "c", "d"), rows=[(1, "x", b"ab", Decimal("1.50")), (2, "y", None, None)]
    )
    assert rs.types == ("int", "text", "varbinary", "decimal")
    empty = await warehouse.execute("SELECT a, b FROM t WHERE a > 5")
    assert empty.columns == ("a", "b") and empty.rows == [] and empty.types == ("int", "text")


async def test_execute_counts_rows_of_dml_and_returning(warehouse: MySQLWarehouse) -> None:
    assert (await warehouse.execute("CREATE TABLE t (a INTEGER PRIMARY KEY)")).rowcount is None
    assert (await warehouse.execute("INSERT INTO t VALUES (1), (2), (3)")).rowcount == 3
    # matched rows, as the other warehouses count them (MySQL counts changed rows by default)
    assert (await warehouse.execute("UPDATE t SET a = a WHERE a > 1")).rowcount == 2
    assert (await warehouse.execute("DELETE FROM t WHERE a = 3")).rowcount == 1
    returning = await warehouse.execute("INSERT INTO t VALUES (5), (6) RETURNING a")
    assert returning.rows == [(5,), (6,)] and returning.rowcount == 2
    assert (await warehouse.execute("CREATE TABLE t2 AS SELECT a FROM t")).rowcount == 4
    assert (await warehouse.execute("SELECT a FROM t")).rowcount is None


@pytest.mark.parametrize(
    ("sql", "sqlstate"),
    [
        ("SELEC 1", "42601"),
        ("SELECT * FROM no_such_table", "42P01"),
        ("SELECT no_such_column FROM t", "42703"),
        ("INSERT INTO t VALUES (1, 'dup')", "23505"),
        ("INSERT INTO t (b) VALUES ('no key')", "23502"),
    ],
)
async def test_errors_are_one_line_with_sqlstate(warehouse: MySQLWarehouse, sql: str, sqlstate: str) -> None:
    await warehouse.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")
    await warehouse.execute("INSERT INTO t VALUES (1, 'first')")
    with pytest.raises(QueryFailed) as info:
        await warehouse.execute(sql)
    assert info.value.sqlstate == sqlstate
    assert "(MySQL error " in info.value.message and "\n" not in info.value.message
    assert (await warehouse.execute("SELECT a, b FROM t")).rows == [(1, "first")]


async def test_several_statements_are_refused_and_none_runs(warehouse: MySQLWarehouse) -> None:
    await warehouse.execute("CREATE TABLE t (a INTEGER)")
    with pytest.raises(QueryFailed) as info:
        await warehouse.execute("INSERT INTO t VALUES (1); DROP TABLE t")
    assert info.value.code == "MULTIPLE_STATEMENTS"
    rs = await warehouse.execute("SELECT 'a;b' AS s, count(*) FROM t; # trailing comment")
    assert rs.rows == [("a;b", 0)]


async def test_call_of_a_procedure_gives_its_last_result(warehouse: MySQLWarehouse) -> None:
    await warehouse.execute("CREATE TABLE t (a INTEGER)")
    await warehouse.execute(
        "CREATE PROCEDURE fill(n INT) BEGIN INSERT INTO t VALUES (n); SELECT count(*) AS c FROM t; END"
    )
    rs = await warehouse.execute("CALL fill(4)")
    assert rs.columns == ("c",) and rs.rows == [(1,)]
    assert (await warehouse.execute("SELECT 1")).rows == [(1,)]  # the connection is clean after CALL


# --- bodies and INTO ------------------------------------------------------------------------------


async def test_transactional_body_is_all_or_nothing(warehouse: MySQLWarehouse) -> None:
    await warehouse.execute("CREATE TABLE t (a INTEGER)")
    with pytest.raises(QueryFailed) as info:
        await warehouse.run_body(
            ["INSERT INTO t VALUES (1)", "INSERT INTO nope VALUES (2)"], transactional=True
        )
    assert info.value.sqlstate == "42P01"
    assert (await warehouse.execute("SELECT count(*) FROM t")).rows == [(0,)]
    result = await warehouse.run_body(
        ["INSERT INTO t VALUES (3), (4)", "DELETE FROM t WHERE a = 3", "SELECT a FROM t"], transactional=True
    )
    assert result == BodyResult(
        rows_produced=1, rows_inserted=3, last=ResultSet(columns=("a",), rows=[(4,)], types=("int",))
    )


async def test_non_transactional_body_keeps_what_ran_before_the_failure(warehouse: MySQLWarehouse) -> None:
    await warehouse.execute("CREATE TABLE t (a INTEGER)")
    with pytest.raises(QueryFailed):
        await warehouse.run_body(
            ["INSERT INTO t VALUES (1)", "INSERT INTO nope VALUES (2)", "INSERT INTO t VALUES (3)"],
            transactional=False,
        )
    assert (await warehouse.execute("SELECT a FROM t")).rows == [(1,)]


async def test_ddl_in_a_transactional_body_commits_what_came_before(warehouse: MySQLWarehouse) -> None:
    # MySQL commits implicitly before DDL: documented, and such bodies get no completion marker.
    await warehouse.execute("CREATE TABLE t (a INTEGER)")
    with pytest.raises(QueryFailed):
        await warehouse.run_body(
            ["INSERT INTO t VALUES (1)", "CREATE TABLE fresh (a INTEGER)", "SELECT * FROM nope"],
            transactional=True,
        )
    assert (await warehouse.execute("SELECT a FROM t")).rows == [(1,)]
    assert await warehouse.table_columns("fresh") == ["a"]
    assert not warehouse.marks(["INSERT INTO t VALUES (1)", "CREATE TABLE x (a INT)"], into=False)
    assert warehouse.marks(["CREATE TEMPORARY TABLE x (a INT)", "INSERT INTO t VALUES (1)"], into=False)


@pytest.fixture
async def target(warehouse: MySQLWarehouse) -> MySQLWarehouse:
    await warehouse.execute(
        "CREATE TABLE target (id INTEGER, `Amount` INTEGER, note VARCHAR(20) DEFAULT 'none', seen INTEGER)"
    )
    return warehouse


async def test_into_matches_columns_by_name_in_the_body_transaction(target: MySQLWarehouse) -> None:
    await target.execute("CREATE TABLE src (id INTEGER, amount INTEGER)")
    result = await target.run_body(
        ["INSERT INTO src VALUES (1, 10), (2, 20)", "SELECT id, amount * 2 AS AMOUNT, 'x' AS extra FROM src"],
        transactional=True,
        into="target",
    )
    assert (result.rows_inserted, result.rows_produced) == (4, 2)
    rows = (await target.execute("SELECT id, `Amount`, note, seen FROM target ORDER BY id")).rows
    assert rows == [(1, 20, "none", None), (2, 40, "none", None)]
    # a failing INTO takes the body's first statement with it
    await target.execute("CREATE TABLE strict_target (id INTEGER NOT NULL)")
    with pytest.raises(QueryFailed) as info:
        await target.run_body(
            ["INSERT INTO src VALUES (3, 30)", "SELECT NULL AS id"], transactional=False, into="strict_target"
        )
    assert info.value.sqlstate == "23502"
    assert (await target.execute("SELECT count(*) FROM src")).rows == [(2,)]


async def test_into_names_a_qualified_or_backticked_target(
    target: MySQLWarehouse, mariadb_database: MariaDBDatabase
) -> None:
    await target.run_body(["SELECT 3 AS id"], transactional=True, into=f"`{mariadb_database.name}`.target")
    await target.run_body(["SELECT 4 AS id"], transactional=True, into='"target"')
    assert (await target.execute("SELECT id FROM target ORDER BY id")).rows == [(3,), (4,)]
    assert await target.table_columns(f"{mariadb_database.name}.target") == ["id", "Amount", "note", "seen"]
    assert await target.table_columns("missing") is None
    assert await target.table_columns("no_such_db.target") is None
    for into, code in [
        ("missing", "INTO_TABLE_NOT_FOUND"),
        ("target; DROP TABLE target", "INVALID_NAME"),
    ]:
        with pytest.raises(QueryFailed) as info:
            await target.run_body(["SELECT 1 AS id"], transactional=True, into=into)
        assert info.value.code == code
    with pytest.raises(QueryFailed) as info:
        await target.run_body(["SELECT 1 AS unrelated"], transactional=True, into="target")
    assert info.value.code == "INTO_NO_MATCHING_COLUMNS"


# --- session parameters, WHEN, extra relations ----------------------------------------------------


@pytest.mark.parametrize("transactional", [True, False])
async def test_session_params_apply_to_the_run_only(warehouse: MySQLWarehouse, transactional: bool) -> None:
    show = "SELECT @@session.time_zone"
    before = (await warehouse.execute(show)).rows
    result = await warehouse.run_body(
        ["SELECT 1", show], transactional=transactional, session_params=[("time_zone", "'+09:00'")]
    )
    assert result.last is not None and result.last.rows == [("+09:00",)]
    for _ in range(warehouse.max_concurrency + 1):
        assert (await warehouse.execute(show)).rows == before
    with pytest.raises(QueryFailed) as info:
        await warehouse.run_body(
            ["SELECT 1"],
            transactional=transactional,
            session_params=[("time_zone", "'+09:00'"), ("nope_xyz", "1")],
        )
    assert info.value.sqlstate == "42704"
    assert (await warehouse.execute(show)).rows == before


async def test_the_settings_it_lists_are_its_session_variables(warehouse: MySQLWarehouse) -> None:
    # What CREATE TASK checks a task's session parameters against: MariaDB answers the first query
    # (SYSTEM_VARIABLES, with each variable's scope)
    listed = await list_settings(warehouse)
    assert listed is not None and listed.system == "MariaDB"
    assert {"time_zone", "sql_mode", "max_statement_time"} <= listed.settable
    assert "max_connections" in listed.refused.keys() - listed.settable  # global only
    # SHOW SESSION VARIABLES, MySQL's last resort, names them too
    sql, read = SOURCES[WarehouseType.MYSQL][-1]
    assert listed.settable <= read((await warehouse.execute(sql)).rows).settable


async def test_when_conditions(warehouse: MySQLWarehouse) -> None:
    assert await warehouse.evaluate("1 = 1")
    assert not await warehouse.evaluate("NULL")
    assert await warehouse.evaluate("(SELECT count(*) FROM src) = 3", tables={"src": arrow_table()})


def arrow_table() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "name": ["a", None, "c%s"],
            "ok": [True, False, None],
            "score": [1.5, 2.0, None],
            "started": pa.array(
                [datetime(2026, 1, 1, 12, tzinfo=UTC), None, None], pa.timestamp("us", tz="UTC")
            ),
            "run_day": [date(2026, 1, 2), None, None],
            "amount": pa.array([Decimal("1.25"), None, None], pa.decimal128(10, 2)),
            "tags": [["x", "y"], [], None],
        }
    )


async def test_tables_are_visible_to_the_call_only_and_shadow_a_table(warehouse: MySQLWarehouse) -> None:
    await warehouse.execute("CREATE TABLE history (id INTEGER)")
    await warehouse.execute("INSERT INTO history VALUES (100)")
    rs = await warehouse.execute(
        "SELECT id, name, ok, score, started, run_day, amount, tags FROM history ORDER BY id",
        tables={"history": arrow_table()},
    )
    assert rs.rows[0] == (
        1,
        "a",
        1,
        1.5,
        datetime(2026, 1, 1, 12),
        date(2026, 1, 2),
        Decimal("1.25"),
        '["x", "y"]',
    )
    assert rs.rows[2][:2] == (3, "c%s")
    # twice in one statement (MariaDB can; MySQL cannot reopen a TEMPORARY table)
    both = await warehouse.execute(
        "SELECT count(*) FROM history a JOIN history b ON a.id = b.id", tables={"history": arrow_table()}
    )
    assert both.rows == [(3,)]
    for _ in range(warehouse.max_concurrency + 1):
        assert (await warehouse.execute("SELECT id FROM history")).rows == [(100,)]
    result = await warehouse.run_body(
        ["INSERT INTO history SELECT id FROM src", "SELECT count(*) FROM history"],
        transactional=True,
        tables={"src": arrow_table()},
    )
    assert result.last is not None and result.last.rows == [(4,)]


# --- stopping a query in the server ---------------------------------------------------------------


async def test_a_timeout_kills_the_query_in_the_server_quickly(
    warehouse: MySQLWarehouse, mariadb_database: MariaDBDatabase
) -> None:
    await warehouse.execute("CREATE TABLE t (a INTEGER)")
    started = time.monotonic()
    with pytest.raises(QueryTimeout) as info:
        await warehouse.run_body(["INSERT INTO t VALUES (1)", SLOW], transactional=True, timeout=0.3)
    took = time.monotonic() - started
    assert took < 1.0, took
    assert "exceeded its timeout of 0.3 s" in info.value.message
    assert processlist(mariadb_database, "SLEEP(3600)") == []
    assert (await warehouse.execute("SELECT count(*) FROM t")).rows == [(0,)]  # rolled back
    # every connection still works, and none is hit by a late KILL
    rows = await asyncio.gather(*(warehouse.execute("SELECT SLEEP(0.05), 1") for _ in range(3)))
    assert all(r.rows == [(0, 1)] for r in rows)


async def test_cancel_token_kills_a_running_query(
    warehouse: MySQLWarehouse, mariadb_database: MariaDBDatabase
) -> None:
    token = CancelToken()
    call = asyncio.ensure_future(warehouse.execute(SLOW, token=token))
    assert await until(lambda: bool(processlist(mariadb_database, "SLEEP(3600)")), within=10)
    started = time.monotonic()
    token.cancel("CANCEL TASK")
    with pytest.raises(QueryCancelled) as info:
        await call
    # SLEEP(3600), with no time limit to end it: the bound is generous for a loaded machine
    assert time.monotonic() - started < 10
    assert "CANCEL TASK" in info.value.message
    assert processlist(mariadb_database, "SLEEP(3600)") == []


async def test_the_server_side_limit_is_a_backstop(warehouse: MySQLWarehouse) -> None:
    assert warehouse._backstop_params(1.0) == [("max_statement_time", "4.000")]
    # the limit itself stops a statement in the server (here set low by hand)
    with pytest.raises(QueryFailed) as info:
        await warehouse.run_body(
            ["SELECT SLEEP(5)"], transactional=False, session_params=[("max_statement_time", "0.2")]
        )
    assert info.value.sqlstate == "57014"
    assert (await warehouse.execute("SELECT @@session.max_statement_time")).rows == [(0.0,)]


# --- completion markers -----------------------------------------------------------------------------


async def test_a_marker_commits_with_the_body_and_not_without_it(warehouse: MySQLWarehouse) -> None:
    await warehouse.execute("CREATE TABLE t (a INTEGER)")
    clock = SystemClock()
    ok = await warehouse.run_body(
        ["INSERT INTO t VALUES (1)"],
        transactional=False,
        marker=Marker(scope="cat-1", run_id=41, clock=clock),
    )
    assert ok.marked
    with pytest.raises(QueryFailed):
        await warehouse.run_body(
            ["INSERT INTO t VALUES (2)", "INSERT INTO nope VALUES (1)"],
            transactional=True,
            marker=Marker(scope="cat-1", run_id=42, clock=clock),
        )
    found = await warehouse.find_markers("cat-1", [41, 42])
    assert list(found) == [41]
    assert abs((found[41] - datetime.now(UTC)).total_seconds()) < 60
    assert await warehouse.find_markers("cat-2", [41]) == {}
    assert await warehouse.marker_ids("cat-1", 10) == [41]
    unmarked = await warehouse.run_body(
        ["CREATE TABLE u (a INT)"], transactional=False, marker=Marker(scope="cat-1", run_id=43, clock=clock)
    )
    assert not unmarked.marked  # DDL commits by itself: no marker, at least once
    assert await warehouse.delete_markers("cat-1", [41, 43]) == 1
    assert await warehouse.find_markers("cat-1", [41]) == {}
    assert (await warehouse.execute("SELECT a FROM t")).rows == [(1,)]


async def test_markers_are_found_after_a_timeout_rolled_the_body_back(warehouse: MySQLWarehouse) -> None:
    await warehouse.execute("CREATE TABLE t (a INTEGER)")
    with pytest.raises(QueryTimeout):
        await warehouse.run_body(
            ["INSERT INTO t VALUES (1)", SLOW],
            transactional=True,
            timeout=0.3,
            marker=Marker(scope="c", run_id=7, clock=SystemClock()),
        )
    assert await warehouse.find_markers("c", [7]) == {}


# --- connecting ---------------------------------------------------------------------------------------


async def test_connection_errors_are_one_line_without_the_password(
    mariadb_server: MariaDBServer, mariadb_database: MariaDBDatabase
) -> None:
    good = mariadb_database
    cases = [
        (f"mysql://{good.user}:wrong-pw-123@{good.host}:{good.port}/{good.name}", "Access denied for user"),
        (
            f"mysql://{good.user}:{good.password}@{good.host}:{good.port}/no_such_db",
            "Unknown database 'no_such_db'",
        ),
        (f"mysql://{good.user}:{good.password}@127.0.0.1:1/{good.name}?connect_timeout=2", "Can't connect"),
    ]
    for url, expected in cases:
        w = MySQLWarehouse("shop", url)
        with pytest.raises(WarehouseError) as info:
            await w.open()
        msg = info.value.message
        assert msg.startswith("warehouse shop: cannot connect to mysql://tasksql:***@"), msg
        assert expected in msg and "\n" not in msg
        assert "wrong-pw-123" not in msg and good.password not in msg
        await w.close()


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("postgresql://u@h/db", "expected mysql://user@host:3306/database"),
        ("mysql://u:secret@h:3306", "names no database"),
        ("mysql://u:secret@h:99999/db", "does not parse"),
        ("mysql://u:secret@h/db?sslmode=require", "unknown option 'sslmode'"),
        ("mysql://u:secret@h/db?connect_timeout=soon", "connect_timeout must be"),
    ],
)
def test_a_bad_url_is_refused_in_one_line(url: str, why: str) -> None:
    with pytest.raises(WarehouseError) as info:
        MySQLWarehouse("shop", url)
    assert info.value.code == "INVALID_URL"
    assert why in info.value.message and "secret" not in info.value.message


async def test_a_server_restart_costs_no_failed_call(
    warehouse: MySQLWarehouse, mariadb_server: MariaDBServer, mariadb_database: MariaDBDatabase
) -> None:
    # The server drops the warehouse's idle connections (as a restart or wait_timeout would).
    await warehouse.execute("SELECT 1")
    with contextlib.closing(mariadb_database.connect()) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT id FROM information_schema.processlist WHERE db = %s AND id <> CONNECTION_ID()",
            (mariadb_database.name,),
        )
        ids = [r[0] for r in cur.fetchall()]
        for i in ids:
            cur.execute(f"KILL {int(i)}")
    assert ids
    for session in list(warehouse._sessions._idle):
        session.used_at -= 60  # idle long enough to be checked
    assert (await warehouse.execute("SELECT 2")).rows == [(2,)]


@pytest.mark.parametrize("slow", ["SELECT BENCHMARK(100000000000, MD5('x'))", "SELECT SLEEP(3600)"])
async def test_a_killed_statement_that_returns_a_value_still_fails_with_its_timeout(
    warehouse: MySQLWarehouse, slow: str
) -> None:
    # MariaDB ends an interrupted BENCHMARK() or SLEEP() with a value, not an error: the call must
    # not report that value as the statement's result
    with pytest.raises(QueryTimeout):
        await warehouse.execute(slow, timeout=0.3)
    assert await until(lambda: warehouse.running == 0)
    assert (await warehouse.execute("SELECT 1")).rows == [(1,)]
