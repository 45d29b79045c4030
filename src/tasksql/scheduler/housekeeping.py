"""The scheduler's housekeeping (:class:`Housekeeper`): heartbeats, lazily written next instants,
the reaper (runs of dead nodes), history pruning and the pruning of completion markers
(:mod:`tasksql.scheduler.markers`), each at its own pace in :meth:`Housekeeper.loop`, and callable
one by one (start-up, tests). What the reaper does with a lost node's runs is
:mod:`tasksql.scheduler.lost`."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from tasksql.catalog.base import Catalog
from tasksql.clock import Clock
from tasksql.errors import ConfigError, TasksqlError
from tasksql.model.run import RunRecord
from tasksql.procs import NODE_LEASE_S, process_gone
from tasksql.scheduler import lost, markers, outage, takeover
from tasksql.scheduler.cache import TaskCache
from tasksql.scheduler.deps import WarehouseProvider
from tasksql.scheduler.markers import MarkerBook
from tasksql.scheduler.membership import ClusterMember

log = logging.getLogger("tasksql.scheduler")

HEARTBEAT_S = 2.0
#: Seconds between two rounds (each does what is due; changes are the watcher's, see changes.py).
ROUND_S = 0.5
REAP_EVERY_S = 15.0
PRUNE_EVERY_S = 600.0


class Housekeeper:
    """What one node does besides firing: keeping its node row alive, settling dead nodes' runs and
    pruning history and markers (other processes' catalog changes are noticed by
    :class:`~tasksql.scheduler.changes.ChangeWatcher`).

    :param retention_days: history older than this is pruned (tasks may keep theirs shorter).
    """

    def __init__(
        self,
        catalog: Catalog,
        cache: TaskCache,
        warehouses: WarehouseProvider,
        *,
        clock: Clock,
        node_id: str,
        retention_days: float,
    ) -> None:
        self._catalog = catalog
        self._cache = cache
        self._warehouses = warehouses
        self._clock = clock
        self._node_id = node_id
        self._retention = timedelta(days=retention_days)
        self._markers: MarkerBook | None = None
        self._member: ClusterMember | None = None
        self._lease_task: asyncio.Task[None] | None = None
        self._stopping = False
        #: A claim gained tasks: settle the members whose lease is gone at the next round.
        self._takeover = False
        #: Told the runs of gone members recorded FAILED (NODE_LOST), for their retries.
        self._failed: Callable[[Sequence[RunRecord]], None] = lambda _: None

    def use_member(
        self, member: ClusterMember | None, failed: Callable[[Sequence[RunRecord]], None] = lambda _: None
    ) -> None:
        """Renew ``member``'s lease (and claim its placements) alongside the heartbeat, at the
        lease's own pace and in its own asyncio task, so that a slow reap never lets it run out;
        and settle the runs of members whose lease is gone (see :mod:`.takeover`) after a claim
        that gained tasks (:meth:`took_over`) and at each reaping round, telling ``failed`` the
        runs recorded FAILED (NODE_LOST)."""
        self._member = member
        self._failed = failed

    def took_over(self) -> None:
        """A claim gained tasks (maybe those of a lost member): settle gone members' runs now."""
        self._takeover = True

    def use_markers(self, book: MarkerBook | None) -> None:
        """Look up and prune completion markers in ``book``'s scope (None: none are written)."""
        self._markers = book

    def stop(self) -> None:
        """End :meth:`loop` at its next round, and the lease renewals now."""
        self._stopping = True
        if self._lease_task is not None:
            self._lease_task.cancel()

    async def loop(self) -> None:
        """Until :meth:`stop`: heartbeat, flush next instants, reap dead nodes' runs and prune
        history and markers, each at its own pace. While the catalog is unreachable all of it
        waits, and reaping waits a node lease more (see :mod:`outage`). A cluster member's lease is
        renewed alongside (see :meth:`use_member`)."""
        event_loop = asyncio.get_running_loop()
        if self._member is not None:
            self._lease_task = asyncio.create_task(
                self._member.loop(lambda: self._stopping), name="tasksql-lease"
            )
        try:
            await self._rounds(event_loop)
        finally:
            if self._lease_task is not None:
                self._lease_task.cancel()

    async def _rounds(self, event_loop: asyncio.AbstractEventLoop) -> None:
        last_beat = last_reap = last_prune = last_sweep = 0.0
        reap_after = 0.0
        catalog = self._catalog
        while not self._stopping:
            t = event_loop.time()
            if catalog.outage() is not None:
                reap_after = t + NODE_LEASE_S  # other nodes could not beat either: give them a lease
                await asyncio.sleep(ROUND_S)
                continue
            try:
                if t - last_beat >= HEARTBEAT_S:
                    await catalog.heartbeat(self._node_id, self._clock.now())
                    last_beat = t
                await self._cache.flush_next_fires()
                if self._member is not None and (self._takeover or t - last_reap >= REAP_EVERY_S):
                    self._takeover = False
                    await self.settle_gone()
                if t - last_reap >= REAP_EVERY_S and t >= reap_after:
                    await self.reap()
                    last_reap = t
                if t - last_prune >= PRUNE_EVERY_S:
                    await self.prune()
                    last_prune = t
                if t - last_sweep >= markers.SWEEP_EVERY_S:
                    await markers.sweep(self._markers, catalog, self._clock)  # markers of settled runs
                    last_sweep = t
            except TasksqlError as exc:
                if outage.unavailable(exc):  # the catalog logs the outage once
                    log.debug("housekeeping failed: %s", exc)
                else:
                    log.exception("housekeeping failed; retrying")
            await asyncio.sleep(ROUND_S)

    async def settle_previous_incarnation(self) -> int:
        """Before this node registers: settle what an earlier process with the same node id left
        (a restart with a fixed ``node_id``; the reaper never settles its own node's runs).

        :raises ConfigError: a live process on this host already uses this node id.
        """
        now = self._clock.now()
        host = socket.gethostname()
        for node in await self._catalog.list_nodes(now):
            if node.node_id != self._node_id or (node.host == host and node.pid == os.getpid()):
                continue
            silent = (now - node.heartbeat_at).total_seconds()
            if (
                node.stopped_at is None
                and node.host == host
                and not process_gone(node.pid, node.started_at, silent_s=silent)
            ):
                raise ConfigError(f"node id {self._node_id} is in use by process {node.pid} on this host")
            return await self._settle([self._node_id], now)
        return 0

    async def reap(self) -> int:
        """Settle what dead nodes left (stopped, silent for longer than the lease, or on this host
        with their process gone); returns how many runs were settled or released (see :mod:`lost`).

        A node is judged by its epoch, as the takeover judges a member (:mod:`.takeover`): the
        epochs are read before the judgement, and the catalog settles a node only while its row
        still has the epoch read and holds no live lease, checked in the settling transaction. A
        node id that joined (again) after the read, under a newer epoch, keeps every run: those
        of its new epoch are its own, and those of its earlier ones it settles itself
        (:func:`.takeover.settle_own_earlier`). A node that never joined has epoch 0 until it does."""
        now = self._clock.now()
        epochs = {m.node_id: m.epoch for m in await self._catalog.cluster_members()}
        judged = lost.dead_nodes(await self._catalog.list_nodes(now), now, me=self._node_id)
        dead = [n for n in judged if n in epochs]  # a node registered since the read: next round
        if not dead:
            return 0
        return await self._settle(dead, now, epochs={n: epochs[n] for n in dead})

    async def settle_gone(self) -> int:
        """Settle the runs of members whose lease is gone (see :mod:`.takeover`); how many."""
        now = self._clock.now()
        catalog, cache, book = self._catalog, self._cache, self._markers
        warehouses, me = self._warehouses, self._node_id
        settled = await takeover.settle_gone(catalog, cache, book, warehouses, me=me, now=now)
        if settled.failed:
            self._failed(settled.failed)
        return sum(c.total for c in settled.counts.values())

    async def _settle(
        self, node_ids: list[str], now: datetime, *, epochs: dict[str, int] | None = None
    ) -> int:
        catalog, cache, book = self._catalog, self._cache, self._markers
        settled = await lost.settle_left(catalog, cache, book, self._warehouses, node_ids, now, epochs=epochs)
        return sum(c.total for c in settled.counts.values())

    async def prune(self) -> int:
        """Delete history older than the retention (global setting, per-task HISTORY_RETENTION)."""
        now = self._clock.now()
        per_task = {
            task_id: now - timedelta(milliseconds=ms)
            for task_id, ms in (await self._catalog.history_retentions()).items()
        }
        await self._catalog.prune_audit(now - self._retention)  # system.audit_log: the same retention
        return await self._catalog.prune_runs(now - self._retention, per_task)
