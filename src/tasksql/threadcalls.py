"""Calls from worker threads into an event loop, with one wake-up of the loop per batch.

``loop.call_soon_threadsafe`` writes a byte to the loop's self-pipe at every call, and the loop
reads it back: two system calls and a wake-up per call. Worker threads that finish jobs at a high
rate (warehouse workers, the catalog writer) call :func:`call_soon` instead: the call joins the
loop's inbox, and only the first call into an empty inbox wakes the loop, which then runs every
call queued by then, in order. Under load many calls share a wake-up; when idle it costs what
``call_soon_threadsafe`` costs.

Calls to a closed loop are dropped (nobody is waiting for them any more). An exception raised by a
call goes to the loop's exception handler and does not stop the calls after it.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

_inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Inbox] = weakref.WeakKeyDictionary()
_inboxes_lock = threading.Lock()


class _Inbox:
    __slots__ = ("_calls", "_lock", "_loop", "_pending")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # weak: the inbox is the value of a weak-keyed mapping and must not keep its key alive
        self._loop = weakref.ref(loop)
        self._lock = threading.Lock()
        self._calls: deque[tuple[Callable[..., object], tuple[Any, ...]]] = deque()
        self._pending = False  # a drain is scheduled on the loop and has not taken the calls yet

    def put(self, fn: Callable[..., object], args: tuple[Any, ...]) -> None:
        with self._lock:
            self._calls.append((fn, args))
            if self._pending:
                return
            self._pending = True
        loop = self._loop()
        try:
            if loop is None:
                raise RuntimeError("the loop is gone")
            loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed
            with self._lock:
                self._calls.clear()
                self._pending = False

    def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            calls, self._calls = self._calls, deque()
            self._pending = False
        for fn, args in calls:
            try:
                fn(*args)
            except Exception as exc:  # reported like a failing call_soon callback
                loop.call_exception_handler({"message": f"exception in thread call {fn!r}", "exception": exc})


def call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., object], *args: Any) -> None:
    """From any thread: run ``fn(*args)`` on ``loop`` soon (see the module documentation)."""
    inbox = _inboxes.get(loop)
    if inbox is None:
        with _inboxes_lock:
            inbox = _inboxes.get(loop)
            if inbox is None:
                inbox = _inboxes[loop] = _Inbox(loop)
    inbox.put(fn, args)
