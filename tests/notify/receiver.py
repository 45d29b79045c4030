"""A real HTTP webhook receiver for the notification tests: an aiohttp app on 127.0.0.1.

It records every request it gets (before answering) and answers with ``status`` (and, with
``echo``, what it received), unless told to ``hang`` (the request is held until the receiver
stops) or given a ``script`` of answers to use first, one per request. ``stop()`` closes the
port (connections are refused, as with a dead endpoint) and ``start()`` opens the same port again.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

HANG = "hang"


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    answer: int | str
    query: str = ""

    @property
    def message_id(self) -> str | None:
        return self.headers.get("X-Tasksql-Message-Id")

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self) -> None:
        self.status = 200
        self.hang = False
        self.script: deque[int | str] = deque()
        self.extra_headers: dict[str, str] = {}
        #: answer with what was received (path, Authorization, body), as a careless endpoint might
        self.echo = False
        self.requests: list[Received] = []
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._release = asyncio.Event()
        self._arrived = asyncio.Condition()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._release = asyncio.Event()
        runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self._runner = runner
        if self.port == 0:
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self._release.set()  # let hanging requests finish so the server can close
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        answer: int | str = self.script.popleft() if self.script else (HANG if self.hang else self.status)
        self.requests.append(
            Received(
                method=request.method,
                path=request.path,
                headers=dict(request.headers),
                body=body,
                answer=answer,
                query=request.query_string,
            )
        )
        async with self._arrived:
            self._arrived.notify_all()
        if answer == HANG:
            await self._release.wait()
            return web.Response(status=503, text="released")
        assert isinstance(answer, int)
        text = f"answer {answer}"
        if self.echo:
            text += f": {request.path} {request.headers.get('Authorization', '')} {body.decode()}"
        return web.Response(status=answer, text=text, headers=self.extra_headers)

    async def wait_for(self, count: int, timeout: float = 30.0) -> None:
        """Until at least ``count`` requests arrived (fails the test after ``timeout`` seconds)."""

        async def enough() -> None:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.requests) >= count)

        await asyncio.wait_for(enough(), timeout)

    @property
    def delivered(self) -> list[Received]:
        """Requests answered with a 2xx status."""
        return [r for r in self.requests if isinstance(r.answer, int) and 200 <= r.answer < 300]

    def delivered_ids(self) -> Counter[str | None]:
        return Counter(r.message_id for r in self.delivered)
