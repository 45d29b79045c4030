"""One writer at a time per SQLite file inside this process, waiting on a condition variable.

SQLite lets one connection write a database file at a time. A connection that finds the write lock
taken waits in sqlite3's busy handler, which *sleeps* (1, 2, 5, 10, ... up to 100 ms at a time) and
tries again: a writer that commits 1 ms later leaves the others asleep for tens of milliseconds, and
under a steady load of short write transactions (task bodies with their completion markers) their
p99 latency grows from a few ms to hundreds. A :class:`WriteGate` is taken before a write starts
(``BEGIN IMMEDIATE``, the write statement of a one-statement body in a deferred transaction, or a
write statement in autocommit) and given back when it ends (COMMIT, ROLLBACK, or the statement's
end), so that writers of this process queue here, in arrival order, and the next one wakes as soon
as the previous one is done. The busy timeout stays for the writers of other processes.

A waiter can be woken by an interrupt (:meth:`WriteGate.wake`): it then stops waiting if its own
``stopped`` says so. Readers never take the gate (in WAL mode they do not wait for writers).
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path


class GateTimeout(Exception):
    """The gate stayed taken for the whole wait."""


class GateStopped(Exception):
    """The waiter was asked to stop (``stopped()`` turned true) while waiting."""


class WriteGate:
    """A lock with a bounded, interruptible wait; it may be released by another thread than the
    one that took it (a transaction begun by one worker may be ended by another).

    Thread-safe. Waiters are woken in the order they started waiting (a thread arriving while the
    gate is free may still take it before a woken waiter does).
    """

    __slots__ = ("__weakref__", "_cond", "_held")

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    def acquire(self, timeout: float, stopped: Callable[[], bool]) -> None:
        """Take the gate, waiting at most ``timeout`` seconds.

        :raises GateStopped: ``stopped()`` was true before waiting or at a wake-up (then a release
            meant for this waiter is passed on to the next).
        :raises GateTimeout: the gate was still taken after ``timeout`` seconds.
        """
        with self._cond:
            if stopped():
                raise GateStopped
            if not self._held:
                self._held = True
                return
            deadline = time.monotonic() + timeout
            try:
                while self._held:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise GateTimeout
                    self._cond.wait(remaining)
                    if stopped():
                        raise GateStopped
            except BaseException:
                if not self._held:
                    self._cond.notify()  # the release meant for this waiter goes to the next one
                raise
            self._held = True

    def release(self) -> None:
        """Give the gate back and wake the first waiter."""
        with self._cond:
            self._held = False
            self._cond.notify()

    def wake(self) -> None:
        """Wake every waiter, so that one asked to stop sees it (the others wait again)."""
        with self._cond:
            self._cond.notify_all()


_gates: weakref.WeakValueDictionary[str, WriteGate] = weakref.WeakValueDictionary()
_gates_lock = threading.Lock()


def gate_for(path: Path) -> WriteGate:
    """The gate of the database file ``path`` in this process (one per file, however it is named:
    warehouses on the same file share it). Hold the returned object: the gate lives while someone
    holds it."""
    key = os.path.realpath(path)
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = WriteGate()
            _gates[key] = gate
        return gate
