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

Jobs already sent join again in the writer thread: a settle job and a
:meth:`~tasksql.catalog.grouped.GroupCommitCatalog.record_fires` job without releases are each a
:class:`RunBook`, a :class:`~tasksql.catalog.writer.Part` that runs together with the bookkeeping
jobs next to it in the writer's group: their outcomes and starts as one batch of settles, their
claims as one batch of inserts, instead of a statement (a round trip, a plan) per job. That is the
effect of the jobs one after the other: a settle names a run by its id, which a caller knows only
once the run's insert has committed, so no settle of a group can touch a claim inserted in the
same group, and the inserts and settles of a group commute (neither changes what the other reads:
a settle changes no column of a run's key or of the fences' conditions). A batch of settles of
distinct runs, or of inserts of distinct keys, is one set statement
(:mod:`tasksql.catalog.postgres.sets`); so the jobs are cut into consecutive runs of jobs that
name distinct runs and keys, each run's settles then its inserts. Releases (deleted claims) may
name a claim inserted by the job before them, so a job with releases runs alone, in its place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from tasksql.catalog.dialect import CatalogDialect
from tasksql.catalog.jobs import runs as run_jobs
from tasksql.catalog.writer import D, Part
from tasksql.model.cluster import Fence
from tasksql.model.run import NewRun, RunOutcome, RunRecord


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

    def part(self, sql: CatalogDialect[D]) -> RunBook[D]:
        """The same job as a part the writer may run with its neighbours (see the module)."""
        return RunBook(sql, self.fence, self._outcomes, settles=True)

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


def _run_key(run: NewRun) -> tuple[Any, ...]:
    """What tells two new runs apart (two inserts of one key in a batch are no set statement)."""
    return (
        run.task_id,
        run.scheduled_time,
        run.scheduled_from,
        run.attempt_number,
        run.graph_run_group_id,
        run.node_id,
    )


class RunBook(Part[D]):
    """One bookkeeping job as a part (see the module): the outcomes of a settle job (its result:
    whether each was settled), or the updates and claims of a ``record_fires`` job without releases
    (its result: each claim's record, None where it was refused). The lists are read when the job
    runs: the loop may change them only while the job is held back."""

    __slots__ = ("_sql", "claims", "fence", "now", "settles", "updates")

    def __init__(
        self,
        sql: CatalogDialect[D],
        fence: Fence | None,
        updates: Sequence[RunOutcome],
        claims: Sequence[NewRun] = (),
        now: str = "",
        *,
        settles: bool = False,
    ) -> None:
        self._sql = sql
        self.fence = fence
        self.updates = updates
        self.claims = claims
        self.now = now
        self.settles = settles

    def kind(self) -> Hashable:
        return (RunBook, id(self._sql), self.fence)

    def run_together(self, db: D, parts: Sequence[Part[D]]) -> list[Any]:
        books = [part for part in parts if isinstance(part, RunBook)]
        assert len(books) == len(parts)
        results: list[Any] = []
        start = 0
        ids: set[int] = set()
        keys: set[tuple[Any, ...]] = set()
        for index, book in enumerate(books):
            book_ids = {u.run_id for u in book.updates}
            book_keys = {_run_key(c) for c in book.claims}
            if not (ids.isdisjoint(book_ids) and keys.isdisjoint(book_keys)):
                results.extend(self._run_cut(db, books[start:index]))
                start, ids, keys = index, set(), set()
            ids |= book_ids
            keys |= book_keys
        results.extend(self._run_cut(db, books[start:]))
        return results

    def _run_cut(self, db: D, books: Sequence[RunBook[D]]) -> list[Any]:
        """Run ``books`` (distinct runs and keys across them) as one batch of settles, then one of
        inserts; each book's share of the results."""
        outcomes = [u for book in books for u in book.updates]
        claims = [c for book in books for c in book.claims]
        settled = run_jobs.settle_many(self._sql, db, outcomes, self.fence) if outcomes else []
        records: list[RunRecord | None] = (
            run_jobs.fire(self._sql, db, claims, (), books[0].now, self.fence) if claims else []
        )
        out: list[Any] = []
        at_settle = at_claim = 0
        for book in books:
            if book.settles:
                out.append(settled[at_settle : at_settle + len(book.updates)])
            else:
                out.append(records[at_claim : at_claim + len(book.claims)])
            at_settle += len(book.updates)
            at_claim += len(book.claims)
        return out
