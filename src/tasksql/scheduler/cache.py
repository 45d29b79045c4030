"""The scheduler's cache of tasks (:class:`TaskCache`): loading it from the catalog, warming and
cooling its entries, the heaps of their next instants and the graph index.

A scheduler must know every started task's next instant, but it needs a task's definition only
when the task is due (or belongs to a graph, whose index is built from the definitions). So:

* :meth:`TaskCache.reload` reads a :class:`~tasksql.catalog.base.TaskStub` per task (no definition decoded)
  and keeps a *cold* entry for each: the id, the next instant, the version it was read at. Only
  graph members and warm entries whose row changed are read whole. 100,000 tasks load in a fraction
  of the time and memory of decoding them all, and a definition change does not re-read them all.
* A cold entry sits in the heap :data:`~tasksql.scheduler.entry.WARM_AHEAD` before its instant;
  when popped, :meth:`TaskCache.warm` reads the due tasks' records in one catalog read and pushes them again
  at their instants, so a warmed task starts on time.
* :meth:`TaskCache.cool` returns an idle entry whose next instant is more than
  :data:`~tasksql.scheduler.entry.COOL_AFTER` away to the cold state (an hourly task holds its
  decoded definition for about a second per hour, not forever).

Entries of graph members and roots, of tasks with fixed-delay or custom schedules (whose schedule
objects carry state between runs) and of tasks with a run, a queue or a claim never go cold.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Callable
from datetime import datetime

from tasksql import schedules
from tasksql.catalog.base import Catalog, TaskStub
from tasksql.errors import TasksqlError
from tasksql.model import IntegrationDef, QualifiedName, TaskRecord, TaskState
from tasksql.model.joins import graph_predecessors, is_graph_child, joins_graphs
from tasksql.model.run import TaskRuntime
from tasksql.model.trigger import triggered
from tasksql.scheduler import claims
from tasksql.scheduler.entry import COOL_AFTER, WARM_AHEAD, Entry, policy_for
from tasksql.scheduler.membership import FenceRef
from tasksql.scheduler.trigger_checks import CLASS_CHECKS, JOIN_CHECKS, TRIGGER_CHECKS
from tasksql.schedules.base import Schedule
from tasksql.schedules.custom import ClassNotLoaded

log = logging.getLogger("tasksql.scheduler")

#: Wait before reading the records of due cold entries again after the catalog failed.
WARM_RETRY_S = 1.0
#: Stubs read per catalog call while loading.
STUB_CHUNK = 10_000
#: Next instants written per catalog transaction by a flush.
FLUSH_CHUNK = 100

#: A heap item: (next instant, push sequence, task id); an item whose sequence is not its entry's
#: ``heap_seq`` any more is stale and skipped.
HeapItem = tuple[datetime, int, int]


#: Read at every push: a global (an enum member read from its class costs several times as much on
#: CPython 3.11, whose enum metaclass defines __getattr__).
_STARTED = TaskState.STARTED


class TaskCache:
    """The entries of every task of the catalog, the heaps of their next instants, the graph index,
    and the next instants not written to the catalog yet.

    :param node_id: whose claims :meth:`reload` releases when their task changed.
    :param wake: called when an entry was pushed from outside the scheduler's loop (warmed ahead,
        handed back by the reaper), so that the loop recomputes its sleep.
    :param on_reload: called after every reload (the catalog moved on: warehouse definitions may
        have changed too).
    :param owns: in a cluster, whether a task is placed on this node: the heaps hold only those
        (None: every task, a single node).
    :param fence: the fence the writes of next instants carry (see :mod:`.membership`).
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        node_id: str,
        wake: Callable[[], None],
        on_reload: Callable[[], None],
        owns: Callable[[int], bool] | None = None,
        fence: FenceRef | None = None,
    ) -> None:
        self._catalog = catalog
        self._owns = owns
        self._fence = fence or FenceRef()
        self._node_id = node_id
        self._wake = wake
        self._on_reload = on_reload
        #: task id -> entry; read by the scheduler's parts, changed only here (entries' run state
        #: excepted: the scheduler's runs change it).
        self.entries: dict[int, Entry] = {}
        #: enabled integrations by name, as of the last reload (for the notifications of runs)
        self.integrations: dict[str, IntegrationDef] = {}
        self._heap: list[HeapItem] = []  # warm entries, popped at their instants
        self._cold_heap: list[HeapItem] = []  # cold entries, popped WARM_AHEAD early
        self._seq = itertools.count()
        self._change_seq = -1
        self._stale = True
        #: Held by a reload from start to end. Two reloads at once (the loop's tick and EXECUTE
        #: TASK's) would interleave their reads and writes of the entries, and the one that read
        #: the catalog first could apply its older rows last.
        self._reloading = asyncio.Lock()
        #: Seconds the last :meth:`reload` took (what a burst of changes would cost per change).
        self.reload_s = 0.0
        #: Next instants not yet written to the catalog (task id -> instant, record it was computed
        #: from). Writing them at every fire would cost a write per run; they are flushed every
        #: second and at stop instead. A stale value is harmless: on restart the planner re-walks
        #: from it, and the UNIQUE fence turns instants that already ran into no-ops. A cluster
        #: member without a lease keeps none (see :meth:`flush_next_fires`).
        self._unwritten: dict[int, tuple[datetime | None, TaskRecord]] = {}
        self._children: dict[QualifiedName, set[int]] = {}
        self._finalizers: dict[QualifiedName, int] = {}
        self._dependents: set[QualifiedName] = set()
        #: Tasks gained since the last reload (see :meth:`placements_changed`): their entries take
        #: the next instant of the task's row at the next reload, even an entry kept (busy).
        self._regained: set[int] = set()

    # --- staleness -------------------------------------------------------------------------------

    @property
    def stale(self) -> bool:
        """True when the catalog may have changed since the last reload."""
        return self._stale

    def mark_stale(self) -> None:
        self._stale = True

    @property
    def change_seq(self) -> int:
        """The catalog's change sequence the last reload saw."""
        return self._change_seq

    # --- the heaps -------------------------------------------------------------------------------

    def push(self, entry: Entry) -> None:
        """Into the heap at the entry's next instant (a cold entry: into the cold heap, which is
        popped WARM_AHEAD early); out of both when it has none or its task is not started."""
        rec = entry.warm_record
        if (
            entry.next_fire is None
            or (rec is not None and rec.state is not _STARTED)
            or (self._owns is not None and not self._owns(entry.task_id))
        ):
            entry.heap_seq = None
            return
        seq = next(self._seq)
        entry.heap_seq = seq
        heap = self._heap if rec is not None else self._cold_heap
        heapq.heappush(heap, (entry.next_fire, seq, entry.task_id))

    def pop_due(self, now: datetime) -> list[Entry]:
        """The warm entries whose instant is at or before ``now``, out of the heap."""
        return self._pop(self._heap, now)

    def pop_cold(self, now: datetime) -> list[Entry]:
        """The cold entries whose instant is at most WARM_AHEAD after ``now``, out of the heap."""
        return self._pop(self._cold_heap, now + WARM_AHEAD) if self._cold_heap else []

    def _pop(self, heap: list[HeapItem], until: datetime) -> list[Entry]:
        out: list[Entry] = []
        entries = self.entries
        while heap and heap[0][0] <= until:
            _, seq, task_id = heapq.heappop(heap)
            entry = entries.get(task_id)
            if entry is not None and entry.heap_seq == seq:
                entry.heap_seq = None
                out.append(entry)
        return out

    def wake_at(self, limit: datetime) -> datetime:
        """When the loop must look again: the earliest next instant (a cold one WARM_AHEAD early),
        at most ``limit``. Stale heap items met on the way are dropped."""
        until = limit
        for heap, ahead in ((self._heap, None), (self._cold_heap, WARM_AHEAD)):
            while heap:
                when, seq, task_id = heap[0]
                entry = self.entries.get(task_id)
                if entry is not None and entry.heap_seq == seq:
                    until = min(until, when if ahead is None else when - ahead)
                    break
                heapq.heappop(heap)
        return until

    def heap_sizes(self) -> tuple[int, int]:
        """(warm, cold) heap items, stale ones included (tests: reloads leave none behind)."""
        return len(self._heap), len(self._cold_heap)

    def requeue(self) -> None:
        """Put the entries a failed tick had taken out of the heap back in, at their next instant."""
        for entry in self.entries.values():
            if entry.heap_seq is None and entry.next_fire is not None:
                self.push(entry)

    # --- next instants ---------------------------------------------------------------------------

    def set_next_fire(self, entry: Entry, at: datetime | None) -> None:
        """``entry``'s task (warm) fires next at ``at``: remembered, written by the next flush (not
        on a cluster member without a lease: see :meth:`flush_next_fires`)."""
        entry.next_fire = at
        if not self._fence.withheld:
            self._unwritten[entry.task_id] = (at, entry.record)

    async def flush_next_fires(self) -> None:
        """Write the next instants computed since the last flush, in transactions of at most
        :data:`FLUSH_CHUNK` tasks, one after the other, under the fence.

        A cluster member without a lease writes none and drops them (as it writes no release of
        its claims, see :func:`claims.release`): its tasks are not its own any more, and the node
        that takes one over builds its entry from the task's row and the claims it takes over.
        Written unfenced, an instant computed after the lease was lost (a claimed start that
        failed moves the entry back to the claimed instant) would move the next instant of a task
        another node holds. Kept for a later lease instead, it would be written over the instant
        the task's row went back to when this node took the task again. For the same reason the
        instants of a flush that failed are kept for the next only while the fence is the one
        they were to be written under."""
        fence = self._fence
        if fence.withheld:
            self._unwritten.clear()
            return
        if not self._unwritten:
            return
        under = fence.current
        dirty, self._unwritten = self._unwritten, {}
        items = list(dirty.items())
        try:
            # In chunks, each awaited: the catalog's writer runs the instants that fire meanwhile
            # between two chunks, instead of behind one write of every task (with a thousand tasks
            # a second and a PostgreSQL catalog, that write took up to 300 ms).
            for lo in range(0, len(items), FLUSH_CHUNK):
                await self._catalog.set_task_runtime(
                    [
                        TaskRuntime(
                            task_id=t,
                            next_fire_at=at,
                            clear_next_fire=at is None,
                            guard=(rec.version, rec.resumed_on),
                        )
                        for t, (at, rec) in items[lo : lo + FLUSH_CHUNK]
                    ],
                    fence=under,
                )
                for task_id, _ in items[lo : lo + FLUSH_CHUNK]:
                    del dirty[task_id]
        except BaseException:
            if fence.current == under:  # else computed under a lease that is gone: dropped
                for task_id, item in dirty.items():  # for the next flush (values computed since are newer)
                    self._unwritten.setdefault(task_id, item)
            raise

    def restrict_to(self, owns: Callable[[int], bool]) -> None:
        """From now on the heaps hold only the tasks for which ``owns`` is true (a cluster member's
        placements); call :meth:`placements_changed` when that changes."""
        self._owns = owns

    def placements_changed(self, gained: set[int], lost: set[int]) -> None:
        """In a cluster: ``lost`` tasks leave the heaps (and their unwritten next instants are
        dropped: the catalog's are the new holder's to advance; so are their claims, which the new
        holder takes over or which come back with a release); the idle entries of ``gained``
        tasks are forgotten and the cache marked stale, so that the next reload builds them from
        the catalog's rows (the next instant their last holder wrote, or the one a release rewound)."""
        for task_id in lost:
            entry = self.entries.get(task_id)
            if entry is not None:
                entry.heap_seq = None
                entry.claim = None
            self._unwritten.pop(task_id, None)
        for task_id in gained:
            entry = self.entries.get(task_id)
            if entry is not None and entry.claim is not None and not entry.claim.held():
                entry.claim = None  # found taken (a fence refused it): the instant is this node's now
            if entry is not None and not entry.running and not entry.queue and entry.claim is None:
                entry.heap_seq = None
                del self.entries[task_id]
        if gained:
            # an entry kept (a run of this node still going), or one a reload already under way
            # builds from a row read before the claims were taken over, must not fire past the
            # instant the row went back to: the next reload takes it from the row again
            self._regained |= gained
            self._stale = True
            self._wake()

    def replan(self, task_id: int, instant: datetime, *, rewind: bool) -> None:
        """The row of ``task_id``'s run at ``instant`` is gone (a lost node's, see :mod:`lost`): if
        the entry remembers the instant as taken by another node, it runs it after all; with
        ``rewind`` its planner goes back to the instant (the fences make the instants after it that
        already have rows no-ops)."""
        entry = self.entries.get(task_id)
        if entry is None:
            return
        claim = entry.claim
        if claim is not None and claim.instant == instant and claim.batch.done() and claim.written() is None:
            entry.claim = None  # "taken" by the lost node: fire it the ordinary way
        if rewind and entry.next_fire is not None and entry.next_fire > instant:
            entry.next_fire = instant
            if entry.warm_record is not None and not self._fence.withheld:
                self._unwritten[task_id] = (instant, entry.warm_record)
            else:
                self._unwritten.pop(task_id, None)
            self.push(entry)
            self._wake()

    # --- loading ---------------------------------------------------------------------------------

    async def reload(self) -> None:
        """Bring the cache in line with the catalog (new, changed and dropped tasks); the claims of
        replaced entries are released. When a read fails, the cache stays stale.

        Reloads run one at a time: a call made while another reload runs waits for it, then reads
        the catalog itself, so that it sees every change committed before the call."""
        async with self._reloading:
            self._stale = False
            started = time.monotonic()
            try:
                await self._reload()
            except BaseException:
                self._stale = True
                raise
            finally:
                self.reload_s = time.monotonic() - started
            self._on_reload()

    async def _reload(self) -> None:
        # gained since the last reload; one gained during this reload waits for the next
        regained, self._regained = self._regained, set()
        try:
            await self._reload_with(regained)
        except BaseException:
            self._regained |= regained
            raise

    async def _reload_with(self, regained: set[int]) -> None:
        catalog = self._catalog
        self._change_seq = await catalog.change_seq()
        # a cold entry takes its next instant from the catalog: write the ones computed since the flush
        await self.flush_next_fires()
        self.integrations = {r.definition.name: r.definition for r in await catalog.list_integrations()}
        seen: set[int] = set()
        replaced: list[Entry] = []  # their claims were made under the old definition or state
        after_id = 0
        while True:
            # a chunk at a time: 100,000 stubs at once would raise the process's memory for good
            stubs = await catalog.list_task_stubs(after_id=after_id, limit=STUB_CHUNK)
            self._apply(stubs, await self._wanted(stubs, regained), seen, replaced, regained)
            if len(stubs) < STUB_CHUNK:
                break
            after_id = stubs[-1].id
        entries = self.entries
        for task_id in set(entries) - seen:
            entry = entries.pop(task_id)
            entry.heap_seq = None
            replaced.append(entry)
        # awaited: once the change is seen, its released claims are gone from the history
        fence = self._fence
        await claims.release(catalog, self._node_id, replaced, fence=fence.current, withheld=fence.withheld)
        self._index()

    async def load_one(self, task_id: int) -> None:
        """Load only ``task_id``'s entry and those of the graph members (warm), to run that task once
        without a scheduler's loop (EXECUTE TASK in a process that schedules nothing): the stubs are
        read to find the graph members, no other task gets an entry, nothing is pushed."""
        catalog = self._catalog
        self._stale = False
        self._change_seq = await catalog.change_seq()
        self.integrations = {r.definition.name: r.definition for r in await catalog.list_integrations()}
        wanted: list[int] = []
        after_id = 0
        while True:
            stubs = await catalog.list_task_stubs(after_id=after_id, limit=STUB_CHUNK)
            wanted.extend(s.id for s in stubs if s.in_graph or s.id == task_id)
            if len(stubs) < STUB_CHUNK:
                break
            after_id = stubs[-1].id
        for rec in await catalog.get_tasks_by_ids(wanted) if wanted else []:
            self.entries[rec.id] = warm_entry(rec, None)
        self._index()

    async def _wanted(self, stubs: list[TaskStub], regained: set[int]) -> dict[int, TaskRecord]:
        """The records to read whole: graph members, warm entries whose row changed, and warm
        entries of tasks ``regained``."""
        entries = self.entries
        ids = [
            s.id
            for s in stubs
            if s.in_graph
            or _changed(old := entries.get(s.id), s)
            or (s.id in regained and old is not None and not old.cold)
        ]
        return {r.id: r for r in await self._catalog.get_tasks_by_ids(ids)} if ids else {}

    def _apply(
        self,
        stubs: list[TaskStub],
        records: dict[int, TaskRecord],
        seen: set[int],
        replaced: list[Entry],
        regained: set[int],
    ) -> None:
        entries = self.entries
        for stub in stubs:
            seen.add(stub.id)
            old = entries.get(stub.id)
            rec = records.get(stub.id)
            if rec is None:
                if old is None or old.cold:
                    self._stub_into(stub, old)
                # else: a warm entry whose row did not change (or was dropped since: the next reload)
                continue
            if old is not None and not old.cold and _runtime_key(old.record) == _runtime_key(rec):
                old.record = rec
                if stub.id in regained and rec.state is TaskState.STARTED:
                    # kept while the task was gained: back in the heap, no later than the row's
                    # next instant
                    if rec.next_fire_at is not None:
                        self.replan(stub.id, rec.next_fire_at, rewind=True)
                    if old.heap_seq is None:
                        self.push(old)
                continue
            if old is not None:
                replaced.append(old)
            entry = warm_entry(rec, old)
            entries[rec.id] = entry
            self.push(entry)

    def _stub_into(self, stub: TaskStub, old: Entry | None) -> None:
        """A cold entry for ``stub``: ``old`` (cold, so idle and unclaimed) updated in place, or a
        new one. In place, because rebuilding 100,000 cold entries at every definition change
        would leave as many stale items in the heap."""
        next_fire = stub.next_fire_at if stub.state is TaskState.STARTED else None
        if old is None:
            old = self.entries[stub.id] = _bare(stub.id, stub.version, stub.consecutive_failures)
        elif old.next_fire == next_fire and old.version == stub.version and old.heap_seq is not None:
            return
        old.next_fire, old.version = next_fire, stub.version
        self.push(old)

    # --- warming and cooling ---------------------------------------------------------------------

    async def warm(self, entries: list[Entry]) -> list[Entry]:
        """Read the records of cold ``entries`` (one catalog read) and make them warm; the warmed
        ones.

        An entry replaced or warmed meanwhile is left alone; a task dropped meanwhile stays cold
        until the change's reload removes it; one changed meanwhile (another version) waits for that
        reload (the cache is marked stale). A failed read is retried every :data:`WARM_RETRY_S`."""
        while True:
            try:
                found = await self._catalog.get_tasks_by_ids([e.task_id for e in entries])
                break
            except TasksqlError as exc:
                if exc.code != "CATALOG_UNAVAILABLE":  # an outage is logged once, by the catalog
                    log.exception("could not read %d due task(s); retrying", len(entries))
                await asyncio.sleep(WARM_RETRY_S)
        records = {r.id: r for r in found}
        warmed: list[Entry] = []
        for entry in entries:
            rec = records.get(entry.task_id)
            if self.entries.get(entry.task_id) is not entry or not entry.cold or rec is None:
                continue
            if rec.version != entry.version:
                self._stale = True
                continue
            _install(entry, rec)
            warmed.append(entry)
        return warmed

    async def warm_ahead(self, entries: list[Entry]) -> None:
        """:meth:`warm` cold ``entries`` due soon, then push them at their instants."""
        for entry in await self.warm(entries):
            self.push(entry)
        self._wake()

    async def entry_for(self, record: TaskRecord) -> Entry | None:
        """The warm entry of ``record``'s task (a cold one read now; the cache reloaded first when
        the catalog moved on since the entry was built); ``None`` when the task is not in the cache."""
        for _ in range(2):
            entry = self.entries.get(record.id)
            if entry is None or not entry.cold:
                return entry
            found = await self._catalog.get_tasks_by_ids([entry.task_id])
            if not found:
                return None
            rec = found[0]
            if self.entries.get(entry.task_id) is entry and entry.cold and rec.version == entry.version:
                _install(entry, rec)
                self.push(entry)  # its heap item was for warming
                return entry
            if not entry.cold:
                return entry
            await self.reload()
        return None

    def cool(self, entry: Entry, now: datetime) -> None:
        """Make ``entry`` cold when it is idle, far from its next instant and needs no state between
        runs (see the module's docstring)."""
        if (
            entry.warm_record is None
            or entry.running
            or entry.queue
            or entry.claim is not None
            or entry.next_fire is None
            or entry.next_fire - now <= COOL_AFTER
            or not claims.claimable(entry)  # interval and cron schedules, not from the end of a run
            or entry.task.after
            or entry.task.finalize is not None
            or self.is_root(entry)
        ):
            return
        entry.warm_record, entry.schedule, entry.warm_policy = None, None, None
        entry.forget_runs()
        self.push(entry)

    # --- the graph index -------------------------------------------------------------------------

    def _index(self) -> None:
        """Children and finalizers by task name, for graph membership in time proportional to a
        graph. Built from the warm entries: every graph member is warm (see :meth:`reload`)."""
        children: dict[QualifiedName, set[int]] = {}
        finalizers: dict[QualifiedName, int] = {}
        for task_id, entry in self.entries.items():
            rec = entry.warm_record
            if rec is None:
                continue
            task = rec.definition
            for pred in graph_predecessors(task):
                children.setdefault(pred, set()).add(task_id)
            if task.finalize is not None:
                finalizers[task.finalize] = task_id
        self._children, self._finalizers = children, finalizers
        self._dependents = children.keys() | finalizers.keys()

    def is_root(self, entry: Entry) -> bool:
        """True for a (warm) task that others run after, or that has a finalizer, and that has no
        predecessors itself."""
        dependents = self._dependents
        if not dependents:  # no graph at all: asked of every entry due, at every tick
            return False
        task = entry.task
        return task.name in dependents and not is_graph_child(task)

    def children_of(self, name: QualifiedName) -> list[int]:
        return sorted(self._children.get(name, ()))

    def finalizer_of(self, name: QualifiedName) -> int | None:
        return self._finalizers.get(name)


