"""LISTEN for the change notifications of a PostgreSQL catalog.

Every definition change bumps ``catalog_meta.change_seq`` and sends ``NOTIFY <schema>_changes`` in
its own transaction (see ``change_seq_bump`` in ``queries.sql``); PostgreSQL delivers the
notification when that transaction commits, to every node listening. :class:`ChangeListener` keeps
one connection that listens and calls ``on_change`` for each notification. It is a speed-up, not
the source of truth: waiters still poll the change sequence (so a notification lost while the
connection was down costs one poll interval). A lost connection is made again with capped
exponential backoff and jitter, and ``on_change`` is called once after each reconnection, for what
may have been missed meanwhile. The listener logs nothing: it tells the catalog's
:class:`~tasksql.catalog.postgres.health.Health` that its connection broke (the listener is often
the first to see a server go away), and the writer, which judges and logs outages, checks its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from tasksql.catalog.postgres.connect import Target
from tasksql.catalog.postgres.health import Backoff, Health


class ChangeListener:
    """Calls ``on_change()`` on the event loop for every change notification of the catalog."""

    def __init__(self, target: Target, on_change: Callable[[], None], health: Health) -> None:
        self._target = target
        self._health = health
        self._on_change = on_change
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def start(self, timeout: float = 5.0) -> None:
        """Start listening; returns once LISTEN took effect (or after ``timeout`` seconds: then
        waiters rely on polling until the connection is made)."""
        self._listening = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"tasksql-listen-{self._target.schema}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), timeout)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        kwargs: dict[str, Any] = {k: v for k, v in self._target.kwargs.items() if k != "row_factory"}
        listen = sql.SQL("LISTEN {}").format(sql.Identifier(self._target.channel))
        backoff = Backoff()
        first = True
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self._target.url, **kwargs)
                async with conn:
                    await conn.execute(listen)
                    self._listening.set()
                    if not first:
                        self._on_change()  # changes may have been committed while we were away
                    first = False
                    backoff = Backoff()
                    async for _ in conn.notifies():
                        self._on_change()
            except psycopg.Error:
                self._health.suspect()  # polling covers the gap; try again after a pause
            await asyncio.sleep(backoff.next())
