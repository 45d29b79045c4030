"""Settling what a lost node left: runs whose body committed succeeded; runs that started failed with
it; runs that never started did not.

A node is *lost* when it stopped without settling its runs: killed, crashed, or silent for longer
than the lease (see :func:`tasksql.procs.node_state`; a node on this host whose process is gone is
lost at once). What it left:

* a run whose body committed, known by its completion marker in the run's warehouse (see
  :mod:`tasksql.scheduler.markers`), is recorded SUCCEEDED, with no error code and the note
  :data:`COMMITTED_MESSAGE`, whatever its row says (EXECUTING, or SCHEDULED when its start had not
  reached the catalog yet); it is never re-planned, and its row stays the instant's fence. Runs
  whose warehouse cannot be asked now (unreachable) are left as they are for the next reaping,
  for at most :data:`~tasksql.scheduler.markers.LOOKUP_PATIENCE`;
* a run that started (EXECUTING) and has no marker is recorded FAILED with code NODE_LOST: it may
  have done part of its work (a body without a marker: see docs/scheduling.md), and nobody will
  finish it;
* a run that never started (SCHEDULED, no start time: an instant claimed ahead, a catch-up run
  waiting its turn, a retry waiting its delay) is not a failed run. :func:`decide` says what becomes
  of it, by the task's policy, the way the planner treats an instant that nobody ran:

  - an instant still to come is *released* (the row is deleted: the planner runs it when it comes);
  - an instant of a task since dropped, suspended, altered or resumed is released too (its claim
    would have been released had the node lived);
  - an instant that is still due (the latest that came, within the misfire grace, as the planner
    has it) or that the task's CATCH_UP policy runs (ALL: every missed instant within the window;
    LATEST: the most recent one, when no later instant has come) is *re-planned*: the row is
    deleted, which frees the instant's fence, and the task's next instant goes back to it, so that
    a scheduler plans it again (this one at once, see :func:`settle`); the instant still runs at
    most once, since the new row takes the old one's place under the same UNIQUE (task, instant)
    fence;
  - any other instant is recorded SKIPPED with code MISSED and the reason (CATCH_UP = NONE, or
    older than the catch-up window, or a later instant is the one LATEST runs);
  - a retry, or a run inside a graph run, is recorded SKIPPED with code NODE_LOST.

None of these counts as a failure of the task: the consecutive-failure count, auto-suspension and
error notifications only see runs that ran.

A claimed run starts without waiting for the catalog, and its start is committed within a few
milliseconds (see :mod:`tasksql.scheduler.claims`): a node killed inside those milliseconds leaves a
row that reads as never started although its body began. Its marker tells: a body that committed
is recorded SUCCEEDED; one that did not left nothing behind (its transaction died with the node),
so re-planning it runs it once. A body without a marker to tell (and with effects) is never
re-planned when it may have started: its instant is recorded SKIPPED with code NODE_LOST, see
:mod:`tasksql.scheduler.lost_starts`; :func:`decide` is for the other runs that never started.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from tasksql import schedules
from tasksql.catalog.base import LostRuns, UnstartedRun
from tasksql.errors import TasksqlError
from tasksql.model import CatchUp, RunState, ScheduledFrom, TaskRecord, TaskState
from tasksql.model.cluster import Fence
from tasksql.model.run import NodeRecord, RunOutcome, RunRecord, transition
from tasksql.procs import node_state
from tasksql.scheduler import lost_starts, markers
from tasksql.scheduler.entry import policy_for

if TYPE_CHECKING:
    from tasksql.catalog.base import Catalog
    from tasksql.scheduler.cache import TaskCache
    from tasksql.scheduler.deps import WarehouseProvider
    from tasksql.scheduler.markers import MarkerBook

log = logging.getLogger("tasksql.scheduler")

#: The error message of a run that started on a node that was lost (error code NODE_LOST).
LOST_MESSAGE = "node stopped during run"
#: The note of a run of a lost node whose body committed (SUCCEEDED, no error code).
COMMITTED_MESSAGE = "node {node} was lost after the body committed; recorded from its completion marker"


def dead_nodes(nodes: list[NodeRecord], now: datetime, *, me: str) -> list[str]:
    """The ids of ``nodes`` (but ``me``) that are stopped or lost: whatever they left is settled."""
    return [n.node_id for n in nodes if n.node_id != me and node_state(n, now) != "running"]


def decide(run: RunRecord, record: TaskRecord | None, now: datetime) -> UnstartedRun:
    """What becomes of ``run``, a run of a lost node that never started, at ``now`` (``record``: its
    task, None when dropped). See the module's docstring."""
    node = run.node_id
    if run.graph_run_group_id is not None or run.scheduled_from is not ScheduledFrom.SCHEDULE:
        what = f"attempt {run.attempt_number}" if run.scheduled_from is ScheduledFrom.RETRY else "the run"
        return _skip(run, now, "NODE_LOST", f"node {node} was lost before {what} started")
    instant = run.scheduled_time
    if instant > now:
        return UnstartedRun(run_id=run.run_id)  # still to come: the planner runs it
    if (
        record is None
        or record.state is not TaskState.STARTED
        or record.version != run.task_version
        or (record.resumed_on is not None and instant <= record.resumed_on)
    ):
        return UnstartedRun(run_id=run.run_id)  # the claim would have been released
    policy = policy_for(record)
    lost = f"instant missed: node {node} was lost before it started"
    if policy.defer_while_running or policy.next_from_end:
        # its next instant depends on how runs end: nothing to hand back to the planner
        return _skip(run, now, "MISSED", lost)
    # as the planner sees it: the latest instant that came is due within the grace, the others missed
    following = _following(record, instant)
    latest = following is None or following > now
    if latest and now - instant <= policy.misfire_grace:
        return UnstartedRun(run_id=run.run_id, rewind=True)
    if instant < now - policy.catch_up_window:
        return _skip(run, now, "MISSED", f"{lost}, and it is older than the catch-up window")
    if policy.catch_up is CatchUp.ALL or (policy.catch_up is CatchUp.LATEST and latest):
        return UnstartedRun(run_id=run.run_id, rewind=True)
    if policy.catch_up is CatchUp.LATEST:
        return _skip(run, now, "MISSED", f"{lost} (CATCH_UP = LATEST runs a later instant)")
    return _skip(run, now, "MISSED", f"{lost} (CATCH_UP = NONE)")


