"""Settling the runs of a cluster member whose lease is gone, at the takeover.

A node whose lease was revoked (it ran out: killed, paused, cut off from the catalog), that left,
or whose lease ran out by the catalog's clock can never write again under that epoch: every run
write of a member is fenced by its lease (see ``docs/architecture.md``, "Cluster coordination").
So its open runs are safe to settle as soon as the catalog says so, without the heartbeat reaper's
wait (:data:`~tasksql.procs.NODE_LEASE_S`), which stays for nodes that are not members (a SQLite
catalog, an embedded EXECUTE TASK). They are settled as the reaper would (:mod:`.lost`): SUCCEEDED
where the completion marker shows the body committed, FAILED with NODE_LOST where it had started
(:attr:`Settled.failed`: a retry policy may run them again, see the scheduler), the runs that never
started re-planned or SKIPPED.

Each member settles the runs of the tasks it holds now (it took them over) and of the tasks nobody
holds; the runs of tasks another live node holds are left to that node, so that the node that runs
a task next is the one that retries it. The settling is triggered by a claim that gained tasks
(the usual takeover) and by each reaping round.

A node id that joined again meanwhile (a paused process that resumed) is live again, and its runs
are not settled here, even when it joins between the read of the members and the settling: the
catalog settles a node only while its row still has the epoch judged gone (the row locked in the
settling transaction). The rejoined node settles what its earlier epochs left itself
(:func:`settle_own_earlier`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from tasksql.catalog.base import Catalog
from tasksql.model import RunState, ScheduledFrom
from tasksql.model.cluster import Fence, member_state
from tasksql.model.run import RunOutcome, RunRecord
from tasksql.scheduler import lost, outcomes, retry
from tasksql.scheduler.cache import TaskCache
from tasksql.scheduler.deps import WarehouseProvider
from tasksql.scheduler.inflight import InFlightRuns
from tasksql.scheduler.markers import MarkerBook
from tasksql.scheduler.membership import ClusterMember

log = logging.getLogger("tasksql.scheduler")

#: The states of a member whose epoch can never write again (judged by the catalog's clock).
GONE = ("lost", "left")


async def settle_gone(
    catalog: Catalog,
    cache: TaskCache,
    book: MarkerBook | None,
    warehouses: WarehouseProvider,
    *,
    me: str,
    now: datetime,
) -> lost.Settled:
    """Settle the open runs of every member but ``me`` whose lease is gone (see the module), but
    those of tasks another live member holds."""
    members = await catalog.cluster_members()
    gone = {m.node_id: m.epoch for m in members if m.node_id != me and member_state(m) in GONE}
    if not gone:
        return lost.Settled()
    live = {m.node_id: m.epoch for m in members if member_state(m) in ("live", "draining")}
    holders = {
        p.task_id: p.node_id
        for p in await catalog.list_placements()
        if p.node_id is not None and live.get(p.node_id) == p.epoch
    }

    def theirs(run: RunRecord) -> bool:
        # a graph's runs go with its root's placement
        holder = holders.get(run.root_task_id or run.task_id)
        return holder is not None and holder != me

    # each node is settled only while the catalog still judges that epoch gone, in the settling
    # transaction itself: a node that joined again since the read above keeps its runs
    return await lost.settle_left(
        catalog, cache, book, warehouses, list(gone), now, leave=theirs, epochs=gone
    )


#: The error message of a run this node's earlier epoch left open, recorded FAILED (NODE_LOST).
EARLIER_MESSAGE = "node {node} lost its lease during the run"


async def settle_own_earlier(
    catalog: Catalog,
    cache: TaskCache,
    book: MarkerBook | None,
    warehouses: WarehouseProvider,
    runs: InFlightRuns,
    member: ClusterMember,
    *,
    now: datetime,
) -> lost.Settled:
    """Settle what this node's earlier epochs left open and nobody else settles: once the node
    joined again, its node id is live, so the takeover of its tasks (:func:`settle_gone`) and the
    reaper leave its runs alone.

    The candidates are the runs and graph runs of the node id that were open when it joined
    (:attr:`ClusterMember.earlier_runs`, read before anything was written under the new epoch).
    Of those, the ones this process still holds (:meth:`InFlightRuns.holds`: a body still running,
    an outcome on its way or kept to be written again, its task or graph run busy here) are left
    to it: it knows their outcome. The others are settled as a lost node's, by the catalog's
    evidence: SUCCEEDED where the body's completion marker shows it committed, else FAILED with
    NODE_LOST where it started; the runs that never started are re-planned or SKIPPED. The write
    is fenced by the node's current lease, and a candidate settled (or gone) is forgotten."""
    fence = member.fence
    if fence is None or not (member.earlier_runs or member.earlier_graphs):
        return lost.Settled()
    still_open = {r.run_id for r in await catalog.open_runs(member.node_id)}
    member.earlier_runs &= still_open
    graphs = sorted(g for g in member.earlier_graphs if g not in runs.active_graphs)
    candidates = set(member.earlier_runs)
    if not candidates and not graphs:
        member.earlier_graphs.clear()
        return lost.Settled()
    settled = await lost.settle_left(
        catalog,
        cache,
        book,
        warehouses,
        [member.node_id],
        now,
        leave=runs.holds,
        fence=fence,
        only=candidates,
        graph_runs=graphs,
        message=EARLIER_MESSAGE.format(node=member.node_id),
    )
    if member.fence == fence:
        member.earlier_graphs.difference_update(graphs)
    if settled.counts:
        member.earlier_runs &= {r.run_id for r in await catalog.open_runs(member.node_id)}
    return settled


async def retry_lost(
    catalog: Catalog,
    cache: TaskCache,
    runs: InFlightRuns,
    owns: Callable[[int], bool],
    failed: Sequence[RunRecord],
    *,
    node_id: str,
    fence: Fence | None,
    now: datetime,
) -> int:
    """Start the next attempt of each of ``failed`` (runs of gone members recorded FAILED with
    NODE_LOST) whose task this node (``node_id``) ``owns``, still at the run's version, and whose retry policy
    runs it again (after its delay), as if the attempt had failed here. A graph's runs are not
    retried one by one (their graph run failed with them). Returns how many were started."""
    started = 0
    for run in failed:
        entry = cache.entries.get(run.task_id)
        if (
            entry is None
            or not owns(run.task_id)
            or run.graph_run_group_id is not None
            or entry.version != run.task_version
        ):
            continue
        if entry.warm_record is None and not await cache.warm([entry]):
            continue
        outcome = RunOutcome(
            run_id=run.run_id,
            state=RunState.FAILED,
            error_code="NODE_LOST",
            error_message=lost.LOST_MESSAGE,
        )
        delay = retry.retry_delay(entry.task, run.attempt_number, outcome)
        if delay is None:
            continue
        new = outcomes.new_run(
            entry.record,
            scheduled_time=run.scheduled_time,
            state=RunState.EXECUTING if delay <= 0 else RunState.SCHEDULED,
            scheduled_from=ScheduledFrom.RETRY,
            node_id=node_id,
            now=now,
            attempt_number=run.attempt_number + 1,
            definition=entry.task,
            version=run.task_version,
            config=run.config,
        )
        [rec] = await catalog.settle_graph_step(None, None, [new], None, fence=fence)
        if rec is None:
            continue  # the lease (or the placement) is gone: the next holder settles it
        log.info(
            "run %s of %s: NODE_LOST, retrying (attempt %d) in %.1f s",
            run.run_id,
            run.name,
            run.attempt_number + 1,
            delay,
        )
        runs.start(entry, rec, entry.task, delay=delay)
        started += 1
    return started
