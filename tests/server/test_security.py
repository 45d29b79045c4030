"""The security policy over real HTTP: Host, Origin and Content-Type (tasksql.server.security).

A refused request must change nothing: every refused POST here would create a task, and the test
checks afterwards that none exists.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from api_support import Client, assert_error_shape

from tasksql.client import RemoteServer
from tasksql.engine import Engine
from tasksql.server.api import create_app
from tasksql.server.security import split_host

CREATE = {"sql": "CREATE TASK sneaky SCHEDULE 1 MINUTE AS SELECT 1"}


async def _no_task_created(client: Client) -> None:
    tasks = (await (await client.get("/api/v1/tasks")).json())["tasks"]
    assert tasks == []


def _host(client: Client) -> str:
    return f"127.0.0.1:{client.port}"


@pytest.mark.parametrize(
    "host",
    [
        "evil.example:{port}",  # DNS rebinding: the attacker's name resolved to 127.0.0.1
        "localhost.evil.example:{port}",
        "127.0.0.1:1",  # another port
        "localhost",  # no port: 80, not this server's
        "127.0.0.1:{port}@evil.example",
        "[::1",
        "",
    ],
)
async def test_foreign_host_is_refused(client: Client, host: str) -> None:
    for method, path, payload in [("GET", "/api/v1/tasks", None), ("POST", "/api/v1/sql", CREATE)]:
        resp = await client.request(
            method, path, json=payload, headers={"Host": host.format(port=client.port)}
        )
        body = await resp.json()
        assert resp.status == 421, body
        assert_error_shape(body, 421, "HOST_NOT_ALLOWED")
        assert "Access-Control-Allow-Origin" not in resp.headers
    await _no_task_created(client)


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}"])
async def test_loopback_names_with_the_bound_port_pass(client: Client, host: str) -> None:
    resp = await client.get("/api/v1/health", headers={"Host": host.format(port=client.port)})
    assert resp.status == 200 and (await resp.json())["ok"] is True


async def test_missing_host_header_is_a_400(engine: Engine) -> None:
    """HTTP/1.0 without Host, over a raw socket (no client library leaves it out)."""
    server = TestServer(create_app(engine))
    await server.start_server()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /api/v1/health HTTP/1.0\r\n\r\n")
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=10)
        writer.close()
    finally:
        await server.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    assert head.split(b" ", 2)[1] == b"400", head
    assert_error_shape(json.loads(payload), 400, "BAD_HOST_HEADER")


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "http://127.0.0.1:1",  # another local service (same site, other origin)
        "https://127.0.0.1:{port}",
        "null",  # sandboxed iframes, file:// pages
        "http://evil.example:{port}",
        "http://127.0.0.1:{port}/path",
    ],
)
async def test_cross_origin_changes_are_refused(client: Client, origin: str) -> None:
    headers = {"Origin": origin.format(port=client.port)}
    for path, payload in [("/api/v1/sql", CREATE), ("/api/v1/tasks/t/resume", None)]:
        resp = await client.post(path, json=payload, headers=headers)
        body = await resp.json()
        assert resp.status == 403, body
        assert_error_shape(body, 403, "CROSS_ORIGIN")
        assert "Access-Control-Allow-Origin" not in resp.headers
    await _no_task_created(client)


async def test_fetch_metadata_of_another_site_is_refused(client: Client) -> None:
    resp = await client.post("/api/v1/sql", json=CREATE, headers={"Sec-Fetch-Site": "same-site"})
    assert_error_shape(await resp.json(), 403, "CROSS_ORIGIN")
    await _no_task_created(client)


@pytest.mark.parametrize("origin", ["http://127.0.0.1:{port}", "http://localhost:{port}"])
async def test_own_origin_and_no_origin_may_change(client: Client, origin: str) -> None:
    resp = await client.post(
        "/api/v1/sql",
        json={"sql": "SELECT 1 AS one"},
        headers={"Origin": origin.format(port=client.port), "Sec-Fetch-Site": "same-origin"},
    )
    assert resp.status == 200, await resp.text()
    resp = await client.post("/api/v1/sql", json={"sql": "SELECT 1 AS one"})
    assert resp.status == 200


async def test_cross_origin_reads_get_no_cors_headers(client: Client) -> None:
    resp = await client.get("/api/v1/tasks", headers={"Origin": "http://evil.example"})
    assert resp.status == 200
    assert not [h for h in resp.headers if h.lower().startswith("access-control-")]
    preflight = await client.options(
        "/api/v1/sql",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status >= 400
    assert not [h for h in preflight.headers if h.lower().startswith("access-control-")]


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",  # the "simple" cross-site request: no preflight
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
        None,
    ],
)
async def test_bodies_other_than_json_are_415(client: Client, content_type: str | None) -> None:
    data = b'{"sql": "CREATE TASK sneaky SCHEDULE 1 MINUTE AS SELECT 1"}'
    headers = {"Content-Type": content_type} if content_type else {}
    resp = await client.post("/api/v1/sql", data=data, headers=headers, skip_auto_headers={"Content-Type"})
    body = await resp.json()
    assert resp.status == 415, body
    assert_error_shape(body, 415, "UNSUPPORTED_MEDIA_TYPE")
    await _no_task_created(client)


async def test_json_with_utf8_charset_passes(client: Client) -> None:
    resp = await client.post(
        "/api/v1/sql",
        data=b'{"sql": "SELECT 1 AS one"}',
        headers={"Content-Type": "application/json; charset=UTF-8"},
    )
    assert resp.status == 200


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("localhost:8765", ("localhost", 8765)),
        ("LocalHost.", ("localhost", None)),
        ("[::1]:80", ("::1", 80)),
        ("[::ffff:127.0.0.1]:1", ("127.0.0.1", 1)),
        ("::1", None),
        ("a:b", None),
        ("a:99999", None),
        ("a:0", None),
        ("a b:1", None),
        ("[::1]x", None),
    ],
)
def test_split_host(value: str, expected: Any) -> None:
    assert split_host(value) == expected


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
async def test_the_cli_client_passes_the_policy(client: Client, name: str) -> None:
    """``tasksql sql`` / the shell talk to a server through RemoteServer (urllib): it must pass."""
    remote = RemoteServer(f"http://{name}:{client.port}", os.getpid(), "")
    results = await asyncio.to_thread(remote.sql, "CREATE TASK t AS SELECT 1; SHOW TASKS")
    assert results[-1].column("name") == ["t"]
    status = await asyncio.to_thread(remote.request, "POST", "/api/v1/tasks/t/resume")
    assert status["ok"] is True
