"""The scheduler's housekeeping: heartbeats, change polling, lazily written next instants, the
reaper (runs of dead nodes), history pruning and the pruning of completion markers
(:mod:`tasksql.scheduler.markers`). Functions of a :class:`Scheduler`, run by its
background loop (:func:`loop`) and callable directly (tests, shutdown). What the reaper does with a
lost node's runs is :mod:`tasksql.scheduler.lost`."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import timedelta
from typing import TYPE_CHECKING

from tasksql.errors import ConfigError, TasksqlError
from tasksql.model.run import TaskRuntime
from tasksql.procs import NODE_LEASE_S, process_gone
from tasksql.scheduler import lost, markers, outage

if TYPE_CHECKING:
    from tasksql.scheduler.service import Scheduler

log = logging.getLogger("tasksql.scheduler")

HEARTBEAT_S = 2.0
CHANGE_POLL_S = 0.5
REAP_EVERY_S = 15.0
PRUNE_EVERY_S = 600.0


async def loop(self: Scheduler) -> None:
    """Until the scheduler stops: heartbeat, flush next instants, notice other processes' catalog
    changes, reap dead nodes' runs and prune history, each at its own pace. While the catalog is
    unreachable all of it waits, and reaping waits a node lease more (see :mod:`outage`)."""
    last_beat = last_reap = last_prune = last_sweep = 0.0
    reap_after = 0.0
    event_loop = asyncio.get_running_loop()
    while not self._stopping:
        t = event_loop.time()
        if self.catalog.outage() is not None:
            reap_after = t + NODE_LEASE_S  # other nodes could not beat either: give them a lease
            await asyncio.sleep(CHANGE_POLL_S)
            continue
        try:
            if t - last_beat >= HEARTBEAT_S:
                await self.catalog.heartbeat(self.node_id, self.clock.now())
                last_beat = t
            await flush_next_fires(self)
            if await self.catalog.change_seq() != self._change_seq:
                self.notify_change()
            if t - last_reap >= REAP_EVERY_S and t >= reap_after:
                await reap(self)
                last_reap = t
            if t - last_prune >= PRUNE_EVERY_S:
                await prune(self)
                last_prune = t
            if t - last_sweep >= markers.SWEEP_EVERY_S:
                await markers.sweep(self)  # completion markers of settled runs
                last_sweep = t
        except TasksqlError as exc:
            if outage.unavailable(exc):  # the catalog logs the outage once
                log.debug("housekeeping failed: %s", exc)
            else:
                log.exception("housekeeping failed; retrying")
        await asyncio.sleep(CHANGE_POLL_S)


async def flush_next_fires(self: Scheduler) -> None:
    """Write the next instants computed since the last flush, in one transaction."""
    if not self._next_dirty:
        return
    dirty, self._next_dirty = self._next_dirty, {}
    try:
        await self.catalog.set_task_runtime(
            [
                TaskRuntime(
                    task_id=t,
                    next_fire_at=at,
                    clear_next_fire=at is None,
                    guard=(rec.version, rec.resumed_on),
                )
                for t, (at, rec) in dirty.items()
            ]
        )
    except BaseException:
        for task_id, item in dirty.items():  # for the next flush (values computed since are newer)
            self._next_dirty.setdefault(task_id, item)
        raise


async def settle_previous_incarnation(self: Scheduler) -> int:
    """Before this node registers: settle what an earlier process with the same node id left
    (a restart with a fixed ``node_id``; the reaper never settles its own node's runs).

    :raises ConfigError: a live process on this host already uses this node id.
    """
    now = self.clock.now()
    host = socket.gethostname()
    for node in await self.catalog.list_nodes(now):
        if node.node_id != self.node_id or (node.host == host and node.pid == os.getpid()):
            continue
        silent = (now - node.heartbeat_at).total_seconds()
        if (
            node.stopped_at is None
            and node.host == host
            and not process_gone(node.pid, node.started_at, silent_s=silent)
        ):
            raise ConfigError(f"node id {self.node_id} is in use by process {node.pid} on this host")
        settled = await lost.settle(self, [self.node_id], now)
        return sum(c.total for c in settled.values())
    return 0


async def reap(self: Scheduler) -> int:
    """Settle what dead nodes left (stopped, silent for longer than the lease, or on this host with
    their process gone); returns how many runs were settled or released (see :mod:`lost`)."""
    now = self.clock.now()
    dead = lost.dead_nodes(await self.catalog.list_nodes(now), now, me=self.node_id)
    if not dead:
        return 0
    settled = await lost.settle(self, dead, now)
    return sum(c.total for c in settled.values())


async def prune(self: Scheduler) -> int:
    """Delete history older than the retention (global setting, per-task HISTORY_RETENTION)."""
    now = self.clock.now()
    default = now - timedelta(days=self.engine.settings.history_retention_days)
    per_task = {
        task_id: now - timedelta(milliseconds=ms)
        for task_id, ms in (await self.catalog.history_retentions()).items()
    }
    return await self.catalog.prune_runs(default, per_task)
