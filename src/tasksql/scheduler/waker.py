"""Waking the scheduler's event loop at an instant, to a fraction of a millisecond.

asyncio's timers are only as precise as its selector: the epoll selector rounds every timeout up to
a whole millisecond, so a timer set with ``loop.call_at`` fires up to 1 ms late, and a task due at
12:00:00.000 started at 12:00:00.0013 more often than not. A :class:`Waker` waits in a thread of
its own on a monotonic deadline (a condition variable with a nanosecond timeout) and wakes the loop
through its self-pipe, which the selector notices at once.

Only the next instant matters, so there is one deadline: arming again replaces it. A later
deadline does not wake the thread (it finds the new deadline when the old one passes); an earlier
one does. A wake-up belongs to one arming: a stale one (the loop re-armed meanwhile) is dropped on
the loop, so it never cuts a later sleep short.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from tasksql import threadcalls


class Waker:
    """Calls ``callback()`` on ``loop`` at the monotonic deadline of the latest :meth:`arm`.

    :meth:`arm`, :meth:`disarm` and :meth:`close` are called on the loop; the thread starts at the
    first :meth:`arm` and ends at :meth:`close`.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        self._loop = loop
        self._callback = callback
        self._cond = threading.Condition(threading.Lock())
        self._deadline: float | None = None  # monotonic seconds; None: nothing to wake for
        self._generation = 0
        self._closed = False
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float) -> None:
        """Wake the loop at ``deadline`` (``time.monotonic()`` seconds) instead of any earlier arming."""
        with self._cond:
            if self._closed:
                return
            earlier = self._deadline is None or deadline < self._deadline
            self._deadline = deadline
            self._generation += 1
            if earlier:
                self._cond.notify()
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name="tasksql-waker", daemon=True)
            self._thread.start()

    def disarm(self) -> None:
        """Forget the deadline (the loop woke for another reason)."""
        with self._cond:
            self._deadline = None
            self._generation += 1

    def close(self) -> None:
        """End the thread; later arms do nothing."""
        with self._cond:
            self._closed = True
            self._deadline = None
            self._cond.notify()

    def _main(self) -> None:
        with self._cond:
            while not self._closed:
                deadline = self._deadline
                if deadline is None:
                    self._cond.wait()
                    continue
                left = deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                self._deadline = None
                threadcalls.call_soon(self._loop, self._fire, self._generation)

    def _fire(self, generation: int) -> None:
        if generation == self._generation and not self._closed:
            self._callback()