def _following(record: TaskRecord, instant: datetime) -> datetime | None:
    task = record.definition
    if task.schedule is None:
        return None
    try:
        built = schedules.build(
            task.schedule, anchor=record.resumed_on or record.created_on, dst_policy=task.dst_policy
        )
    except TasksqlError:
        return None
    return built.next_fire(instant)


def _skip(run: RunRecord, now: datetime, code: str, message: str) -> UnstartedRun:
    outcome = RunOutcome(
        run_id=run.run_id,
        state=transition(run.state, RunState.SKIPPED),
        completed_time=now,
        error_code=code,
        error_message=message,
    )
    return UnstartedRun(run_id=run.run_id, skipped=outcome)


@dataclass(frozen=True, slots=True)
class Settled:
    """What :func:`settle_left` did: the counts per node, and the runs it recorded FAILED with
    NODE_LOST (they had started; a retry policy may run them again)."""

    counts: dict[str, LostRuns] = field(default_factory=dict)
    failed: list[RunRecord] = field(default_factory=list)


async def settle(
    catalog: Catalog,
    cache: TaskCache,
    book: MarkerBook | None,
    warehouses: WarehouseProvider,
    node_ids: list[str],
    now: datetime,
) -> dict[str, LostRuns]:
    """Settle what the lost nodes ``node_ids`` left (see the module's docstring), looking their
    runs' completion markers up in ``book``'s scope, then let ``cache`` plan the re-planned instants
    of the tasks it holds and forget claims it found taken by those nodes. Returns what was done per
    node that left anything (logged as a warning)."""
    return (await settle_left(catalog, cache, book, warehouses, node_ids, now)).counts


