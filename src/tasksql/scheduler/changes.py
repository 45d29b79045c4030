"""Noticing definition changes committed by other processes (:class:`ChangeWatcher`).

A change made through this process reaches the scheduler directly (the engine calls
:meth:`~tasksql.scheduler.service.Scheduler.notify_change`). One made by another process, such as
an ALTER TASK through another node of a cluster or through ``tasksql sql``, is seen here: the
watcher waits on :meth:`~tasksql.catalog.base.Catalog.wait_for_change`, which a PostgreSQL catalog
wakes at the NOTIFY sent in the change's own transaction (so a node acts on another node's change
within a round trip), and which looks at the change sequence every ``poll`` seconds in any case:
the fallback for a notification lost while the listening connection was down, and the only
signal on SQLite.

Bursts are coalesced: the watcher only marks the scheduler's cache stale, and the scheduler's loop
reloads once per iteration however many changes came meanwhile. After reporting a change the
watcher waits :data:`COALESCE_S`, or twice as long as the last reload took if that is longer,
before it reports the next: the first change of a burst is acted on at once, and a burst of
hundreds (a script of CREATE TASK statements run through another node) costs a reload every so
often, never one per change, and leaves the loop at least half of its time to fire. Each wake-up
costs one read of the change sequence, and notifications that arrive during that read are answered
by the next one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from tasksql.catalog.base import Catalog
from tasksql.errors import TasksqlError
from tasksql.scheduler import outage

log = logging.getLogger("tasksql.scheduler")

#: Default seconds between two looks at the change sequence (the fallback of the notifications).
CHANGE_POLL_S = 0.5
#: Shortest time between two changes reported (see the module).
COALESCE_S = 0.02
#: Longest one wait lasts (it reads the change sequence every poll meanwhile) before ``stopping``
#: is asked again.
WAIT_S = 60.0


class ChangeWatcher:
    """Calls ``changed()`` when the catalog's change sequence moved past ``seen()`` (the sequence
    the scheduler's cache was last loaded at).

    :param poll: seconds between two looks at the change sequence when no notification comes.
    :param reload_s: how long the scheduler's last reload took (seconds).
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        seen: Callable[[], int],
        changed: Callable[[], None],
        poll: float = CHANGE_POLL_S,
        reload_s: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self._catalog = catalog
        self._seen = seen
        self._changed = changed
        self._poll = poll
        self._reload_s = reload_s

    async def loop(self, stopping: Callable[[], bool]) -> None:
        """Until ``stopping()``: wait for a change and report it. While the catalog is unreachable
        (an outage, see :mod:`.outage`) it waits a poll interval and looks again; the listener
        announces a change after it reconnected."""
        last = self._seen()
        while not stopping():
            try:
                # wait past whichever is later: what was reported already, or what the cache loaded
                seq = await self._catalog.wait_for_change(max(last, self._seen()), WAIT_S, poll=self._poll)
            except TasksqlError as exc:
                (log.debug if outage.unavailable(exc) else log.warning)(
                    "could not look for catalog changes: %s", exc
                )
                await asyncio.sleep(self._poll)
                continue
            if seq > self._seen() and seq > last:
                self._changed()
                # coalesce what comes next (see the module)
                await asyncio.sleep(max(COALESCE_S, 2 * self._reload_s()))
            last = max(last, seq)
