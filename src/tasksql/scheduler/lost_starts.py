"""Whether a lost node's claimed run may have started although its row says it never did.

A claimed instant's run starts at once when its instant comes, and its start (the row's change to
EXECUTING) is committed with the node's next catalog write, a few milliseconds later (see
:mod:`tasksql.scheduler.claims`). A node that dies inside those milliseconds leaves a SCHEDULED row
without a start time although its body began. Re-planning such an instant (see
:mod:`tasksql.scheduler.lost`) is safe only when the warehouse can tell whether the body committed,
or when running it again does no harm:

* its body commits with the run's completion marker (:meth:`Warehouse.marks
  <tasksql.warehouses.base.Warehouse.marks>`): no marker means the body did not commit, its
  transaction died with the node, and running it again runs it once;
* or its body has no effects (a query in a warehouse whose queries cannot write:
  :meth:`Warehouse.has_effects <tasksql.warehouses.base.Warehouse.has_effects>`).

Any other body (completion markers off, PostgreSQL ``CALL``, maintenance commands, statements that
cannot run in a transaction, a warehouse without transactions, a dropped warehouse) is *unguarded*:
if it may have started, its instant is recorded SKIPPED with code NODE_LOST and
:data:`UNKNOWN_MESSAGE`, and never run again (at most once), instead of being re-planned.

When may it have started? The node's catalog writes are committed in the order they were made (one
writer per node), and a heartbeat is one of them: every start made before the node's last committed
heartbeat (``heartbeat_at``) was committed with it. So a claimed run that still reads as never
started was not started before that heartbeat, and a claimed run starts at its instant or up to
as late as its task's policy lets an instant run (the misfire grace; with CATCH_UP ALL or LATEST,
the catch-up window, as after a catalog outage), plus :data:`START_SLACK`. And the node started
nothing after it was gone: it stopped, its process was found gone (now), or its heartbeat was older
than the node lease (:data:`~tasksql.procs.NODE_LEASE_S`), when it counts as lost wherever it runs.
Hence an instant may have started when it came after ``heartbeat_at - latest start - slack`` and
no later than the node was gone (:func:`may_have_started`); an instant that came after the node
was gone is re-planned by its policy, as before.

The lost node is taken to have run with this node's ``completion_markers`` setting (nodes do not
record theirs): nodes sharing a catalog should set it alike. A cluster member commits its claimed
starts before their bodies begin, so its never-started rows did not start; they are judged the same
way all the same (a row does not say which kind of node wrote it), which is at worst cautious.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tasksql.catalog.base import Catalog, UnstartedRun
from tasksql.errors import TasksqlError
from tasksql.model import CatchUp, RunState, ScheduledFrom, TaskRecord
from tasksql.model.run import NodeRecord, RunOutcome, RunRecord, transition
from tasksql.procs import NODE_LEASE_S
from tasksql.scheduler.body import prepare
from tasksql.scheduler.entry import policy_for
from tasksql.scheduler.markers import MarkerBook
from tasksql.scheduler.planner import Policy
from tasksql.warehouses.base import Warehouse

log = logging.getLogger("tasksql.scheduler")

#: The note of a claimed run recorded SKIPPED because its body may have started without a marker.
UNKNOWN_MESSAGE = (
    "node {node} was lost at its instant; whether the body started is unknown, so it is not run again"
)
#: Between a body's start and the submission of its start to the catalog writer: the rest of the
#: scheduler's tick (its awaits), generously.
START_SLACK = timedelta(seconds=1)

#: The warehouse of a name (None: the default), opened.
GetWarehouse = Callable[[str | None], Awaitable[Warehouse]]


@dataclass(frozen=True, slots=True)
class LastSeen:
    """When a lost node was known alive with its catalog writes committed (``alive``: its last
    heartbeat) and from when it started nothing (``gone``)."""

    alive: datetime | None
    gone: datetime


def last_seen(node: NodeRecord | None, now: datetime) -> LastSeen:
    """What ``node``'s row says (None: the row is gone, pruned: nothing is known but ``now``)."""
    if node is None:
        return LastSeen(alive=None, gone=now)
    gone = min(now, node.heartbeat_at + timedelta(seconds=NODE_LEASE_S))
    if node.stopped_at is not None:
        gone = min(gone, node.stopped_at)
    return LastSeen(alive=node.heartbeat_at, gone=max(gone, node.heartbeat_at))


