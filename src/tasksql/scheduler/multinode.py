"""The scheduler's parts for work on several nodes, wired together (:class:`MultiNode`): the
sub-task worker of every server (:mod:`.subtasks`), the fan-out of maintenance runs (:mod:`.fanout`)
and, on a cluster member, RUN ON HOSTS (:mod:`.hosts`) and the hand-over of tasks a rebalance moves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tasksql.catalog.base import Catalog
from tasksql.clock import Clock
from tasksql.scheduler.cache import TaskCache
from tasksql.scheduler.deps import WarehouseProvider
from tasksql.scheduler.fanout import FanOut
from tasksql.scheduler.hosts import HostRuns
from tasksql.scheduler.inflight import InFlightRuns
from tasksql.scheduler.membership import ClusterMember, FenceRef
from tasksql.scheduler.subtasks import Mover, SubtaskWorker


class MultiNode:
    """See the module. Built by the scheduler of a server; :meth:`join` when it is a cluster member."""

    def __init__(
        self,
        catalog: Catalog,
        warehouses: WarehouseProvider,
        cache: TaskCache,
        runs: InFlightRuns,
        *,
        node_id: str,
        cluster_id: str,
        clock: Clock,
        fence: FenceRef,
    ) -> None:
        self._catalog = catalog
        self._cache = cache
        self._runs = runs
        self._node_id = node_id
        self._cluster_id = cluster_id
        self._clock = clock
        self._fence = fence
        self.member: ClusterMember | None = None
        self.hosts: HostRuns | None = None
        self.worker = SubtaskWorker(catalog, warehouses, node_id=node_id, clock=clock, mover=self._mover)
        runs.fan_out = FanOut(
            catalog, node_id=node_id, in_cluster=lambda: self.member is not None, poked=self.worker.poke
        )

    async def start(self) -> None:
        """Settle what the previous process of this node left (its running sub-tasks)."""
        await self.worker.start()

    async def join(self, member: ClusterMember) -> None:
        """This node is a cluster member: record its cluster, run RUN ON HOSTS tasks here, and keep
        them out of the heaps of placed tasks (every node fires them by itself)."""
        self.member = member
        await self._catalog.set_node_cluster(self._node_id, self._cluster_id)
        served = member.warehouses
        self.hosts = HostRuns(
            self._catalog,
            self._runs,
            node_id=self._node_id,
            clock=self._clock,
            fence=self._fence,
            may_fire=member.may_fire,
            serves=lambda w: served is None or w in served,
        )
        await self.hosts.refresh()
        hosts = self.hosts
        self._cache.restrict_to(lambda task_id: member.owns(task_id) and task_id not in hosts.task_ids)

    def changed(self) -> None:
        """The catalog changed: new sub-tasks or RUN ON HOSTS tasks may be there."""
        self.worker.poke()
        if self.hosts is not None:
            self.hosts.mark_stale()

    def is_host_task(self, task_id: int) -> bool:
        return self.hosts is not None and task_id in self.hosts.task_ids

    def _mover(self) -> Mover | None:
        return None if self.member is None else self._move

    async def _move(self, moves: Mapping[int, str]) -> list[int]:
        """Hand the tasks of ``moves`` this node holds over (a rebalance): write their next
        instants while they are held, stop firing them, then move them in the catalog. A task that
        did not move is taken back at the next claim (it is still held)."""
        member, fence = self.member, self._fence.current
        if member is None or fence is None:
            return []
        ids = set(moves) & member.placed
        if not ids:
            return []
        await self._cache.flush_next_fires()
        member.placed -= ids
        self._cache.placements_changed(set(), ids)
        moved = await self._catalog.move_placements(fence, {t: moves[t] for t in ids})
        if len(moved) < len(ids):
            member.poke()
        return moved

    def loops(self, stopping: Callable[[], bool]) -> list[tuple[object, str]]:
        """The coroutines to run in the background, with their names."""
        out: list[tuple[object, str]] = [(self.worker.loop(stopping), "tasksql-subtasks")]
        if self.hosts is not None:
            out.append((self.hosts.loop(stopping), "tasksql-hosts"))
        return out
