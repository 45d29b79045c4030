"""Instants claimed ahead: the row of a task's next run is written before its instant comes.

Without claims a run starts only once its row (EXECUTING) is committed: at every instant the run
waits for a catalog transaction that inserts it, and two thread hand-offs. Instead, when a task
fires, its next instant, if at most ``claim_ahead`` away, is *claimed*: a SCHEDULED row is inserted
for it in a lazy write (one that rides with the catalog's next transaction). When that instant
comes the claimed row only has to be started. Snowflake shows the same SCHEDULED row for a task's
next run.

How a claimed run starts depends on whether another node could take the claim over:

* a node alone on its catalog (a SQLite catalog, or any scheduler that is not a cluster member)
  starts the run at once, and its row becomes EXECUTING (or SKIPPED, with the reason) in the next
  lazy write. The committed SCHEDULED row is what a crash leaves behind, so the rule that a run's
  row is committed before its body starts still holds in the reaper's terms: a node killed in the
  few milliseconds before that write leaves a claim that reads as never started, which its
  completion marker settles (see :mod:`tasksql.scheduler.lost`);
* a cluster member (:class:`Bookings` with ``commit_starts``) commits the starts of a tick's claimed
  runs first, in ONE fenced statement (:meth:`Catalog.start_claims`, conditional on the row being
  still its claim, SCHEDULED, and on its lease and the task's placement), and starts only the bodies
  of the runs that statement started. That is one UPDATE per tick in place of the fire's INSERT of
  every due run (on PostgreSQL, on a connection of its own rather than behind the writer's queue);
  the claims of the next instants follow in a lazy write. A claim the statement did not start (the
  task moved to another node, which took the claim over; the lease was lost) runs nowhere here. A
  statement that fails (an error other than an outage, which the catalog waits out) leaves no claim
  behind: the claims are released and their instants fire again the ordinary way at the next tick
  (:meth:`Bookings.start_committed`). So a claim's row can be handed to another node at any time: a
  node that gains a task deletes the claims other nodes hold of its instants, those that came
  included, before it fires the task (:meth:`Catalog.take_over_claims`, see
  :class:`~.membership.ClusterMember`), and runs (or skips, by its catch-up policy) those instants
  itself; whatever the previous holder does later with its claim is refused by the row (not its
  claim any more) or by its fence.

The claim row is the fence of the instant, as the EXECUTING row is without claims: of several nodes
only one inserts it; a claim that finds the instant taken is remembered as *taken*, and the
instant is left to the node that holds it.

Claimed are the tasks whose next instant does not depend on how their runs end: fixed-rate
intervals and cron schedules that are not graph roots. Fixed delays, VoltDB EVERY (it restarts
after an overrun), custom schedules and graph roots fire as before.

A claim that will not happen is released (its row deleted) when the task changes, is suspended or
dropped, when its instant falls into a summary of missed instants, and when the scheduler stops; a
cluster member's claims of a task it hands over go to the next holder with the placement
(:meth:`Catalog.release_placements`). A node that dies leaves its claims to the reaper
(:mod:`tasksql.scheduler.lost`) or, in a cluster, to the node that takes its tasks over (their
claims, above; :mod:`tasksql.scheduler.takeover` for the rest): a claim never started is not a
failed run; it is deleted (an instant still to come), re-planned or recorded SKIPPED by the task's
catch-up policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from tasksql.errors import TasksqlError
from tasksql.model import CronSchedule, IntervalSchedule, RunState
from tasksql.model.cluster import Fence
from tasksql.model.run import NewRun, RunOutcome, RunRecord, evolve, started, transition
from tasksql.scheduler import outcomes
from tasksql.scheduler.planner import Action, Decision, FirePlan

if TYPE_CHECKING:
    from tasksql.catalog import Catalog
    from tasksql.scheduler.entry import Entry

log = logging.getLogger("tasksql.scheduler")

# Read for every claimed run: globals (an enum member read from its class costs several times as
# much on CPython 3.11, whose enum metaclass defines __getattr__).
_RUN, _SKIP, _EXECUTING = Action.RUN, Action.SKIP, RunState.EXECUTING

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

    def held(self) -> bool:
        """True unless the claim's write is over and gave no row of this node (taken, or failed)."""
        return not self.batch.done() or isinstance(self.written(), RunRecord)

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
    """What one tick writes about claims, in one lazy :meth:`Catalog.record_fires` (under
    ``fence``), and with ``commit_starts`` (a cluster member) the claimed runs it starts, committed
    by :meth:`start_committed` before their bodies begin."""

    node_id: str
    fence: Fence | None = None
    commit_starts: bool = False
    #: The claimed runs to start (with ``commit_starts``), and their entries.
    starts: list[tuple[Entry, RunRecord]] = field(default_factory=list)
    updates: list[RunOutcome] = field(default_factory=list)
    releases: list[tuple[int, datetime]] = field(default_factory=list)
    claims: list[NewRun] = field(default_factory=list)
    owners: list[Entry] = field(default_factory=list)
    urgent: bool = False
    batch: asyncio.Future[list[RunRecord | None]] | None = None

    def use(self, entry: Entry, rec: RunRecord, decision: Decision, now: datetime) -> RunRecord | None:
        """The claimed run ``rec`` of ``entry`` for ``decision``: started now, skipped, or left
        queued (SCHEDULED). With ``commit_starts`` a run to start is kept for
        :meth:`start_committed` instead (None is returned: it is not started yet)."""
        action = decision.action
        if action is _RUN:
            if self.commit_starts:
                transition(rec.state, _EXECUTING)
                self.starts.append((entry, rec))
                return None
            run = started(rec, now)
            self.updates.append(RunOutcome(run_id=rec.run_id, state=run.state, query_start_time=now))
            return run
        if action is _SKIP:
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
        self.claims.append(outcomes.claim_run(entry.record, instant, self.node_id, now))
        self.owners.append(entry)
        if instant - now < URGENT_WITHIN:
            self.urgent = True

    def submit(self, catalog: Catalog) -> None:
        """Write everything (lazily unless a claim's instant is close) and hand out the claims."""
        if not (self.updates or self.releases or self.claims):
            return
        try:
            batch = catalog.record_fires(
                self.node_id, self.updates, self.releases, self.claims, urgent=self.urgent, fence=self.fence
            )
        except TasksqlError as exc:  # closed: nothing is claimed, instants fire the ordinary way
            log.error("could not record claimed instants: %s", exc)
            return
        batch.add_done_callback(_log_failure)
        self.batch = batch
        for index, (entry, run) in enumerate(zip(self.owners, self.claims, strict=True)):
            entry.claim = Claim(run.scheduled_time, batch, index)

    async def start_committed(
        self, catalog: Catalog, now: datetime, rewind: Callable[[Entry, datetime], None]
    ) -> list[tuple[Entry, RunRecord]]:
        """Commit the starts kept by :meth:`use` (one urgent :meth:`Catalog.start_claims` under
        the fence; call it before :meth:`submit`, whose claims need not delay it) and return the
        runs started, EXECUTING, with their entries: only their bodies may begin.

        A claim the statement left out is not this node's to run any more (another node took
        it over, or the lease or the placement is gone: the node that takes the task, or this
        node's settling of its earlier epoch, deals with the row). A claim not started because the
        statement failed (any error: an outage is waited out by the catalog, so this is one that
        would come again, or a bug) must not stay SCHEDULED while the node moves on, an instant
        run nowhere: it is released in this book (its row deleted, if still this node's SCHEDULED
        claim), the entry's claim of its next instant is dropped from the book, and ``rewind``
        moves the entry's next instant back to the claimed one, which then fires the ordinary way
        (a fenced insert, after the release in the writer's order): it runs here if this node still
        holds the lease and the task, and else nowhere here (the insert is refused, or meets the
        new holder's row)."""
        starts, self.starts = self.starts, []
        if not starts:
            return []
        try:
            begun = set(
                await catalog.start_claims(
                    self.node_id, [rec.run_id for _, rec in starts], now, fence=self.fence
                )
            )
        except Exception as exc:  # not CancelledError; a bug must not end the tick either
            if isinstance(exc, TasksqlError):
                log.error("could not start claimed runs (their instants fire again): %s", exc)
            else:
                log.exception("could not start claimed runs (their instants fire again)")
            self._give_back(starts, rewind)
            return []
        if len(begun) < len(starts):
            log.info(
                "%d claimed run(s) not started: this node's lease or the tasks' placements are gone",
                len(starts) - len(begun),
            )
        return [(entry, started(rec, now)) for entry, rec in starts if rec.run_id in begun]

    def _give_back(
        self, left: list[tuple[Entry, RunRecord]], rewind: Callable[[Entry, datetime], None]
    ) -> None:
        """Release the claims ``left`` unstarted by a failed start and fire their instants again
        (see :meth:`start_committed`)."""
        entries = {id(entry) for entry, _ in left}
        kept = [(e, run) for e, run in zip(self.owners, self.claims, strict=True) if id(e) not in entries]
        self.owners, self.claims = [e for e, _ in kept], [run for _, run in kept]
        for entry, rec in left:
            self.releases.append((entry.record.id, rec.scheduled_time))
            if entry.next_fire is None or rec.scheduled_time < entry.next_fire:
                rewind(entry, rec.scheduled_time)


def take(entry: Entry, plan: FirePlan, root: bool, book: Bookings) -> Claim | None:
    """The claim of ``entry`` (taken from it) when one of ``plan``'s instants is the claimed one;
    else None, and a claim is released in ``book``. What its write gave is :meth:`Claim.written`
    once ``claim.batch`` is done (the usual case: written long ago), else :meth:`Claim.result`."""
    claim = entry.claim
    if claim is None:
        return None
    entry.claim = None
    if not root:
        for decision in plan.decisions:
            if decision.instant == claim.instant:
                return claim
    # a summary of missed instants covers it, or the task became a graph root
    book.releases.append((entry.record.id, claim.instant))
    return None


async def release(
    catalog: Catalog,
    node_id: str,
    entries: Iterable[Entry],
    *,
    fence: Fence | None = None,
    withheld: bool = False,
) -> None:
    """Delete the claims of ``entries`` now (an urgent write, under ``fence``) and wait for it; a
    failure is logged. ``withheld`` (a cluster member without a lease) only forgets them: such a
    member writes nothing, and its claims are left to the node that takes its tasks over."""
    book = Bookings(node_id, fence=fence, urgent=True)
    for entry in entries:
        book.release(entry)
    if withheld:
        return
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
