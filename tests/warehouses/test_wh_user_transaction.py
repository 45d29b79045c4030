"""Warehouse.begin(): a transaction the user begins with their own BEGIN holds one connection, out of
the pool, until its COMMIT or ROLLBACK; no other call is handed a connection inside it (every backend)."""

from __future__ import annotations

import pytest

from tasksql.errors import QueryFailed
from tasksql.warehouses.base import Warehouse

from .conftest import MakeWarehouse


async def count(warehouse: Warehouse, table: str = "t") -> int:
    return int((await warehouse.execute(f"SELECT count(*) FROM {table}")).rows[0][0])


async def test_commit_makes_the_statements_visible_at_once(warehouse: Warehouse) -> None:
    await warehouse.execute("CREATE TABLE t (x INTEGER)")
    txn = await warehouse.begin("BEGIN")
    assert (await txn.execute("INSERT INTO t VALUES (1), (2)")).rowcount == 2
    assert (await txn.execute("SELECT count(*) FROM t")).rows == [(2,)]  # its own work, seen
    assert await count(warehouse) == 0  # other connections do not see it yet
    await txn.end("COMMIT")
    assert await count(warehouse) == 2


@pytest.mark.parametrize("ending", ["ROLLBACK", None])
async def test_rollback_and_abandoning_leave_nothing(warehouse: Warehouse, ending: str | None) -> None:
    await warehouse.execute("CREATE TABLE t (x INTEGER)")
    txn = await warehouse.begin(
        "BEGIN TRANSACTION" if warehouse.dialect != "postgres" else "START TRANSACTION"
    )
    await txn.execute("INSERT INTO t VALUES (1)")
    await txn.end(ending)
    assert await count(warehouse) == 0


async def test_the_connection_goes_back_to_the_pool_outside_any_transaction(
    make_warehouse: MakeWarehouse,
) -> None:
    # one connection in the pool: the one the transaction held is the one the next calls get
    warehouse = await make_warehouse(max_concurrency=1)
    other = await make_warehouse(name="other")  # its own connections to the same database
    await warehouse.execute("CREATE TABLE t (x INTEGER)")
    for ending in ("COMMIT", "ROLLBACK", None):
        txn = await warehouse.begin("BEGIN")
        await txn.execute("INSERT INTO t VALUES (0)")
        await txn.execute("DELETE FROM t")
        await txn.end(ending)
    # a statement and a task body on the pool commit on their own: other connections see them
    await warehouse.execute("INSERT INTO t VALUES (2)")
    await warehouse.run_body(["INSERT INTO t VALUES (3)"], transactional=False)
    assert (await other.execute("SELECT x FROM t ORDER BY x")).rows == [(2,), (3,)]


async def test_a_failed_begin_keeps_nothing_open(make_warehouse: MakeWarehouse) -> None:
    warehouse = await make_warehouse(max_concurrency=1)
    other = await make_warehouse(name="other")
    await warehouse.execute("CREATE TABLE t (x INTEGER)")
    with pytest.raises(QueryFailed):
        await warehouse.begin("BEGIN nonsense words")
    await warehouse.execute("INSERT INTO t VALUES (1)")
    assert await count(other) == 1


async def test_an_error_inside_leaves_the_transaction_to_its_owner(warehouse: Warehouse) -> None:
    await warehouse.execute("CREATE TABLE t (x INTEGER)")
    txn = await warehouse.begin("BEGIN")
    await txn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(QueryFailed):
        await txn.execute("SELECT * FROM no_such_table")
    # the owner ends it (DuckDB and PostgreSQL only accept ROLLBACK now); nothing of it remains
    await txn.end("ROLLBACK")
    assert await count(warehouse) == 0
    await warehouse.execute("INSERT INTO t VALUES (2)")
    assert await count(warehouse) == 1
