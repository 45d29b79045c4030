"""The scheduler: fires due instants, starts runs, settles them, and keeps going.

:class:`Scheduler` is built from what it needs (a catalog, the warehouses, the introspection of
virtual relations, a clock, a node id, the settings; see :mod:`tasksql.scheduler.deps`) and wires
its parts, each an object with its own state:

* :class:`~tasksql.scheduler.cache.TaskCache`: an entry per task and the heaps of their next
  instants, rebuilt whenever the catalog's change sequence moves (the catalog is the truth);
* :class:`~tasksql.scheduler.inflight.InFlightRuns`: the runs executing on this node, their
  outcomes, retries and lazy bookkeeping;
* :class:`~tasksql.scheduler.graph_coordinator.GraphCoordinator`: the graph runs of this node;
* :class:`~tasksql.scheduler.manual.ManualRuns`: EXECUTE TASK and CANCEL TASK;
* :class:`~tasksql.scheduler.changes.ChangeWatcher`: other processes' definition changes (woken by
  the catalog's notification, polling as the fallback);
* :class:`~tasksql.scheduler.housekeeping.Housekeeper`: heartbeats, the reaper, pruning.

The scheduler itself keeps the lifecycle (:meth:`Scheduler.start`, :meth:`Scheduler.stop`) and the
loop. One iteration (:meth:`Scheduler.tick`, what tests drive with a fake clock):

1. pop every task whose next instant has come (and read the cold ones due soon);
2. ask the pure planner what to do (run, queue, or record SKIPPED: missed, overlapping);
3. use the claims of instants booked ahead (a cluster member commits their starts first, fenced,
   in one statement), write all other new run rows in ONE catalog call (the UNIQUE (task, instant)
   fence makes a second node's attempt at an instant a no-op); claim the next instants lazily;
4. start a run per RUN decision; each settles its run in the catalog when it ends.

:meth:`Scheduler.run` loops ``tick`` while sleeping until the next instant or a change signal. Runs
execute concurrently (a warehouse bounds its own concurrency); a slow run never delays another
task's start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tasksql import __version__
from tasksql.catalog.base import Catalog
from tasksql.catalog.lease import LeaseLine, open_lease_line
from tasksql.clock import SYSTEM_CLOCK, Clock, SystemClock
from tasksql.errors import TasksqlError
from tasksql.model import CatchUp, ScheduledFrom, TaskRecord
from tasksql.model.run import NewGraphRun, NewRun, NodeRecord, RunRecord
from tasksql.scheduler import claims, outage, outcomes, takeover
from tasksql.scheduler.cache import TaskCache
from tasksql.scheduler.changes import ChangeWatcher
from tasksql.scheduler.deps import IntrospectionFactory, WarehouseProvider
from tasksql.scheduler.entry import Entry
from tasksql.scheduler.graph_coordinator import GraphCoordinator
from tasksql.scheduler.graph_run import GraphRun
from tasksql.scheduler.housekeeping import Housekeeper
from tasksql.scheduler.inflight import InFlightRuns
from tasksql.scheduler.manual import ManualRuns
from tasksql.scheduler.markers import MarkerBook, catalog_scope
from tasksql.scheduler.membership import ClusterMember, FenceRef
from tasksql.scheduler.multinode import MultiNode
from tasksql.scheduler.planner import Action, Decision, FirePlan, plan_fires
from tasksql.scheduler.triggers import Triggers
from tasksql.scheduler.waker import Waker
from tasksql.settings import Settings

log = logging.getLogger("tasksql.scheduler")

STOP_CANCEL_WAIT_S = 5.0
#: Longest the catalog writes of a stop may take (a catalog lost while stopping).
STOP_CATALOG_WAIT_S = 10.0
#: Sleeps longer than this end on the precise waker (waker.py); shorter ones on asyncio's timer.
PRECISE_WAKE_ABOVE_S = 0.002
#: The asyncio timer behind a precise wake-up, should the waker's thread be held up.
WAKE_BACKSTOP_S = 0.005
#: The longest the loop sleeps without looking at the heaps again.
MAX_SLEEP = timedelta(seconds=1)
#: Seconds between two settlings of what a member's earlier epochs left, while some is open.
EARLIER_EVERY_S = 5.0


@dataclass
class TickReport:
    fired: int = 0
    started: int = 0
    skipped: int = 0
    #: True when the tick fired nothing because this cluster member holds no lease by its own clock:
    #: the due instants stay in the heap until it may fire again.
    held: bool = False


class Scheduler:
    """Schedules every started task of one catalog, in this process.

    :param warehouses: where runs execute, by warehouse name.
    :param introspection: what task bodies read tasksql's virtual relations through (None: bodies
        cannot read them).
    :param node_id: this node's id in the catalog (default: the settings' effective node id).
    """

    def __init__(
        self,
        catalog: Catalog,
        warehouses: WarehouseProvider,
        *,
        settings: Settings,
        introspection: IntrospectionFactory | None = None,
        clock: Clock = SYSTEM_CLOCK,
        node_id: str | None = None,
    ) -> None:
        self.catalog = catalog
        self.clock = clock
        self.node_id = node_id or settings.effective_node_id
        self._settings = settings
        self._warehouses = warehouses
        #: A task's next instant is claimed when it fires, if at most this far ahead (0: never).
        self.claim_ahead = timedelta(seconds=settings.claim_ahead_s)
        #: The fence of this node's run writes: empty (unfenced) unless it is a cluster member.
        self.fence = FenceRef()
        #: This node's lease and placements when it is a cluster member (see :meth:`start`).
        self.member: ClusterMember | None = None
        self.cache = TaskCache(
            catalog,
            node_id=self.node_id,
            wake=self._wake,
            on_reload=warehouses.invalidate,
            fence=self.fence,
        )
        self.graphs = GraphCoordinator(
            catalog, self.cache, clock=clock, node_id=self.node_id, fence=self.fence
        )
        self.runs = InFlightRuns(
            catalog,
            self.cache,
            self.graphs,
            warehouses,
            introspection=introspection,
            clock=clock,
            node_id=self.node_id,
            cluster_id=settings.cluster_id,
            wake=self._wake,
            fence=self.fence,
        )
        self.manual = ManualRuns(
            catalog, self.cache, self.graphs, self.runs, clock=clock, node_id=self.node_id, fence=self.fence
        )
        self.housekeeper = Housekeeper(
            catalog,
            self.cache,
            warehouses,
            clock=clock,
            node_id=self.node_id,
            retention_days=settings.history_retention_days,
        )
        self.changes = ChangeWatcher(
            catalog,
            seen=lambda: self.cache.change_seq,
            changed=self.notify_change,
            poll=settings.change_poll_s,
            reload_s=lambda: self.cache.reload_s,
        )
        self.triggers = Triggers(
            catalog,
            self.cache,
            self.graphs,
            self.runs,
            warehouses,
            clock=clock,
            node_id=self.node_id,
            spawn=self._spawn,
            wake=self._wake,
            lost_fence=self._lost_fence,
        )
        #: Completion markers (known once started): bodies commit with their run's id.
        self.markers: MarkerBook | None = None
        #: Sub-tasks, fan-out and RUN ON HOSTS (a server only, see :meth:`start`).
        self.multi: MultiNode | None = None
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        #: The reads of tasks due soon that ticks started (see :meth:`warmed`).
        self._warming: set[asyncio.Task[None]] = set()
        self._waiter: asyncio.Future[None] | None = None
        self._waker: Waker | None = None
        #: Runs of lost members recorded FAILED (NODE_LOST), to retry (see :func:`.takeover.retry_lost`).
        self._lost_runs: list[RunRecord] = []
        #: When this member last settled what its earlier epochs left, and after which join (see
        #: takeover.settle_own_earlier).
        self._earlier_at = float("-inf")
        self._earlier_joins = 0
        #: The last tick was held (see :attr:`TickReport.held`): the loop waits for the lease, not
        #: for the due instants left in the heap.
        self._held = False

    @property
    def entries(self) -> dict[int, Entry]:
        """The cache's entries by task id (read only)."""
        return self.cache.entries

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self, *, background: bool = True) -> None:
        """Register this node, settle runs left by dead nodes, load tasks; with ``background`` also
        start the loop, the change watcher and the housekeeping (heartbeat, reaping, pruning).

        A server (``background``) on a catalog several nodes share (PostgreSQL) is a cluster
        member: it joins, and schedules only the tasks placed on it (see :mod:`.membership`)."""
        await self._use_markers()
        await self.housekeeper.settle_previous_incarnation()
        await self.register(role="server" if background else "embedded")
        await self.housekeeper.reap()
        if background:
            self.multi = MultiNode(
                self.catalog,
                self._warehouses,
                self.cache,
                self.runs,
                node_id=self.node_id,
                cluster_id=self._settings.cluster_id,
                clock=self.clock,
                fence=self.fence,
            )
            await self.multi.start()
        if background and self._settings.shared_catalog:
            settings = self._settings
            await self.join_cluster(
                line=open_lease_line(settings.effective_catalog_url, schema=settings.catalog_schema)
            )
        await self.cache.reload()
        if background:
            self._loop_task = asyncio.create_task(self.run(), name="tasksql-scheduler")
            self._spawn(self.housekeeper.loop(), "tasksql-housekeeping")
            self._spawn(self.changes.loop(lambda: self._stopping), "tasksql-changes")
            if self.multi is not None:
                for coro, name in self.multi.loops(lambda: self._stopping):
                    self._spawn(coro, name)

    async def join_cluster(
        self, *, monotonic: Callable[[], float] = time.monotonic, line: LeaseLine | None = None
    ) -> ClusterMember:
        """Make this scheduler a cluster member (see :mod:`.membership`): join, claim placements,
        and from now on fire only the tasks placed on this node, with fenced writes. :meth:`start`
        calls it for a server on a shared catalog, with the catalog's lease ``line`` (renewals in
        a thread of their own; without one, each round of the housekeeping renews);
        ``monotonic`` is the clock of the node's own lease deadline (tests pass a fake one)."""
        member = ClusterMember(
            self.catalog,
            self.fence,
            node_id=self.node_id,
            capacity=self._settings.default_max_concurrency,
            running=lambda: self.runs.count,
            placed_changed=self._placements_changed,
            now=self.clock.now,
            renewed=self._lease_renewed,
            refused_mark=lambda: self.runs.refused_mark,
            monotonic=monotonic,
            warehouses=self._settings.node_warehouses,
            address=self._settings.node_address,
            line=line,
        )
        self.member = member
        self.runs.on_refused = member.poke
        self.cache.restrict_to(member.owns)
        if not self._settings.cluster_claims:
            # cluster claims turned off (settings.cluster_claims, on by default): a member fires
            # each instant when it comes, its row committed first
            self.claim_ahead = timedelta(0)
        self.housekeeper.use_member(member, self._lost_failed)
        await member.join()
        if self.multi is not None:
            await self.multi.join(member)
        return member

    async def _lease_renewed(self, mark: int | None) -> None:
        await self.runs.settle_refused(mark)
        if self._held:  # the loop waits for the lease: it may fire the instants held back now
            self._wake()

    async def _placements_changed(self, gained: set[int], lost: set[int]) -> None:
        # the member took over the claims of the gained tasks first (their next instants went back
        # to them in the catalog, see ClusterMember._take_over): their entries are built from rows
        self.cache.placements_changed(gained, lost)
        if gained:  # maybe a lost member's tasks: its runs are settled now (see takeover.py)
            self.housekeeper.took_over()
        self._wake()

    def _lost_failed(self, runs: Sequence[RunRecord]) -> None:
        """Runs of a lost member were recorded FAILED (NODE_LOST): the loop retries those of the
        tasks placed here whose policy says so (see :func:`.takeover.retry_lost`)."""
        multi = self.multi
        self._lost_runs.extend(r for r in runs if multi is None or not multi.is_host_task(r.task_id))
        self._wake()

    async def open_for(self, record: TaskRecord) -> None:
        """Get ready to run ``record``'s task (with its graph, for a root) once, and nothing else:
        EXECUTE TASK in a process where no scheduler runs. Unlike :meth:`start`, nothing is reaped
        and only that task and the graph members are loaded; no loop, no housekeeping. The node is
        registered all the same (one write, and one more at :meth:`stop`): should this process die
        during the run, its row is what lets another node's reaper settle it."""
        await self._use_markers()
        await self.register(role="embedded")
        await self.cache.load_one(record.id)

    async def _use_markers(self) -> None:
        if self._settings.completion_markers:
            self.markers = MarkerBook(await catalog_scope(self.catalog), self.clock)
        self.runs.use_markers(self.markers)
        self.housekeeper.use_markers(self.markers)

    async def register(self, *, role: str) -> None:
        """Write this node's row (started and alive now) to the catalog."""
        now = self.clock.now()
        await self.catalog.register_node(
            NodeRecord(
                node_id=self.node_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                role=role,
                version=__version__,
                started_at=now,
                heartbeat_at=now,
            )
        )

    def _spawn(self, coro: object, name: str) -> None:
        self._spawned(coro, name)

    def _spawned(self, coro: object, name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)  # type: ignore[arg-type]
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def warmed(self) -> None:
        """Wait until the reads of tasks due soon that ticks started so far are over, their entries
        warm and in the heap at their instants (tests on a fake clock: an advance made while such a
        read is still in flight could pass the instant before the entry is there to fire on it)."""
        if self._warming:
            await asyncio.wait(list(self._warming))

    @property
    def background_busy(self) -> bool:
        """True while background work of the scheduler (the loop aside) is going on, such as reading
        the records of tasks due soon."""
        return bool(self._background)

    async def stop(self, grace: float = 10.0) -> None:
        """No new runs; in-flight runs get ``grace`` seconds, then are cancelled (recorded CANCELLED).

        The loop ends after the tick it is in (see :meth:`_end_loop`): the runs that tick inserted
        start, and are in flight like the others.

        A cluster member drains first: it hands its placements over (see :meth:`_drain_member`)
        and keeps its lease while its runs finish, then leaves."""
        self._stopping = True
        self.housekeeper.stop()
        self._wake()
        await self._end_loop()
        if self._waker is not None:
            self._waker.close()
        for task in self._background:
            task.cancel()
        member = self.member
        keep_alive: asyncio.Task[None] | None = None
        runs_over = False
        if member is not None and self.catalog.outage() is None:
            try:
                await asyncio.wait_for(self._drain_member(member), STOP_CATALOG_WAIT_S)
            except (TasksqlError, TimeoutError) as exc:
                log.warning("could not hand this node's tasks over: %s", exc or "timed out")
            keep_alive = asyncio.create_task(member.keep_alive(lambda: runs_over), name="tasksql-lease")
        try:
            if self.multi is not None:
                await self.multi.worker.stop(grace)
            await self.runs.stop(grace, STOP_CANCEL_WAIT_S)
        finally:
            runs_over = True
            if keep_alive is not None:
                keep_alive.cancel()
        try:
            await self._record_stop()
        finally:
            if member is not None:
                await member.close()  # no renewal after the stop, whatever was written

    async def _record_stop(self) -> None:
        now = self.clock.now()
        error = self.catalog.outage()
        if error is not None:
            # what would be written here (queued runs, claims, this node's stop) waits for the
            # reaper, which settles this node as lost (see lost.py)
            log.warning("stopping without the catalog: this node's unsettled runs are left to the reaper")
            return
        try:
            await asyncio.wait_for(self._settle_on_stop(now), STOP_CATALOG_WAIT_S)
        except (TasksqlError, TimeoutError) as exc:
            log.warning("could not record this node's stop in the catalog: %s", exc or "timed out")

    async def _end_loop(self) -> None:
        """Let the loop finish the tick it is in, then end it (it sees :attr:`_stopping`).

        A tick is never cancelled in the middle of its catalog write while the catalog is
        reachable: the write would commit all the same (the writer has it), and the runs it
        inserted EXECUTING would never start nor be settled. Their bodies start as the tick
        ends, and get the grace period like every run in flight. Only a loop that is still in its
        tick after :data:`STOP_CATALOG_WAIT_S` (a write held by a catalog that went away), or one
        paused by an outage, is cancelled: what it may have written is left to the reaper, as
        everything of a node that stops without its catalog."""
        task = self._loop_task
        if task is None or task.done():
            return
        if self.catalog.outage() is None:
            await asyncio.wait([task], timeout=STOP_CATALOG_WAIT_S)
            if not task.done():
                log.warning(
                    "the scheduler's last tick did not end within %.0f s: cancelled", STOP_CATALOG_WAIT_S
                )
        if not task.done():
            task.cancel()
            await asyncio.wait([task])

    async def _settle_on_stop(self, now: datetime) -> None:
        """Cancel the queued runs, release the claims, flush the next instants, mark the node stopped."""
        entries = self.cache.entries.values()
        for rec in [r for e in entries for r in e.queue]:
            reason = "cancelled: the scheduler stopped before the run started"
            await self.catalog.finish_run(outcomes.cancelled(rec, now, reason), None)
        fence = self.fence  # a release that fails is logged; the reaper will delete the claims
        await claims.release(
            self.catalog, self.node_id, entries, fence=fence.current, withheld=fence.withheld
        )
        await self.cache.flush_next_fires()
        await self.catalog.stop_node(self.node_id, now)
        if self.member is not None:
            await self.member.leave()

    async def _drain_member(self, member: ClusterMember) -> None:
        """Write the next instants while the placements are held, then hand them over (the instants
        claimed but never started go to the next holder) but those of the graph runs' members this
        node coordinates, which it releases when it leaves: the graph runs go on in the grace period."""
        await self.cache.flush_next_fires()
        await member.drain(keep=self.graphs.coordinated_tasks())

    # --- the loop --------------------------------------------------------------------------------

    def notify_change(self) -> None:
        """The catalog changed (DDL in this process, or another process's seen by the change
        watcher): reload before the next tick (once, however many changes came meanwhile)."""
        self.cache.mark_stale()
        if self.member is not None:
            self.member.poke()  # a new task is placed now, not at the next renewal
        if self.multi is not None:
            self.multi.changed()
        self._wake()

    def _lost_fence(self) -> None:
        if self.member is not None:
            self.member.poke()  # a fenced insert refused: the lease (or placement) may be lost

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def run(self) -> None:
        while not self._stopping:
            if self.catalog.outage() is not None:
                # see outage.py: nothing fires without the catalog
                await outage.wait_out(self.catalog, lambda: self._stopping)
                continue
            self._held = False
            try:
                await self.tick()
            except TasksqlError as exc:
                if outage.unavailable(exc):
                    log.debug("scheduler tick failed: %s", exc)
                else:
                    log.exception("scheduler tick failed; retrying")
                # the entries the tick had taken out of the heap go back at their next instants, so
                # that a failed tick does not end their schedules (their instants have a row, or
                # none was committed; the fences keep a second attempt at one a no-op)
                self.cache.requeue()
                if not self._stopping:
                    await asyncio.sleep(0.5)
            await self._sleep()

    async def _sleep(self) -> None:
        """Until the earliest next instant, a change signal, or 1 s (whichever first). A member
        whose last tick was held sleeps until its lease is renewed (or 1 s): the instants due in
        the heap cannot be fired before, and waking for them would spin the loop.

        Returning without a wait still yields to the event loop once, so that whatever else runs
        on it (the lease renewals, a stop) is never starved by the loop, whatever it wakes for."""
        if self._stopping:
            return
        now = self.clock.now()
        member = self.member
        if self._held and member is not None:
            until = now + MAX_SLEEP
            if member.may_fire():  # renewed since the tick
                until = now
        else:
            until = self.cache.wake_at(now + MAX_SLEEP)
        if self.cache.stale or until <= now:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        if isinstance(self.clock, SystemClock):
            delay = (until - now).total_seconds()
            if delay > PRECISE_WAKE_ABOVE_S:
                # asyncio's timers fire up to 1 ms late (see waker.py); a wait this long can afford a
                # thread's wake-up, a busy scheduler (instants a millisecond apart) would pay it too often
                if self._waker is None:
                    self._waker = Waker(loop, self._wake)
                self._waker.arm(time.monotonic() + delay)
                handle = loop.call_at(loop.time() + delay + WAKE_BACKSTOP_S, self._wake)
            else:
                handle = loop.call_at(loop.time() + delay, self._wake)
            try:
                await self._waiter
            finally:
                handle.cancel()
                self._waiter = None
            return
        sleeper = asyncio.ensure_future(self.clock.sleep_until(until))
        try:
            await asyncio.wait([sleeper, self._waiter], return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            self._waiter = None

    async def tick(self) -> TickReport:
        """One iteration: reload if the catalog changed, fire every due instant, start runs."""
        report = TickReport()
        if self._stopping or self.catalog.outage() is not None:
            return report  # stopping, or paused (see outage.py)
        cache = self.cache
        if cache.stale:
            await cache.reload()
        member = self.member
        if member is not None and not member.may_fire():
            # self-fenced: no lease by this node's clock (a renewal is late, or it joins again);
            # the due instants stay in the heap and the loop sleeps until the lease is renewed
            self._held = report.held = True
            return report
        # the fence of this tick's writes is the one that let it fire: should the lease be lost
        # during the tick's awaits, its writes are refused rather than made without a fence
        fence = self.fence.current
        if member is not None and (member.earlier_runs or member.earlier_graphs):
            await self._settle_earlier(member)
        if self._lost_runs and member is not None:
            pending, self._lost_runs = self._lost_runs, []
            report.started += await takeover.retry_lost(
                self.catalog,
                self.cache,
                self.runs,
                member.owns,
                pending,
                node_id=self.node_id,
                fence=fence,
                now=self.clock.now(),
            )
        now = self.clock.now()
        due = cache.pop_due(now)
        cold = cache.pop_cold(now)
        if cold:
            # due within WARM_AHEAD: their records are read off the loop's path; an instant that
            # has come already (a start-up, a late tick) is read now and fired in this tick
            late: list[Entry] = []
            ahead: list[Entry] = []
            for e in cold:
                (late if e.next_fire is not None and e.next_fire <= now else ahead).append(e)
            if ahead:
                warming = self._spawned(cache.warm_ahead(ahead), "tasksql-warm")
                self._warming.add(warming)
                warming.add_done_callback(self._warming.discard)
            if late:
                due.extend(e for e in await cache.warm(late) if e.next_fire is not None)
        # triggered tasks: their instant is a check of their streams, done off the tick's path; an
        # entry whose schedule's class loaded in due() is asked again, and planned in this tick
        triggers, planned = self.triggers, []
        for entry in due:
            if triggers.handles(entry):
                triggers.due(entry, now, fence)
                if triggers.handles(entry):
                    continue
            planned.append(entry)
        if not planned:
            return report
        graphs, runs = self.graphs, self.runs
        plans: list[tuple[Entry, bool, FirePlan]] = []
        for entry in planned:
            root = cache.is_root(entry)
            plans.append((entry, root, self._plan(entry, now, root)))
        new_runs: list[NewRun] = []
        owners: list[tuple[Entry, Decision | None]] = []
        new_graphs: list[NewGraphRun] = []
        started_graphs: dict[int, GraphRun] = {}
        book = claims.Bookings(self.node_id, fence=fence, commit_starts=self.fence.member)
        claim_within = self.claim_ahead if self.claim_ahead > timedelta(0) else None
        for entry, root, plan in plans:
            claim = claims.take(entry, plan, root, book)
            claimed: RunRecord | claims.Failed | None = claims.FAILED
            if claim is not None:  # its write is over long ago, as a rule: nothing to await
                claimed = claim.written() if claim.batch.done() else await claim.result()
            for decision in plan.decisions:
                if (
                    claim is not None
                    and decision.instant == claim.instant
                    and not isinstance(claimed, claims.Failed)
                ):
                    self._use_claim(entry, claimed, decision, book, now, report)
                    continue
                run = outcomes.scheduled_run(entry.record, decision, now, self.node_id)
                if root and decision.action is Action.RUN:
                    g = await graphs.prepare(entry, scheduled_time=decision.instant)
                    g.begin()
                    run = graphs.tag(run, g)
                    new_graphs.append(
                        graphs.new_graph_run(
                            g,
                            entry,
                            scheduled_from=ScheduledFrom.SCHEDULE,
                            now=now,
                            root_run_index=len(new_runs),
                        )
                    )
                    started_graphs[len(new_runs)] = g
                new_runs.append(run)
                owners.append((entry, decision))
            if plan.summary is not None:
                new_runs.append(outcomes.missed_summary_run(entry.record, plan.summary, now, self.node_id))
                owners.append((entry, None))
            cache.set_next_fire(entry, plan.next_fire)
            if (
                claim_within is not None
                and not root
                and plan.next_fire is not None
                and plan.next_fire - now <= claim_within
                and claims.claimable(entry)
            ):
                book.claim(entry, plan.next_fire, now)
        # a member's claimed runs first, alone: the claims of the next instants are not in their way
        report.started += self._start_committed(
            await book.start_committed(self.catalog, now, cache.set_next_fire)
        )
        if not new_runs:  # the steady state: every due instant was claimed
            runs.submit(book)
            records: list[RunRecord | None] = []
        else:
            if book.releases:  # queued before the fire: a release precedes any insert of its instant
                runs.submit(claims.Bookings(self.node_id, fence=fence, releases=book.releases))
                book.releases = []
            try:
                records = await self.catalog.fire(new_runs, (), new_graphs, fence=fence)
            finally:  # claims after the runs of this tick, so that run ids follow the instants
                runs.submit(book)
        for index, ((entry, owner_decision), rec) in enumerate(zip(owners, records, strict=True)):
            report.fired += 1
            if rec is None and member is not None:
                member.poke()  # a fenced insert refused: the lease (or placement) may be lost
            if rec is None or owner_decision is None:
                continue
            if owner_decision.action is Action.RUN:
                started = started_graphs.get(index)
                if started is not None:
                    graphs.activate(started)
                pinned = started.member(started.root_id).definition if started is not None else None
                runs.start(entry, rec, pinned, graph=started)
                report.started += 1
            elif owner_decision.action is Action.QUEUE:
                entry.enqueue(rec)
            else:
                report.skipped += 1
        for entry, _, _ in plans:
            if entry.queue and not entry.running:
                # the run ahead of the queue was fenced (it ran before a restart, on this node or
                # another): nothing of this node will end to start the queue, so start it now
                await runs.start_queued(entry)
                report.started += 1
            cache.push(entry)
        return report

    async def _settle_earlier(self, member: ClusterMember) -> None:
        """Settle what this member's earlier epochs left (see :func:`.takeover.settle_own_earlier`),
        at the first tick after a join and then every :data:`EARLIER_EVERY_S` while some is open:
        in the tick, so that every run an earlier tick inserted is started (and held) by then."""
        at = time.monotonic()
        if member.joins == self._earlier_joins and at - self._earlier_at < EARLIER_EVERY_S:
            return
        self._earlier_at, self._earlier_joins = at, member.joins
        try:
            await takeover.settle_own_earlier(
                self.catalog,
                self.cache,
                self.markers,
                self._warehouses,
                self.runs,
                member,
                now=self.clock.now(),
            )
        except TasksqlError as exc:  # tried again later; the instants due fire all the same
            (log.debug if outage.unavailable(exc) else log.warning)(
                "could not settle what this node's earlier epochs left: %s", exc
            )

    def _use_claim(
        self,
        entry: Entry,
        claimed: RunRecord | None,
        decision: Decision,
        book: claims.Bookings,
        now: datetime,
        report: TickReport,
    ) -> None:
        report.fired += 1
        if claimed is None:
            return  # another node holds the instant
        rec = book.use(entry, claimed, decision, now)
        if rec is None:
            return  # a member's start, committed before its body (see _start_committed)
        if decision.action is Action.RUN:
            self.runs.start(entry, rec)
            report.started += 1
        elif decision.action is Action.QUEUE:
            entry.enqueue(rec)
        else:
            report.skipped += 1

    def _start_committed(self, started: list[tuple[Entry, RunRecord]]) -> int:
        """Start the bodies of the claimed runs a member's tick started in the catalog."""
        for entry, rec in started:
            self.runs.start(entry, rec)
        return len(started)

    def _plan(self, entry: Entry, now: datetime, root: bool) -> FirePlan:
        assert entry.schedule is not None and entry.next_fire is not None
        policy = entry.policy
        if root:
            running = self.graphs.running_count(entry)
            if policy.catch_up is CatchUp.ALL:  # graph runs are not queued: the latest missed one runs
                policy = replace(policy, catch_up=CatchUp.LATEST)
        else:
            running = len(entry.running) + len(entry.queue)
        return plan_fires(entry.schedule, next_fire=entry.next_fire, now=now, running=running, policy=policy)

    # --- what the engine asks of it --------------------------------------------------------------

    async def reload(self) -> None:
        """Bring the cache in line with the catalog (see :meth:`TaskCache.reload`)."""
        await self.cache.reload()

    async def execute_now(self, record: TaskRecord, *, config: str | None = None) -> RunRecord | None:
        """EXECUTE TASK (see :meth:`ManualRuns.execute_now`)."""
        return await self.manual.execute_now(record, config=config)

    async def retry_last(self, record: TaskRecord) -> RunRecord | None:
        """EXECUTE TASK ... RETRY LAST on a root (see :meth:`ManualRuns.retry_last`)."""
        return await self.manual.retry_last(record)

    async def cancel_task(self, task_id: int, reason: str = "cancelled: CANCEL TASK") -> int:
        """CANCEL TASK (see :meth:`ManualRuns.cancel_task`)."""
        return await self.manual.cancel_task(task_id, reason)

    async def wait_for_graph(self, group_id: str | None) -> None:
        """Wait until the graph run ``group_id`` is over on this node (embedded EXECUTE TASK)."""
        await self.runs.wait_for_graph(group_id)

    async def wait_for_run(self, run_id: int) -> None:
        """Wait until run ``run_id`` (of this scheduler) ended and its outcome is committed."""
        await self.runs.wait_for_run(run_id)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until no run is in flight and every outcome is committed (tests)."""
        await self.runs.drain(timeout)

    async def bookkeeping_written(self) -> None:
        """Wait until the lazy bookkeeping so far is committed (see :class:`InFlightRuns`)."""
        await self.runs.bookkeeping_written()

    @property
    def in_flight(self) -> int:
        return self.runs.count

    async def flush_next_fires(self) -> None:
        """Write the next instants computed since the last flush."""
        await self.cache.flush_next_fires()

    async def reap(self) -> int:
        """Settle runs whose node died (see :meth:`Housekeeper.reap`)."""
        return await self.housekeeper.reap()

    async def prune(self) -> int:
        """Delete history older than the retention (see :meth:`Housekeeper.prune`)."""
        return await self.housekeeper.prune()