async def settle_left(
    catalog: Catalog,
    cache: TaskCache,
    book: MarkerBook | None,
    warehouses: WarehouseProvider,
    node_ids: list[str],
    now: datetime,
    *,
    leave: Callable[[RunRecord], bool] = lambda _: False,
    epochs: Mapping[str, int] | None = None,
    fence: Fence | None = None,
    only: Collection[int] | None = None,
    graph_runs: Sequence[str] | None = None,
    message: str = LOST_MESSAGE,
) -> Settled:
    """:func:`settle`, leaving the runs for which ``leave`` is true as they are (another node will
    settle them), and telling which runs it recorded FAILED (NODE_LOST). ``epochs``, ``fence``,
    ``graph_runs`` and ``only`` (the runs to settle, no others) are the conditions of
    :meth:`Catalog.settle_lost_runs`, checked in its transaction; ``message`` is the error
    message of the runs recorded FAILED."""
    left = await catalog.open_runs(*node_ids)
    if only is not None:
        left = [r for r in left if r.run_id in only]
    kept = {r.run_id for r in left if leave(r)}
    left = [r for r in left if r.run_id not in kept]
    if not left and not graph_runs:
        return Settled()
    found, unknown = await markers.lookup(book, warehouses, left, now)
    committed = [_committed(r, found[r.run_id]) for r in left if r.run_id in found]
    unstarted = [
        r
        for r in left
        if r.state is RunState.SCHEDULED
        and r.query_start_time is None
        and r.run_id not in found
        and r.run_id not in unknown
    ]
    task_ids = sorted({r.task_id for r in unstarted})
    records = {r.id: r for r in await catalog.get_tasks_by_ids(task_ids)} if task_ids else {}
    unknown_starts = await lost_starts.unknown_starts(catalog, book, warehouses.get, unstarted, records, now)
    decisions = [unknown_starts.get(r.run_id) or decide(r, records.get(r.task_id), now) for r in unstarted]
    settled = await catalog.settle_lost_runs(
        node_ids,
        now,
        message,
        decisions,
        committed,
        keep=sorted([*unknown, *kept]),
        epochs=epochs,
        fence=fence,
        only=None if only is None else [r.run_id for r in left],
        graph_runs=graph_runs,
    )
    # a node left out by the catalog (it joined again, or the fence was lost meanwhile) had none
    # of its runs decided here; nor had a node that left nothing to settle
    left = [r for r in left if r.node_id in settled]
    by_id = {r.run_id: r for r in unstarted if r.node_id in settled}
    for decision in decisions:
        if decision.skipped is None and decision.run_id in by_id:
            run = by_id[decision.run_id]
            cache.replan(run.task_id, run.scheduled_time, rewind=decision.rewind)
    await markers.forget(book, warehouses, [r for r in left if r.run_id in found])
    for node_id, counts in settled.items():
        log.warning("node %s was lost; its runs: %s", node_id, counts.describe())
    failed = [
        r
        for r in left
        if r.run_id not in found
        and r.run_id not in unknown
        and (r.state is RunState.EXECUTING or r.query_start_time is not None)
    ]
    return Settled(settled, failed)


def _committed(run: RunRecord, at: datetime) -> RunOutcome:
    """The outcome of ``run``, whose body committed at ``at`` (its marker's time)."""
    return RunOutcome(
        run_id=run.run_id,
        state=transition(run.state, RunState.SUCCEEDED),
        query_start_time=run.query_start_time,
        completed_time=max(at, run.query_start_time) if run.query_start_time else at,
        error_message=COMMITTED_MESSAGE.format(node=run.node_id),
    )
