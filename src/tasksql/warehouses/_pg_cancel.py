"""Cancelling a PostgreSQL statement from a connection kept open for that.

libpq's cancel request (psycopg's ``cancel_safe()``) opens a new connection to the server for every
cancel, and the server starts a process to take it: several milliseconds before the backend is
signalled. :class:`Canceller` instead keeps one connection of the warehouse's own (the one that
checked the server could be reached when the warehouse opened) and sends
``SELECT pg_cancel_backend(pid)`` on it: one round trip. The signal is the same (SIGINT to the
backend, which cancels the statement running then, or nothing when it is idle), and it is sent once
the call returns, as ``cancel_safe()`` guarantees. ``pg_cancel_backend`` needs the same login as the
backend (or ``pg_signal_backend``), which the warehouse's own connections have; when it cannot be
used (the connection broke, the function answered false), the caller falls back to
``cancel_safe()``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import psycopg


class Canceller:
    """``cancel(pid)`` on a kept connection; thread-safe (cancels take turns). A connection that
    broke is opened again (``connect``) at the next cancel, which then falls back once."""

    def __init__(
        self, conn: psycopg.Connection[Any] | None, connect: Callable[[], psycopg.Connection[Any]]
    ) -> None:
        self._conn = conn
        self._connect = connect
        self._lock = threading.Lock()
        self._closed = False

    def cancel(self, pid: int) -> bool:
        """Signal backend ``pid`` to cancel its statement; False when that could not be done here."""
        with self._lock:
            if self._closed:
                return False
            conn = self._conn
            if conn is None or conn.closed:
                # open one for the next cancel; this one goes by libpq's cancel request
                with contextlib.suppress(psycopg.Error, OSError):
                    self._conn = self._connect()
                return False
            try:
                row = conn.execute("SELECT pg_cancel_backend(%s)", (pid,)).fetchone()
            except psycopg.Error:
                self._drop()
                return False
            return bool(row and row[0])

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._drop()
