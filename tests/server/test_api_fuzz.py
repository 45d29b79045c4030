"""Fuzzing the API over real HTTP: mutated methods, paths, query strings, headers, content types and
bodies, seeded and bounded in time.

For every response: it is JSON (strict: no NaN) and either a success (``ok`` true) or an error of
the one shape with a 4xx status; never a 500. A refused request changes no task (id, name, version,
state). After the run, the server still answers. Requests that are not HTTP (sent on raw sockets:
a malformed request line, header or chunk, an unknown method) never reach the application; they get
aiohttp's plain-text 400 (or a closed connection) and leave the server up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import ClientError
from api_support import Client, assert_error_shape

from tasksql.engine import Engine

SEED = 20_240_512
BUDGET_S = 4.0  # wall-clock time of the mutated-request loop
MAX_REQUESTS = 2000

SETUP = """
CREATE TASK a SCHEDULE = '60 MINUTES' AS SELECT 1;
CREATE TASK b AFTER a AS SELECT 2;
CREATE TASK "odd name" AS SELECT 3;
"""

NAMES = [
    "a",
    "b",
    "%22odd%20name%22",
    "odd%20name",
    "missing",
    "tasksql.public.a",
    "a.b.c.d",
    "..",
    "%2e%2e",
    "%00",
    "%0A",
    "%ff",
    "%ED%A0%80",  # an encoded lone surrogate
    "%F0%9F%98%80",
    "x" * 300,
    "'",
    "a'b",
    'a"b',
    "a;DROP TASK a",
    "SELECT",
    "%25",
    "",
]

ROUTES = [
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/sql"),
    ("GET", "/api/v1/queries"),
    ("POST", "/api/v1/queries/{name}/cancel"),
    ("GET", "/api/v1/tasks"),
    ("GET", "/api/v1/tasks/{name}"),
    ("GET", "/api/v1/tasks/{name}/runs"),
    ("GET", "/api/v1/tasks/{name}/next_runs"),
    ("POST", "/api/v1/tasks/{name}/execute"),
    ("POST", "/api/v1/tasks/{name}/resume"),
    ("POST", "/api/v1/tasks/{name}/suspend"),
    ("POST", "/api/v1/tasks/{name}/cancel"),
    ("GET", "/api/v1/runs"),
]

PARAMS = ["limit", "n", "state", "error_only", "since", "until", "after", "x", "", "limit[]", "%00"]
VALUES = [
    "1",
    "0",
    "-1",
    "10000",
    "10001",
    "99999999999999999999",
    "1e3",
    "",
    "true",
    "FALSE",
    "maybe",
    "FAILED",
    "executing",
    "BOGUS",
    "2024-01-01T00:00:00Z",
    "2024-13-45",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00-12:00",
    "%00",
    "%ff",
    "'; DROP TASK a; --",
    "x" * 500,
]

STATEMENTS = [
    "SELECT 1",
    "SELECT 1 AS n WHERE false",
    "SELECT 'nan'::DOUBLE AS x, 'inf'::DOUBLE AS y",
    "SHOW TASKS",
    "DESCRIBE TASK a",
    "SELECT * FROM system.tasks",
    "SELECT * FROM task_history()",
    "SELECT * FROM next_runs('a', 3)",
    "CREATE TASK",
    "CREATE TASK z SCHEDULE = 'soon' AS SELECT 1",
    "ALTER TASK a SET COMMENT = 'x'",
    "ALTER TASK missing RESUME",
    "DROP TASK missing",
    "SELEC 1",
    "SELECT 'unterminated",
    "CREATE TASK c CONFIG = $$[[[[[[[[[[$$ AS SELECT 1",
    "EXECUTE TASK missing",
    "SELECT 1; SELECT nosuch",
    "",
    ";;;",
    "/* open comment",
]

CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=zz",
    "application/jsonx",
    "",
    "*/*",
    "application/json; charset=",
]


class Fuzzer:
    """Builds one mutated request at a time from a seeded random generator."""

    def __init__(self, rng: random.Random, port: int) -> None:
        self.rng = rng
        self.port = port

    def pick(self, items: list[Any]) -> Any:
        return self.rng.choice(items)

    def path(self) -> tuple[str, str]:
        method, template = self.pick(ROUTES)
        path = template.replace("{name}", self.pick(NAMES))
        roll = self.rng.random()
        if roll < 0.05:
            path += "/"
        elif roll < 0.08:
            path = path.replace("/api/v1", "/api/v2")
        elif roll < 0.1:
            path += "/extra"
        elif roll < 0.12:
            path = path.replace("/v1/", "/v1//")
        if self.rng.random() < 0.1:
            method = self.pick(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
        return method, path

    def query(self) -> str:
        if self.rng.random() < 0.4:
            return ""
        pairs = [
            f"{self.pick(PARAMS)}={self.pick(VALUES)}" if self.rng.random() < 0.9 else self.pick(PARAMS)
            for _ in range(self.rng.randint(1, 3))
        ]
        return "?" + "&".join(pairs)

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        roll = self.rng.random()
        if roll < 0.1:
            headers["Host"] = self.pick(
                ["evil.example", f"evil.example:{self.port}", f"localhost:{self.port + 1}", "[::1", ""]
            )
        elif roll < 0.2:
            headers["Host"] = self.pick([f"localhost:{self.port}", f"[::1]:{self.port}"])
        if self.rng.random() < 0.15:
            headers["Origin"] = self.pick(
                [
                    "http://evil.example",
                    "null",
                    f"http://127.0.0.1:{self.port}",
                    "http://[::1",
                    "javascript:x",
                ]
            )
        if self.rng.random() < 0.05:
            headers["Sec-Fetch-Site"] = self.pick(["cross-site", "same-site", "same-origin", "none", "?"])
        if self.rng.random() < 0.05:
            headers[self.pick(["X-Junk", "Accept", "Accept-Encoding"])] = self.pick(["\t", "*/*", "x" * 2000])
        return headers

    def body(self) -> tuple[bytes | None, str | None]:
        """The body and its content type (None: no body, or the client's default)."""
        roll = self.rng.random()
        if roll < 0.25:
            return None, None
        if roll < 0.6:
            payload: Any = {"sql": self.pick(STATEMENTS)}
            if self.rng.random() < 0.2:
                extra = self.pick(["query_id", "single_transaction", "wait_for_runs", "nope"])
                payload[extra] = self.pick([True, False, "q-1", "bad id!", 1, None, [], "x" * 100])
        elif roll < 0.7:
            payload = {"config": self.pick([{}, {"k": [1, 2]}, None, [1], "s", 1.5])}
        else:
            payload = self.pick([[], {}, None, 1, "sql", {"sql": 1}, {"sql": None}, {"sql": ["SELECT 1"]}])
        raw = json.dumps(payload).encode()
        raw = self.mutate(raw)
        content_type = self.pick(CONTENT_TYPES) if self.rng.random() < 0.3 else "application/json"
        return raw, content_type

    def mutate(self, raw: bytes) -> bytes:
        mutations: list[Callable[[bytes], bytes]] = [
            lambda b: b,
            lambda b: b[: self.rng.randint(0, len(b))],
            self.flip,
            lambda b: b"[" * self.rng.choice([65, 1000, 100_000]) + b,
            lambda b: b'{"sql": "' + self.pick([b"\\ud800", b"\\udfff", b"\xff\xfe", b"\\u0000"]) + b'"}',
            lambda b: b'{"sql": ' + self.pick([b"NaN", b"Infinity", b"1" * 5000, b"-0", b"1e999"]) + b"}",
            lambda b: b + b" " * self.rng.randint(1, 10),
            lambda b: b.replace(b"sql", b"SQL"),
        ]
        weights = [6, 1, 2, 1, 1, 1, 1, 1]
        return self.rng.choices(mutations, weights)[0](raw)

    def flip(self, raw: bytes) -> bytes:
        data = bytearray(raw)
        for _ in range(self.rng.randint(1, 4)):
            if data:
                data[self.rng.randrange(len(data))] = self.rng.randrange(256)
        return bytes(data)


async def _tasks(engine: Engine) -> list[tuple[Any, ...]]:
    return sorted((r.id, str(r.name), r.version, r.state.value) for r in await engine.catalog.list_tasks())


def _strict_json(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in a JSON response")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.timeout(60)
async def test_mutated_requests_get_json_answers_and_refusals_change_nothing(
    client: Client, engine: Engine
) -> None:
    assert (await client.post("/api/v1/sql", json={"sql": SETUP})).status == 200
    fuzz = Fuzzer(random.Random(SEED), client.port)
    before = await _tasks(engine)
    seen: dict[int, int] = {}
    deadline = time.monotonic() + BUDGET_S
    sent = 0
    while sent < MAX_REQUESTS and time.monotonic() < deadline:
        method, path = fuzz.path()
        url = path + fuzz.query()
        headers = fuzz.headers()
        raw, content_type = fuzz.body()
        skip = set()
        if content_type is not None:
            if content_type:
                headers["Content-Type"] = content_type
            else:
                skip.add("Content-Type")
        try:
            resp = await client.request(
                method, url, data=raw, headers=headers, skip_auto_headers=skip, allow_redirects=False
            )
        except (ClientError, ValueError) as exc:  # the client refused to send it (e.g. a bad header)
            raise AssertionError(f"{method} {url}: client error {exc!r}") from exc
        sent += 1
        what = f"{method} {url} headers={headers} body={(raw or b'')[:120]!r}"
        status = resp.status
        seen[status] = seen.get(status, 0) + 1
        assert status < 500, f"{what} -> {status}: {await resp.text()}"
        if method != "HEAD":
            assert resp.content_type == "application/json", f"{what} -> {resp.content_type}"
            body = _strict_json(await resp.text())
            if status >= 400:
                assert_error_shape(body, status)
            else:
                assert status == 200 and body["ok"] is True, what
        after = await _tasks(engine)
        if status >= 400:
            assert after == before, f"refused request changed the tasks: {what}"
        before = after
    assert sent >= 100, f"only {sent} requests in {BUDGET_S} s"
    # the mix reached the handlers and every kind of refusal, not only the first gate
    assert seen.get(200, 0) > 10 and {400, 404, 415, 421} <= set(seen), seen
    health = await client.get("/api/v1/health")
    assert health.status == 200 and (await health.json())["ok"] is True


MALFORMED = [
    b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nBad Header\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    b"POST /api/v1/sql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Type: application/json\r\n\r\nzz\r\n",
    b"POST /api/v1/sql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n",
    b"GET /api/v1/health HTTP/9.9\r\nHost: 127.0.0.1:{port}\r\n\r\n",
    b"FROB /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n",  # a method HTTP does not know
    b"\r\n\r\n\r\n",
]


async def test_malformed_http_gets_a_400_and_the_server_stays_up(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = client.port
    for template in MALFORMED:
        raw = template.replace(b"{port}", str(port).encode())
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(raw)
            await writer.drain()
            writer.write_eof()  # the whole request is sent: a server waiting for more sees the end
            answer = await asyncio.wait_for(reader.read(), timeout=10)
        finally:
            writer.close()
        if answer:  # some garbage is answered by closing the connection
            status = int(answer.split(b" ", 2)[1])
            assert 400 <= status < 500, (raw[:60], answer[:200])
    health = await client.get("/api/v1/health")
    assert health.status == 200
    # the client's error: one warning line each, no traceback (at most a debug line for TLS noise)
    refused = [r for r in caplog.records if r.name == "tasksql.api.http" and r.levelno > logging.DEBUG]
    assert refused and all(r.levelno == logging.WARNING and "\n" not in r.getMessage() for r in refused)
    assert not [r for r in caplog.records if r.exc_info and r.levelno > logging.DEBUG]
