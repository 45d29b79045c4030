"""Outcomes settled together: consecutive lazy settles share one job and one batched statement.

A node settles every run it ends (:meth:`~tasksql.catalog.grouped.GroupCommitCatalog.settle_later`).
As one job per outcome, each is its own statement: a round trip to a PostgreSQL catalog, with the
writer thread taking the interpreter lock back after each, so that a thousand runs a second kept the
writer busy with nothing but waiting. Instead, an outcome joins the settle job before it when that
job is still the newest one the writer holds back (lazy, not sent): the job is then exactly what
the two jobs one after the other would have been, one statement per run in the same order, sent as
one batch (:meth:`~tasksql.catalog.dialect.CatalogDialect.each_first`): on PostgreSQL one
statement over arrays when the outcomes are of different runs (:mod:`tasksql.catalog.postgres.sets`),
else one pipelined statement per run. A job
is changed only while it is held back: once the writer thread may run it, it is frozen (a failed
group runs its jobs again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tasksql.catalog.dialect import CatalogDialect
from tasksql.catalog.jobs import runs as run_jobs
from tasksql.catalog.writer import D
from tasksql.model.cluster import Fence
from tasksql.model.run import RunOutcome


class SettleBatch:
    """The outcomes of one settle job, under one fence. Changed on the event loop only, and only
    while its job is held back (see the module)."""

    __slots__ = ("_futures", "_outcomes", "fence", "write")

    def __init__(self, fence: Fence | None) -> None:
        self.fence = fence
        #: The job's future (set by whoever submits :meth:`job`).
        self.write: asyncio.Future[list[bool]] | None = None
        self._outcomes: list[RunOutcome] = []
        self._futures: list[asyncio.Future[bool]] = []

    def add(self, outcome: RunOutcome) -> asyncio.Future[bool]:
        """Settle ``outcome`` with the batch: a future resolved with whether it was settled (False:
        it was settled before, or the fence no longer holds it) once the job committed, failing as
        the job fails."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._outcomes.append(outcome)
        self._futures.append(future)
        return future

    def job(self, sql: CatalogDialect[D]) -> Callable[[D], list[bool]]:
        """The writer job: every outcome in one batched statement, in the order they came."""
        outcomes, fence = self._outcomes, self.fence

        def settle(db: D) -> list[bool]:
            return run_jobs.settle_many(sql, db, outcomes, fence)

        return settle

    def resolve(self, write: asyncio.Future[list[bool]], report: Callable[[RunOutcome], None] | None) -> None:
        """Resolve each outcome's future from the job's ``write``; ``report`` each settled one."""
        if write.cancelled():
            for future in self._futures:
                future.cancel()
            return
        error = write.exception()
        if error is not None:
            for future in self._futures:
                if not future.done():
                    future.set_exception(error)
            return
        for outcome, future, settled in zip(self._outcomes, self._futures, write.result(), strict=True):
            if settled and report is not None:
                report(outcome)
            if not future.done():
                future.set_result(settled)
