"""The scheduler: fires due instants, starts runs, settles them, and keeps going.

The catalog is the truth; :class:`Scheduler` keeps a cache of the tasks (an :class:`Entry` each) and a
heap of their next instants, rebuilt whenever the catalog's change sequence moves. One iteration
(:meth:`Scheduler.tick`, what tests drive with a fake clock):

1. pop every task whose next instant has come;
2. ask the pure planner what to do (run, queue, or record SKIPPED: missed, overlapping);
3. write all new run rows and the tasks' next instants in ONE catalog call (the UNIQUE
   (task, instant) fence makes a second node's attempt at the same instant a no-op);
4. start a runner per run; each settles its run in the catalog when it ends.

:meth:`run` loops ``tick`` while sleeping until the next instant or a change signal. Runs execute
concurrently (a warehouse bounds its own concurrency); a slow run never delays another task's start.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tasksql import __version__, schedules
from tasksql.clock import SystemClock
from tasksql.errors import TasksqlError
from tasksql.model import (
    CatchUp,
    IntegrationDef,
    IntervalSchedule,
    OnError,
    QualifiedName,
    RunState,
    ScheduledFrom,
    SuspendReason,
    TaskDef,
    TaskRecord,
    TaskState,
    effective_warehouse,
)
from tasksql.model.outbox import OutboxItem
from tasksql.model.run import NewGraphRun, NewRun, NodeRecord, RunOutcome, RunRecord, TaskRuntime, transition
from tasksql.notify.events import events_for
from tasksql.scheduler import cache, claims, housekeeping, manual, outage, outcomes, retry
from tasksql.scheduler.entry import WARM_AHEAD, Entry
from tasksql.scheduler.graph_run import GraphRun
from tasksql.scheduler.graphs import GraphCoordinator
from tasksql.scheduler.markers import MarkerBook, catalog_scope
from tasksql.scheduler.planner import Action, Decision, FirePlan, plan_fires
from tasksql.scheduler.runner import RunContext, run_attempt
from tasksql.scheduler.waker import Waker
from tasksql.schedules.base import PreviousRun
from tasksql.warehouses.base import CancelToken

if TYPE_CHECKING:
    from tasksql.engine.core import Engine

log = logging.getLogger("tasksql.scheduler")
ZERO = timedelta(0)

STOP_CANCEL_WAIT_S = 5.0
#: Longest the catalog writes of a stop may take (a catalog lost while stopping).
STOP_CATALOG_WAIT_S = 10.0
#: Sleeps longer than this end on the precise waker (waker.py); shorter ones on asyncio's timer.
PRECISE_WAKE_ABOVE_S = 0.002
#: The asyncio timer behind a precise wake-up, should the waker's thread be held up.
WAKE_BACKSTOP_S = 0.005


@dataclass
class TickReport:
    fired: int = 0
    started: int = 0
    skipped: int = 0


class Scheduler:
    """Schedules every started task of one engine's catalog, in this process."""

    def __init__(self, engine: Engine, *, node_id: str | None = None) -> None:
        self.engine = engine
        self.catalog = engine.catalog
        self.clock = engine.clock
        self.node_id = node_id or engine.settings.effective_node_id
        #: A task's next instant is claimed when it fires, if at most this far ahead (0: never).
        self.claim_ahead = timedelta(seconds=engine.settings.claim_ahead_s)
        self.entries: dict[int, Entry] = {}
        #: (next instant, push sequence, task id) of warm entries, and of cold ones (see cache.py)
        self._heap: list[tuple[datetime, int, int]] = []
        self._cold_heap: list[tuple[datetime, int, int]] = []
        self._seq = itertools.count()
        self._runs: dict[int, tuple[asyncio.Task[None], CancelToken, Entry]] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._change_seq = -1
        self._dirty = True
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._bg: set[asyncio.Task[None]] = set()
        #: Lazy catalog writes not known to be committed yet (claims, outcomes): see _track.
        self._books: set[asyncio.Future[Any]] = set()
        self._waiter: asyncio.Future[None] | None = None
        self._waker: Waker | None = None
        #: Next instants not yet written to the catalog (task id -> instant). Writing them at every
        #: fire would cost a write per run; they are flushed every second and at stop instead. A
        #: stale value is harmless: on restart the planner re-walks from it, and the UNIQUE fence
        #: turns instants that already ran into no-ops.
        self._next_dirty: dict[int, tuple[datetime | None, TaskRecord]] = {}
        self.integrations: dict[str, IntegrationDef] = {}
        self._children: dict[QualifiedName, set[int]] = {}
        self._finalizers: dict[QualifiedName, int] = {}
        self._dependents: set[QualifiedName] = set()
        self.graphs = GraphCoordinator(self)
        self._introspection = engine.introspection_factory()
        #: Completion markers (known once started): bodies commit with their run's id.
        self.markers: MarkerBook | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self, *, background: bool = True) -> None:
        """Register this node, settle runs left by dead nodes, load tasks; with ``background`` also
        start the loop and the housekeeping (heartbeat, change polling, reaping, pruning)."""
        if self.engine.settings.completion_markers:
            self.markers = MarkerBook(await catalog_scope(self.catalog), self.clock)
        await housekeeping.settle_previous_incarnation(self)
        now = self.clock.now()
        await self.catalog.register_node(
            NodeRecord(
                node_id=self.node_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                role="server" if background else "embedded",
                version=__version__,
                started_at=now,
                heartbeat_at=now,
            )
        )
        await self.reap()
        await self.reload()
        if background:
            self._loop_task = asyncio.create_task(self.run(), name="tasksql-scheduler")
            self._spawn(housekeeping.loop(self), "tasksql-housekeeping")

    def _spawn(self, coro: object, name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)  # type: ignore[arg-type]
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    async def stop(self, grace: float = 10.0) -> None:
        """No new runs; in-flight runs get ``grace`` seconds, then are cancelled (recorded CANCELLED)."""
        self._stopping = True
        self._wake()
        if self._waker is not None:
            self._waker.close()
        for task in [self._loop_task, *self._bg]:
            if task is not None:
                task.cancel()
        running = [t for t, _, _ in self._runs.values()]
        if running:
            _, pending = await asyncio.wait(running, timeout=grace)
            if pending:
                for _, token, _ in list(self._runs.values()):
                    token.cancel("cancelled: the scheduler stopped")
                _, pending = await asyncio.wait(pending, timeout=STOP_CANCEL_WAIT_S)
                for t in pending:
                    t.cancel()
                if pending:
                    await asyncio.wait(pending, timeout=STOP_CANCEL_WAIT_S)
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

    async def _settle_on_stop(self, now: datetime) -> None:
        """Cancel the queued runs, release the claims, flush the next instants, mark the node stopped."""
        queued = [r for e in self.entries.values() for r in e.queue]
        for rec in queued:
            reason = "cancelled: the scheduler stopped before the run started"
            await self.catalog.finish_run(outcomes.cancelled(rec, now, reason), None)
        await self._release_claims(self.entries.values())  # a failure is logged; the reaper will
        await self.flush_next_fires()
        await self.catalog.stop_node(self.node_id, now)

    # --- the loop --------------------------------------------------------------------------------

    def notify_change(self) -> None:
        """The catalog changed (DDL in this process): reload before the next tick."""
        self._dirty = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def run(self) -> None:
        while not self._stopping:
            if self.catalog.outage() is not None:
                await outage.wait_out(self)  # see outage.py: nothing fires without the catalog
                continue
            try:
                await self.tick()
            except TasksqlError as exc:
                if outage.unavailable(exc):
                    log.debug("scheduler tick failed: %s", exc)
                else:
                    log.exception("scheduler tick failed; retrying")
                outage.requeue(self)
                await asyncio.sleep(0.5)
            await self._sleep()

    async def _sleep(self) -> None:
        """Until the earliest next instant, a change signal, or 1 s (whichever first)."""
        now = self.clock.now()
        until = now + timedelta(seconds=1)
        for heap, ahead in ((self._heap, ZERO), (self._cold_heap, WARM_AHEAD)):
            while heap:
                when, seq, task_id = heap[0]
                entry = self.entries.get(task_id)
                if entry is not None and entry.heap_seq == seq:
                    until = min(until, when - ahead)
                    break
                heapq.heappop(heap)
        if self._dirty or until <= now:
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
        if self.catalog.outage() is not None:
            return report  # paused (see outage.py)
        if self._dirty:
            await self.reload()
        now = self.clock.now()
        due = self._pop(self._heap, now)
        cold = self._pop(self._cold_heap, now + WARM_AHEAD) if self._cold_heap else []
        if cold:
            # due within WARM_AHEAD: their records are read off the loop's path; an instant that
            # has come already (a start-up, a late tick) is read now and fired in this tick
            late: list[Entry] = []
            ahead: list[Entry] = []
            for e in cold:
                (late if e.next_fire is not None and e.next_fire <= now else ahead).append(e)
            if ahead:
                self._spawn(cache.warm_ahead(self, ahead), "tasksql-warm")
            if late:
                due.extend(e for e in await cache.warm(self, late) if e.next_fire is not None)
        if not due:
            return report
        plans: list[tuple[Entry, bool, FirePlan]] = []
        for entry in due:
            root = self.graphs.is_root(entry)
            plans.append((entry, root, self._plan(entry, now, root)))
        new_runs: list[NewRun] = []
        owners: list[tuple[Entry, Decision | None]] = []
        graphs: list[NewGraphRun] = []
        started_graphs: dict[int, GraphRun] = {}
        book = claims.Bookings(self.node_id)
        for entry, root, plan in plans:
            claim, claimed = await self._take_claim(entry, plan, root, book)
            for decision in plan.decisions:
                if (
                    claim is not None
                    and decision.instant == claim.instant
                    and not isinstance(claimed, claims.Failed)
                ):
                    self._use_claim(entry, claimed, decision, book, now, report)
                    continue
                run = self._new_run(entry, decision, now)
                if root and decision.action is Action.RUN:
                    g = await self.graphs.prepare(entry, scheduled_time=decision.instant)
                    g.begin()
                    run = self.graphs.tag(run, g)
                    graphs.append(
                        self.graphs.new_graph_run(
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
            entry.next_fire = plan.next_fire
            self._next_dirty[entry.record.id] = (plan.next_fire, entry.record)
            if (
                not root
                and plan.next_fire is not None
                and plan.next_fire - now <= self.claim_ahead
                and claims.claimable(entry)
            ):
                book.claim(entry, plan.next_fire, now)
        if not new_runs:  # the steady state: every due instant was claimed
            self._submit(book)
            records: list[RunRecord | None] = []
        else:
            if book.releases:  # queued before the fire: a release precedes any insert of its instant
                self._submit(claims.Bookings(self.node_id, releases=book.releases))
                book.releases = []
            try:
                records = await self.catalog.fire(new_runs, (), graphs)
            finally:  # claims after the runs of this tick, so that run ids follow the instants
                self._submit(book)
        for index, ((entry, owner_decision), rec) in enumerate(zip(owners, records, strict=True)):
            report.fired += 1
            if rec is None or owner_decision is None:
                continue
            if owner_decision.action is Action.RUN:
                started = started_graphs.get(index)
                if started is not None:
                    self.graphs.activate(started)
                pinned = started.member(started.root_id).definition if started is not None else None
                self.start_run(entry, rec, pinned, graph=started)
                report.started += 1
            elif owner_decision.action is Action.QUEUE:
                entry.enqueue(rec)
            else:
                report.skipped += 1
        for entry, _, _ in plans:
            if entry.queue and not entry.running:
                # the run ahead of the queue was fenced (it ran before a restart, on this node or
                # another): nothing of this node will end to start the queue, so start it now
                await self._start_queued(entry)
                report.started += 1
            self._push(entry)
        return report

    async def _take_claim(
        self, entry: Entry, plan: FirePlan, root: bool, book: claims.Bookings
    ) -> tuple[claims.Claim | None, RunRecord | claims.Failed | None]:
        """The entry's claim, when one of the plan's instants is claimed (else it is released)."""
        claim, entry.claim = entry.claim, None
        if claim is None:
            return None, claims.FAILED
        if root or not any(d.instant == claim.instant for d in plan.decisions):
            # a summary of missed instants covers it, or the task became a graph root
            book.releases.append((entry.record.id, claim.instant))
            return None, claims.FAILED
        if claim.batch.done():  # the usual case: written long ago
            return claim, claim.written()
        return claim, await claim.result()

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
        rec = book.use(claimed, decision, now)
        if decision.action is Action.RUN:
            self.start_run(entry, rec)
            report.started += 1
        elif decision.action is Action.QUEUE:
            entry.enqueue(rec)
        else:
            report.skipped += 1

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

    def _new_run(self, entry: Entry, decision: Decision, now: datetime) -> NewRun:
        state = {Action.RUN: RunState.EXECUTING, Action.QUEUE: RunState.SCHEDULED}.get(
            decision.action, RunState.SKIPPED
        )
        return outcomes.new_run(
            entry.record,
            scheduled_time=decision.instant,
            state=state,
            scheduled_from=ScheduledFrom.SCHEDULE,
            node_id=self.node_id,
            now=now,
            error_code=decision.code,
            error_message=decision.message,
        )

    def _push(self, entry: Entry) -> None:
        """Into the heap at the entry's next instant (a cold entry: into the cold heap, which is
        popped WARM_AHEAD early)."""
        rec = entry.rec
        if entry.next_fire is None or (rec is not None and rec.state is not TaskState.STARTED):
            entry.heap_seq = None
            return
        seq = next(self._seq)
        entry.heap_seq = seq
        heapq.heappush(
            self._heap if rec is not None else self._cold_heap, (entry.next_fire, seq, entry.task_id)
        )

    def _pop(self, heap: list[tuple[datetime, int, int]], until: datetime) -> list[Entry]:
        """The entries of ``heap`` at or before ``until`` (items of replaced entries dropped)."""
        out: list[Entry] = []
        while heap and heap[0][0] <= until:
            _, seq, task_id = heapq.heappop(heap)
            entry = self.entries.get(task_id)
            if entry is not None and entry.heap_seq == seq:
                entry.heap_seq = None
                out.append(entry)
        return out

    # --- the cache -------------------------------------------------------------------------------

    async def reload(self) -> None:
        """Bring the cache in line with the catalog (see :func:`cache.reload`)."""
        await cache.reload(self)

    def has_dependents(self, name: QualifiedName) -> bool:
        """True when a task runs after ``name`` or finalizes it."""
        return name in self._dependents

    def children_of(self, name: QualifiedName) -> list[int]:
        return sorted(self._children.get(name, ()))

    def finalizer_of(self, name: QualifiedName) -> int | None:
        return self._finalizers.get(name)

    # --- runs ------------------------------------------------------------------------------------

    def start_run(
        self,
        entry: Entry,
        rec: RunRecord,
        definition: TaskDef | None = None,
        *,
        graph: GraphRun | None = None,
        delay: float = 0.0,
    ) -> None:
        """Run ``rec`` (of ``entry``'s task, pinned to ``definition``) now, or after ``delay`` seconds
        (a retry: the row is SCHEDULED until then)."""
        token = CancelToken()
        task = asyncio.create_task(self._run(entry, rec, token, definition or entry.task, graph, delay))
        entry.add_run(rec.run_id, task)
        self._runs[rec.run_id] = (task, token, entry)
        # until its outcome is committed (it leaves _runs before that)
        self._tasks[rec.run_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(rec.run_id, None))

    async def _run(
        self,
        entry: Entry,
        rec: RunRecord,
        token: CancelToken,
        task: TaskDef,
        graph: GraphRun | None,
        delay: float,
    ) -> None:
        outcome: RunOutcome | None = None
        try:
            if delay > 0:
                await self.clock.sleep_until(self.clock.now() + timedelta(seconds=delay))
                if token.cancelled:
                    raise asyncio.CancelledError
                started = RunOutcome(
                    run_id=rec.run_id,
                    state=transition(rec.state, RunState.EXECUTING),
                    query_start_time=self.clock.now(),
                )
                await self.catalog.finish_run(started, None)
            warehouse = await self.engine.warehouse(effective_warehouse(task))
            ctx = RunContext(
                run=rec,
                task=task,
                warehouse=warehouse,
                clock=self.clock,
                token=token,
                introspection=self._introspection,
                predecessor_values=graph.predecessor_values() if graph is not None else {},
                graph_config=graph.config if graph is not None else task.config,
                markers=self.markers,
            )
            outcome = await run_attempt(ctx)
        except asyncio.CancelledError:
            outcome = outcomes.cancelled(
                rec, self.clock.now(), token.reason or "cancelled: the scheduler stopped"
            )
            await asyncio.shield(self._finish(entry, rec, task, outcome, graph))
            raise
        except TasksqlError as err:
            outcome = outcomes.failed(rec, self.clock.now(), err)
        await self._finish(entry, rec, task, outcome, graph)

    async def _finish(
        self, entry: Entry, rec: RunRecord, task: TaskDef, outcome: RunOutcome, graph: GraphRun | None = None
    ) -> None:
        entry.running.pop(rec.run_id, None)
        self._runs.pop(rec.run_id, None)
        delay = None if self._stopping else retry.retry_delay(task, rec.attempt_number, outcome)
        if delay is not None:
            await self._retry(entry, rec, task, outcome, graph, delay)
            return
        previous = entry.failures
        outcome, runtime = outcomes.settle(entry, task, rec.state, outcome)
        notes = self._notifications(entry, rec, task, outcome, runtime, previous, graph)
        try:
            # a graph's runs are recorded by its coordinator, with the graph's own bookkeeping
            if rec.graph_run_group_id is None or not await self.graphs.step(rec, outcome, runtime, notes):
                await self._record_outcome(outcome, runtime, notes)
        except TasksqlError:
            log.exception("could not record the outcome of run %s", rec.run_id)
        end = outcome.completed_time or self.clock.now()
        if outcome.state is RunState.FAILED and task.on_error is OnError.LOG:
            # VoltDB ON ERROR LOG: the error is logged and the task goes on (IGNORE: not logged)
            log.warning(
                "task %s failed (ON ERROR LOG): %s: %s", rec.name, outcome.error_code, outcome.error_message
            )
        if log.isEnabledFor(logging.INFO):
            took = (
                (end - outcome.query_start_time).total_seconds() * 1000 if outcome.query_start_time else 0.0
            )
            detail = f" ({outcome.error_code}: {outcome.error_message})" if outcome.error_code else ""
            log.info("run %s of %s: %s in %.1f ms%s", rec.run_id, rec.name, outcome.state.value, took, detail)
        entry.last_end = end
        entry.last_result = PreviousRun(
            state=outcome.state, return_value=outcome.return_value, error=outcome.error_message
        )
        if runtime is not None and runtime.state is TaskState.SUSPENDED:
            entry.next_fire = None
            entry.heap_seq = None
            self._dirty = True
        elif not self._stopping and (graph is None or rec.task_id == graph.root_id):
            await self._after_run(entry, end)

    async def _record_outcome(
        self, outcome: RunOutcome, runtime: TaskRuntime | None, notes: list[OutboxItem]
    ) -> None:
        if runtime is None and not notes and outcome.state.terminal:
            # the common case: nothing waits for this write (drain and wait_for_run do)
            write = self.catalog.settle_later(outcome)
            write.add_done_callback(_log_unsettled)
            self._track(write)
        else:
            await self.catalog.finish_run(outcome, runtime, notes)

    def _notifications(
        self,
        entry: Entry,
        rec: RunRecord,
        task: TaskDef,
        outcome: RunOutcome,
        runtime: TaskRuntime | None,
        previous_failures: int,
        graph: GraphRun | None,
    ) -> list[OutboxItem]:
        """Webhook messages for a settled run (ERROR_INTEGRATION / SUCCESS_INTEGRATION), queued in
        the outbox in the same transaction as the outcome."""
        if task.error_integration is None and task.success_integration is None:
            return []
        root = None
        if graph is not None and graph.root_id != rec.task_id:
            root = (str(graph.member(graph.root_id).name), graph.root_id)
        return events_for(
            task=task,
            task_id=rec.task_id,
            root=root,
            run=rec,
            outcome=outcome,
            previous_failures=previous_failures,
            auto_suspended=runtime is not None and runtime.suspend_reason is SuspendReason.AUTO_SUSPENDED,
            now=self.clock.now(),
            cluster_id=self.engine.settings.cluster_id,
            integrations=self.integrations,
        )

    async def _retry(
        self,
        entry: Entry,
        rec: RunRecord,
        task: TaskDef,
        outcome: RunOutcome,
        graph: GraphRun | None,
        delay: float,
    ) -> None:
        """Record the failed attempt and start the next one (after ``delay`` seconds)."""
        now = self.clock.now()
        state = RunState.EXECUTING if delay <= 0 else RunState.SCHEDULED
        new = outcomes.new_run(
            entry.record,
            scheduled_time=rec.scheduled_time,
            state=state,
            scheduled_from=ScheduledFrom.RETRY,
            node_id=self.node_id,
            now=now,
            attempt_number=rec.attempt_number + 1,
            definition=task,
            version=rec.task_version,
            config=rec.config,
        )
        if graph is not None:
            new = replace(
                new,
                graph_run_group_id=graph.group_id,
                root_task_id=graph.root_id,
                graph_version=graph.graph_version,
            )
        transition(rec.state, outcome.state)
        [next_rec] = await self.catalog.settle_graph_step(outcome, None, [new], None)
        log.info(
            "run %s of %s: %s, retrying (attempt %d) in %.1f s",
            rec.run_id,
            rec.name,
            outcome.error_code,
            rec.attempt_number + 1,
            delay,
        )
        if next_rec is not None:
            self.start_run(entry, next_rec, task, graph=graph, delay=delay)

    async def _after_run(self, entry: Entry, end: datetime) -> None:
        """Queued catch-up runs start; fixed-delay and VoltDB EVERY schedules restart from ``end``."""
        if entry.queue and not entry.running:
            await self._start_queued(entry)
            return
        if not (
            (entry.policy.defer_while_running or entry.policy.next_from_end)
            and entry.next_fire is None
            and not entry.running
        ):
            cache.cool(self, entry, self.clock.now())
            return
        if entry.record.state is not TaskState.STARTED or entry.schedule is None:
            return
        task = entry.task
        if isinstance(task.schedule, IntervalSchedule):
            # VoltDB EVERY after an overrun: the schedule restarts one interval after the end
            entry.schedule = schedules.build(task.schedule, anchor=end, dst_policy=task.dst_policy)
            nxt = entry.schedule.next_fire(end)
            runtime = TaskRuntime(task_id=entry.record.id, next_fire_at=nxt, schedule_anchor=end)
            await self.catalog.set_task_runtime([runtime])
            entry.record = replace(entry.record, resumed_on=end)  # the anchor the guard now expects
        else:
            nxt = entry.schedule.next_fire(end, last_end=end, last_result=entry.last_result)
            self._next_dirty[entry.record.id] = (nxt, entry.record)
        entry.next_fire = nxt
        self._push(entry)
        self._wake()

    async def _start_queued(self, entry: Entry) -> None:
        """Start the first run of ``entry``'s queue (its start is committed before its body runs)."""
        rec = entry.queue.pop(0)
        state = transition(rec.state, RunState.EXECUTING)
        await self.catalog.finish_run(
            RunOutcome(run_id=rec.run_id, state=state, query_start_time=self.clock.now()), None
        )
        self.start_run(entry, rec)

    # --- manual runs and cancellation ------------------------------------------------------------

    async def execute_now(self, record: TaskRecord, *, config: str | None = None) -> RunRecord | None:
        """EXECUTE TASK (see :func:`manual.execute_now`)."""
        return await manual.execute_now(self, record, config=config)

    async def retry_last(self, record: TaskRecord) -> RunRecord | None:
        """EXECUTE TASK ... RETRY LAST on a root (see :meth:`GraphCoordinator.retry_last`)."""
        error = self.catalog.outage()
        if error is not None:
            raise error
        if self._dirty or record.id not in self.entries:
            await self.reload()
        entry = await cache.entry_for(self, record)
        if entry is None:
            return None
        return await self.graphs.retry_last(entry)

    async def wait_for_graph(self, group_id: str | None) -> None:
        """Wait until the graph run ``group_id`` is over on this node (embedded EXECUTE TASK)."""
        while group_id is not None and group_id in self.graphs.active:
            running = [t for t, _, _ in self._runs.values()]
            if not running:
                await asyncio.sleep(0.01)
                continue
            await asyncio.wait(running, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)

    async def wait_for_run(self, run_id: int) -> None:
        """Wait until run ``run_id`` (of this scheduler) ended and its outcome is committed."""
        task = self._tasks.get(run_id)
        if task is not None:
            await asyncio.wait([task])
        await self.bookkeeping_written()

    async def cancel_task(self, task_id: int, reason: str = "cancelled: CANCEL TASK") -> int:
        """CANCEL TASK (see :func:`manual.cancel_task`)."""
        return await manual.cancel_task(self, task_id, reason)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until no run is in flight and every outcome is committed (tests, embedded EXECUTE
        TASK)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=timeout)
            if timeout is not None:
                return
        await self.bookkeeping_written()

    async def _release_claims(self, entries: Iterable[Entry]) -> None:
        """Delete the claims of ``entries`` now (urgent) and wait for it; a failure is logged."""
        book = claims.Bookings(self.node_id, urgent=True)
        for entry in entries:
            book.release(entry)
        book.submit(self.catalog)
        await claims.written(book)

    def _submit(self, book: claims.Bookings) -> None:
        book.submit(self.catalog)
        if book.batch is not None:
            self._track(book.batch)

    def _track(self, write: asyncio.Future[Any]) -> None:
        """Remember a lazy write until it is committed (see :meth:`bookkeeping_written`)."""
        if not write.done():
            self._books.add(write)
            write.add_done_callback(self._books.discard)

    async def bookkeeping_written(self) -> None:
        """Wait until the lazy bookkeeping so far (claims, started and skipped claimed runs, final
        outcomes) is committed; it normally is within a few milliseconds."""
        if self._books:
            await asyncio.wait(list(self._books))

    @property
    def in_flight(self) -> int:
        return len(self._runs)

    # --- housekeeping ----------------------------------------------------------------------------

    async def flush_next_fires(self) -> None:
        """Write the next instants computed since the last flush (see :mod:`housekeeping`)."""
        await housekeeping.flush_next_fires(self)

    async def reap(self) -> int:
        """Settle runs whose node died (see :func:`housekeeping.reap`)."""
        return await housekeeping.reap(self)

    async def prune(self) -> int:
        """Delete history older than the retention (see :func:`housekeeping.prune`)."""
        return await housekeeping.prune(self)


def _log_unsettled(write: asyncio.Future[Any]) -> None:
    if not write.cancelled() and write.exception() is not None:
        # the row stays EXECUTING; the reaper settles it once this node is gone
        log.error("could not record the outcome of a run: %s", write.exception())
