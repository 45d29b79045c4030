"""Triggered tasks: a run when the task's stream gets data (see :mod:`tasksql.model.trigger`).

A triggered task's cache entry has the schedule :class:`TriggerChecks`: its next instant is when its
streams are checked next. When the tick pops such an entry, :meth:`Triggers.due` checks, off the
tick's path, the state of the streams its WHEN names (the registry and one query of their state in
the task's warehouse: nothing else of the WHEN, no body) and then

* without data: the entry is checked again :data:`CHECK_EVERY` later (nothing is written);
* with data (or when the check itself fails, so that the failure is recorded as the run's
  error): a run is fired at the check's instant with ``scheduled_from = 'TRIGGER'``, and the next
  check is :func:`~tasksql.model.trigger.min_trigger_interval` after that instant. That next
  instant is written to the task's row (``next_fire_at``), so that the interval also holds across
  a restart or a move to another node.

A task that joins graphs (:mod:`tasksql.model.joins`) has :data:`JOIN_CHECKS` instead: each check
reads the latest settled run of each predecessor (SUCCEEDED, FAILED or CANCELLED; a SKIPPED run
does not count) and fires when every one SUCCEEDED and completed after the task's last run (or,
before its first, after it was resumed). Its trigger instant is the latest of those completions, so
that every node that finds the same runs finds the same instant; the next check is
:data:`CHECK_EVERY` after the check.

A task whose custom schedule class could not be loaded (:class:`ClassChecks`) has its class tried
again at each of its instants, :data:`CLASS_RECHECK` apart (and whenever its entry is rebuilt: a
change of the task, a reload); once it loads, the entry gets the class's schedule and its next
instant, written to the task's row.

The run row is inserted like a scheduled instant's: with the fence of the tick that found it due
(in a cluster, only the node holding the task's placement inserts it), and at most once per
(task, trigger instant) by the catalog's unique index of first attempts of triggered runs. While a
run of the task is executing no trigger fires (a triggered task never overlaps itself); its WHEN is
evaluated again by the run, as for every task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from tasksql import schedules
from tasksql.catalog.base import Catalog
from tasksql.clock import Clock
from tasksql.errors import TasksqlError
from tasksql.model import RunState, ScheduledFrom, TaskState, effective_warehouse
from tasksql.model.cluster import Fence
from tasksql.model.joins import joins_graphs
from tasksql.model.run import NewGraphRun, RunRecord
from tasksql.model.trigger import min_trigger_interval, trigger_streams
from tasksql.scheduler import outcomes
from tasksql.scheduler.cache import TaskCache
from tasksql.scheduler.deps import WarehouseProvider
from tasksql.scheduler.entry import Entry
from tasksql.scheduler.graph_coordinator import GraphCoordinator
from tasksql.scheduler.graph_run import GraphRun
from tasksql.scheduler.inflight import InFlightRuns
from tasksql.scheduler.trigger_checks import CHECK_EVERY, CLASS_RECHECK, ClassChecks, TriggerChecks
from tasksql.warehouses import streams

log = logging.getLogger("tasksql.scheduler")

__all__ = ["CHECK_EVERY", "TriggerChecks", "Triggers"]

#: How many of a predecessor's newest runs a join check reads to find its latest settled one (runs
#: still executing or claimed ahead come first).
_PREDECESSOR_RUNS = 8


#: Schedule type -> whether it is a trigger's checks (see :meth:`Triggers.handles`).
_HANDLED: dict[type, bool] = {}


class Triggers:
    """Checks the streams of this node's triggered tasks and fires their runs.

    :param spawn: starts a coroutine in the background (the scheduler's, so that a stop waits for
        or cancels it).
    :param lost_fence: called when a fenced insert was refused (the lease or placement may be lost).
    """

    def __init__(
        self,
        catalog: Catalog,
        cache: TaskCache,
        graphs: GraphCoordinator,
        runs: InFlightRuns,
        warehouses: WarehouseProvider,
        *,
        clock: Clock,
        node_id: str,
        spawn: Callable[[Coroutine[Any, Any, None], str], None],
        wake: Callable[[], None],
        lost_fence: Callable[[], None],
    ) -> None:
        self._catalog = catalog
        self._cache = cache
        self._graphs = graphs
        self._runs = runs
        self._warehouses = warehouses
        self._clock = clock
        self._node_id = node_id
        self._spawn = spawn
        self._wake = wake
        self._lost_fence = lost_fence
        self._checking: set[int] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    async def idle(self) -> None:
        """Wait until no check is in flight (tests, and a caller that wants the runs a check fired
        started)."""
        await self._idle.wait()

    @staticmethod
    def handles(entry: Entry) -> bool:
        """Whether ``entry`` (warm) is a triggered task's."""
        # by the schedule's type, remembered: an isinstance of the abstract class runs ABCMeta's
        # check, and every tick asks it of every entry due
        kind = type(entry.schedule)
        known = _HANDLED.get(kind)
        if known is None:
            known = _HANDLED[kind] = issubclass(kind, TriggerChecks)
        return known

    def due(self, entry: Entry, now: datetime, fence: Fence | None) -> None:
        """The check instant of ``entry`` came (the tick popped it): check its streams in the
        background; the entry goes back into the heap when the check is over."""
        instant = entry.next_fire
        assert instant is not None
        if isinstance(entry.schedule, ClassChecks):
            self._load_class(entry, max(now, instant))
            return
        if entry.running or entry.queue or entry.task_id in self._checking:
            self._again(entry, max(now, instant) + CHECK_EVERY)
            return
        self._checking.add(entry.task_id)
        self._idle.clear()
        self._spawn(self._check(entry, instant, fence), f"tasksql-trigger-{entry.task_id}")

    def _load_class(self, entry: Entry, now: datetime) -> None:
        """Try the custom schedule class of ``entry`` again: loaded, the entry gets its schedule and
        next instant (written to the task's row); not yet, it is tried again later."""
        rec, task = entry.record, entry.task
        assert task.schedule is not None
        try:
            schedule = schedules.build(
                task.schedule, anchor=rec.resumed_on or rec.created_on, dst_policy=task.dst_policy
            )
            nxt = schedule.next_fire(now)
        except TasksqlError as exc:
            log.debug("task %s: its schedule's class still cannot be used: %s", entry.task_id, exc)
            self._again(entry, now + CLASS_RECHECK)
            return
        log.info(
            "task %s: its schedule's class %s loaded; scheduled",
            rec.name,
            getattr(task.schedule, "class_path", ""),
        )
        entry.schedule = schedule
        self._cache.set_next_fire(entry, nxt)
        self._cache.push(entry)
        self._wake()

    def _again(self, entry: Entry, at: datetime) -> None:
        entry.next_fire = at
        self._cache.push(entry)

    def _current(self, entry: Entry) -> bool:
        """``entry`` is still the cache's entry of its task, and the task is started."""
        return (
            self._cache.entries.get(entry.task_id) is entry
            and entry.warm_record is not None
            and entry.record.state is TaskState.STARTED
        )

    async def _check(self, entry: Entry, instant: datetime, fence: Fence | None) -> None:
        try:
            joined = joins_graphs(entry.task)
            if joined:
                fire_at = await self._joined(entry)
            else:
                fire_at = instant if await self._has_data(entry) else None
            if not self._current(entry):
                return  # replaced (a new version, suspended, dropped): its new entry is checked
            if fire_at is None:
                self._again(entry, max(self._clock.now(), instant) + CHECK_EVERY)
                return
            after = max(self._clock.now(), instant) + CHECK_EVERY if joined else None
            await self._fire(entry, fire_at, fence, next_check=after)
        except TasksqlError as exc:  # the catalog failed: checked again, as a failed tick would
            log.warning("task %s: could not fire its trigger: %s", entry.task_id, exc)
            if self._current(entry):
                self._again(entry, max(self._clock.now(), instant) + CHECK_EVERY)
        finally:
            self._checking.discard(entry.task_id)
            if not self._checking:
                self._idle.set()
            self._wake()

    async def _has_data(self, entry: Entry) -> bool:
        """Whether one of the task's streams has data. A check that fails (a stream dropped or
        stale, the warehouse unreachable) fires the run all the same: its WHEN fails the same way
        and the run records the error (and counts towards SUSPEND_TASK_AFTER_NUM_FAILURES)."""
        task = entry.task
        try:
            wh = await self._warehouses.get(effective_warehouse(task))
            return await streams.has_data(wh, trigger_streams(task))
        except TasksqlError as exc:
            log.debug("task %s: trigger check failed, the run records it: %s", entry.task_id, exc)
            return True

    async def _joined(self, entry: Entry) -> datetime | None:
        """For a task that joins graphs: the latest completion of its predecessors' latest settled
        runs when each of them SUCCEEDED after the task's last run (or its resume), else None."""
        rec = entry.record
        last = await self._catalog.list_runs(task_id=rec.id, limit=1)
        since = last[0].scheduled_time if last else (rec.resumed_on or rec.created_on)
        latest: datetime | None = None
        for pred in entry.task.after:
            pred_rec = await self._catalog.get_task(pred)
            if pred_rec is None:
                return None
            runs = await self._catalog.list_runs(task_id=pred_rec.id, limit=_PREDECESSOR_RUNS)
            settled = [
                r
                for r in runs
                if r.completed_time is not None and r.state.terminal and r.state is not RunState.SKIPPED
            ]
            if not settled:
                return None
            newest = max(settled, key=lambda r: (r.completed_time or since, r.run_id))
            done = newest.completed_time
            if newest.state is not RunState.SUCCEEDED or done is None or done <= since:
                return None
            latest = done if latest is None else max(latest, done)
        return latest

    async def _fire(
        self, entry: Entry, instant: datetime, fence: Fence | None, *, next_check: datetime | None = None
    ) -> None:
        now = self._clock.now()
        graphs = self._graphs
        run = outcomes.new_run(
            entry.record,
            scheduled_time=instant,
            state=RunState.EXECUTING,
            scheduled_from=ScheduledFrom.TRIGGER,
            node_id=self._node_id,
            now=now,
        )
        graph: GraphRun | None = None
        new_graphs: list[NewGraphRun] = []
        if graphs.is_root(entry):
            graph = await graphs.prepare(entry, scheduled_time=instant, scheduled_from=ScheduledFrom.TRIGGER)
            graph.begin()
            run = graphs.tag(run, graph)
            new_graphs.append(
                graphs.new_graph_run(
                    graph, entry, scheduled_from=ScheduledFrom.TRIGGER, now=now, root_run_index=0
                )
            )
        # the interval counts from this instant, on this node and (written) on any other
        self._cache.set_next_fire(entry, next_check or instant + min_trigger_interval(entry.task))
        records: list[RunRecord | None] = await self._catalog.fire([run], (), new_graphs, fence=fence)
        self._cache.push(entry)
        rec = records[0]
        if rec is None:
            self._lost_fence()  # another node holds the instant, or this one lost its lease
            return
        pinned = None
        if graph is not None:
            graphs.activate(graph)
            pinned = graph.member(graph.root_id).definition
        self._runs.start(entry, rec, pinned, graph=graph)
