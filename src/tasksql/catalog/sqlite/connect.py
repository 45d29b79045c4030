"""Opening SQLite catalog connections, and retrying while another process holds the lock.

Every connection runs in autocommit mode (``isolation_level=None``): transactions are begun and
ended explicitly by the writer (``BEGIN IMMEDIATE`` ... ``COMMIT``), never implicitly by the
sqlite3 module. ``timeout`` sets SQLite's busy timeout: a connection that finds the file locked by
another process waits up to that long before SQLITE_BUSY; :func:`retry_busy` then retries a bounded
number of times with exponential backoff before giving up with a ``CATALOG_BUSY`` error.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from tasksql.catalog.sqlite.errors import is_busy, translate
from tasksql.errors import CatalogError

T = TypeVar("T")

#: Seconds SQLite waits on a lock held by another connection before reporting SQLITE_BUSY.
DEFAULT_BUSY_TIMEOUT = 5.0
#: How many times a statement that got SQLITE_BUSY anyway is retried before giving up.
DEFAULT_BUSY_RETRIES = 4
#: First backoff between those retries, in seconds; it doubles on each retry.
BUSY_BACKOFF = 0.05


def connect(path: str, *, busy_timeout: float, reader: bool) -> sqlite3.Connection:
    """A configured connection to the catalog file at ``path``.

    The writer's connection switches the file to WAL (readers never block the writer, and the
    writer never blocks readers) and enables foreign keys. A reader's connection is ``query_only``.
    ``synchronous`` starts at NORMAL; the writer raises it to FULL for durable groups.

    :raises sqlite3.Error: the caller (inside this package) translates it.
    :raises CatalogError: the file system does not support WAL.
    """
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=not reader)
    try:
        conn.row_factory = sqlite3.Row
        if reader:
            conn.execute("PRAGMA query_only = ON")
        else:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise CatalogError(f"the catalog file {path} cannot use write-ahead logging (mode {mode})")
            conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def retry_busy(
    fn: Callable[[], T],
    *,
    retries: int,
    doing: str,
    on_retry: Callable[[], None] | None = None,
) -> T:
    """``fn()``, retried up to ``retries`` times while it fails with SQLITE_BUSY.

    Sleeps (in the calling worker thread, never on the event loop) 50 ms, 100 ms, 200 ms, ...
    between attempts. Every other sqlite3 error, and SQLITE_BUSY after the last retry, is raised as
    a :class:`CatalogError` (code ``CATALOG_BUSY`` for the latter); other exceptions pass through.
    """
    attempt = 0
    while True:
        try:
            return fn()
        except sqlite3.Error as exc:
            if is_busy(exc) and attempt < retries:
                if on_retry is not None:
                    on_retry()
                time.sleep(BUSY_BACKOFF * 2**attempt)
                attempt += 1
                continue
            raise translate(exc, doing) from None