def _changed(old: Entry | None, stub: TaskStub) -> bool:
    """True when ``old`` is warm and its row changed since its record was read."""
    rec = None if old is None else old.warm_record
    return rec is not None and (
        _runtime_key(rec) != _runtime_key(stub) or rec.last_committed_on != stub.last_committed_on
    )


def _runtime_key(row: TaskRecord | TaskStub) -> tuple[object, ...]:
    """What an entry is built from besides the definition: a change means a new entry."""
    return (row.version, row.state, row.resumed_on, row.suspend_reason)


def warm_entry(rec: TaskRecord, old: Entry | None) -> Entry:
    """A warm entry for ``rec``; in-flight runs, queue and last outcome carried over from ``old``."""
    entry = _bare(rec.id, rec.version, rec.consecutive_failures)
    _install(entry, rec)
    if rec.state is TaskState.STARTED and entry.schedule is not None:
        entry.next_fire = rec.next_fire_at
    if old is not None:
        entry.running, entry.queue = old.running, old.queue
        entry.last_end, entry.last_result = old.last_end, old.last_result
    return entry


def _bare(task_id: int, version: int, failures: int) -> Entry:
    """A cold entry with no next instant yet."""
    return Entry(
        task_id=task_id,
        warm_record=None,
        schedule=None,
        warm_policy=None,
        next_fire=None,
        version=version,
        failures=failures,
    )


def _install(entry: Entry, rec: TaskRecord) -> None:
    """Make ``entry`` warm with ``rec``: its record, schedule and policy (no schedule: no next
    instant either)."""
    entry.warm_record, entry.version = rec, rec.version
    entry.schedule = _schedule_of(rec)
    entry.warm_policy = policy_for(rec)
    if entry.schedule is None:
        entry.next_fire = None


def _schedule_of(rec: TaskRecord) -> Schedule | None:
    task = rec.definition
    if triggered(task):
        return TRIGGER_CHECKS  # its next instant is its streams' next check (see triggers.py)
    if joins_graphs(task):
        return JOIN_CHECKS  # its next instant is its predecessors' next check (see triggers.py)
    if task.schedule is None or task.after or task.finalize is not None:
        return None
    anchor = rec.resumed_on or rec.created_on
    try:
        return schedules.build(task.schedule, anchor=anchor, dst_policy=task.dst_policy)
    except ClassNotLoaded as exc:  # tried again every CLASS_RECHECK (see triggers.py)
        log.warning("task %s cannot be scheduled until its class loads: %s", rec.name, exc.message)
        return CLASS_CHECKS
    except TasksqlError:
        log.exception("task %s: cannot build its schedule", rec.name)
        return None
