"""Whole run records of every run change this node's catalog commits, for metrics and events.

The catalog reports inserted rows whole and later changes as outcomes (:mod:`tasksql.observe`).
:class:`RunFeed` keeps the record of each run not yet settled (from its insert), applies each
outcome to it, and hands the result to its subscribers; an outcome of a run it never saw inserted
(inserted before this process started) is completed by one read of the run. Settled runs leave the
cache, so it holds about the runs open on this node.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from tasksql.catalog.base import Catalog
from tasksql.model.run import RunOutcome, RunRecord

log = logging.getLogger("tasksql.server")

Subscriber = Callable[[RunRecord, RunRecord | None], None]
"""Called with the run as it is now and as it was before (None: unknown, e.g. just inserted)."""

#: Open runs remembered at most (claims, executing runs); beyond it the oldest are forgotten and
#: their outcome costs a read.
MAX_OPEN = 100_000


class RunFeed:
    """A listener of a catalog's observers that publishes whole run records (see the module)."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._open: dict[int, RunRecord] = {}
        self._subscribers: list[Subscriber] = []
        self._reads: set[asyncio.Task[None]] = set()

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def open_runs(self) -> list[RunRecord]:
        """The runs of this node not settled yet, as last reported (claims, queued, executing)."""
        return list(self._open.values())

    def start(self) -> None:
        """Listen to the catalog's reports from now on."""
        self._catalog.observers.add(self)

    async def stop(self) -> None:
        self._catalog.observers.remove(self)
        for task in list(self._reads):
            task.cancel()
        if self._reads:
            await asyncio.gather(*self._reads, return_exceptions=True)

    # --- the listener (tasksql.observe.Listener) -------------------------------------------------

    def runs_inserted(self, runs: Sequence[RunRecord]) -> None:
        for run in runs:
            self._publish(run, None)

    def run_changed(self, outcome: RunOutcome) -> None:
        before = self._open.get(outcome.run_id)
        if before is not None:
            self._publish(_apply(before, outcome), before)
            return
        task = asyncio.get_running_loop().create_task(self._read(outcome))
        self._reads.add(task)
        task.add_done_callback(self._reads.discard)

    def catalog_write(self, seconds: float) -> None:
        pass

    def delivery(self, integration: str, result: str) -> None:
        pass

    # --- internals -------------------------------------------------------------------------------

    async def _read(self, outcome: RunOutcome) -> None:
        try:
            run = await self._catalog.get_run(outcome.run_id)
        except Exception:  # the catalog closed, an outage: the event is lost, the history is not
            log.debug("could not read run %s for its event", outcome.run_id, exc_info=True)
            return
        if run is not None:
            self._publish(_apply(run, outcome), None)

    def _publish(self, run: RunRecord, before: RunRecord | None) -> None:
        if run.state.terminal:
            self._open.pop(run.run_id, None)
        else:
            self._open[run.run_id] = run
            if len(self._open) > MAX_OPEN:
                self._open.pop(next(iter(self._open)))
        for subscriber in tuple(self._subscribers):
            try:
                subscriber(run, before)
            except Exception:
                log.exception("a run subscriber failed")


def _apply(run: RunRecord, outcome: RunOutcome) -> RunRecord:
    """``run`` with ``outcome`` written over it (as the catalog writes it: unset fields kept)."""
    return replace(
        run,
        state=outcome.state,
        query_start_time=outcome.query_start_time or run.query_start_time,
        completed_time=outcome.completed_time or run.completed_time,
        error_code=outcome.error_code if outcome.error_code is not None else run.error_code,
        error_message=outcome.error_message if outcome.error_message is not None else run.error_message,
        rows_produced=outcome.rows_produced if outcome.rows_produced is not None else run.rows_produced,
        rows_inserted=outcome.rows_inserted if outcome.rows_inserted is not None else run.rows_inserted,
        return_value=outcome.return_value if outcome.return_value is not None else run.return_value,
        query_id=outcome.query_id or run.query_id,
    )
