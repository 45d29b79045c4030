"""The HTTP API in-process (aiohttp test server on a real engine): routes and the one error shape."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from api_support import Client, assert_error_shape

from tasksql.client import decode_result


async def test_health(client: Client) -> None:
    resp = await client.get("/api/v1/health")
    body = await resp.json()
    assert resp.status == 200 and body["ok"] is True and body["scheduler"] is True


async def test_sql_results_keep_types(client: Client) -> None:
    resp = await client.post("/api/v1/sql", json={"sql": "SELECT 1 AS n, now() AS t, 'x' AS s; SHOW TASKS"})
    body = await resp.json()
    assert resp.status == 200
    first, second = body["results"]
    assert first["columns"] == ["n", "t", "s"] and first["types"] == ["integer", "timestamp", "text"]
    assert second["statement"] == "SHOW TASKS" and second["rows"] == []


async def test_task_routes(client: Client) -> None:
    await client.post("/api/v1/sql", json={"sql": "CREATE TASK t SCHEDULE = '1 HOURS' AS SELECT 1"})
    tasks = (await (await client.get("/api/v1/tasks")).json())["tasks"]
    assert [t["name"] for t in tasks] == ["t"]
    one = await (await client.get("/api/v1/tasks/t")).json()
    assert one["properties"]["state"] == "suspended"
    assert one["create_statement"].startswith("CREATE TASK t")
    assert (await (await client.post("/api/v1/tasks/t/resume")).json())["status"] == "Task t is started."
    run = (await (await client.post("/api/v1/tasks/t/execute", json={})).json())["result"]
    assert run["state"] == "EXECUTING" and run["run_id"] >= 1
    nxt = (await (await client.get("/api/v1/tasks/t/next_runs?n=3")).json())["next_runs"]
    assert [r["n"] for r in nxt] == [1, 2, 3]
    assert (await (await client.post("/api/v1/tasks/t/suspend")).json())["status"] == "Task t is suspended."
    runs = (await (await client.get("/api/v1/tasks/t/runs?limit=5")).json())["runs"]
    assert runs and runs[0]["scheduled_from"] == "EXECUTE TASK"
    all_runs = (await (await client.get("/api/v1/runs?limit=5")).json())["runs"]
    assert [r["run_id"] for r in all_runs] == [r["run_id"] for r in runs]


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "code"),
    [
        ("POST", "/api/v1/sql", {"sql": "CREATE TASK"}, 400, "MISSING_NAME"),
        ("POST", "/api/v1/sql", {"sql": "SELEC 1"}, 400, "QUERY_FAILED"),
        ("POST", "/api/v1/sql", {"nope": 1}, 400, "BAD_REQUEST"),
        ("GET", "/api/v1/tasks/missing", None, 404, "TASK_NOT_FOUND"),
        ("POST", "/api/v1/tasks/missing/execute", None, 404, "TASK_NOT_FOUND"),
        ("GET", "/api/v1/tasks/missing/runs?limit=x", None, 400, "INVALID_PARAMETER"),
        ("GET", "/api/v1/nowhere", None, 404, "ROUTE_NOT_FOUND"),
        ("DELETE", "/api/v1/tasks", None, 405, "METHOD_NOT_ALLOWED"),
    ],
)
async def test_every_error_has_one_shape(
    client: Client, method: str, path: str, payload: Any, status: int, code: str
) -> None:
    resp = await client.request(method, path, json=payload)
    assert resp.status == status
    assert_error_shape(await resp.json(), status, code)


async def test_syntax_errors_carry_their_position(client: Client) -> None:
    resp = await client.post(
        "/api/v1/sql", json={"sql": "SHOW TASKS;\nCREATE TASK t SCHEDULE = 'soon' AS SELECT 1"}
    )
    error = (await resp.json())["error"]
    assert resp.status == 400
    assert (error["line"] == 2 and error["code"] == "INVALID_SCHEDULE") or error["code"].startswith("INVALID")


async def test_list_fields_are_json_arrays_and_config_a_json_value(client: Client) -> None:
    script = (
        "CREATE TASK a SCHEDULE = '60 MINUTES' AS SELECT 1;"
        """CREATE TASK b AFTER a CONFIG = $${"k": [1, 2]}$$ AS SELECT 1"""
    )
    assert (await client.post("/api/v1/sql", json={"sql": script})).status == 200
    tasks = {t["name"]: t for t in (await (await client.get("/api/v1/tasks")).json())["tasks"]}
    assert tasks["a"]["predecessors"] == []
    assert tasks["b"]["predecessors"] == ["tasksql.public.a"]
    assert tasks["b"]["config"] == {"k": [1, 2]}
    props = (await (await client.get("/api/v1/tasks/b")).json())["properties"]
    assert props["AFTER"] == ["tasksql.public.a"]
    assert props["CONFIG"] == {"k": [1, 2]}
    assert props["TASK_AUTO_RETRY_ON"] == []
    assert props["COMMENT"] is None and isinstance(props["definition"], str)


async def test_empty_results_keep_the_warehouse_column_types(client: Client) -> None:
    resp = await client.post(
        "/api/v1/sql",
        json={"sql": "SELECT 1 AS n, 1.5::DOUBLE AS d, now() AS t, true AS b, 'x' AS s WHERE false"},
    )
    (result,) = (await resp.json())["results"]
    assert result["rows"] == []
    assert result["types"] == ["integer", "double", "timestamp", "boolean", "text"]


async def test_non_finite_doubles_are_strict_json_and_decode_back(client: Client) -> None:
    resp = await client.post(
        "/api/v1/sql",
        json={"sql": "SELECT 'nan'::DOUBLE AS a, 'inf'::DOUBLE AS b, '-inf'::DOUBLE AS c, 1.5::DOUBLE AS d"},
    )
    text = await resp.text()
    assert "NaN" not in text.replace('"NaN"', "")  # no bare NaN token: JSON has none
    (result,) = json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name}"))["results"]
    assert result["rows"] == [["NaN", "Infinity", "-Infinity", 1.5]]
    (row,) = decode_result(result).rows
    assert math.isnan(row[0]) and row[1] == math.inf and row[2] == -math.inf and row[3] == 1.5
