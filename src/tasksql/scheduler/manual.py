"""Manual runs and cancellation on one node: EXECUTE TASK (also RETRY LAST, FOR WINDOW) and CANCEL TASK.

In a cluster a manual run is under the node's lease like any run (see ``docs/architecture.md``,
"Cluster coordination"): it runs on the node that was asked for it, and is inserted (started)
only while that node's lease is live, checked in the insert's transaction
(:meth:`~tasksql.catalog.cluster.ClusterCoordination.fire_leased`); its outcome is written under
the same fence. A member that holds no lease (it lost it and is joining again), or whose lease ran
out unnoticed (a paused process), starts nothing: the statement fails with ``LEASE_LOST`` and
nothing is written. A task pinned to another node (``NODE =``, ``LOCATION NODE``) runs there only,
and a graph's runs go with its root's placement, so a manual graph run (EXECUTE TASK of a root,
RETRY LAST) starts only on the node that holds the root: elsewhere the statement fails with
``NOT_PLACED_HERE`` naming that node. A process that is not a member (an embedded EXECUTE TASK, a
single node) writes unfenced: should it die, its runs are settled by another node's reaper,
judged by the node's epoch (see :meth:`.housekeeping.Housekeeper.reap`).
"""

from __future__ import annotations

from tasksql.catalog.base import Catalog
from tasksql.clock import Clock
from tasksql.model import RunState, ScheduledFrom, TaskRecord
from tasksql.model.cluster import Fence
from tasksql.model.run import RunRecord
from tasksql.model.task import pinned_node
from tasksql.scheduler import outcomes
from tasksql.scheduler.cache import TaskCache
from tasksql.scheduler.entry import Entry
from tasksql.scheduler.graph_coordinator import GraphCoordinator
from tasksql.scheduler.inflight import InFlightRuns
from tasksql.scheduler.membership import FenceRef, lease_lost, pinned_elsewhere


class ManualRuns:
    """EXECUTE TASK and CANCEL TASK against the scheduler's cache, graph runs and runs in flight.

    Each fails at once with ``CATALOG_UNAVAILABLE`` while the catalog is unreachable: a run's row
    cannot be committed then, so it would not start (see :mod:`tasksql.scheduler.outage`). On a
    cluster member, runs start only under the node's live lease (see the module).

    :param fence: the node's fence (a cluster member's; unfenced when empty).
    """

    def __init__(
        self,
        catalog: Catalog,
        cache: TaskCache,
        graphs: GraphCoordinator,
        runs: InFlightRuns,
        *,
        clock: Clock,
        node_id: str,
        fence: FenceRef | None = None,
    ) -> None:
        self._catalog = catalog
        self._fence = fence or FenceRef()
        self._cache = cache
        self._graphs = graphs
        self._runs = runs
        self._clock = clock
        self._node_id = node_id

    def lease(self) -> Fence | None:
        """The fence a manual run is written under: None off a cluster (unfenced).

        :raises CatalogError: (``LEASE_LOST``) a cluster member that holds no lease now."""
        if self._fence.withheld:
            raise lease_lost(self._node_id)
        return self._fence.current

    async def _entry(self, record: TaskRecord) -> Entry | None:
        """The warm entry of ``record``'s task, the cache reloaded first when it is stale or does
        not know the task at that version."""
        error = self._catalog.outage()
        if error is not None:
            raise error
        entry = self._cache.entries.get(record.id)
        if self._cache.stale or entry is None or entry.version != record.version:
            await self._cache.reload()
        return await self._cache.entry_for(record)

    async def execute_now(self, record: TaskRecord, *, config: str | None = None) -> RunRecord | None:
        """EXECUTE TASK: one run now (a whole graph run for a root), schedule untouched; SKIPPED when
        it would overlap. None when the task is not in the catalog any more.

        :raises CatalogError: (``CATALOG_UNAVAILABLE``) the catalog is unreachable; (``LEASE_LOST``)
            this cluster member holds no live lease; (``NOT_PLACED_HERE``) the task is a graph's
            root held by another node. Nothing was written then."""
        self.lease()
        entry = await self._entry(record)
        if entry is None:
            return None
        pin = pinned_node(entry.task)
        if pin is not None and pin != self._node_id and self._fence.member:
            raise pinned_elsewhere(str(entry.task.name), pin)
        if self._graphs.is_root(entry):
            run, launches = await self._graphs.execute(entry, config=config)
            self._runs.launch(launches)
            return run
        now = self._clock.now()
        policy = entry.policy
        overlapping = bool(entry.running) and not policy.overlap_allowed
        too_many = policy.overlap_allowed and len(entry.running) >= policy.max_concurrent
        state = RunState.SKIPPED if overlapping or too_many else RunState.EXECUTING
        new = outcomes.new_run(
            entry.record,
            scheduled_time=now,
            state=state,
            scheduled_from=ScheduledFrom.EXECUTE_TASK,
            node_id=self._node_id,
            now=now,
            config=config,
            error_code="OVERLAP" if state is RunState.SKIPPED else None,
            error_message="skipped: the previous run of the task was still executing"
            if state is RunState.SKIPPED
            else None,
        )
        fence = self.lease()
        if fence is None:
            [rec] = await self._catalog.fire([new], [])
        else:
            rec = await self._catalog.fire_leased(new, fence)
            if rec is None:  # the lease ran out unnoticed (a paused node): nothing was written
                raise lease_lost(self._node_id)
        if rec is not None and state is RunState.EXECUTING:
            self._runs.start(entry, rec)
        return rec

    async def retry_last(self, record: TaskRecord) -> RunRecord | None:
        """EXECUTE TASK ... RETRY LAST on a root (see :meth:`GraphCoordinator.retry_last`).

        :raises CatalogError: (``CATALOG_UNAVAILABLE``) the catalog is unreachable; (``LEASE_LOST``,
            ``NOT_PLACED_HERE``) as :meth:`execute_now`."""
        self.lease()
        entry = await self._entry(record)
        if entry is None:
            return None
        run, launches = await self._graphs.retry_last(entry)
        self._runs.launch(launches)
        return run

    async def cancel_task(self, task_id: int, reason: str = "cancelled: CANCEL TASK") -> int:
        """CANCEL TASK: the task's executing runs are cancelled and its queued ones too; all are
        recorded CANCELLED. Returns how many.

        :raises CatalogError: (``CATALOG_UNAVAILABLE``) the catalog is unreachable."""
        error = self._catalog.outage()
        if error is not None:
            raise error
        count = self._runs.cancel_task(task_id, reason)
        entry = self._cache.entries.get(task_id)
        if entry is not None:
            now = self._clock.now()
            while entry.queue:
                rec = entry.queue.pop(0)
                await self._catalog.finish_run(outcomes.cancelled(rec, now, reason), None)
                count += 1
        return count
