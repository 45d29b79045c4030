"""Whether a PostgreSQL catalog's server can be reached: one outage at a time, logged once.

The writer thread is the judge (:mod:`tasksql.catalog.postgres.writer`): when its connection is
lost and cannot be made again at once, it declares an *outage* (:meth:`Health.mark_down`, logged
once with the cause), reconnects with capped exponential backoff and jitter (:class:`Backoff`), and
ends the outage when it is connected again (:meth:`Health.mark_up`, logged once with how long it
lasted). The reader and the listener only *suspect* (:meth:`Health.suspect`): a connection of theirs
broke, so the writer checks its own at once instead of waiting for its next write.

During an outage :meth:`Health.error` gives the one-line ``CATALOG_UNAVAILABLE`` error that reads
and the writes that cannot wait get at once (instead of waiting for a connect timeout), and
:meth:`Health.wait_reachable` lets the scheduler pause until the outage ends. Messages carry the
cause as :func:`~tasksql.catalog.postgres.connect.translate` wrote it: the URL's password is never
in them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from tasksql.catalog.postgres.connect import Target
from tasksql.clock import monotonic
from tasksql.errors import CatalogError

log = logging.getLogger("tasksql.catalog")

#: First pause between two attempts to reconnect (seconds), doubled at each failure...
BACKOFF_BASE = 0.05
#: ... up to this (seconds): a server back from a restart is found within this much.
BACKOFF_CAP = 2.0


class Backoff:
    """Capped exponential pauses with jitter: the n-th pause is uniform in [d/2, d] with
    d = min(cap, base * 2**n), so that nodes that lost the server together do not return in step."""

    def __init__(self, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> None:
        self._base = base
        self._cap = cap
        self.attempts = 0

    def next(self) -> float:
        """The pause before the next attempt (and count this attempt)."""
        ceiling = min(self._cap, self._base * 2**self.attempts)
        self.attempts += 1
        return random.uniform(ceiling / 2, ceiling)


class Health:
    """The reachability of one catalog's server, shared by its writer, reader and listener.

    Thread-safe; :meth:`wait_reachable` is called on the event loop that opened the catalog.
    """

    def __init__(self, target: Target, loop: asyncio.AbstractEventLoop) -> None:
        self._target = target
        self._loop = loop
        self._lock = threading.Lock()
        self._since: float | None = None  # monotonic start of the outage
        self._since_wall: datetime | None = None
        self._cause = ""
        self._up = asyncio.Event()
        self._up.set()
        #: Asks the writer to check its connection now (set by the writer; any thread).
        self.on_suspect: Callable[[], None] | None = None

    @property
    def reachable(self) -> bool:
        """False during an outage (from :meth:`mark_down` to :meth:`mark_up`)."""
        return self._since is None

    def error(self, doing: str) -> CatalogError | None:
        """During an outage, the error for something that cannot wait for its end; else None."""
        with self._lock:
            if self._since is None or self._since_wall is None:
                return None
            since, cause = self._since_wall, self._cause
        return CatalogError(
            f"cannot reach the PostgreSQL catalog at {self._target.safe_url} while {doing}: "
            f"unreachable since {since:%H:%M:%S} UTC ({cause}); reconnecting in the background",
            code="CATALOG_UNAVAILABLE",
        )

    def mark_down(self, cause: str, *, held: int) -> None:
        """The writer could not connect again: an outage begins (logged once), unless one is on."""
        with self._lock:
            if self._since is not None:
                return
            self._since, self._since_wall, self._cause = monotonic(), datetime.now(UTC), cause
        log.warning(
            "the PostgreSQL catalog at %s is unreachable: %s; statements fail with "
            "CATALOG_UNAVAILABLE, the scheduler pauses, and run bookkeeping (%d write(s) so far) is "
            "held until it is back (reconnecting with backoff)",
            self._target.safe_url,
            cause,
            held,
        )
        self._call(self._up.clear)

    def mark_up(self, *, attempts: int, held: int) -> None:
        """The writer is connected again: the outage (if any) ends, logged once."""
        with self._lock:
            since, self._since, self._since_wall = self._since, None, None
        if since is None:
            return
        log.warning(
            "the PostgreSQL catalog at %s is reachable again after %.1f s (%d attempt(s)); "
            "writing %d held write(s)",
            self._target.safe_url,
            monotonic() - since,
            attempts,
            held,
        )
        self._call(self._up.set)

    def suspect(self) -> None:
        """A connection of the reader or the listener broke: the writer checks its own at once."""
        probe = self.on_suspect
        if probe is not None and self._since is None:
            probe()

    async def wait_reachable(self, timeout: float) -> bool:
        """Wait until no outage is on, at most ``timeout`` seconds; True when reachable."""
        if self._since is None:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), max(0.0, timeout))
        return self._since is None

    def _call(self, fn: Callable[[], None]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            self._loop.call_soon_threadsafe(fn)
