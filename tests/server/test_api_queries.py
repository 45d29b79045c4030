"""POST /api/v1/sql on scripts (results before a failure, single transaction, waiting for runs) and
the query routes (list, cancel), in-process on a real engine with its scheduler."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tasksql.engine import Engine
from tasksql.server.api import create_app
from tasksql.settings import Settings

SLOW = "SELECT sum(hash(a.range * b.range)) FROM range(1000000) a, range(1000000) b"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as engine:
        await engine.start_scheduler()
        async with TestClient(TestServer(create_app(engine))) as c:
            yield c


async def post_sql(client: TestClient[Any, Any], **body: Any) -> tuple[int, dict[str, Any]]:
    resp = await client.post("/api/v1/sql", json=body)
    return resp.status, await resp.json()


async def test_a_failure_answers_with_the_results_before_it(client: TestClient[Any, Any]) -> None:
    status, body = await post_sql(
        client, sql="CREATE TABLE zz (a INTEGER);\nINSERT INTO zz VALUES (1);\nSELECT * FROM nosuch"
    )
    assert status == 400 and body["ok"] is False
    error = body["error"]
    assert (error["code"], error["statement"], error["statement_line"], error["rolled_back"]) == (
        "QUERY_FAILED",
        3,
        3,
        False,
    )
    assert [(r["statement"], r["rowcount"]) for r in body["results"]] == [
        ("CREATE TABLE", None),
        ("INSERT", 1),
    ]
    status, body = await post_sql(client, sql="SELECT count(*) AS n FROM zz")
    assert body["results"][0]["rows"] == [[1]]


async def test_single_transaction(client: TestClient[Any, Any]) -> None:
    status, body = await post_sql(
        client, sql="CREATE TABLE yy (a INTEGER); SELECT * FROM nosuch", single_transaction=True
    )
    assert status == 400 and body["error"]["rolled_back"] is True
    status, body = await post_sql(client, sql="SELECT * FROM yy")
    assert status == 400 and "yy" in body["error"]["message"]


async def test_wait_for_runs(client: TestClient[Any, Any]) -> None:
    await post_sql(
        client,
        sql="CREATE TASK bad SCHEDULE 1 HOUR AS SELECT * FROM nosuch; CREATE TASK bad2 CLONE bad",
    )
    status, body = await post_sql(client, sql="EXECUTE TASK bad")
    assert status == 200 and body["results"][0]["rows"][0][2] == "EXECUTING"  # returns at once
    status, body = await post_sql(client, sql="EXECUTE TASK bad2", wait_for_runs=True)
    assert status == 400 and body["error"]["code"] == "RUN_FAILED"
    assert "nosuch" in body["error"]["message"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"sql": "SELECT 1", "single_transaction": "yes"}, "single_transaction"),
        ({"sql": "SELECT 1", "wait_for_runs": 1}, "wait_for_runs"),
        ({"sql": "SELECT 1", "query_id": 7}, "query_id"),
        ({"sql": "SELECT 1", "query_id": "a b"}, "invalid query id"),
        ({"sql": "SELECT 1", "transaction": True}, "unknown field 'transaction'"),
    ],
)
async def test_bad_fields_are_refused(client: TestClient[Any, Any], body: dict[str, Any], says: str) -> None:
    status, answer = await post_sql(client, **body)
    assert status == 400 and says in answer["error"]["message"]


async def test_list_and_cancel_a_running_query(client: TestClient[Any, Any]) -> None:
    slow = asyncio.create_task(post_sql(client, sql=f"SELECT 1 AS one; {SLOW}", query_id="slow-1"))
    end = time.monotonic() + 60  # a bound for what never comes (generous for a loaded machine)
    while True:
        queries = (await (await client.get("/api/v1/queries")).json())["queries"]
        if any(q["query_id"] == "slow-1" and q["statement"] == 2 for q in queries):
            break
        assert time.monotonic() < end, queries
        await asyncio.sleep(0.02)
    [query] = [q for q in queries if q["query_id"] == "slow-1"]
    assert query["statements"] == 2 and query["query_text"].startswith("SELECT sum(")
    started = time.monotonic()
    resp = await client.post("/api/v1/queries/slow-1/cancel", json={})
    assert resp.status == 200 and (await resp.json())["status"] == "Query slow-1 is cancelled."
    status, body = await asyncio.wait_for(slow, 30)
    assert time.monotonic() - started < 30  # SLOW runs for hours: this is the cancel
    assert status == 400 and body["error"]["code"] == "CANCELLED" and body["error"]["statement"] == 2
    assert body["results"][0]["rows"] == [[1]]
    assert (await (await client.get("/api/v1/queries")).json())["queries"] == []
    resp = await client.post("/api/v1/queries/slow-1/cancel", json={})
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "QUERY_NOT_FOUND"
