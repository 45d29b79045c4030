"""The API token (tasksql.server.auth) over real HTTP: a server that needs it (bound beyond loopback,
or forced with the require_token setting, as here on 127.0.0.1) refuses every route without it,
takes it as a bearer token or through the login form's cookie; `tasksql token new` replaces it in a
running server; `tasksql serve` prints a new token once; the login page escapes what it shows."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer
from api_support import Client, assert_error_shape

from tasksql.engine import Engine
from tasksql.server.api import create_app
from tasksql.server.auth import COOKIE, TOKEN_FILE, digest, is_loopback, new_token
from tasksql.server.web import add_routes
from tasksql.settings import Settings

ROUTES = [
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/tasks"),
    ("POST", "/api/v1/sql"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/metrics"),
    ("GET", "/"),
]


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[tuple[Client, Engine, str]]:
    """A server on 127.0.0.1 that needs its token (require_token), with its web pages."""
    settings = Settings.load(data_dir=tmp_path / "data", require_token=True)
    async with Engine(settings) as engine:
        token = new_token(settings.data_dir)
        app = create_app(engine)
        add_routes(app, engine)
        async with TestClient(TestServer(app)) as client:
            yield client, engine, token


def test_loopback_addresses() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "", "::", "10.1.2.3", "example.org", "192.168.0.5"):
        assert not is_loopback(host), host


async def test_every_route_needs_the_token(guarded: tuple[Client, Engine, str]) -> None:
    client, engine, token = guarded
    for method, path in ROUTES:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"}):
            resp = await client.request(
                method,
                path,
                json={"sql": "CREATE TASK x SCHEDULE 1 HOUR AS SELECT 1"},
                headers=headers,
                allow_redirects=False,
            )
            assert resp.status == 401, (method, path, headers)
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            assert_error_shape(await resp.json(), 401, "TOKEN_REQUIRED")
    assert await engine.catalog.list_tasks() == []  # nothing refused ran
    ok = await client.post(
        "/api/v1/sql",
        json={"sql": "CREATE TASK x SCHEDULE 1 HOUR AS SELECT 1"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert ok.status == 200
    resp = await client.get("/metrics", headers={"Authorization": f"bearer {token}"})
    assert resp.status == 200


async def test_a_browser_logs_in_with_the_form(guarded: tuple[Client, Engine, str]) -> None:
    client, _, token = guarded
    page = await client.get("/runs?state=FAILED", headers={"Accept": "text/html"}, allow_redirects=False)
    assert page.status == 303
    where = urlsplit(page.headers["Location"])
    assert where.path == "/login" and parse_qs(where.query) == {"next": ["/runs?state=FAILED"]}
    form = await client.get(page.headers["Location"])
    assert form.status == 200 and 'name="token"' in await form.text()

    wrong = await client.post("/login", data={"token": "nope", "next": "/runs"}, allow_redirects=False)
    assert wrong.status == 401 and "not this server" in await wrong.text()
    assert COOKIE not in wrong.cookies

    # the form is posted from the server's own page; another site's page is refused
    cross = await client.post(
        "/login",
        data={"token": token, "next": "/"},
        headers={"Origin": "http://evil.example"},
        allow_redirects=False,
    )
    assert cross.status == 403

    done = await client.post("/login", data={"token": token, "next": "/runs"}, allow_redirects=False)
    assert done.status == 303 and done.headers["Location"] == "/runs"
    cookie = done.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    # the client keeps the cookie: pages, the API and the stream answer now
    assert (await client.get("/api/v1/tasks")).status == 200
    assert (await client.get("/", headers={"Accept": "text/html"})).status == 200

    away = await client.post(
        "/login", data={"token": token, "next": "//evil.example/x"}, allow_redirects=False
    )
    assert away.headers["Location"] == "/"  # never sent to another site

    out = await client.post("/logout", allow_redirects=False)
    assert out.status == 303
    assert (await client.get("/api/v1/tasks")).status == 401


async def test_the_login_page_escapes_what_it_shows(guarded: tuple[Client, Engine, str]) -> None:
    client, _, _ = guarded
    evil = '/x"><script>alert(1)</script>'
    text = await (await client.get("/login", params={"next": evil})).text()
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;" in text and "&quot;&gt;" in text


async def test_token_new_replaces_the_token_of_a_running_server(guarded: tuple[Client, Engine, str]) -> None:
    client, engine, old = guarded
    data_dir = Path(engine.settings.data_dir)
    assert (await client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {old}"})).status == 200
    out = subprocess.run(
        [sys.executable, "-m", "tasksql", "--data", str(data_dir), "token", "new"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    new = out.stdout.strip()
    assert len(new) >= 40 and new != old and "not shown again" in out.stderr
    stored = (data_dir / TOKEN_FILE).read_text()
    assert new not in stored and digest(new) in stored  # kept hashed only
    assert oct((data_dir / TOKEN_FILE).stat().st_mode & 0o777) == "0o600"
    assert (await client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {old}"})).status == 401
    assert (await client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {new}"})).status == 200


async def test_an_open_server_needs_no_token(client: Client) -> None:
    assert (await client.get("/api/v1/tasks")).status == 200
    text = await (await client.get("/login")).text()
    assert "no token is needed" in text


def _serve(data_dir: Path) -> tuple[subprocess.Popen[str], list[str]]:
    env = {**os.environ, "TASKSQL_REQUIRE_TOKEN": "1", "TASKSQL_PORT": "0", "TASKSQL_DATA": str(data_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tasksql", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "API token" in line or "needs the API token" in line:
            return proc, lines
    proc.kill()
    raise AssertionError(f"tasksql serve said: {lines}")


def test_serve_prints_a_new_token_once(tmp_path: Path) -> None:
    import json
    import urllib.error
    import urllib.request

    data_dir = tmp_path / "data"
    proc, lines = _serve(data_dir)
    try:
        token = lines[-1].rsplit(": ", 1)[1].strip()
        url = json.loads((data_dir / "server.json").read_text())["url"]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/api/v1/health", timeout=10)
        assert refused.value.code == 401
        req = urllib.request.Request(f"{url}/api/v1/health", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200
        # tasksql's own client sends TASKSQL_TOKEN
        env = {**os.environ, "TASKSQL_TOKEN": token}
        out = subprocess.run(
            [sys.executable, "-m", "tasksql", "--data", str(data_dir), "sql", "SELECT 41 + 1 AS n"],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert out.returncode == 0 and "42" in out.stdout, out.stderr
    finally:
        proc.terminate()
        proc.wait(30)
    proc, lines = _serve(data_dir)  # the second start keeps the token and prints none
    try:
        assert token not in "".join(lines) and "needs the API token" in lines[-1]
    finally:
        proc.terminate()
        proc.wait(30)
