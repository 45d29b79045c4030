"""Starts of claimed runs that have not been written yet, so that an outcome can take their place.

When a claimed instant fires, its run's change from SCHEDULED to EXECUTING rides with the catalog's
next lazy write (:meth:`~tasksql.catalog.grouped.GroupCommitCatalog.record_fires`, held back up to
the writer's linger). A trivial run is often over before that write leaves: its outcome then
replaces the start in the held job, so the run costs one UPDATE instead of two and never shows as
EXECUTING (it is settled by the commit that would have started it). A job can be changed only while
it is held back: once the writer thread may run it, it is frozen (a failed group runs its jobs
again, so they must not change).
"""

from __future__ import annotations

import asyncio
from typing import Any

from tasksql.model import RunState
from tasksql.model.run import RunOutcome, transition


class HeldStarts:
    """Run id -> where its EXECUTING update waits (the held job's update list and index). Loop only."""

    __slots__ = ("starts",)

    def __init__(self) -> None:
        #: Run id -> (the held job's update list, the start's index, the job's future). Read by the
        #: catalog to skip :meth:`take_over` for a run whose start is not held; changed only here.
        self.starts: dict[int, tuple[list[RunOutcome], int, asyncio.Future[Any]]] = {}

    def hold(self, updates: list[RunOutcome], batch: asyncio.Future[Any]) -> None:
        """``updates`` belong to the held-back job of ``batch``: remember their starts."""
        for index, update in enumerate(updates):
            if update.state is RunState.EXECUTING:
                self.starts[update.run_id] = (updates, index, batch)

    def release_all(self) -> None:
        """The held jobs were sent to the writer thread: nothing can be changed any more."""
        self.starts.clear()

    def take_over(self, outcome: RunOutcome) -> asyncio.Future[bool] | None:
        """Put ``outcome`` in place of its run's held start; a future resolved True when that job
        commits (failing as it fails). None when the start is not held (written, or never held).

        :raises InvalidTransition: a SCHEDULED run may not move to the outcome's state (nothing
            changes then)."""
        held = self.starts.get(outcome.run_id)
        if held is None:
            return None
        transition(RunState.SCHEDULED, outcome.state)  # the row is SCHEDULED until the job commits
        del self.starts[outcome.run_id]
        updates, index, batch = held
        updates[index] = outcome
        return _committed(batch)


def _committed(batch: asyncio.Future[Any]) -> asyncio.Future[bool]:
    out: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def done(f: asyncio.Future[Any]) -> None:
        if out.done():
            return
        if f.cancelled():
            out.cancel()
            return
        exc = f.exception()
        if exc is not None:
            out.set_exception(exc)
        else:
            out.set_result(True)

    batch.add_done_callback(done)
    return out
