"""The scheduler's housekeeping: heartbeats, change polling, lazily written next instants, the
reaper (runs of dead nodes) and history pruning. Functions of a :class:`Scheduler`, run by its
background loop (:func:`loop`) and callable directly (tests, shutdown)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import timedelta
from typing import TYPE_CHECKING

from tasksql.errors import ConfigError, TasksqlError
from tasksql.procs import pid_alive
from tasksql.runs import TaskRuntime

if TYPE_CHECKING:
    from tasksql.scheduler.service import Scheduler

log = logging.getLogger("tasksql.scheduler")

HEARTBEAT_S = 2.0
CHANGE_POLL_S = 0.5
REAP_EVERY_S = 15.0
NODE_LEASE_S = 30.0
PRUNE_EVERY_S = 600.0
#: The error message of a run whose node died (error code NODE_LOST).
LOST_MESSAGE = "node stopped during run"


async def loop(self: Scheduler) -> None:
    """Until the scheduler stops: heartbeat, flush next instants, notice other processes' catalog
    changes, reap dead nodes' runs and prune history, each at its own pace."""
    last_beat = last_reap = last_prune = 0.0
    event_loop = asyncio.get_running_loop()
    while not self._stopping:
        t = event_loop.time()
        try:
            if t - last_beat >= HEARTBEAT_S:
                await self.catalog.heartbeat(self.node_id, self.clock.now())
                last_beat = t
            await flush_next_fires(self)
            if await self.catalog.change_seq() != self._change_seq:
                self.notify_change()
            if t - last_reap >= REAP_EVERY_S:
                await reap(self)
                last_reap = t
            if t - last_prune >= PRUNE_EVERY_S:
                await prune(self)
                last_prune = t
        except TasksqlError:
            log.exception("housekeeping failed; retrying")
        await asyncio.sleep(CHANGE_POLL_S)


async def flush_next_fires(self: Scheduler) -> None:
    """Write the next instants computed since the last flush, in one transaction."""
    if not self._next_dirty:
        return
    dirty, self._next_dirty = self._next_dirty, {}
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
        if node.stopped_at is None and node.host == host and pid_alive(node.pid):
            raise ConfigError(f"node id {self.node_id} is in use by process {node.pid} on this host")
        n = await self.catalog.settle_lost_runs([self.node_id], now, LOST_MESSAGE)
        if n:
            log.warning("settled %d run(s) left by an earlier process of node %s", n, self.node_id)
        return n
    return 0


async def reap(self: Scheduler) -> int:
    """Settle runs whose node died (no heartbeat within the lease, or its process is gone)."""
    now = self.clock.now()
    host = socket.gethostname()
    dead: list[str] = []
    for node in await self.catalog.list_nodes(now):
        if node.node_id == self.node_id:
            continue
        silent = (now - node.heartbeat_at).total_seconds() > NODE_LEASE_S
        gone = node.host == host and not pid_alive(node.pid)
        if node.stopped_at is not None or silent or gone:
            dead.append(node.node_id)
    if not dead:
        return 0
    n = await self.catalog.settle_lost_runs(dead, now, LOST_MESSAGE)
    if n:
        log.warning("settled %d run(s) left by stopped node(s) %s", n, ", ".join(dead))
    return n


async def prune(self: Scheduler) -> int:
    """Delete history older than the retention (global setting, per-task HISTORY_RETENTION)."""
    now = self.clock.now()
    default = now - timedelta(days=self.engine.settings.history_retention_days)
    per_task = {
        task_id: now - timedelta(milliseconds=ms)
        for task_id, ms in (await self.catalog.history_retentions()).items()
    }
    return await self.catalog.prune_runs(default, per_task)
