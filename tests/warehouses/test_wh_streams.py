"""Change-tracking streams on each warehouse (real DuckDB and SQLite files, a private PostgreSQL and
MariaDB): capture, netting, the metadata columns, staleness, and the offset rule (moved only by a
committed consuming transaction; a failed one leaves it; two consumers never see a change twice).
ClickHouse and chdb refuse streams."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from tasksql.errors import QueryCancelled, QueryFailed, QueryTimeout, ValidationError
from tasksql.warehouses import streams as ws
from tasksql.warehouses.base import CancelToken, Warehouse

from .conftest import MakeWarehouse
from .support import BACKENDS, SLOW


@pytest.fixture(params=[*BACKENDS, pytest.param("mysql", id="mysql")])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _stream(w: Warehouse, name: str = "oc", **options: Any) -> None:
    await w.execute("CREATE TABLE orders (id INT PRIMARY KEY, amount INT, status TEXT)")
    created = await ws.create(
        w,
        name=name,
        table="orders",
        append_only=options.get("append_only", False),
        show_initial_rows=options.get("show_initial_rows", False),
        comment=None,
        or_replace=False,
        if_not_exists=False,
        created_on="2026-01-01T00:00:00+00:00",
    )
    assert created


async def _read(w: Warehouse, sql: str = "SELECT * FROM oc") -> list[tuple[Any, ...]]:
    [bound], consumes = await ws.bind_statements(w, [sql])
    assert not consumes
    rs = await w.execute(bound)
    return sorted((r[0], r[1], r[2], r[3], bool(r[4])) for r in rs.rows)


async def _consume(w: Warehouse, *, fail: bool = False) -> int:
    statements, consumes = await ws.bind_statements(
        w, ["INSERT INTO facts SELECT id, amount, METADATA$ACTION FROM oc"]
    )
    assert consumes
    if fail:
        statements.append("SELECT * FROM no_such_table")
    result = await w.run_body(statements, transactional=True)
    return result.rows_inserted


async def test_changes_are_netted_with_metadata(make_warehouse: MakeWarehouse) -> None:
    w = await make_warehouse()
    await _stream(w)
    await w.execute("INSERT INTO orders VALUES (1, 10, 'new'), (2, 20, 'new'), (3, 30, 'new')")
    await w.execute("UPDATE orders SET status = 'paid' WHERE id = 1")
    await w.execute("DELETE FROM orders WHERE id = 3")  # inserted and deleted: not shown
    assert await _read(w) == [(1, 10, "paid", "INSERT", False), (2, 20, "new", "INSERT", False)]
    await w.execute("CREATE TABLE facts (id INT, amount INT, action TEXT)")
    assert await _consume(w) == 2
    assert await _read(w) == []  # consumed
    # an update of a row consumed before: a DELETE and an INSERT, both marked as an update
    await w.execute("UPDATE orders SET amount = 11 WHERE id = 1")
    await w.execute("DELETE FROM orders WHERE id = 2")
    assert await _read(w) == [
        (1, 10, "paid", "DELETE", True),
        (1, 11, "paid", "INSERT", True),
        (2, 20, "new", "DELETE", False),
    ]
    [has] = (await w.execute(await ws.bind_condition(w, "SELECT SYSTEM$STREAM_HAS_DATA('oc')"))).rows
    assert bool(has[0])


async def test_offset_moves_only_with_a_committed_consumer(make_warehouse: MakeWarehouse) -> None:
    w = await make_warehouse()
    await _stream(w)
    await w.execute("CREATE TABLE facts (id INT, amount INT, action TEXT)")
    await w.execute("INSERT INTO orders VALUES (1, 10, 'new')")
    with pytest.raises(QueryFailed):
        await _consume(w, fail=True)  # rolled back: the claim with it
    assert await _read(w) == [(1, 10, "new", "INSERT", False)]
    assert await _consume(w) == 1
    await w.execute("INSERT INTO orders VALUES (2, 20, 'new')")
    assert await _consume(w) == 1
    assert await _consume(w) == 0
    rows = (await w.execute("SELECT id, action FROM facts ORDER BY id")).rows
    assert [tuple(r) for r in rows] == [(1, "INSERT"), (2, "INSERT")]
    status = (await w.execute(await ws.bind_condition(w, "SELECT STREAM_STATUS('oc')"))).rows[0][0]
    assert not status


async def test_append_only_and_initial_rows(make_warehouse: MakeWarehouse) -> None:
    w = await make_warehouse()
    await w.execute("CREATE TABLE orders (id INT PRIMARY KEY, amount INT, status TEXT)")
    await w.execute("INSERT INTO orders VALUES (1, 10, 'old')")
    assert await ws.create(
        w,
        name="oc",
        table="orders",
        append_only=True,
        show_initial_rows=True,
        comment="c",
        or_replace=False,
        if_not_exists=False,
        created_on="now",
    )
    await w.execute("INSERT INTO orders VALUES (2, 20, 'new')")
    await w.execute("DELETE FROM orders WHERE id = 1")
    rows = await _read(w)
    if w.dialect == "duckdb":  # compared with the table: the deleted initial row is gone
        assert rows == [(2, 20, "new", "INSERT", False)]
    else:  # inserts as they were made
        assert rows == [(1, 10, "old", "INSERT", False), (2, 20, "new", "INSERT", False)]
    [s] = (await ws.load(w)).values()
    assert (s.append_only, s.show_initial_rows, s.comment, s.stale) == (True, True, "c", False)


async def test_stale_after_the_table_is_dropped(make_warehouse: MakeWarehouse) -> None:
    w = await make_warehouse()
    await _stream(w)
    await w.execute("DROP TABLE orders")
    await w.execute("CREATE TABLE orders (id INT PRIMARY KEY, amount INT, status TEXT)")
    assert (await ws.load(w))["oc"].stale
    with pytest.raises(QueryFailed) as err:
        await ws.bind_statements(w, ["SELECT * FROM oc"])
    assert err.value.code == "STREAM_STALE"
    assert await ws.drop(w, "oc")
    assert await ws.load(w) == {}
    assert not await ws.drop(w, "oc")


async def test_two_consumers_never_share_a_change(make_warehouse: MakeWarehouse) -> None:
    w = await make_warehouse(max_concurrency=4)
    await _stream(w)
    await w.execute("CREATE TABLE facts (id INT, amount INT, action TEXT)")
    total = 0
    for i in range(5):
        await w.execute(f"INSERT INTO orders VALUES ({i}, {i}, 'n')")
        # two consumers at once: one takes the change, the other nothing (or, on DuckDB, fails
        # with a write conflict and is rolled back)
        outcomes = await asyncio.gather(_consume(w), _consume(w), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, int):
                total += outcome
            else:
                assert isinstance(outcome, QueryFailed), outcome
    rows = (await w.execute("SELECT id FROM facts ORDER BY id")).rows
    assert [r[0] for r in rows] == list(range(5)) and total == 5


def test_references_are_relations_only() -> None:
    from tasksql.warehouses.stream_sql import StreamDef

    s = StreamDef("oc", 1, "t", None, "TRIGGERS", False, False, ("a",), (), None, "", 0, 0, False)
    streams = {"oc": s}
    assert ws.referenced("sqlite", "SELECT oc FROM t", streams) == []
    assert ws.referenced("sqlite", "SELECT * FROM t JOIN oc ON t.a = oc.a", streams) == ["oc"]
    assert ws.referenced("sqlite", "SELECT * FROM t, oc", streams) == ["oc"]
    assert ws.consumes("INSERT INTO x SELECT * FROM oc")
    assert not ws.consumes("/* c */ SELECT * FROM oc")
    assert ws.consumes("WITH a AS (SELECT 1) INSERT INTO x SELECT * FROM oc")


async def test_writers_and_consumers_at_once_exactly_once(make_warehouse: MakeWarehouse) -> None:
    """Writers commit transactions of several rows in any order while two consumers claim windows
    concurrently: at the end every committed row was consumed once (MySQL: AUTO_INCREMENT positions
    are handed out before commit, which the claim's lock makes safe)."""
    w = await make_warehouse(max_concurrency=6)
    await _stream(w)
    await w.execute("CREATE TABLE facts (id INT, amount INT, action TEXT)")
    writing = True

    async def writer(k: int) -> None:
        for j in range(12):
            ids = [k * 1000 + j * 10 + n for n in range(3)]
            body = [f"INSERT INTO orders VALUES ({i}, {i}, 'n')" for i in ids]
            with contextlib.suppress(QueryFailed):  # DuckDB: a write conflict rolls it back
                await w.run_body(body, transactional=True)

    async def consumer() -> None:
        while writing:
            with contextlib.suppress(QueryFailed):
                await _consume(w)

    consumers = [asyncio.create_task(consumer()) for _ in range(2)]
    await asyncio.gather(*(writer(k) for k in range(1, 4)))
    writing = False
    await asyncio.gather(*consumers)
    while await _consume(w):
        pass
    facts = sorted(r[0] for r in (await w.execute("SELECT id FROM facts")).rows)
    source = sorted(r[0] for r in (await w.execute("SELECT id FROM orders")).rows)
    assert facts == source and len(source) > 0


@pytest.mark.parametrize("backend", ["clickhouse", "chdb"])
async def test_warehouses_without_capture_refuse_streams(make_warehouse: MakeWarehouse) -> None:
    """ClickHouse has neither triggers nor transactions to move an offset with: CREATE STREAM ... ON
    TABLE is refused with a message naming the cause and the warehouse types that have streams."""
    w = await make_warehouse()
    await w.execute("CREATE TABLE orders (id Int32) ENGINE = MergeTree ORDER BY id")
    with pytest.raises(ValidationError) as err:
        await ws.create(
            w,
            name="oc",
            table="orders",
            append_only=False,
            show_initial_rows=False,
            comment=None,
            or_replace=False,
            if_not_exists=False,
            created_on="now",
        )
    assert err.value.code == "NOT_SUPPORTED" and "MySQL" in err.value.message
    assert await ws.load(w) == {}
    tables = await w.execute("SELECT name FROM system.tables WHERE database = currentDatabase()")
    assert [r[0] for r in tables.rows] == ["orders"]  # nothing made


async def test_appends_after_deletes_and_a_checkpoint(make_warehouse: MakeWarehouse) -> None:
    """A window holding appends and deletes (DuckDB: not the append fast path, whose check fails;
    a CHECKPOINT may have moved row ids) shows both; a window of appends only shows them alone."""
    w = await make_warehouse()
    await _stream(w)
    await w.execute("CREATE TABLE facts (id INT, amount INT, action TEXT)")
    await w.execute("INSERT INTO orders VALUES (1, 10, 'n'), (2, 20, 'n'), (3, 30, 'n'), (4, 40, 'n')")
    assert await _consume(w) == 4
    await w.execute("DELETE FROM orders WHERE id IN (1, 2)")
    if w.dialect == "duckdb":
        await w.execute("CHECKPOINT")
    await w.execute("INSERT INTO orders VALUES (5, 50, 'n')")
    assert await _read(w) == [
        (1, 10, "n", "DELETE", False),
        (2, 20, "n", "DELETE", False),
        (5, 50, "n", "INSERT", False),
    ]
    assert await _consume(w) == 3
    await w.execute("INSERT INTO orders VALUES (6, 60, 'n')")
    assert await _read(w) == [(6, 60, "n", "INSERT", False)]
    assert await _consume(w) == 1 and await _read(w) == []


SLOW_STATEMENT = {
    **SLOW,
    "mysql": "SELECT SLEEP(3600)",
}


async def test_timed_out_or_cancelled_consumers_leave_the_offset(make_warehouse: MakeWarehouse) -> None:
    """A consuming body stopped by its timeout, or cancelled while it runs, rolls back its claim: the
    next consumer sees the same change."""
    w = await make_warehouse()
    await _stream(w)
    await w.execute("CREATE TABLE facts (id INT, amount INT, action TEXT)")
    await w.execute("INSERT INTO orders VALUES (1, 10, 'new')")
    statements, consumes = await ws.bind_statements(
        w, ["INSERT INTO facts SELECT id, amount, METADATA$ACTION FROM oc"]
    )
    assert consumes
    body = [*statements, SLOW_STATEMENT[w.dialect]]
    with pytest.raises(QueryTimeout):
        await w.run_body(body, transactional=True, timeout=0.5)
    token = CancelToken()
    # cancelled while it runs (most likely in the slow statement; earlier must hold as well)
    asyncio.get_running_loop().call_later(0.3, token.cancel, "stop")
    with pytest.raises(QueryCancelled):
        await w.run_body(body, transactional=True, token=token)
    assert await _read(w) == [(1, 10, "new", "INSERT", False)]
    assert (await w.execute("SELECT count(*) FROM facts")).rows[0][0] == 0
    assert await _consume(w) == 1


async def test_a_table_without_a_key_nets_equal_rows_pairwise(make_warehouse: MakeWarehouse) -> None:
    """Without a primary key a row is known by its values (SQLite: by its rowid): equal rows
    inserted and deleted cancel in pairs, and an update is a DELETE and an INSERT not marked as one."""
    w = await make_warehouse()
    await w.execute("CREATE TABLE items (id INT, tag TEXT)")
    assert await ws.create(
        w,
        name="ic",
        table="items",
        append_only=False,
        show_initial_rows=False,
        comment=None,
        or_replace=False,
        if_not_exists=False,
        created_on="now",
    )
    await w.execute("CREATE TABLE seen (id INT, tag TEXT, action TEXT)")
    await w.execute("INSERT INTO items VALUES (7, 'a'), (7, 'a'), (8, 'b')")
    consume = "INSERT INTO seen SELECT id, tag, METADATA$ACTION FROM ic"
    statements, _ = await ws.bind_statements(w, [consume])
    assert (await w.run_body(statements, transactional=True)).rows_inserted == 3
    await w.execute("DELETE FROM items WHERE id = 7")
    await w.execute("INSERT INTO items VALUES (7, 'a')")
    await w.execute("UPDATE items SET tag = 'c' WHERE id = 8")
    [bound], _ = await ws.bind_statements(w, ["SELECT id, tag, METADATA$ACTION, METADATA$ISUPDATE FROM ic"])
    got = sorted((r[0], r[1], r[2], bool(r[3])) for r in (await w.execute(bound)).rows)
    if w.dialect == "sqlite":  # rows known by rowid: both deleted rows, the new one, an update
        assert got == [
            (7, "a", "DELETE", False),
            (7, "a", "DELETE", False),
            (7, "a", "INSERT", False),
            (8, "b", "DELETE", True),
            (8, "c", "INSERT", True),
        ]
    else:
        assert got == [(7, "a", "DELETE", False), (8, "b", "DELETE", False), (8, "c", "INSERT", False)]
