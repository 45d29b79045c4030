"""Manual runs and cancellation: EXECUTE TASK and CANCEL TASK on one node's scheduler."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasksql.model import RunState, ScheduledFrom, TaskRecord
from tasksql.model.run import RunRecord
from tasksql.scheduler import cache, outcomes

if TYPE_CHECKING:
    from tasksql.scheduler.service import Scheduler


async def execute_now(sched: Scheduler, record: TaskRecord, *, config: str | None = None) -> RunRecord | None:
    """EXECUTE TASK: one run now, schedule untouched; SKIPPED when it would overlap.

    :raises CatalogError: (``CATALOG_UNAVAILABLE``) the catalog is unreachable: the run's row
        cannot be committed, so it does not start (the statement fails at once, not when the
        catalog is back)."""
    error = sched.catalog.outage()
    if error is not None:
        raise error
    entry = sched.entries.get(record.id)
    if entry is None or entry.version != record.version:
        await sched.reload()
    entry = await cache.entry_for(sched, record)
    if entry is None:
        return None
    if sched.graphs.is_root(entry):
        return await sched.graphs.execute(entry, config=config)
    now = sched.clock.now()
    overlapping = bool(entry.running) and not entry.policy.overlap_allowed
    too_many = entry.policy.overlap_allowed and len(entry.running) >= entry.policy.max_concurrent
    state = RunState.SKIPPED if overlapping or too_many else RunState.EXECUTING
    new = outcomes.new_run(
        entry.record,
        scheduled_time=now,
        state=state,
        scheduled_from=ScheduledFrom.EXECUTE_TASK,
        node_id=sched.node_id,
        now=now,
        config=config,
        error_code="OVERLAP" if state is RunState.SKIPPED else None,
        error_message="skipped: the previous run of the task was still executing"
        if state is RunState.SKIPPED
        else None,
    )
    [rec] = await sched.catalog.fire([new], [])
    if rec is not None and state is RunState.EXECUTING:
        sched.start_run(entry, rec)
    return rec


async def cancel_task(sched: Scheduler, task_id: int, reason: str = "cancelled: CANCEL TASK") -> int:
    """Cancel the task's executing runs; they are recorded CANCELLED. Returns how many.

    :raises CatalogError: (``CATALOG_UNAVAILABLE``) the catalog is unreachable."""
    error = sched.catalog.outage()
    if error is not None:
        raise error
    entry = sched.entries.get(task_id)
    count = 0
    for _, token, owner in list(sched._runs.values()):
        if owner.task_id == task_id:
            token.cancel(reason)
            count += 1
    if entry is not None:
        now = sched.clock.now()
        while entry.queue:
            rec = entry.queue.pop(0)
            await sched.catalog.finish_run(outcomes.cancelled(rec, now, reason), None)
            count += 1
    return count
