"""Manual runs and cancellation on one node: EXECUTE TASK (also RETRY LAST) and CANCEL TASK."""

from __future__ import annotations

from tasksql.catalog.base import Catalog
from tasksql.clock import Clock
from tasksql.model import RunState, ScheduledFrom, TaskRecord
from tasksql.model.run import RunRecord
from tasksql.scheduler import outcomes
from tasksql.scheduler.cache import TaskCache
from tasksql.scheduler.entry import Entry
from tasksql.scheduler.graph_coordinator import GraphCoordinator
from tasksql.scheduler.inflight import InFlightRuns


class ManualRuns:
    """EXECUTE TASK and CANCEL TASK against the scheduler's cache, graph runs and runs in flight.

    Each fails at once with ``CATALOG_UNAVAILABLE`` while the catalog is unreachable: a run's row
    cannot be committed then, so it would not start (see :mod:`tasksql.scheduler.outage`).
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
    ) -> None:
        self._catalog = catalog
        self._cache = cache
        self._graphs = graphs
        self._runs = runs
        self._clock = clock
        self._node_id = node_id

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

        :raises CatalogError: (``CATALOG_UNAVAILABLE``) the catalog is unreachable."""
        entry = await self._entry(record)
        if entry is None:
            return None
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
        [rec] = await self._catalog.fire([new], [])
        if rec is not None and state is RunState.EXECUTING:
            self._runs.start(entry, rec)
        return rec

    async def retry_last(self, record: TaskRecord) -> RunRecord | None:
        """EXECUTE TASK ... RETRY LAST on a root (see :meth:`GraphCoordinator.retry_last`).

        :raises CatalogError: (``CATALOG_UNAVAILABLE``) the catalog is unreachable."""
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
