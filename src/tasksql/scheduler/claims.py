"""Instants claimed ahead: the row of a task's next run is written before its instant comes.

Without claims a run starts only once its row (EXECUTING) is committed: at every instant the run
waits for a catalog transaction and two thread hand-offs. Instead, when a task fires, its next
instant, if at most ``claim_ahead`` away, is *claimed*: a SCHEDULED row is inserted for it in a lazy
write (one that rides with the catalog's next transaction). When that instant comes the run starts
at once, and its row becomes EXECUTING (or SKIPPED, with the reason) in the next lazy write. The
committed SCHEDULED row is what a crash leaves behind, so the rule that a run's row is committed
before its body starts still holds. Snowflake shows the same SCHEDULED row for a task's next run.

The claim row is the fence of the instant, as the EXECUTING row is without claims: of several nodes
only one inserts it; a claim that finds the instant taken is remembered as *taken*, and the
instant is left to the node that holds it.

Claimed are the tasks whose next instant does not depend on how their runs end: fixed-rate
intervals and cron schedules that are not graph roots. Fixed delays, VoltDB EVERY (it restarts
after an overrun), custom schedules and graph roots fire as before.

A claim that will not happen is released (its row deleted) when the task changes, is suspended or
dropped, when its instant falls into a summary of missed instants, and when the scheduler stops. A
node that dies leaves its claims to the reaper (:mod:`tasksql.scheduler.lost`): a claim never
started is not a failed run; it is deleted (an instant still to come), re-planned or recorded SKIPPED
by the task's catch-up policy. A start is committed a few milliseconds after the run began (with the
claim of the next instant): a node killed inside those milliseconds leaves a claim that reads as
never started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from tasksql.errors import TasksqlError
from tasksql.model import CronSchedule, IntervalSchedule, RunState, ScheduledFrom
from tasksql.model.run import NewRun, RunOutcome, RunRecord, evolve, transition
from tasksql.scheduler import outcomes
from tasksql.scheduler.planner import Action, Decision

if TYPE_CHECKING:
    from tasksql.catalog import Catalog
    from tasksql.scheduler.entry import Entry

log = logging.getLogger("tasksql.scheduler")

#: Claims are written lazily unless their instant is closer than this.
URGENT_WITHIN = timedelta(milliseconds=20)


class Failed:
    """The claim's write failed: the instant fires the ordinary way."""

    def __repr__(self) -> str:
        return "FAILED"


FAILED: Final = Failed()


@dataclass(slots=True)
class Claim:
    """The claim of ``instant``: the ``index``-th result of a :meth:`Catalog.record_fires` call."""

    instant: datetime
    batch: asyncio.Future[list[RunRecord | None]]
    index: int

    async def result(self) -> RunRecord | Failed | None:
        """The claimed run, None when another node holds the instant, FAILED when not written."""
        if not self.batch.done():
            with contextlib.suppress(Exception):  # the write failed: FAILED below
                await asyncio.shield(self.batch)
        return self.written()

    def written(self) -> RunRecord | Failed | None:
        """:meth:`result` once the claim's write is over (``batch.done()``), without awaiting."""
        if self.batch.cancelled() or self.batch.exception() is not None:
            return FAILED
        return self.batch.result()[self.index]


def claimable(entry: Entry) -> bool:
    """A task whose next instant can be claimed (the scheduler also excludes graph roots)."""
    policy = entry.policy
    return (
        entry.schedule is not None
        and isinstance(entry.task.schedule, IntervalSchedule | CronSchedule)
        and not policy.defer_while_running
        and not policy.next_from_end
    )


@dataclass
class Bookings:
    """What one tick writes about claims, in one lazy :meth:`Catalog.record_fires`."""

    node_id: str
    updates: list[RunOutcome] = field(default_factory=list)
    releases: list[tuple[int, datetime]] = field(default_factory=list)
    claims: list[NewRun] = field(default_factory=list)
    owners: list[Entry] = field(default_factory=list)
    urgent: bool = False
    batch: asyncio.Future[list[RunRecord | None]] | None = None

    def use(self, rec: RunRecord, decision: Decision, now: datetime) -> RunRecord:
        """The claimed run ``rec`` for ``decision``: started now, skipped, or left queued (SCHEDULED)."""
        if decision.action is Action.RUN:
            transition(rec.state, RunState.EXECUTING)
            self.updates.append(RunOutcome(run_id=rec.run_id, state=RunState.EXECUTING, query_start_time=now))
            return evolve(rec, state=RunState.EXECUTING, query_start_time=now)
        if decision.action is Action.SKIP:
            transition(rec.state, RunState.SKIPPED)
            self.updates.append(
                RunOutcome(
                    run_id=rec.run_id,
                    state=RunState.SKIPPED,
                    completed_time=now,
                    error_code=decision.code,
                    error_message=decision.message,
                )
            )
            return evolve(rec, state=RunState.SKIPPED, completed_time=now)
        return rec  # QUEUE: stays SCHEDULED until its turn

    def release(self, entry: Entry) -> None:
        """Drop ``entry``'s claim: its row is deleted. The deletion is queued after the claim's own
        write (whether or not that one is committed yet) and before any later insert."""
        if entry.claim is not None:
            self.releases.append((entry.record.id, entry.claim.instant))
            entry.claim = None

    def claim(self, entry: Entry, instant: datetime, now: datetime) -> None:
        """Claim ``instant`` for ``entry`` (assigned to ``entry.claim`` by :meth:`submit`)."""
        self.claims.append(
            outcomes.new_run(
                entry.record,
                scheduled_time=instant,
                state=RunState.SCHEDULED,
                scheduled_from=ScheduledFrom.SCHEDULE,
                node_id=self.node_id,
                now=now,
            )
        )
        self.owners.append(entry)
        if instant - now < URGENT_WITHIN:
            self.urgent = True

    def submit(self, catalog: Catalog) -> None:
        """Write everything (lazily unless a claim's instant is close) and hand out the claims."""
        if not (self.updates or self.releases or self.claims):
            return
        try:
            batch = catalog.record_fires(
                self.node_id, self.updates, self.releases, self.claims, urgent=self.urgent
            )
        except TasksqlError as exc:  # closed: nothing is claimed, instants fire the ordinary way
            log.error("could not record claimed instants: %s", exc)
            return
        batch.add_done_callback(_log_failure)
        self.batch = batch
        for index, (entry, run) in enumerate(zip(self.owners, self.claims, strict=True)):
            entry.claim = Claim(run.scheduled_time, batch, index)


async def release(catalog: Catalog, node_id: str, entries: Iterable[Entry]) -> None:
    """Delete the claims of ``entries`` now (an urgent write) and wait for it; a failure is logged."""
    book = Bookings(node_id, urgent=True)
    for entry in entries:
        book.release(entry)
    book.submit(catalog)
    await written(book)


async def written(book: Bookings) -> None:
    """Wait until ``book``'s write is committed (a failure is logged, not raised)."""
    if book.batch is not None:
        with contextlib.suppress(TasksqlError):
            await asyncio.shield(book.batch)


def _log_failure(batch: asyncio.Future[list[RunRecord | None]]) -> None:
    if batch.cancelled():
        return
    exc = batch.exception()
    if exc is not None:
        log.error("could not record claimed instants: %s", exc)
