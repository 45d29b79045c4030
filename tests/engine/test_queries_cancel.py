"""SHOW QUERIES and CANCEL QUERY in one engine: a long DuckDB query is listed, cancelled in the
warehouse (the call returns at once with CANCELLED), and the rest of its script does not start.

The query runs for hours unless cancelled, so a call that returns within the tests' bounds (generous
for a loaded machine: 30 s, waits for a condition 60 s) was cancelled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.engine.queries import QueryNotFound
from tasksql.errors import QueryCancelled, ValidationError
from tasksql.settings import Settings
from tasksql.warehouses.base import CancelToken

#: Runs for hours unless interrupted.
SLOW = "SELECT sum(hash(a.range * b.range)) FROM range(1000000) a, range(1000000) b"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


async def running(
    engine: Engine, count: int = 1, within: float = 60.0, statement: int | None = None
) -> list[dict[str, object]]:
    """SHOW QUERIES once ``count`` queries besides SHOW QUERIES itself are listed (each at its
    ``statement``-th statement, when given: a script is listed at every statement it runs)."""
    end = time.monotonic() + within
    while True:
        shown = (await engine.execute("SHOW QUERIES"))[0].as_dicts()
        others = [q for q in shown if q["query_text"] != "SHOW QUERIES"]
        if statement is not None:
            others = [q for q in others if q["statement"] == statement]
        if len(others) >= count:
            return others
        assert time.monotonic() < end, f"queries never showed up: {shown}"
        await asyncio.sleep(0.02)


async def test_show_queries_lists_and_cancel_query_stops(engine: Engine) -> None:
    await engine.execute("CREATE TABLE before_it (a INTEGER)")
    script = asyncio.create_task(
        engine.execute(f"INSERT INTO before_it VALUES (1);\n{SLOW};\nCREATE TABLE after_it (a INTEGER)")
    )
    [query] = await running(engine, statement=2)
    assert query["statement"] == 2 and query["statements"] == 3
    assert str(query["query_text"]).startswith("SELECT sum(hash(")
    assert query["user_name"] == engine.user.name and isinstance(query["elapsed_ms"], int)
    warehouse = await engine.warehouse()
    # SHOW QUERIES lists a statement from the moment the engine starts it; its warehouse call begins
    # a moment later (on a loaded machine, visibly later)
    end = time.monotonic() + 60
    while warehouse.running != 1:
        assert time.monotonic() < end, f"the warehouse never ran the statement: running={warehouse.running}"
        await asyncio.sleep(0.01)

    started = time.monotonic()
    status = (await engine.execute(f"CANCEL QUERY '{query['query_id']}'"))[0]
    assert status.message == f"Query {query['query_id']} is cancelled."
    with pytest.raises(QueryCancelled) as caught:
        await script
    assert time.monotonic() - started < 30  # SLOW runs for hours: this is the cancel
    err = caught.value
    assert err.code == "CANCELLED" and err.statement_number == 2 and err.statement_line == 2
    assert [r.message for r in err.partial_results] == ["INSERT 0 1"]
    # the warehouse is free again, and the statement after the cancelled one never ran
    assert warehouse.running == 0
    assert engine.queries.running() == []
    assert (await engine.execute("SELECT count(*) FROM before_it"))[0].rows == [(1,)]
    assert (
        await engine.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'after_it'")
    )[0].rows == [(0,)]


async def test_a_token_cancels_its_query(engine: Engine) -> None:
    token = CancelToken()
    call = asyncio.create_task(engine.execute(SLOW, token=token, query_id="mine-1"))
    [query] = await running(engine)
    assert query["query_id"] == "mine-1"
    token.cancel("stop")
    with pytest.raises(QueryCancelled):
        await asyncio.wait_for(call, 30)
    # a token cancelled before the script starts: nothing runs
    token = CancelToken()
    token.cancel("early")
    with pytest.raises(QueryCancelled):
        await engine.execute("CREATE TABLE never (a INTEGER)", token=token)
    assert (
        await engine.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'never'")
    )[0].rows == [(0,)]


async def test_query_ids(engine: Engine) -> None:
    with pytest.raises(QueryNotFound) as caught:
        await engine.execute("SHOW QUERIES;\nCANCEL QUERY 'no-such-query'")
    err = caught.value
    assert err.code == "QUERY_NOT_FOUND" and err.http_status == 404
    assert err.span is not None and (err.span.line, err.span.column) == (2, 14)
    with pytest.raises(ValidationError) as bad:
        await engine.execute("SELECT 1", query_id="has spaces")
    assert bad.value.code == "INVALID_QUERY_ID"
    call = asyncio.create_task(engine.execute(SLOW, query_id="same"))
    await running(engine)
    with pytest.raises(ValidationError) as taken:
        await engine.execute("SELECT 1", query_id="same")
    assert taken.value.code == "QUERY_ID_IN_USE"
    engine.queries.cancel("same")
    with pytest.raises(QueryCancelled):
        await asyncio.wait_for(call, 30)


async def test_cancelling_an_execute_task_that_waits_cancels_the_run(engine: Engine) -> None:
    await engine.execute(f"CREATE TASK slow SCHEDULE 1 HOUR AS {SLOW}")
    call = asyncio.create_task(engine.execute("EXECUTE TASK slow", query_id="waits"))
    await running(engine)
    warehouse = await engine.warehouse()
    end = time.monotonic() + 60
    while warehouse.running == 0:  # the run's body is executing
        assert time.monotonic() < end
        await asyncio.sleep(0.02)
    started = time.monotonic()
    await engine.execute("CANCEL QUERY 'waits'")
    with pytest.raises(QueryCancelled):
        await asyncio.wait_for(call, 30)
    assert time.monotonic() - started < 30  # SLOW runs for hours: this is the cancel
    runs = (await engine.execute("SELECT state FROM task_history(task_name => 'slow')"))[0].rows
    assert runs == [("CANCELLED",)]
    assert warehouse.running == 0
