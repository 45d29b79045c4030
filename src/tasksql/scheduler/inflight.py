"""The runs in flight on one node: starting them, settling them, retrying them, waiting for them.

:meth:`InFlightRuns.start` runs one attempt of a run (:func:`~tasksql.scheduler.runner.run_attempt`)
as an asyncio task. When it ends, the outcome goes through the task's retry policy
(:mod:`~tasksql.scheduler.retry`: the failed attempt and the next one are written together) and its
failure policy (:func:`~tasksql.scheduler.outcomes.settle`), then to the catalog: with the graph
run's own bookkeeping when the run belongs to one (:class:`~tasksql.scheduler.graph_coordinator.
GraphCoordinator`), lazily when nothing waits for it (one write shared with others, see
:meth:`Catalog.settle_later`). Then the task's next instant is computed when it depends on the end
of the run (fixed delay, VoltDB EVERY), a queued catch-up run starts, or the entry goes cold.

Lazy writes (claims, settles) are remembered until committed, so that :meth:`bookkeeping_written`
can wait for them (tests, EXECUTE TASK waiting for its run).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from tasksql import schedules
from tasksql.catalog.base import Catalog
from tasksql.clock import Clock
from tasksql.errors import TasksqlError
from tasksql.model import (
    IntervalSchedule,
    OnError,
    RunState,
    ScheduledFrom,
    Spelling,
    SuspendReason,
    TaskDef,
    TaskState,
    effective_warehouse,
)
from tasksql.model.cluster import Fence
from tasksql.model.outbox import OutboxItem
from tasksql.model.run import OPEN_STATES, RunOutcome, RunRecord, TaskRuntime, transition
from tasksql.model.security import RunAdmission
from tasksql.notify.events import events_for
from tasksql.scheduler import claims, logical_time, outcomes, retry
from tasksql.scheduler.cache import TaskCache
from tasksql.scheduler.deps import IntrospectionFactory, WarehouseProvider
from tasksql.scheduler.entry import Entry
from tasksql.scheduler.fanout import FanOut, runs_as_subtasks
from tasksql.scheduler.graph_coordinator import GraphCoordinator, Launch
from tasksql.scheduler.graph_facts import graph_facts
from tasksql.scheduler.graph_run import GraphRun
from tasksql.scheduler.markers import MarkerBook
from tasksql.scheduler.membership import FenceRef
from tasksql.scheduler.runner import RunContext, run_attempt
from tasksql.scheduler.same_database import SameDatabase
from tasksql.schedules.base import PreviousRun
from tasksql.warehouses.base import CancelToken

log = logging.getLogger("tasksql.scheduler")

# Enum members read once per run: globals (reading one from its class costs several times as much
# on CPython 3.11, whose enum metaclass defines __getattr__).
_FAILED = RunState.FAILED
_SUSPENDED = TaskState.SUSPENDED
_DATABEND = Spelling.DATABEND


class InFlightRuns:
    """The runs of one node that are executing (or waiting to retry), and their bookkeeping.

    :param wake: called when an entry was pushed back into the heap after a run (a next instant
        counted from the run's end), so that the loop recomputes its sleep.
    :param cluster_id: named in the notifications of settled runs.
    :param fence: the fence the run writes carry (a cluster member's; unfenced when empty). A
        refused write (the node's lease was lost) changes nothing: the run's row is settled by the
        reaper of the node that took the task over.
    """

    def __init__(
        self,
        catalog: Catalog,
        cache: TaskCache,
        graphs: GraphCoordinator,
        warehouses: WarehouseProvider,
        *,
        introspection: IntrospectionFactory | None,
        clock: Clock,
        node_id: str,
        cluster_id: str,
        wake: Callable[[], None],
        fence: FenceRef | None = None,
    ) -> None:
        self._catalog = catalog
        #: in a cluster, the fence that starts and outcomes are written under (see membership.py)
        self._fence = fence or FenceRef()
        self._cache = cache
        self._graphs = graphs
        self._warehouses = warehouses
        self._introspection = introspection
        self._clock = clock
        self._node_id = node_id
        self._cluster_id = cluster_id
        self._wake = wake
        #: Completion markers (see markers.py): bodies commit with their run's id; None: without.
        self._markers: MarkerBook | None = None
        #: Warehouses in the catalog's database: outcomes commit with bodies (see same_database.py)
        self._same_database = SameDatabase(catalog, self._fence)
        #: runs whose body's transaction recorded their outcome, until their bookkeeping is done
        self._settled: set[int] = set()
        #: run id -> (its asyncio task, cancel token, entry) until the run ended
        self._runs: dict[int, tuple[asyncio.Task[None], CancelToken, Entry]] = {}
        #: run id -> its asyncio task, until its outcome is written (it leaves _runs before that)
        self._tasks: dict[int, asyncio.Task[None]] = {}
        #: run id -> its task's id, while the run is in _tasks
        self._task_of: dict[int, int] = {}
        #: queued runs between leaving their entry's queue and their start
        self._starting: set[int] = set()
        #: runs whose lazily written outcome is not known to be committed yet
        self._pending: set[int] = set()
        #: lazy catalog writes not known to be committed yet (claims, outcomes): see track()
        self._books: set[asyncio.Future[Any]] = set()
        self._closing = False
        #: outcomes a fenced write did not apply, with the fence written under (None: not written;
        #: see settle_refused)
        self._refused: list[tuple[Fence | None, RunOutcome, list[OutboxItem]]] = []
        #: called when a fenced outcome was refused (a cluster member re-checks its lease)
        self.on_refused: Callable[[], None] = lambda: None
        #: runs maintenance runs that fan out into sub-tasks (see fanout.py); None: run them here
        self.fan_out: FanOut | None = None
        #: the provider's run gate and whether it has anything to ask now (see _gate), looked up once
        self._run_gate = getattr(warehouses, "run_gate", None)
        self._gated: Callable[[], bool] | None = getattr(warehouses, "gated", None)

    def use_markers(self, book: MarkerBook | None) -> None:
        """Commit bodies with their run's completion marker in ``book``'s scope from now on."""
        self._markers = book

    def close(self) -> None:
        """No retry and no next instant after the runs that end from now on (the scheduler stops)."""
        self._closing = True

    @property
    def count(self) -> int:
        """Runs executing (or waiting for a retry) now."""
        return len(self._runs)

    # --- starting --------------------------------------------------------------------------------

    def start(
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
        self._tasks[rec.run_id] = task
        self._task_of[rec.run_id] = rec.task_id
        task.add_done_callback(functools.partial(self._ended, rec.run_id))

    def _ended(self, run_id: int, _: object = None) -> None:
        self._tasks.pop(run_id, None)
        self._task_of.pop(run_id, None)

    def launch(self, launches: list[Launch]) -> None:
        """Start the runs of graph runs the coordinator decided."""
        for item in launches:
            self.start(item.entry, item.run, item.definition, graph=item.graph)

    async def start_queued(self, entry: Entry) -> None:
        """Start the first run of ``entry``'s queue (its start is committed before its body runs;
        a start the fence refuses runs nothing: the run is another node's to settle now, or this
        node's once it holds a lease again)."""
        rec = entry.queue.pop(0)
        self._starting.add(rec.run_id)
        try:
            if await self._mark_started(rec):
                self.start(entry, rec)
        finally:
            self._starting.discard(rec.run_id)

    async def _mark_started(self, rec: RunRecord) -> bool:
        """Record ``rec`` (SCHEDULED) EXECUTING under the node's fence; False when it may not start."""
        if self._fence.withheld:
            return False
        started = RunOutcome(
            run_id=rec.run_id,
            state=transition(rec.state, RunState.EXECUTING),
            query_start_time=self._clock.now(),
        )
        fence = self._fence.current
        if await self._catalog.finish_run(started, None, fence=fence) or fence is None:
            return True
        log.info(
            "run %s of %s is not started: this node's lease or the task's placement is gone",
            rec.run_id,
            rec.name,
        )
        self.on_refused()
        return False

    async def _run(
        self,
        entry: Entry,
        rec: RunRecord,
        token: CancelToken,
        task: TaskDef,
        graph: GraphRun | None,
        delay: float,
    ) -> None:
        clock = self._clock
        outcome: RunOutcome | None = None
        try:
            if delay > 0:
                await clock.sleep_until(clock.now() + timedelta(seconds=delay))
                if token.cancelled:
                    raise asyncio.CancelledError
                if not await self._mark_started(rec):
                    # nothing ran: the row stays SCHEDULED for whoever settles it
                    entry.running.pop(rec.run_id, None)
                    self._runs.pop(rec.run_id, None)
                    if graph is not None:  # nor can its graph run go on here
                        await self._graphs.give_up(graph)
                    return
            warehouse = await self._warehouses.get(effective_warehouse(task))
            ctx = RunContext(
                run=rec,
                task=task,
                warehouse=warehouse,
                clock=clock,
                token=token,
                introspection=self._introspection,
                predecessor_values=graph.predecessor_values() if graph is not None else {},
                graph_config=graph.config if graph is not None else task.config,
                markers=self._markers,
                same_database=self._same_database if self._markers is not None else None,
                warehouses=self._warehouses.get,
                logical_time=lambda: logical_time.compute(
                    self._catalog, rec, logical_time.own_schedule(entry)
                ),
                gate=self._gate(entry),
                checks=self._catalog,
                node_id=self._node_id,
                graph_facts=lambda: graph_facts(self._catalog, rec, graph),
                databend=entry.warm_record is not None and entry.warm_record.spelling is _DATABEND,
            )
            if self.fan_out is not None and runs_as_subtasks(task):
                outcome = await self.fan_out.run(ctx)
            else:
                outcome = await run_attempt(ctx)
            if ctx.settled:
                self._settled.add(rec.run_id)
        except asyncio.CancelledError:
            outcome = outcomes.cancelled(rec, clock.now(), token.reason or "cancelled: the scheduler stopped")
            await asyncio.shield(self._finish(entry, rec, task, outcome, graph))
            raise
        except TasksqlError as err:
            outcome = outcomes.failed(rec, clock.now(), err)
        except Exception as exc:
            # a bug (or a module of another version): recorded, so that the run does not stay
            # EXECUTING and counted as running (its task skipped as overlapping, its graph stuck)
            log.exception("run %s of %s failed inside tasksql", rec.run_id, rec.name)
            outcome = outcomes.failed(
                rec, clock.now(), TasksqlError(f"internal error: {exc!r}", code="INTERNAL_ERROR")
            )
        await self._finish(entry, rec, task, outcome, graph)

    def _gate(self, entry: Entry) -> Callable[[], Awaitable[RunAdmission | None]] | None:
        """The provider's run gate (the engine's: security), bound to ``entry``'s task; None when
        the provider has none, says it has nothing to ask now (``gated()`` false: security off) or
        the entry is cold."""
        gate, gated, record = self._run_gate, self._gated, entry.warm_record
        if gate is None or record is None or (gated is not None and not gated()):
            return None
        return lambda: gate(record)

    # --- settling --------------------------------------------------------------------------------

    async def _finish(
        self, entry: Entry, rec: RunRecord, task: TaskDef, outcome: RunOutcome, graph: GraphRun | None = None
    ) -> None:
        entry.running.pop(rec.run_id, None)
        self._runs.pop(rec.run_id, None)
        settled = rec.run_id in self._settled  # the body's transaction recorded the outcome
        self._settled.discard(rec.run_id)
        delay = None if self._closing else retry.retry_delay(task, rec.attempt_number, outcome)
        if delay is not None:
            await self._retry(entry, rec, task, outcome, graph, delay)
            return
        previous = entry.failures
        outcome, runtime = outcomes.settle(entry, task, rec.state, outcome)
        notes: list[OutboxItem] = []
        if task.error_integration is not None or task.success_integration is not None:
            notes = self._notifications(entry, rec, task, outcome, runtime, previous, graph)
        try:
            # a graph's runs are recorded by its coordinator, with the graph's own bookkeeping
            launches = None
            if rec.graph_run_group_id is not None:
                launches = await self._graphs.step(rec, outcome, runtime, notes, settled=settled)
            if launches is None:
                await self._record_outcome(outcome, runtime, notes, settled=settled)
            else:
                self.launch(launches)
        except TasksqlError:
            log.exception("could not record the outcome of run %s", rec.run_id)
        end = outcome.completed_time or self._clock.now()
        if outcome.state is _FAILED and task.on_error is OnError.LOG:
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
        if runtime is not None and runtime.state is _SUSPENDED:
            entry.next_fire = None
            entry.heap_seq = None
            self._cache.mark_stale()
        elif not self._closing and (graph is None or rec.task_id == graph.root_id):
            await self._after_run(entry, end)

    async def _record_outcome(
        self, outcome: RunOutcome, runtime: TaskRuntime | None, notes: list[OutboxItem], *, settled: bool
    ) -> None:
        fence = self._fence.current
        if settled:
            # the run's row is settled already (with its body): only what else the outcome changes
            if runtime is not None and not self._fence.withheld:
                await self._catalog.set_task_runtime([runtime], fence=fence)
            await self._catalog.enqueue_notifications(notes)
            return
        if self._fence.withheld:
            # a member joining again writes nothing without a fence: the outcome waits for it
            self._refused_outcome(outcome, notes, None)
            return
        if runtime is None and not notes and outcome.state not in OPEN_STATES:
            # the common case: nothing waits for this write (drain and wait_for_run do)
            write = self._catalog.settle_later(outcome, fence=fence)
            self._pending.add(outcome.run_id)
            if not write.done():
                self._books.add(write)  # as track() does
            # one callback for all that follows the write (each is a handle on the loop per run)
            write.add_done_callback(functools.partial(self._settle_written, outcome, fence))
            return
        try:
            applied = await self._catalog.finish_run(outcome, runtime, notes, fence=fence)
        except TasksqlError:
            if fence is None:
                raise
            self._refused_outcome(outcome, notes, None)  # not written: written again later
            raise
        if not applied and fence is not None:
            self._refused_outcome(outcome, notes, fence)

    def _settle_written(self, outcome: RunOutcome, fence: Fence | None, write: asyncio.Future[bool]) -> None:
        """A lazily written outcome's write ended: it is no longer pending, a failure is logged, a
        fenced write that was not applied is kept (see :meth:`_check_fenced`)."""
        self._pending.discard(outcome.run_id)
        _log_unsettled(write)
        if fence is not None:
            self._check_fenced(write, outcome, [], fence)
        self._books.discard(write)

    def _check_fenced(
        self, write: asyncio.Future[bool], outcome: RunOutcome, notes: list[OutboxItem], fence: Fence
    ) -> None:
        if write.cancelled() or write.exception() is not None:
            self._refused_outcome(outcome, notes, None)  # not written: written again later
        elif not write.result():
            self._refused_outcome(outcome, notes, fence)

    def _refused_outcome(self, outcome: RunOutcome, notes: list[OutboxItem], written: Fence | None) -> None:
        """An outcome was not applied: refused under the fence ``written`` (the run was settled
        already, or that lease was lost), or not written at all (None: the node held no lease, or
        the write failed). Kept for :meth:`settle_refused`, and the lease is checked now."""
        self._refused.append((written, outcome, notes))
        self.on_refused()

    @property
    def active_graphs(self) -> set[str]:
        """The group ids of the graph runs going on here."""
        return set(self._graphs.active)

    def holds(self, run: RunRecord) -> bool:
        """Whether ``run`` is this node's business now: executing, starting, its outcome on its way
        or kept to be written again, its task running here (a retry or a queued run may be on its
        way), or its graph run active here. A run it does not hold was left by an earlier epoch of
        the node, or by an earlier process, and is settled as a lost node's (see
        :func:`~tasksql.scheduler.takeover.settle_own_earlier`)."""
        run_id = run.run_id
        if (
            run_id in self._tasks
            or run_id in self._runs
            or run_id in self._starting
            or run_id in self._pending
        ):
            return True
        if any(outcome.run_id == run_id for _, outcome, _ in self._refused):
            return True
        if run.task_id in self._task_of.values() or run.graph_run_group_id in self._graphs.active:
            return True
        entry = self._cache.entries.get(run.task_id)
        return entry is not None and any(q.run_id == run_id for q in entry.queue)

    @property
    def refused_mark(self) -> int:
        """How many refused outcomes are kept (taken before a renewal is sent)."""
        return len(self._refused)

    async def settle_refused(self, confirmed: int | None = None) -> None:
        """Deal with the outcomes a fenced write did not apply, under the node's fence now.

        Those refused under an older fence (its lease was lost), or not written at all, are written
        again under the current one. Safe: a run's row is unique to its instant, and had another
        node taken the run over it would have settled it, and a settled run is final (the write is
        then a no-op). Without this, the row of a run this node executed would stay EXECUTING while
        the node lives. With ``confirmed`` (a renewal sent after the first ``confirmed`` were kept
        succeeded under the current fence, so its lease was live when they were written), those of
        the current fence among them were refused because their runs were settled already: they
        are dropped. One refused again is kept (under the current fence); one whose write fails is
        kept as not written."""
        fence = self._fence.current
        if fence is None or not self._refused:
            return
        kept: list[tuple[Fence | None, RunOutcome, list[OutboxItem]]] = []
        again: list[tuple[RunOutcome, list[OutboxItem]]] = []
        for index, (written, outcome, notes) in enumerate(self._refused):
            if written != fence:
                again.append((outcome, notes))
            elif confirmed is None or index >= confirmed:
                kept.append((written, outcome, notes))
        self._refused = kept
        for number, (outcome, notes) in enumerate(again):
            try:
                if not await self._catalog.finish_run(outcome, None, notes, fence=fence):
                    self._refused.append((fence, outcome, notes))
            except TasksqlError as exc:
                log.warning("could not record the outcome of run %s: %s", outcome.run_id, exc)
                self._refused.extend((None, o, n) for o, n in again[number:])
                return

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
            now=self._clock.now(),
            cluster_id=self._cluster_id,
            integrations=self._cache.integrations,
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
        """Record the failed attempt and start the next one (after ``delay`` seconds), in one
        write under the node's fence: the next attempt is inserted only while this node holds the
        task's placement (its graph root's), so that a node that lost it retries nothing (the
        failed attempt is then kept to be written again, see :meth:`settle_refused`)."""
        if self._fence.withheld:
            self._refused_outcome(outcome, [], None)
            return
        fence = self._fence.current
        now = self._clock.now()
        state = RunState.EXECUTING if delay <= 0 else RunState.SCHEDULED
        new = outcomes.new_run(
            entry.record,
            scheduled_time=rec.scheduled_time,
            state=state,
            scheduled_from=ScheduledFrom.RETRY,
            node_id=self._node_id,
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
        [next_rec] = await self._catalog.settle_graph_step(outcome, None, [new], None, fence=fence)
        if next_rec is None and fence is not None:
            # the placement or the lease is gone: no retry here; the failed attempt may not have
            # been recorded either (writing it again is a no-op if it was)
            self._refused_outcome(outcome, [], fence)
            return
        log.info(
            "run %s of %s: %s, retrying (attempt %d) in %.1f s",
            rec.run_id,
            rec.name,
            outcome.error_code,
            rec.attempt_number + 1,
            delay,
        )
        if next_rec is not None:
            self.start(entry, next_rec, task, graph=graph, delay=delay)

    async def _after_run(self, entry: Entry, end: datetime) -> None:
        """Queued catch-up runs start; fixed-delay and VoltDB EVERY schedules restart from ``end``."""
        if entry.queue and not entry.running:
            await self.start_queued(entry)
            return
        policy = entry.policy
        if not (
            (policy.defer_while_running or policy.next_from_end)
            and entry.next_fire is None
            and not entry.running
        ):
            self._cache.cool(entry, self._clock.now())
            return
        if entry.record.state is not TaskState.STARTED or entry.schedule is None:
            return
        task = entry.task
        if isinstance(task.schedule, IntervalSchedule):
            # VoltDB EVERY after an overrun: the schedule restarts one interval after the end
            entry.schedule = schedules.build(task.schedule, anchor=end, dst_policy=task.dst_policy)
            nxt = entry.schedule.next_fire(end)
            runtime = TaskRuntime(task_id=entry.record.id, next_fire_at=nxt, schedule_anchor=end)
            await self._catalog.set_task_runtime([runtime], fence=self._fence.current)
            entry.record = replace(entry.record, resumed_on=end)  # the anchor the guard now expects
            entry.next_fire = nxt
        else:
            nxt = entry.schedule.next_fire(end, last_end=end, last_result=entry.last_result)
            self._cache.set_next_fire(entry, nxt)
        self._cache.push(entry)
        self._wake()

    # --- cancelling ------------------------------------------------------------------------------

    def cancel_task(self, task_id: int, reason: str) -> int:
        """Cancel the executing runs of ``task_id`` (recorded CANCELLED when they end); how many."""
        count = 0
        for _, token, owner in list(self._runs.values()):
            if owner.task_id == task_id:
                token.cancel(reason)
                count += 1
        return count

    async def stop(self, grace: float, cancel_wait: float) -> None:
        """Give the runs in flight ``grace`` seconds, then cancel them (recorded CANCELLED) and give
        them ``cancel_wait`` seconds more, twice (the second time cancelling their asyncio tasks).

        Returns once no run is in flight and their outcomes are written, or the last wait is over.
        Runs that start during the stop are waited for (and cancelled) like the others: a graph
        step of a run ending in the grace period starts the next members, whose rows it inserted
        EXECUTING; a stop that returned before them would leave those rows EXECUTING with the node
        recorded stopped, and their outcomes written to a catalog that may be closed by then."""
        self.close()
        if await self._wait_runs(grace):
            return
        reason = "cancelled: the scheduler stopped"
        if await self._wait_runs(cancel_wait, lambda: self._cancel_tokens(reason)):
            return
        await self._wait_runs(cancel_wait, self._cancel_tasks)

    def _cancel_tokens(self, reason: str) -> None:
        for _, token, _ in list(self._runs.values()):
            token.cancel(reason)  # a token keeps the first reason it was given

    def _cancel_tasks(self) -> None:
        for task in list(self._tasks.values()):
            if not task.cancelling():  # once: a cancelled run's task is writing its outcome
                task.cancel()

    async def _wait_runs(self, timeout: float, cancel: Callable[[], None] | None = None) -> bool:
        """Wait at most ``timeout`` seconds until no run's task is left (its outcome written),
        taking in the runs that start meanwhile; ``cancel`` is applied to the runs in flight before
        each wait (again to those that started since). True when none is left."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._tasks:
            if cancel is not None:
                cancel()
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            await asyncio.wait(list(self._tasks.values()), timeout=left)
        return True

    # --- waiting ---------------------------------------------------------------------------------

    async def wait_for_run(self, run_id: int) -> None:
        """Wait until run ``run_id`` (of this node) ended and its outcome is committed."""
        task = self._tasks.get(run_id)
        if task is not None:
            await asyncio.wait([task])
        await self.bookkeeping_written()

    async def wait_for_graph(self, group_id: str | None) -> None:
        """Wait until the graph run ``group_id`` is over on this node."""
        while group_id is not None and group_id in self._graphs.active:
            running = [t for t, _, _ in self._runs.values()]
            if not running:
                await asyncio.sleep(0.01)
                continue
            await asyncio.wait(running, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until no run is in flight and every outcome is committed (with ``timeout``: one
        wait of at most that long for the runs)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=timeout)
            if timeout is not None:
                return
        await self.bookkeeping_written()

    def submit(self, book: claims.Bookings) -> None:
        """Write ``book`` (a tick's claims and claimed starts) and remember it until committed."""
        book.submit(self._catalog)
        if book.batch is not None:
            self.track(book.batch)

    def track(self, write: asyncio.Future[Any]) -> None:
        """Remember a lazy write until it is committed (see :meth:`bookkeeping_written`)."""
        if not write.done():
            self._books.add(write)
            write.add_done_callback(self._books.discard)

    async def bookkeeping_written(self) -> None:
        """Wait until the lazy bookkeeping so far (claims, started and skipped claimed runs, final
        outcomes) is committed; it normally is within a few milliseconds."""
        if self._books:
            await asyncio.wait(list(self._books))


def _log_unsettled(write: asyncio.Future[Any]) -> None:
    if not write.cancelled() and write.exception() is not None:
        # the row stays EXECUTING; the reaper settles it once this node is gone
        log.error("could not record the outcome of a run: %s", write.exception())
