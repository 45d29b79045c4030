"""The warehouse contract, run against every warehouse type: DuckDB and SQLite files, and a
private PostgreSQL, MariaDB (for ``mysql``) and ClickHouse server the tests start themselves.

Only portable SQL is used here, except where a backend's own spelling is the point (session
parameters, a table's engine on ClickHouse), which is then given per backend. Where a type behaves
otherwise by design (ClickHouse has no transactions, no unique keys, no RETURNING), the test says so
with :func:`differs`, naming the difference that docs/warehouses.md documents; the type's own
module (``test_mysql_warehouse.py``, ``test_clickhouse_warehouse.py``) tests what it does instead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from tasksql.errors import QueryFailed, WarehouseError
from tasksql.warehouses.base import BodyResult, CancelToken, ResultSet, Warehouse

from .support import BACKENDS

#: Every warehouse type (the other modules of this directory run over BACKENDS only).
ALL_TYPES = [
    *BACKENDS,
    pytest.param("mysql", id="mysql"),
    pytest.param("clickhouse", id="clickhouse"),
    pytest.param("clickhouse-http", id="clickhouse-http"),
    pytest.param("chdb", id="chdb"),
]


@pytest.fixture(params=ALL_TYPES)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def differs(w: Warehouse, types: str, why: str) -> None:
    """Skip the test on the types named in ``types`` (space-separated): they differ by design."""
    if w.type.value in types.split():
        pytest.skip(f"{w.type.value} differs by design: {why}")


def table(w: Warehouse, name: str, columns: str) -> str:
    """``CREATE TABLE name (columns)`` in ``w``'s dialect (ClickHouse needs an engine; its columns
    are made Nullable, as the portable tests expect of a column without NOT NULL)."""
    if w.dialect == "clickhouse":
        return f"CREATE TABLE {name} ({_nullable(columns)}) ENGINE = Memory"
    return q(w, f"CREATE TABLE {name} ({columns})")


def q(w: Warehouse, sql: str) -> str:
    """``sql`` with its double-quoted names back-quoted on MySQL (which reads "..." as a string)."""
    return sql.replace('"', "`") if w.dialect == "mysql" else sql


def written(w: Warehouse, rows: int) -> int:
    """``rows``, or 0 on a ClickHouse server too old to count the rows an INSERT wrote."""
    from tasksql.warehouses.clickhouse import ClickHouseWarehouse, counts_writes

    return rows if not isinstance(w, ClickHouseWarehouse) or counts_writes(w.server_revision) else 0


async def schema_of(w: Warehouse) -> str:
    """The schema (MySQL, ClickHouse: the database) unqualified tables are in."""
    fixed = {"duckdb": "main", "sqlite": "main", "postgres": "public"}
    if w.dialect in fixed:
        return fixed[w.dialect]
    current = "SELECT currentDatabase()" if w.dialect == "clickhouse" else "SELECT DATABASE()"
    return str((await w.execute(current)).rows[0][0])


def _nullable(columns: str) -> str:
    out = []
    for col in columns.split(", "):
        if col.startswith('"'):
            end = col.index('"', 1) + 1
            name, rest = col[:end], col[end:].strip()
        else:
            name, _, rest = col.partition(" ")
        kind, _, tail = rest.partition(" ")
        if "NOT NULL" in tail:
            out.append(f"{name} {kind} {tail.replace('NOT NULL', '').strip()}".strip())
        else:
            out.append(f"{name} Nullable({kind}) {tail.replace('PRIMARY KEY', '').strip()}".strip())
    return ", ".join(out)


# --- execute -------------------------------------------------------------------------------------


async def test_execute_returns_columns_and_rows(warehouse: Warehouse) -> None:
    await warehouse.execute(table(warehouse, "t", "a INTEGER, b TEXT"))
    await warehouse.execute("INSERT INTO t VALUES (1, 'x'), (2, 'y')")
    rs = await warehouse.execute("SELECT a, b AS label FROM t ORDER BY a;")
    assert rs == ResultSet(columns=("a", "label"), rows=[(1, "x"), (2, "y")], rowcount=None)


async def test_execute_reports_column_types_also_without_rows(warehouse: Warehouse, backend: str) -> None:
    await warehouse.execute(table(warehouse, "t", "a INTEGER, b TEXT"))
    rs = await warehouse.execute("SELECT a, b FROM t")
    assert rs.columns == ("a", "b") and rs.rows == []
    if backend == "sqlite":
        assert rs.types == ()  # sqlite3 does not say
    else:
        expected = {
            "duckdb": ["INTEGER", "VARCHAR"],
            "postgres": ["int4", "text"],
            "mysql": ["int", "text"],
            "clickhouse": ["Nullable(Int32)", "Nullable(String)"],
            "clickhouse-http": ["Nullable(Int32)", "Nullable(String)"],
            "chdb": ["Nullable(Int32)", "Nullable(String)"],
        }[backend]
        assert list(rs.types) == expected


async def test_execute_reports_affected_rows_of_dml(warehouse: Warehouse) -> None:
    differs(
        warehouse,
        "clickhouse chdb",
        "no UPDATE or DELETE on 18.16, nor on chdb's Memory tables",
    )
    assert (await warehouse.execute(table(warehouse, "t", "a INTEGER"))).rowcount is None
    assert (await warehouse.execute("INSERT INTO t VALUES (1), (2), (3)")).rowcount == 3
    assert (await warehouse.execute("UPDATE t SET a = a + 10 WHERE a > 1")).rowcount == 2
    assert (await warehouse.execute("DELETE FROM t WHERE a = 12")).rowcount == 1
    assert (await warehouse.execute("DELETE FROM t WHERE a = 999")).rowcount == 0
    rs = await warehouse.execute("SELECT a FROM t ORDER BY a")
    assert rs.rows == [(1,), (13,)]
    assert rs.rowcount is None


async def test_execute_dml_with_returning_gives_rows_and_count(warehouse: Warehouse) -> None:
    differs(warehouse, "clickhouse chdb", "no RETURNING")
    await warehouse.execute(table(warehouse, "t", "a INTEGER"))
    rs = await warehouse.execute("INSERT INTO t VALUES (5), (6) RETURNING a")
    assert sorted(rs.rows) == [(5,), (6,)]
    assert rs.columns == ("a",)
    assert rs.rowcount == 2


@pytest.mark.parametrize(
    ("sql", "sqlstate"),
    [
        ("SELEC 1", "42601"),
        ("SELECT * FROM no_such_table", "42P01"),
        ("SELECT no_such_column FROM t", "42703"),
        ("INSERT INTO t VALUES (1, 'dup')", "23505"),
    ],
)
async def test_execute_errors_are_query_failed_with_sqlstate(
    warehouse: Warehouse, sql: str, sqlstate: str
) -> None:
    if "dup" in sql:
        differs(warehouse, "clickhouse chdb", "no unique keys: a duplicate is inserted")
    await warehouse.execute(table(warehouse, "t", "a INTEGER PRIMARY KEY, b TEXT"))
    await warehouse.execute("INSERT INTO t VALUES (1, 'first')")
    with pytest.raises(QueryFailed) as info:
        await warehouse.execute(sql)
    assert info.value.sqlstate == sqlstate
    assert info.value.message  # the driver's message is kept
    # The warehouse is still usable and nothing changed.
    assert (await warehouse.execute("SELECT a, b FROM t")).rows == [(1, "first")]


async def test_execute_refuses_several_statements_and_runs_none(warehouse: Warehouse) -> None:
    await warehouse.execute(table(warehouse, "t", "a INTEGER"))
    with pytest.raises(QueryFailed) as info:
        await warehouse.execute("INSERT INTO t VALUES (1); DROP TABLE t")
    assert info.value.code == "MULTIPLE_STATEMENTS"
    assert (await warehouse.execute("SELECT count(*) FROM t")).rows == [(0,)]


async def test_execute_accepts_semicolons_inside_strings_and_at_the_end(warehouse: Warehouse) -> None:
    rs = await warehouse.execute("SELECT 'a;b' AS s; -- trailing comment")
    assert rs.rows == [("a;b",)]


async def test_execute_is_autocommit(warehouse: Warehouse) -> None:
    differs(warehouse, "clickhouse chdb", "no unique keys to fail the second insert")
    await warehouse.execute(table(warehouse, "t", "a INTEGER PRIMARY KEY"))
    await warehouse.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(QueryFailed):
        await warehouse.execute("INSERT INTO t VALUES (1)")
    assert (await warehouse.execute("SELECT a FROM t")).rows == [(1,)]


async def test_closed_warehouse_refuses_calls(warehouse: Warehouse) -> None:
    await warehouse.close()
    with pytest.raises(WarehouseError) as info:
        await warehouse.execute("SELECT 1")
    assert info.value.code == "WAREHOUSE_CLOSED"


# --- run_body ------------------------------------------------------------------------------------


async def test_run_body_single_statement(warehouse: Warehouse) -> None:
    await warehouse.execute(table(warehouse, "t", "a INTEGER"))
    result = await warehouse.run_body(["INSERT INTO t VALUES (1), (2)"], transactional=False)
    assert result == BodyResult(rows_produced=2, rows_inserted=2, last=ResultSet(rowcount=2))


async def test_run_body_counts_rows_of_last_select_and_all_dml(warehouse: Warehouse) -> None:
    differs(warehouse, "clickhouse chdb", "no DELETE statement")
    await warehouse.execute(table(warehouse, "t", "a INTEGER"))
    result = await warehouse.run_body(
        [
            "INSERT INTO t VALUES (1), (2), (3)",
            "DELETE FROM t WHERE a = 1",
            "SELECT a FROM t ORDER BY a",
        ],
        transactional=True,
    )
    assert result.rows_produced == 2
    assert result.rows_inserted == 4  # 3 inserted + 1 deleted: rows written by DML
    assert result.last == ResultSet(columns=("a",), rows=[(2,), (3,)])


async def test_run_body_empty(warehouse: Warehouse) -> None:
    assert await warehouse.run_body([], transactional=True) == BodyResult(
        rows_produced=0, rows_inserted=0, last=None
    )


async def test_transactional_body_is_all_or_nothing(warehouse: Warehouse) -> None:
    differs(warehouse, "clickhouse chdb", "no transactions: a failed body keeps what ran before the failure")
    await warehouse.execute(table(warehouse, "t", "a INTEGER"))
    with pytest.raises(QueryFailed) as info:
        await warehouse.run_body(
            ["INSERT INTO t VALUES (1)", "INSERT INTO no_such_table VALUES (2)"], transactional=True
        )
    assert info.value.sqlstate == "42P01"
    assert (await warehouse.execute("SELECT count(*) FROM t")).rows == [(0,)]
    # and the connection is clean: the next body commits normally
    await warehouse.run_body(["INSERT INTO t VALUES (3)"], transactional=True)
    assert (await warehouse.execute("SELECT a FROM t")).rows == [(3,)]


async def test_transactional_body_can_create_and_fill_a_table_atomically(warehouse: Warehouse) -> None:
    differs(warehouse, "mysql", "a CREATE TABLE commits the transaction it is in (implicit commit)")
    differs(warehouse, "clickhouse chdb", "no transactions: a body is not all or nothing")
    with pytest.raises(QueryFailed):
        await warehouse.run_body(
            ["CREATE TABLE fresh (a INTEGER)", "INSERT INTO fresh VALUES (1)", "SELECT * FROM nope"],
            transactional=True,
        )
    assert await warehouse.table_columns("fresh") is None


async def test_non_transactional_body_keeps_statements_before_the_failure(warehouse: Warehouse) -> None:
    await warehouse.execute(table(warehouse, "t", "a INTEGER"))
    with pytest.raises(QueryFailed):
        await warehouse.run_body(
            ["INSERT INTO t VALUES (1)", "INSERT INTO no_such_table VALUES (2)", "INSERT INTO t VALUES (3)"],
            transactional=False,
        )
    assert (await warehouse.execute("SELECT a FROM t")).rows == [(1,)]


async def test_body_statements_share_one_connection(warehouse: Warehouse) -> None:
    # A TEMPORARY table exists only on the connection that made it: the body must see it throughout.
    result = await warehouse.run_body(
        [
            "CREATE TEMPORARY TABLE scratch (a INTEGER)",
            "INSERT INTO scratch VALUES (7)",
            "SELECT a FROM scratch",
        ],
        transactional=False,
    )
    assert result.last is not None and result.last.rows == [(7,)]


async def test_body_refuses_a_statement_holding_several(warehouse: Warehouse) -> None:
    await warehouse.execute(table(warehouse, "t", "a INTEGER"))
    with pytest.raises(QueryFailed) as info:
        await warehouse.run_body(["INSERT INTO t VALUES (1)", "SELECT 1; SELECT 2"], transactional=True)
    assert info.value.code == "MULTIPLE_STATEMENTS"
    assert (await warehouse.execute("SELECT count(*) FROM t")).rows == [(0,)]


# --- INTO ----------------------------------------------------------------------------------------


@pytest.fixture
async def target(warehouse: Warehouse) -> Warehouse:
    await warehouse.execute(
        table(warehouse, "target", "id INTEGER, \"Amount\" INTEGER, note TEXT DEFAULT 'none', seen INTEGER")
    )
    return warehouse


async def test_into_matches_columns_by_name_case_insensitively(target: Warehouse) -> None:
    result = await target.run_body(
        ["SELECT 7 AS amount, 1 AS ID UNION ALL SELECT 8, 2"], transactional=True, into="target"
    )
    assert result.rows_inserted == written(target, 2)
    assert result.rows_produced == written(target, 2)
    rows = (await target.execute(q(target, 'SELECT id, "Amount", note, seen FROM target ORDER BY id'))).rows
    # note gets its default, seen (no default) gets NULL
    assert rows == [(1, 7, "none", None), (2, 8, "none", None)]


async def test_into_drops_query_columns_the_target_lacks(target: Warehouse) -> None:
    await target.run_body(["SELECT 1 AS id, 'x' AS extra, 'y' AS note"], transactional=True, into="target")
    rows = (await target.execute(q(target, 'SELECT id, "Amount", note FROM target'))).rows
    assert rows == [(1, None, "y")]


async def test_into_with_no_matching_column_fails_and_rolls_back(target: Warehouse) -> None:
    differs(target, "clickhouse chdb", "no transactions: a failed body keeps what ran before the failure")
    await target.execute(table(target, "log", "a INTEGER"))
    with pytest.raises(QueryFailed) as info:
        await target.run_body(
            ["INSERT INTO log VALUES (1)", "SELECT 1 AS unrelated, 2 AS alike"],
            transactional=True,
            into="target",
        )
    assert info.value.code == "INTO_NO_MATCHING_COLUMNS"
    assert "unrelated" in info.value.message and "Amount" in info.value.message
    assert (await target.execute("SELECT count(*) FROM log")).rows == [(0,)]
    assert (await target.execute("SELECT count(*) FROM target")).rows == [(0,)]


async def test_into_is_in_the_transaction_of_the_body(target: Warehouse) -> None:
    differs(target, "clickhouse chdb", "no transactions: a failed body keeps what ran before the failure")
    # The INTO insert itself fails (NULL into a NOT NULL column): the body's first statement goes too.
    await target.execute(table(target, "log", "a INTEGER"))
    await target.execute(table(target, "strict_target", "id INTEGER NOT NULL, note TEXT"))
    with pytest.raises(QueryFailed) as info:
        await target.run_body(
            ["INSERT INTO log VALUES (1)", "SELECT CAST(NULL AS INTEGER) AS id, 'x' AS note"],
            transactional=False,  # INTO makes the body transactional anyway
            into="strict_target",
        )
    assert info.value.sqlstate == "23502"
    assert (await target.execute("SELECT count(*) FROM log")).rows == [(0,)]


async def test_into_commits_with_the_rest_of_the_body(target: Warehouse) -> None:
    differs(target, "clickhouse", "WITH name AS (subquery) is not ClickHouse 18's WITH")
    await target.execute(table(target, "src", "id INTEGER, amount INTEGER"))
    result = await target.run_body(
        [
            "INSERT INTO src VALUES (1, 10), (2, 20)",
            "WITH s AS (SELECT id, amount FROM src) SELECT id, amount * 2 AS amount FROM s ORDER BY id;",
        ],
        transactional=True,
        into="target",
    )
    assert result.rows_inserted == 4
    assert result.rows_produced == 2
    rows = (await target.execute(q(target, 'SELECT id, "Amount" FROM target ORDER BY id'))).rows
    assert rows == [(1, 20), (2, 40)]


async def test_into_accepts_a_qualified_target(target: Warehouse) -> None:
    schema = await schema_of(target)
    await target.run_body(["SELECT 3 AS id"], transactional=True, into=f"{schema}.target")
    assert (await target.execute("SELECT id FROM target")).rows == [(3,)]


async def test_into_needs_a_query_last(target: Warehouse) -> None:
    with pytest.raises(QueryFailed) as info:
        await target.run_body(["DELETE FROM target"], transactional=True, into="target")
    assert info.value.code == "INTO_NOT_A_QUERY"


async def test_into_a_missing_table(target: Warehouse) -> None:
    with pytest.raises(QueryFailed) as info:
        await target.run_body(["SELECT 1 AS id"], transactional=True, into="missing")
    assert info.value.code == "INTO_TABLE_NOT_FOUND"


async def test_into_refuses_a_name_that_is_not_a_table_name(target: Warehouse) -> None:
    with pytest.raises(QueryFailed) as info:
        await target.run_body(["SELECT 1 AS id"], transactional=True, into="target; DROP TABLE target")
    assert info.value.code == "INVALID_NAME"
    assert await target.table_columns("target") is not None


# --- session parameters --------------------------------------------------------------------------

# (parameter, value, statement that shows it, value it shows)
PARAMS = {
    "duckdb": ("TimeZone", "'Asia/Tokyo'", "SELECT current_setting('TimeZone')", "Asia/Tokyo"),
    "postgres": ("TimeZone", "'Asia/Tokyo'", "SELECT current_setting('TimeZone')", "Asia/Tokyo"),
    "sqlite": ("foreign_keys", "ON", "PRAGMA foreign_keys", 1),
    "mysql": ("time_zone", "'+09:00'", "SELECT @@session.time_zone", "+09:00"),
    "clickhouse": ("max_threads", "3", "SELECT value FROM system.settings WHERE name = 'max_threads'", "3"),
}


@pytest.mark.parametrize("transactional", [True, False])
async def test_session_params_apply_to_the_run_only(warehouse: Warehouse, transactional: bool) -> None:
    name, value, show, shown = PARAMS[warehouse.dialect]
    before = (await warehouse.execute(show)).rows
    assert before != [(shown,)]
    # two statements, so that transactional=True really runs in a transaction (SET LOCAL in PostgreSQL)
    result = await warehouse.run_body(
        ["SELECT 1", show], transactional=transactional, session_params=[(name, value)]
    )
    assert result.last is not None and result.last.rows == [(shown,)]
    for _ in range(warehouse.max_concurrency + 1):  # whichever connection serves the next calls
        assert (await warehouse.execute(show)).rows == before


@pytest.mark.parametrize("transactional", [True, False])
async def test_an_unknown_session_param_fails_the_run_and_leaves_nothing_behind(
    warehouse: Warehouse, transactional: bool
) -> None:
    if warehouse.dialect == "sqlite":
        pytest.skip("SQLite ignores unknown PRAGMAs")
    name, value, show, _ = PARAMS[warehouse.dialect]
    before = (await warehouse.execute(show)).rows
    await warehouse.execute(table(warehouse, "t", "a INTEGER"))
    with pytest.raises(QueryFailed):
        await warehouse.run_body(
            ["INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)"],
            transactional=transactional,
            session_params=[(name, value), ("no_such_parameter_xyz", "1")],
        )
    for _ in range(warehouse.max_concurrency + 1):
        assert (await warehouse.execute(show)).rows == before
        assert (await warehouse.execute("SELECT count(*) FROM t")).rows == [(0,)]


@pytest.mark.parametrize(
    "param", [("TimeZone; DROP TABLE t", "1"), ("TimeZone", "'UTC'; DROP TABLE t"), ("x", "")]
)
async def test_bad_session_params_are_refused_before_anything_runs(
    warehouse: Warehouse, param: tuple[str, str]
) -> None:
    await warehouse.execute(table(warehouse, "t", "a INTEGER"))
    with pytest.raises(QueryFailed) as info:
        await warehouse.run_body(["INSERT INTO t VALUES (1)"], transactional=True, session_params=[param])
    assert info.value.code == "INVALID_SESSION_PARAM"
    assert (await warehouse.execute("SELECT count(*) FROM t")).rows == [(0,)]


# --- extra relations (tables=) -------------------------------------------------------------------


def arrow_table() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "name": ["a", None, "c"],
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


async def test_tables_are_visible_to_the_statement(warehouse: Warehouse) -> None:
    rs = await warehouse.execute(
        "SELECT id, name, score FROM runs_view WHERE id <> 2 ORDER BY id", tables={"runs_view": arrow_table()}
    )
    assert rs.rows == [(1, "a", 1.5), (3, "c", None)]
    rs = await warehouse.execute(
        "SELECT count(*) FROM runs_view WHERE started IS NOT NULL AND run_day IS NOT NULL",
        tables={"runs_view": arrow_table()},
    )
    assert rs.rows == [(1,)]


async def test_tables_are_gone_afterwards(warehouse: Warehouse) -> None:
    await warehouse.execute("SELECT * FROM runs_view", tables={"runs_view": arrow_table()})
    for _ in range(warehouse.max_concurrency + 1):
        with pytest.raises(QueryFailed) as info:
            await warehouse.execute("SELECT * FROM runs_view")
        assert info.value.sqlstate == "42P01"


async def test_tables_shadow_a_table_of_the_same_name_for_the_call_only(warehouse: Warehouse) -> None:
    await warehouse.execute(table(warehouse, "history", "id INTEGER"))
    await warehouse.execute("INSERT INTO history VALUES (100)")
    rs = await warehouse.execute("SELECT id FROM history ORDER BY id", tables={"history": arrow_table()})
    assert rs.rows == [(1,), (2,), (3,)]
    assert (await warehouse.execute("SELECT id FROM history")).rows == [(100,)]


async def test_tables_in_bodies_and_conditions(warehouse: Warehouse) -> None:
    await warehouse.execute(table(warehouse, "copy", "id INTEGER, name TEXT"))
    result = await warehouse.run_body(
        ["INSERT INTO copy SELECT id, name FROM src", "SELECT id, name FROM src WHERE name IS NOT NULL"],
        transactional=True,
        tables={"src": arrow_table()},
    )
    assert result.rows_produced == 2
    assert (await warehouse.execute("SELECT count(*) FROM copy")).rows == [(3,)]
    assert await warehouse.evaluate("(SELECT count(*) FROM src) = 3", tables={"src": arrow_table()})


async def test_concurrent_calls_each_see_their_own_tables(warehouse: Warehouse) -> None:
    import asyncio

    async def one(n: int) -> list[tuple[object, ...]]:
        table = pa.table({"n": [n] * n})
        return (await warehouse.execute("SELECT max(n), count(*) FROM mine", tables={"mine": table})).rows

    results = await asyncio.gather(*(one(n) for n in range(1, 9)))
    assert results == [[(n, n)] for n in range(1, 9)]


# --- evaluate ------------------------------------------------------------------------------------


async def test_evaluate_true_false_and_null(warehouse: Warehouse) -> None:
    await warehouse.execute(table(warehouse, "t", "a INTEGER"))
    await warehouse.execute("INSERT INTO t VALUES (1)")
    assert await warehouse.evaluate("(SELECT count(*) FROM t) > 0") is True
    if warehouse.dialect != "clickhouse":  # no EXISTS in ClickHouse 18
        assert await warehouse.evaluate("EXISTS (SELECT 1 FROM t WHERE a = 2)") is False
    assert await warehouse.evaluate("NULL") is False
    assert await warehouse.evaluate("(SELECT max(a) FROM t WHERE a > 5) = 1") is False
    assert await warehouse.evaluate("1 = 1 -- a trailing comment") is True


async def test_evaluate_errors(warehouse: Warehouse) -> None:
    with pytest.raises(QueryFailed) as info:
        await warehouse.evaluate("(SELECT count(*) FROM no_such_table) > 0")
    assert info.value.sqlstate == "42P01"
    with pytest.raises(QueryFailed) as info:
        await warehouse.evaluate("'some text'")
    assert info.value.code == "WHEN_NOT_BOOLEAN"


async def test_evaluate_cannot_smuggle_statements(warehouse: Warehouse) -> None:
    await warehouse.execute(table(warehouse, "t", "a INTEGER"))
    with pytest.raises(QueryFailed) as info:
        await warehouse.evaluate("1); DROP TABLE t; SELECT (1")
    assert info.value.code == "MULTIPLE_STATEMENTS"
    assert await warehouse.table_columns("t") == ["a"]


# --- table_columns -------------------------------------------------------------------------------


async def test_table_columns(warehouse: Warehouse) -> None:
    await warehouse.execute(table(warehouse, "t", 'a INTEGER, "Mixed Case" TEXT, c TEXT'))
    assert await warehouse.table_columns("t") == ["a", "Mixed Case", "c"]
    schema = await schema_of(warehouse)
    assert await warehouse.table_columns(q(warehouse, f'{schema}."t"')) == ["a", "Mixed Case", "c"]
    assert await warehouse.table_columns("no_such_table") is None
    assert await warehouse.table_columns("no_such_schema.t") is None
    with pytest.raises(QueryFailed) as info:
        await warehouse.table_columns("t WHERE 1=1")
    assert info.value.code == "INVALID_NAME"


async def test_a_token_cancelled_before_the_call_runs_nothing(warehouse: Warehouse) -> None:
    from tasksql.errors import QueryCancelled

    await warehouse.execute(table(warehouse, "t", "a INTEGER"))
    token = CancelToken()
    token.cancel("changed my mind")
    with pytest.raises(QueryCancelled) as info:
        await warehouse.run_body(["INSERT INTO t VALUES (1)"], transactional=False, token=token)
    assert "changed my mind" in info.value.message
    assert (await warehouse.execute("SELECT count(*) FROM t")).rows == [(0,)]


# --- stream_body ---------------------------------------------------------------------------------


async def test_stream_body_hands_over_batches_of_at_most_batch_rows(warehouse: Warehouse) -> None:
    await warehouse.execute(table(warehouse, "t", "a INTEGER, b TEXT"))
    values = ", ".join(f"({i}, 'r{i}')" for i in range(25))
    await warehouse.execute(f"INSERT INTO t VALUES {values}")
    seen: list[pa.RecordBatch] = []

    async def sink(batch: pa.RecordBatch) -> None:
        seen.append(batch)

    result = await warehouse.stream_body(
        ["SELECT a, b AS label FROM t ORDER BY a"], sink=sink, batch_rows=10, transactional=False
    )
    assert result.rows_produced == 25
    assert [b.num_rows for b in seen] == [10, 10, 5]
    assert all(b.schema.names == ["a", "label"] for b in seen)
    assert [v for b in seen for v in b.column(0).to_pylist()] == list(range(25))
    seen.clear()
    result = await warehouse.stream_body(
        ["SELECT a, b FROM t WHERE a < 0"], sink=sink, batch_rows=10, transactional=False
    )
    assert result.rows_produced == 0
    assert len(seen) == 1 and seen[0].num_rows == 0 and seen[0].schema.names == ["a", "b"]


async def test_stream_body_fails_with_its_sink_and_rolls_back(warehouse: Warehouse) -> None:
    differs(warehouse, "clickhouse chdb", "no transactions: a failed body keeps what ran before the failure")
    await warehouse.execute(table(warehouse, "t", "a INTEGER"))

    async def sink(batch: pa.RecordBatch) -> None:
        raise QueryFailed("the target refused the batch", code="TARGET_FAILED")

    with pytest.raises(QueryFailed) as info:
        await warehouse.stream_body(
            ["INSERT INTO t VALUES (1)", "SELECT a FROM t"], sink=sink, batch_rows=10, transactional=True
        )
    assert info.value.code == "TARGET_FAILED"
    assert (await warehouse.execute("SELECT count(*) FROM t")).rows == [(0,)]


async def test_stream_body_needs_a_query_last(warehouse: Warehouse) -> None:
    async def sink(batch: pa.RecordBatch) -> None:
        raise AssertionError("nothing to hand over")

    with pytest.raises(QueryFailed) as info:
        await warehouse.stream_body(["DROP TABLE IF EXISTS t"], sink=sink, batch_rows=10, transactional=False)
    assert info.value.code == "INTO_NOT_A_QUERY"
