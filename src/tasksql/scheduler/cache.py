"""The scheduler's cache of tasks: loading it from the catalog, warming and cooling its entries.

A scheduler must know every started task's next instant, but it needs a task's definition only
when the task is due (or belongs to a graph, whose index is built from the definitions). So:

* :func:`reload` reads a :class:`~tasksql.catalog.base.TaskStub` per task (no definition decoded)
  and keeps a *cold* entry for each: the id, the next instant, the version it was read at. Only
  graph members and warm entries whose row changed are read whole. 100,000 tasks load in a fraction
  of the time and memory of decoding them all, and a definition change does not re-read them all.
* A cold entry sits in the heap :data:`~tasksql.scheduler.entry.WARM_AHEAD` before its instant;
  when popped, :func:`warm` reads the due tasks' records in one catalog read and pushes them again
  at their instants, so a warmed task starts on time.
* :func:`cool` returns an idle entry whose next instant is more than
  :data:`~tasksql.scheduler.entry.COOL_AFTER` away to the cold state (an hourly task holds its
  decoded definition for about a second per hour, not forever).

Entries of graph members and roots, of tasks with fixed-delay or custom schedules (whose schedule
objects carry state between runs) and of tasks with a run, a queue or a claim never go cold.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from tasksql import schedules
from tasksql.catalog.base import TaskStub
from tasksql.errors import TasksqlError
from tasksql.model import QualifiedName, TaskRecord, TaskState
from tasksql.scheduler import claims
from tasksql.scheduler.entry import COOL_AFTER, Entry, policy_for
from tasksql.schedules.base import Schedule

if TYPE_CHECKING:
    from tasksql.scheduler.service import Scheduler

log = logging.getLogger("tasksql.scheduler")

#: Wait before reading the records of due cold entries again after the catalog failed.
WARM_RETRY_S = 1.0
#: Stubs read per catalog call while loading.
STUB_CHUNK = 10_000


async def reload(sched: Scheduler) -> None:
    """Bring the cache in line with the catalog (new, changed and dropped tasks). When a read
    fails, the cache stays marked for reloading."""
    sched._dirty = False
    try:
        await _reload(sched)
    except BaseException:
        sched._dirty = True
        raise


async def _reload(sched: Scheduler) -> None:
    sched._change_seq = await sched.catalog.change_seq()
    # a cold entry takes its next instant from the catalog: write the ones computed since the flush
    await sched.flush_next_fires()
    sched.integrations = {r.definition.name: r.definition for r in await sched.catalog.list_integrations()}
    seen: set[int] = set()
    replaced: list[Entry] = []  # their claims were made under the old definition or state
    after_id = 0
    while True:
        # a chunk at a time: 100,000 stubs at once would raise the process's memory for good
        stubs = await sched.catalog.list_task_stubs(after_id=after_id, limit=STUB_CHUNK)
        _apply(sched, stubs, await _wanted(sched, stubs), seen, replaced)
        if len(stubs) < STUB_CHUNK:
            break
        after_id = stubs[-1].id
    entries = sched.entries
    for task_id in set(entries) - seen:
        entry = entries.pop(task_id)
        entry.heap_seq = None
        replaced.append(entry)
    # awaited: once the change is seen, its released claims are gone from the history
    await sched._release_claims(replaced)
    index(sched)
    sched.engine.invalidate_warehouses()


async def _wanted(sched: Scheduler, stubs: list[TaskStub]) -> dict[int, TaskRecord]:
    """The records to read whole: graph members, and warm entries whose row changed."""
    entries = sched.entries
    ids = [s.id for s in stubs if s.in_graph or _changed(entries.get(s.id), s)]
    return {r.id: r for r in await sched.catalog.get_tasks_by_ids(ids)} if ids else {}


def _apply(
    sched: Scheduler,
    stubs: list[TaskStub],
    records: dict[int, TaskRecord],
    seen: set[int],
    replaced: list[Entry],
) -> None:
    entries = sched.entries
    for stub in stubs:
        seen.add(stub.id)
        old = entries.get(stub.id)
        rec = records.get(stub.id)
        if rec is None:
            if old is None or old.cold:
                _stub_into(sched, stub, old)
            # else: a warm entry whose row did not change (or was dropped since: the next reload)
            continue
        if old is not None and not old.cold and _same_runtime(old.record, rec):
            old.record = rec
            continue
        if old is not None:
            replaced.append(old)
        entry = warm_entry(rec, old)
        entries[rec.id] = entry
        sched._push(entry)


def _changed(old: Entry | None, stub: TaskStub) -> bool:
    """True when ``old`` is warm and its row changed since its record was read."""
    rec = None if old is None else old.rec
    return rec is not None and (
        _runtime_key(rec) != _runtime_key(stub) or rec.last_committed_on != stub.last_committed_on
    )


def _same_runtime(a: TaskRecord, b: TaskRecord) -> bool:
    return _runtime_key(a) == _runtime_key(b)


def _runtime_key(row: TaskRecord | TaskStub) -> tuple[object, ...]:
    """What an entry is built from besides the definition: a change means a new entry."""
    return (row.version, row.state, row.resumed_on, row.suspend_reason)


def _stub_into(sched: Scheduler, stub: TaskStub, old: Entry | None) -> None:
    """A cold entry for ``stub``: ``old`` (cold, so idle and unclaimed) updated in place, or a new one.

    In place, because rebuilding 100,000 cold entries at every definition change would leave as
    many stale items in the heap."""
    next_fire = stub.next_fire_at if stub.state is TaskState.STARTED else None
    if old is None:
        old = sched.entries[stub.id] = _bare(stub.id, stub.version, stub.consecutive_failures)
    elif old.next_fire == next_fire and old.version == stub.version and old.heap_seq is not None:
        return
    old.next_fire, old.version = next_fire, stub.version
    sched._push(old)


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
        task_id=task_id, rec=None, schedule=None, pol=None, next_fire=None, version=version, failures=failures
    )


def _install(entry: Entry, rec: TaskRecord) -> None:
    """Make ``entry`` warm with ``rec``: its record, schedule and policy (no schedule: no next
    instant either)."""
    entry.rec, entry.version = rec, rec.version
    entry.schedule = _schedule_of(rec)
    entry.pol = policy_for(rec)
    if entry.schedule is None:
        entry.next_fire = None


def _schedule_of(rec: TaskRecord) -> Schedule | None:
    task = rec.definition
    if task.schedule is None or task.after or task.finalize is not None:
        return None
    anchor = rec.resumed_on or rec.created_on
    try:
        return schedules.build(task.schedule, anchor=anchor, dst_policy=task.dst_policy)
    except TasksqlError:
        log.exception("task %s: cannot build its schedule", rec.name)
        return None


async def warm(sched: Scheduler, entries: list[Entry]) -> list[Entry]:
    """Read the records of cold ``entries`` (one catalog read) and make them warm; the warmed ones.

    An entry replaced or warmed meanwhile is left alone; a task dropped meanwhile stays cold until
    the change's reload removes it; one changed meanwhile (another version) waits for that reload.
    A failed read is retried every :data:`WARM_RETRY_S`."""
    while True:
        try:
            records = {r.id: r for r in await sched.catalog.get_tasks_by_ids([e.task_id for e in entries])}
            break
        except TasksqlError as exc:
            if exc.code != "CATALOG_UNAVAILABLE":  # an outage is logged once, by the catalog
                log.exception("could not read %d due task(s); retrying", len(entries))
            await asyncio.sleep(WARM_RETRY_S)
    warmed: list[Entry] = []
    for entry in entries:
        rec = records.get(entry.task_id)
        if sched.entries.get(entry.task_id) is not entry or not entry.cold or rec is None:
            continue
        if rec.version != entry.version:
            sched._dirty = True
            continue
        _install(entry, rec)
        warmed.append(entry)
    return warmed


async def warm_ahead(sched: Scheduler, entries: list[Entry]) -> None:
    """:func:`warm` cold ``entries`` due soon, then push them at their instants."""
    for entry in await warm(sched, entries):
        sched._push(entry)
    sched._wake()


async def entry_for(sched: Scheduler, record: TaskRecord) -> Entry | None:
    """The warm entry of ``record``'s task (a cold one read now; the cache reloaded first when the
    catalog moved on since the entry was built); ``None`` when the task is not in the cache."""
    for _ in range(2):
        entry = sched.entries.get(record.id)
        if entry is None or not entry.cold:
            return entry
        found = await sched.catalog.get_tasks_by_ids([entry.task_id])
        if not found:
            return None
        rec = found[0]
        if sched.entries.get(entry.task_id) is entry and entry.cold and rec.version == entry.version:
            _install(entry, rec)
            sched._push(entry)  # its heap item was for warming
            return entry
        if not entry.cold:
            return entry
        await sched.reload()
    return None


def cool(sched: Scheduler, entry: Entry, now: datetime) -> None:
    """Make ``entry`` cold when it is idle, far from its next instant and needs no state between
    runs (see the module's docstring)."""
    if (
        entry.rec is None
        or entry.running
        or entry.queue
        or entry.claim is not None
        or entry.next_fire is None
        or entry.next_fire - now <= COOL_AFTER
        or not claims.claimable(entry)  # interval and cron schedules, not from the end of a run
        or entry.task.after
        or entry.task.finalize is not None
        or sched.graphs.is_root(entry)
    ):
        return
    entry.rec, entry.schedule, entry.pol = None, None, None
    entry.forget_runs()
    sched._push(entry)


def index(sched: Scheduler) -> None:
    """Children and finalizers by task name, for graph membership in time proportional to a graph.
    Built from the warm entries: every graph member is warm (see :func:`reload`)."""
    children: dict[QualifiedName, set[int]] = {}
    finalizers: dict[QualifiedName, int] = {}
    for task_id, entry in sched.entries.items():
        rec = entry.rec
        if rec is None:
            continue
        task = rec.definition
        for pred in task.after:
            children.setdefault(pred, set()).add(task_id)
        if task.finalize is not None:
            finalizers[task.finalize] = task_id
    sched._children, sched._finalizers = children, finalizers
    sched._dependents = children.keys() | finalizers.keys()
