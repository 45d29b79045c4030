"""VoltDB ``RUN ON HOSTS`` on a cluster member (:class:`HostRuns`): at each instant of such a task,
every live node that serves its warehouse (and, for a pinned task, only its node) runs it once.

The tasks are fired here, not by the scheduler's heaps (which hold only the tasks placed on this
node: the scheduler leaves RUN ON HOSTS tasks out of them, see :attr:`HostRuns.task_ids`). Each
instant is a run row of this node (``node_id`` and ``host_node`` are this node), inserted with
:meth:`~tasksql.catalog.fanout.FanoutCoordination.fire_on_host`: only while this node's lease is
live, and at most once per (task, instant, node) whatever restarts happen (the catalog's
``runs_host_fence``). The body then runs as any run of this node (:class:`InFlightRuns`).

A node starts from the first instant after it loaded the task (after it joined, after an ALTER):
instants it was not there for are not caught up, and nobody else runs them (they were that node's).
An instant that comes while the previous run of the task on this node still executes is not
started on this node (RUN ON HOSTS runs never overlap on one node).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from tasksql.catalog.base import Catalog
from tasksql.clock import Clock
from tasksql.errors import TasksqlError
from tasksql.model import RunState, ScheduledFrom, TaskState, effective_warehouse, pinned_node
from tasksql.scheduler import outcomes
from tasksql.scheduler.cache import warm_entry
from tasksql.scheduler.entry import Entry
from tasksql.scheduler.inflight import InFlightRuns
from tasksql.scheduler.membership import FenceRef

log = logging.getLogger("tasksql.scheduler")

#: The longest the loop sleeps without looking at the instants again.
MAX_SLEEP_S = 1.0


class HostRuns:
    """The RUN ON HOSTS tasks of one cluster member (see the module).

    :param may_fire: True while the node holds its lease by its own clock (self-fencing).
    :param serves: whether the node runs tasks of a warehouse.
    """

    def __init__(
        self,
        catalog: Catalog,
        runs: InFlightRuns,
        *,
        node_id: str,
        clock: Clock,
        fence: FenceRef,
        may_fire: Callable[[], bool],
        serves: Callable[[str], bool],
    ) -> None:
        self._catalog = catalog
        self._runs = runs
        self._node_id = node_id
        self._clock = clock
        self._fence = fence
        self._may_fire = may_fire
        self._serves = serves
        #: Every live RUN ON HOSTS task (whether this node runs it or not): the scheduler's heaps
        #: leave them out.
        self.task_ids: set[int] = set()
        #: The entries of the tasks this node runs, with their next instants.
        self.entries: dict[int, Entry] = {}
        self._stale = True
        self._wake = asyncio.Event()

    def mark_stale(self) -> None:
        """The catalog changed: read the tasks again before the next instant."""
        self._stale = True
        self._wake.set()

    async def refresh(self) -> None:
        """Read the RUN ON HOSTS tasks; a new (or changed) one runs from its next instant."""
        self._stale = False
        records = await self._catalog.list_host_tasks()
        now = self._clock.now()
        self.task_ids = {r.id for r in records}
        kept: dict[int, Entry] = {}
        for rec in records:
            task = rec.definition
            if rec.state is not TaskState.STARTED or task.schedule is None:
                continue
            if pinned_node(task) not in (None, self._node_id) or not self._serves(effective_warehouse(task)):
                continue
            old = self.entries.get(rec.id)
            if old is not None and old.version == rec.version and old.schedule is not None:
                kept[rec.id] = old
                continue
            entry = warm_entry(rec, old)
            if entry.schedule is None:
                continue
            entry.next_fire = entry.schedule.next_fire(now)
            kept[rec.id] = entry
        self.entries = kept

    async def loop(self, stopping: Callable[[], bool]) -> None:
        """Fire the due instants until ``stopping()``."""
        while not stopping():
            try:
                if self._stale:
                    await self.refresh()
                await self.fire_due(self._clock.now())
            except TasksqlError as exc:
                log.debug("node %s: RUN ON HOSTS tasks not fired now: %s", self._node_id, exc)
                self._stale = True
            now = self._clock.now()
            until = min(
                (e.next_fire for e in self.entries.values() if e.next_fire is not None),
                default=now + timedelta(seconds=MAX_SLEEP_S),
            )
            delay = min(MAX_SLEEP_S, max(0.0, (until - now).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()

    async def fire_due(self, now: datetime) -> int:
        """Run every instant that has come on this node; how many runs started."""
        started = 0
        for entry in list(self.entries.values()):
            instant = entry.next_fire
            if instant is None or instant > now or entry.schedule is None:
                continue
            # the next instant after now: instants missed by a slow loop are not caught up
            entry.next_fire = entry.schedule.next_fire(max(now, instant))
            fence = self._fence.current
            if fence is None or not self._may_fire() or entry.running:
                continue
            run = outcomes.new_run(
                entry.record,
                scheduled_time=instant,
                state=RunState.EXECUTING,
                scheduled_from=ScheduledFrom.SCHEDULE,
                node_id=self._node_id,
                now=now,
            )
            rec = await self._catalog.fire_on_host(run, fence)
            if rec is not None:
                self._runs.start(entry, rec)
                started += 1
        return started
