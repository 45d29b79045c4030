"""Query parameters: every route refuses unknown names, repeated names and values of the wrong form
with a 400 that names the parameter and what it accepts; good values filter as documented."""

from __future__ import annotations

import pytest
from api_support import Client, assert_error_shape

from tasksql.model import RunState


async def _task_with_runs(client: Client) -> None:
    await client.post("/api/v1/sql", json={"sql": "CREATE TASK t SCHEDULE = '60 MINUTES' AS SELECT 1"})
    for _ in range(2):
        resp = await client.post("/api/v1/tasks/t/execute")
        assert resp.status == 200, await resp.text()


async def test_unknown_state_is_a_400_naming_the_states(client: Client) -> None:
    resp = await client.get("/api/v1/runs?state=BOGUS")
    body = await resp.json()
    assert_error_shape(body, 400, "INVALID_PARAMETER")
    message = body["error"]["message"]
    assert "state" in message and "BOGUS" in message
    assert all(s.value in message for s in RunState)


@pytest.mark.parametrize(
    ("path", "word"),
    [
        ("/api/v1/runs?limit=0", "limit"),
        ("/api/v1/runs?limit=10001", "limit"),
        ("/api/v1/runs?limit=-1", "limit"),
        ("/api/v1/runs?limit=1e3", "limit"),
        ("/api/v1/runs?limit=", "limit"),
        ("/api/v1/runs?limit=99999999999999999999999", "limit"),
        ("/api/v1/runs?since=yesterday", "since"),
        ("/api/v1/runs?until=2024-13-01", "until"),
        ("/api/v1/runs?since=2024-02-01&until=2024-01-01", "since"),
        ("/api/v1/runs?limit=1&limit=2", "limit"),
        ("/api/v1/runs?nope=1", "nope"),
        ("/api/v1/tasks/t/runs?error_only=maybe", "error_only"),
        ("/api/v1/tasks/t/runs?limit=abc", "limit"),
        ("/api/v1/tasks/t/next_runs?n=0", "n"),
        ("/api/v1/tasks/t/next_runs?after=soon", "after"),
        ("/api/v1/tasks?x=1", "x"),
        ("/api/v1/tasks/t?x=1", "x"),
        ("/api/v1/health?verbose=1", "verbose"),
    ],
)
async def test_bad_parameters_are_400s_that_name_them(client: Client, path: str, word: str) -> None:
    await client.post("/api/v1/sql", json={"sql": "CREATE TASK t SCHEDULE = '60 MINUTES' AS SELECT 1"})
    resp = await client.get(path)
    body = await resp.json()
    assert resp.status == 400, body
    assert_error_shape(body, 400, "INVALID_PARAMETER")
    assert word in body["error"]["message"]


@pytest.mark.parametrize(
    "path", ["/api/v1/sql?x=1", "/api/v1/tasks/t/resume?x=1", "/api/v1/tasks/t/execute?x"]
)
async def test_routes_that_change_things_refuse_parameters_before_acting(client: Client, path: str) -> None:
    await client.post("/api/v1/sql", json={"sql": "CREATE TASK t SCHEDULE = '60 MINUTES' AS SELECT 1"})
    resp = await client.post(path, json={"sql": "DROP TASK t"} if "sql" in path else None)
    assert_error_shape(await resp.json(), 400, "INVALID_PARAMETER")
    task = await (await client.get("/api/v1/tasks/t")).json()
    assert task["properties"]["state"] == "suspended"
    assert (await (await client.get("/api/v1/tasks/t/runs")).json())["runs"] == []


async def test_good_parameters_filter(client: Client) -> None:
    await _task_with_runs(client)
    runs = (await (await client.get("/api/v1/runs?limit=1")).json())["runs"]
    assert len(runs) == 1
    for state in ("executing", "SUCCEEDED", "Executing"):
        resp = await client.get(f"/api/v1/runs?state={state}")
        assert resp.status == 200
        assert all(r["state"] == state.upper() for r in (await resp.json())["runs"])
    assert (await (await client.get("/api/v1/runs?since=2999-01-01T00:00:00Z")).json())["runs"] == []
    recent = await client.get("/api/v1/tasks/t/runs?since=2000-01-01&until=2999-01-01T00:00:00%2B02:00")
    assert len((await recent.json())["runs"]) == 2
    unescaped_offset = await client.get("/api/v1/runs?until=2999-01-01T00:00:00+02:00")
    assert unescaped_offset.status == 200
    errors = (await (await client.get("/api/v1/tasks/t/runs?error_only=TRUE")).json())["runs"]
    assert errors == []
    nxt = await (await client.get("/api/v1/tasks/t/next_runs?n=2&after=2030-01-01T00:00:00Z")).json()
    assert [r["n"] for r in nxt["next_runs"]] == [1, 2]
    assert all(r["scheduled_time"] > "2030-01-01" for r in nxt["next_runs"])


@pytest.mark.parametrize("name", ["a..b", ".t", "t.", "x" * 1001, "bad%0Aname", "nul%00"])
async def test_impossible_task_names_are_400s(client: Client, name: str) -> None:
    resp = await client.get(f"/api/v1/tasks/{name}")
    assert_error_shape(await resp.json(), 400, "INVALID_NAME")
