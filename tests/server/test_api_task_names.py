"""Task routes for any legal task name: a name part with dots, quotes, slashes or non-ASCII letters
is written in double quotes in the path (``tasksql.public."a.b"``), as SQL writes it."""

from __future__ import annotations

import urllib.parse

import pytest
from api_support import Client, assert_error_shape

from tasksql.model import quote_ident
from tasksql.server.shapes import name_parts

NAMES = ["a.b", 'say "hi".now', "Grüße/ü.x", "Upper"]


def path_of(name: str) -> str:
    key = "tasksql.public." + quote_ident(name)
    return "/api/v1/tasks/" + urllib.parse.quote(key, safe="")


@pytest.mark.parametrize("name", NAMES)
async def test_every_task_route_takes_a_quoted_name(client: Client, name: str) -> None:
    sql_name = quote_ident(name)
    create = f"CREATE TASK {sql_name} SCHEDULE = '1 HOURS' COMMENT = 'odd' AS SELECT 1"
    assert (await client.post("/api/v1/sql", json={"sql": create})).status == 200
    base = path_of(name)
    one = await (await client.get(base)).json()
    assert one["ok"] is True and one["properties"]["name"] == sql_name
    resumed = await (await client.post(base + "/resume")).json()
    assert resumed["ok"] is True and "started" in resumed["status"]
    nxt = (await (await client.get(base + "/next_runs?n=2")).json())["next_runs"]
    assert [r["n"] for r in nxt] == [1, 2] and nxt[0]["task_name"] == name
    suspended = await (await client.post(base + "/suspend")).json()
    assert suspended["ok"] is True and "suspended" in suspended["status"]
    run = (await (await client.post(base + "/execute")).json())["result"]
    runs = (await (await client.get(base + "/runs")).json())["runs"]
    assert [r["run_id"] for r in runs] == [run["run_id"]] and runs[0]["name"] == name
    cancelled = await (await client.post(base + "/cancel")).json()
    assert cancelled["ok"] is True
    state = (await (await client.get(base)).json())["properties"]["state"]
    assert state == "suspended"


async def test_a_plain_dotted_path_still_names_the_parts_as_written(client: Client) -> None:
    await client.post("/api/v1/sql", json={"sql": "CREATE TASK plain AS SELECT 1"})
    for path in ("plain", "public.plain", "tasksql.public.plain", 'tasksql."public".plain'):
        body = await (await client.get("/api/v1/tasks/" + urllib.parse.quote(path, safe=""))).json()
        assert body["ok"] is True, path


@pytest.mark.parametrize("path", ['"a', '"a"x', "a..b", "a.", "a.b.c.d", '""'])
async def test_a_malformed_name_is_a_400_naming_the_quoted_form(client: Client, path: str) -> None:
    resp = await client.get("/api/v1/tasks/" + urllib.parse.quote(path, safe=""))
    body = await resp.json()
    assert resp.status == 400
    assert_error_shape(body, 400, "INVALID_NAME")
    assert 'public."a.b"' in body["error"]["message"]


def test_name_parts() -> None:
    assert name_parts('tasksql.public."a.b"') == ("tasksql", "public", "a.b")
    assert name_parts('"x""y"') == ('x"y',)
    assert name_parts("tasksql.public.<b>\"'") == ("tasksql", "public", "<b>\"'")
    assert name_parts('"a.b".c') == ("a.b", "c")
    assert name_parts("a..b") is None