def latest_start(record: TaskRecord | None) -> timedelta:
    """How long after its instant a claimed run of ``record``'s task may start: the misfire grace,
    or with a catch-up policy that runs missed instants, the catch-up window if longer."""
    policy = policy_for(record) if record is not None else Policy()
    if policy.catch_up is CatchUp.NONE:
        return policy.misfire_grace
    return max(policy.misfire_grace, policy.catch_up_window)


def may_have_started(instant: datetime, record: TaskRecord | None, seen: LastSeen) -> bool:
    """Whether the claimed run of ``instant`` (of ``record``'s task, None when dropped) of a lost
    node, still SCHEDULED without a start, may have started its body all the same (see the
    module's docstring)."""
    if instant > seen.gone:
        return False  # it came after the node was gone
    if seen.alive is None:
        return True
    return instant > seen.alive - latest_start(record) - START_SLACK


def unknown_start(run: RunRecord, now: datetime) -> UnstartedRun:
    """``run`` recorded SKIPPED with code NODE_LOST: its body may have run; not to be run again."""
    outcome = RunOutcome(
        run_id=run.run_id,
        state=transition(run.state, RunState.SKIPPED),
        completed_time=now,
        error_code="NODE_LOST",
        error_message=UNKNOWN_MESSAGE.format(node=run.node_id),
    )
    return UnstartedRun(run_id=run.run_id, skipped=outcome)


async def guarded(
    catalog: Catalog, book: MarkerBook | None, get_warehouse: GetWarehouse, runs: Sequence[RunRecord]
) -> set[int]:
    """The ids of ``runs`` whose body is guarded: it would have committed with its completion
    marker (``book``: this node writes markers, and so did the lost node), or it has no effects.
    A run whose definition or warehouse cannot be had now is not guarded."""
    out: set[int] = set()
    for run in runs:
        try:
            task = await catalog.get_task_version(run.task_id, run.task_version)
            warehouse = await get_warehouse(run.warehouse)
            prepared = prepare(task, warehouse.dialect)
        except TasksqlError as err:
            log.debug("run %d: cannot tell whether its body is guarded: %s", run.run_id, err.message)
            continue
        into = task.into is not None
        marked = book is not None and prepared.markable and warehouse.marks(prepared.statements, into=into)
        if marked or not warehouse.has_effects(prepared.statements, into=into):
            out.add(run.run_id)
    return out


async def unknown_starts(
    catalog: Catalog,
    book: MarkerBook | None,
    get_warehouse: GetWarehouse,
    unstarted: Sequence[RunRecord],
    records: Mapping[int, TaskRecord],
    now: datetime,
) -> dict[int, UnstartedRun]:
    """Of ``unstarted`` (runs of lost nodes still SCHEDULED without a start; ``records``: their
    tasks by id, a dropped one missing), the claimed runs whose body may have started and is not
    guarded, each recorded SKIPPED with NODE_LOST (:func:`unknown_start`), by run id. The others
    are for :func:`tasksql.scheduler.lost.decide`."""
    claims = [
        r
        for r in unstarted
        if r.graph_run_group_id is None
        and r.scheduled_from is ScheduledFrom.SCHEDULE
        and r.scheduled_time <= now
    ]
    if not claims:
        return {}
    nodes = {n.node_id: n for n in await catalog.list_nodes(now)}
    candidates = [
        r
        for r in claims
        if may_have_started(
            r.scheduled_time, records.get(r.task_id), last_seen(nodes.get(r.node_id or ""), now)
        )
    ]
    if not candidates:
        return {}
    safe = await guarded(catalog, book, get_warehouse, candidates)
    out: dict[int, UnstartedRun] = {}
    per_node: dict[str | None, int] = {}
    for r in candidates:
        if r.run_id not in safe:
            out[r.run_id] = unknown_start(r, now)
            per_node[r.node_id] = per_node.get(r.node_id, 0) + 1
    for node_id, count in per_node.items():
        log.warning(
            "node %s was lost at the instant of %d claimed run(s) whose body has no completion marker:"
            " whether they started is unknown, so they are recorded SKIPPED (NODE_LOST) and not run again",
            node_id,
            count,
        )
    return out
