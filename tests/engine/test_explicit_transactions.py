"""BEGIN ... COMMIT typed outside all-or-nothing mode: the transaction holds its own connection of the
default warehouse, a script that leaves it open is rolled back and fails, a session keeps it across
calls, idle sessions are rolled back, and task runs never share it. Real catalog and DuckDB file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.errors import QueryCancelled, QueryFailed, ValidationError
from tasksql.settings import Settings

LOGGER = "CREATE TASK logger SCHEDULE = '1 HOURS' AS INSERT INTO log SELECT count(*) FROM t"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        await eng.execute(f"CREATE TABLE t (x INTEGER); CREATE TABLE log (seen BIGINT); {LOGGER}")
        yield eng


async def rows(engine: Engine, sql: str, **kw: object) -> list[tuple[object, ...]]:
    return (await engine.execute(sql, **kw))[-1].rows  # type: ignore[arg-type]


async def no_transaction_anywhere(engine: Engine) -> None:
    """The next statement and a task run see no open transaction and none of its rows."""
    assert await rows(engine, "SELECT count(*) FROM t") == [(0,)]
    # a pooled connection left inside a transaction would take this COMMIT instead of failing
    with pytest.raises(QueryFailed, match="no transaction is active"):
        await engine.execute("COMMIT")
    [run] = (await engine.execute("EXECUTE TASK logger"))[0].as_dicts()
    assert run["state"] == "SUCCEEDED"
    assert await rows(engine, "SELECT seen FROM log") == [(0,)]


async def test_a_script_that_leaves_begin_open_is_rolled_back_and_fails(engine: Engine) -> None:
    script = "INSERT INTO log VALUES (7);\nBEGIN;\nINSERT INTO t VALUES (1), (2)"
    with pytest.raises(ValidationError) as caught:
        await engine.execute(script)
    err = caught.value
    assert err.code == "TRANSACTION_NOT_ENDED"
    assert "statement 2 (BEGIN)" in err.message and "rolled back" in err.message
    assert err.line == 2  # the caret points at the BEGIN
    assert [r.message for r in err.partial_results] == ["INSERT 0 1", "BEGIN", "INSERT 0 2"]
    await engine.execute("DELETE FROM log")  # (the statement before BEGIN stays done)
    await no_transaction_anywhere(engine)


async def test_a_script_failing_inside_its_transaction_is_rolled_back(engine: Engine) -> None:
    with pytest.raises(QueryFailed) as caught:
        await engine.execute("BEGIN; INSERT INTO t VALUES (1); SELECT * FROM nosuch; COMMIT")
    err = caught.value
    assert err.statement_number == 3
    assert err.undone == "the transaction begun with BEGIN was rolled back"
    assert err.render().startswith(
        "error [QUERY_FAILED]: statement 3 (line 1) failed (the transaction begun with BEGIN was rolled back): "
    )
    await no_transaction_anywhere(engine)


async def test_begin_commit_in_one_script(engine: Engine) -> None:
    results = await engine.execute(
        "BEGIN; INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); COMMIT; SELECT count(*) FROM t"
    )
    assert [r.message for r in results[:4]] == ["BEGIN", "INSERT 0 1", "INSERT 0 1", "COMMIT"]
    assert results[-1].rows == [(2,)]
    assert await rows(engine, "BEGIN; DELETE FROM t; ROLLBACK; SELECT count(*) FROM t") == [(2,)]


async def test_a_session_keeps_its_transaction_across_calls(engine: Engine) -> None:
    await engine.execute("BEGIN", session="s1")
    await engine.execute("INSERT INTO t VALUES (1)", session="s1")
    assert engine.sessions.in_transaction("s1")
    assert await rows(engine, "SELECT count(*) FROM t", session="s1") == [(1,)]
    # other callers and task runs do not see it, and are not held up by it
    assert await rows(engine, "SELECT count(*) FROM t") == [(0,)]
    [run] = (await engine.execute("EXECUTE TASK logger"))[0].as_dicts()
    assert run["state"] == "SUCCEEDED"
    assert await rows(engine, "SELECT seen FROM log") == [(0,)]
    await engine.execute("COMMIT", session="s1")
    assert not engine.sessions.in_transaction("s1")
    assert await rows(engine, "SELECT count(*) FROM t") == [(1,)]
    await engine.execute("BEGIN; DELETE FROM t", session="s2")
    await engine.execute("ROLLBACK", session="s2")
    assert await rows(engine, "SELECT count(*) FROM t") == [(1,)]


async def test_an_error_in_a_session_leaves_the_transaction_to_end(engine: Engine) -> None:
    await engine.execute("BEGIN; INSERT INTO t VALUES (1)", session="s")
    with pytest.raises(QueryFailed):
        await engine.execute("SELECT nosuch", session="s")
    assert engine.sessions.in_transaction("s")  # as in psql: the user ends it
    await engine.execute("ROLLBACK", session="s")
    await no_transaction_anywhere(engine)


async def test_what_cannot_be_undone_is_refused_inside_a_transaction(engine: Engine) -> None:
    with pytest.raises(ValidationError) as caught:
        await engine.execute(
            "BEGIN; INSERT INTO t VALUES (1); CREATE TASK other SCHEDULE 1 HOURS AS SELECT 1"
        )
    assert caught.value.code == "NOT_IN_TRANSACTION" and caught.value.line == 1
    assert "statement 3 cannot run inside a transaction: CREATE TASK changes" in caught.value.message
    assert await rows(engine, "SELECT count(*) FROM system.tasks WHERE name = 'OTHER'") == [(0,)]
    await engine.execute("BEGIN", session="s")
    for refused in ("EXECUTE TASK logger", "ALTER TASK logger SUSPEND", "DROP TASK logger"):
        with pytest.raises(ValidationError, match="COMMIT or ROLLBACK first"):
            await engine.execute(refused, session="s")
    with pytest.raises(ValidationError, match="ROLLBACK it before a single-transaction script"):
        await engine.execute("INSERT INTO t VALUES (1)", session="s", single_transaction=True)
    with pytest.raises(ValidationError, match="AND CHAIN is not supported"):
        await engine.execute("COMMIT AND CHAIN", session="s")
    assert len(await engine.execute("SHOW TASKS", session="s")) == 1  # reading the catalog is fine
    await engine.execute("ROLLBACK", session="s")
    await no_transaction_anywhere(engine)


async def test_savepoint_needs_a_transaction(engine: Engine) -> None:
    for text in ("SAVEPOINT a", "RELEASE a", "ROLLBACK TO a"):
        with pytest.raises(ValidationError) as caught:
            await engine.execute(text)
        assert caught.value.code == "NO_TRANSACTION"
        assert "needs an open transaction: BEGIN first" in caught.value.message


async def test_an_idle_session_is_rolled_back_and_told(engine: Engine) -> None:
    await engine.execute("BEGIN; INSERT INTO t VALUES (1)", session="idle", idle_timeout=0.2)
    deadline = asyncio.get_running_loop().time() + 10
    while engine.sessions.in_transaction("idle"):
        assert asyncio.get_running_loop().time() < deadline, "the idle transaction was never rolled back"
        await asyncio.sleep(0.02)
    assert await rows(engine, "SELECT count(*) FROM t") == [(0,)]
    with pytest.raises(ValidationError) as caught:
        await engine.execute("INSERT INTO t VALUES (2); COMMIT", session="idle")
    assert caught.value.code == "TRANSACTION_ROLLED_BACK"
    assert "was rolled back after 0.2 s without a statement" in caught.value.message
    assert await rows(engine, "SELECT count(*) FROM t") == [(0,)]  # the input did not run
    assert await rows(engine, "SELECT 1", session="idle") == [(1,)]  # told once, then a fresh session


async def test_a_session_runs_one_call_at_a_time(engine: Engine) -> None:
    slow = "SELECT sum(hash(a.range * b.range)) FROM range(100000) a, range(100000) b"
    first = asyncio.create_task(engine.execute(slow, session="one"))
    while not engine.queries.running():
        await asyncio.sleep(0.01)
    with pytest.raises(ValidationError) as caught:
        await engine.execute("SELECT 1", session="one")
    assert caught.value.code == "SESSION_BUSY"
    engine.queries.cancel(engine.queries.running()[0].query_id)
    with pytest.raises(QueryCancelled):
        await first
    assert await rows(engine, "SELECT 1", session="one") == [(1,)]


async def test_closing_the_engine_rolls_back_open_transactions(tmp_path: Path) -> None:
    settings = Settings.load(data_dir=tmp_path / "data")
    async with Engine(settings) as engine:
        await engine.execute("CREATE TABLE t (x INTEGER)")
        await engine.execute("BEGIN; INSERT INTO t VALUES (1)", session="left")
    async with Engine(settings) as engine:
        assert await rows(engine, "SELECT count(*) FROM t") == [(0,)]
