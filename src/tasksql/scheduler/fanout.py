"""The run of a maintenance task, executed as sub-tasks (:class:`FanOut`): Ocient's ``LOCATION
SYSTEM`` (every live node) or ``LOCATION CLUSTER c`` (the live nodes whose setting ``cluster_id`` is
``c``) fans out; ``LOCATION NODE n`` has one sub-task, node ``n``'s (on a single node without a
cluster, this node's). Either way the sub-task rows are where its progress shows
(``system.subtasks``) and where CANCEL TASK from any node reaches it.

The run writes one sub-task per target node (:mod:`tasksql.model.subtask`), each executed by its
node (:mod:`tasksql.scheduler.subtasks`) against that node's own warehouse, then waits until every
sub-task has settled: the run SUCCEEDED when all did, FAILED when any failed (naming which), else
CANCELLED; a ``LOCATION NODE`` run ends as its one sub-task did, with that sub-task's own error
(``CHECK_DISK_FAILED``, ``REBUILD_FAILED``, ...). While it waits it settles FAILED (``NODE_LOST``)
the sub-tasks of nodes that lost their lease, so a dead node never holds the run open. Cancelling
the run (CANCEL TASK, the run's timeout, a stop) cancels its open sub-tasks.

``rebalance`` in a cluster also spreads the task placements evenly over the live nodes by slots
(:func:`plan_moves`): each holder above its share gets its moves in its sub-task and hands those
tasks over itself (:meth:`Catalog.move_placements`); the sub-task's progress is the tasks moved of
those to move. On a single node (no cluster) the run has one sub-task, the node itself.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tasksql.catalog.base import Catalog
from tasksql.catalog.fanout import LiveNode
from tasksql.model import (
    LocationKind,
    MaintenanceBody,
    MaintenanceKind,
    RunState,
    TaskDef,
    effective_timeout_ms,
    effective_warehouse,
)
from tasksql.model.cluster import Placement
from tasksql.model.run import RunOutcome
from tasksql.model.subtask import NewSubtask, Subtask, SubtaskState
from tasksql.scheduler.runner import RunContext

#: How often the run looks at its sub-tasks while it waits.
POLL_S = 0.1


def runs_as_subtasks(task: TaskDef) -> bool:
    """True for a maintenance task: its run executes as sub-tasks, one per target node (LOCATION
    SYSTEM or CLUSTER: each target node; LOCATION NODE: that node)."""
    return isinstance(task.body, MaintenanceBody)


def location_text(body: MaintenanceBody) -> str:
    if body.location in (LocationKind.CLUSTER, LocationKind.NODE):
        return f"{body.location.value} {body.location_name}"
    return body.location.value


@dataclass(frozen=True, slots=True)
class Holding:
    """A live node in a rebalance: its slots and the tasks it holds (movable: not pinned)."""

    node: LiveNode
    slots: int
    held: int
    movable: tuple[int, ...]


def plan_moves(holdings: Sequence[Holding], warehouse_of: Callable[[int], str]) -> dict[str, dict[int, str]]:
    """The moves that spread the tasks evenly over ``holdings`` by slots: holder -> {task: receiver}.

    Each node's target is its share of every held task in proportion to its slots (the remainder
    to the nodes with the most slots, then by id); a node above its target gives movable tasks
    (highest ids first) to nodes below theirs that serve the task's warehouse. Only what is needed
    moves: a node at or below its target gives nothing."""
    total = sum(h.held for h in holdings)
    slots = sum(h.slots for h in holdings)
    if not holdings or total == 0 or slots == 0:
        return {}
    exact = {h.node.node_id: total * h.slots / slots for h in holdings}
    target = {n: int(v) for n, v in exact.items()}
    rest = total - sum(target.values())
    by_fraction = sorted(exact, key=lambda n: (-(exact[n] - target[n]), n))
    for n in by_fraction[:rest]:
        target[n] += 1
    room = {h.node.node_id: target[h.node.node_id] - h.held for h in holdings}
    nodes = {h.node.node_id: h.node for h in holdings}
    moves: dict[str, dict[int, str]] = defaultdict(dict)
    for h in sorted(holdings, key=lambda h: h.node.node_id):
        surplus = h.held - target[h.node.node_id]
        for task_id in sorted(h.movable, reverse=True):
            if surplus <= 0:
                break
            wanted = warehouse_of(task_id)
            receivers = [n for n, r in room.items() if r > 0 and nodes[n].serves(wanted)]
            if not receivers:
                continue
            receiver = max(receivers, key=lambda n: (room[n], n))
            moves[h.node.node_id][task_id] = receiver
            room[receiver] -= 1
            surplus -= 1
    return dict(moves)


class FanOut:
    """Runs the fanned-out maintenance runs of one node (see the module).

    :param in_cluster: True when this node is a cluster member (else the run has one sub-task,
        this node's, whatever its location).
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        node_id: str,
        in_cluster: Callable[[], bool],
        poked: Callable[[], None],
    ) -> None:
        self._catalog = catalog
        self._node_id = node_id
        self._in_cluster = in_cluster
        self._poked = poked

    async def run(self, ctx: RunContext) -> RunOutcome:
        """Write the run's sub-tasks, wait until every one has settled, and return the outcome."""
        body = ctx.task.body
        assert isinstance(body, MaintenanceBody)
        clock, run = ctx.clock, ctx.run
        ctx.started_at = clock.now()
        admission = await ctx.gate() if ctx.gate is not None else None
        if admission is not None and admission.refused is not None:  # the owner role's rights, as any run
            return _outcome(ctx, RunState(admission.state), code=admission.code, message=admission.refused)
        try:
            targets = await self._targets(ctx.task, body)
        except _NoTarget as err:
            return _outcome(ctx, RunState.FAILED, code="NO_LIVE_NODE", message=str(err))
        moves: dict[str, dict[int, str]] = {}
        if body.kind is MaintenanceKind.REBALANCE and self._in_cluster():
            moves = await self._plan_rebalance(targets)
        items = [
            NewSubtask(
                node_id=n,
                items_total=len(moves.get(n, {})),
                detail=json.dumps({"moves": {str(t): r for t, r in moves[n].items()}})
                if n in moves
                else None,
            )
            for n in targets
        ]
        await self._catalog.create_subtasks(
            run, task_type=body.kind.value, location=location_text(body), subtasks=items, now=clock.now()
        )
        self._poked()  # this node's own sub-task is taken at once
        loop = asyncio.get_running_loop()
        deadline = loop.time() + effective_timeout_ms(ctx.task) / 1000.0
        why: str | None = None
        while True:
            if why is None and ctx.token.cancelled:
                why = ctx.token.reason or "cancelled"
            elif why is None and loop.time() >= deadline:
                why = "timed out"
            if why is not None:
                await self._catalog.cancel_subtasks(run_id=run.run_id, now=clock.now(), reason=why)
            await self._catalog.settle_lost_subtasks(now=clock.now())
            subtasks = await self._catalog.list_subtasks(run_id=run.run_id)
            if all(s.state.settled for s in subtasks):
                if body.location is LocationKind.NODE:
                    return _settled_alone(ctx, subtasks[0], timed_out=why == "timed out")
                return _settled(ctx, subtasks, timed_out=why == "timed out")
            await asyncio.sleep(POLL_S)

    async def _targets(self, task: TaskDef, body: MaintenanceBody) -> list[str]:
        if not self._in_cluster():
            return [self._node_id]
        warehouse = effective_warehouse(task)
        nodes = [n for n in await self._catalog.live_nodes() if n.serves(warehouse)]
        if body.location is LocationKind.NODE:  # the task is pinned there: normally this node
            nodes = [n for n in nodes if n.node_id == body.location_name]
            if not nodes:
                raise _NoTarget(
                    f"LOCATION NODE {body.location_name}: node {body.location_name!r} is not live or"
                    f" does not serve warehouse {warehouse}"
                )
        if body.location is LocationKind.CLUSTER:
            nodes = [n for n in nodes if n.cluster_id == body.location_name]
            if not nodes:
                raise _NoTarget(
                    f"LOCATION CLUSTER {body.location_name}: no live node of cluster {body.location_name!r}"
                    f" serves warehouse {warehouse} (a node's cluster is its setting cluster_id)"
                )
        if not nodes:
            raise _NoTarget(f"no live node serves warehouse {warehouse}")
        return [n.node_id for n in nodes]

    async def _plan_rebalance(self, targets: Sequence[str]) -> dict[str, dict[int, str]]:
        catalog = self._catalog
        live = {n.node_id: n for n in await catalog.live_nodes() if n.node_id in targets}
        slots = {m.node_id: m.capacity or 1 for m in await catalog.cluster_members()}
        placements: list[Placement] = await catalog.list_placements()
        held: dict[str, list[Placement]] = defaultdict(list)
        for p in placements:
            node = live.get(p.node_id or "")
            if node is not None and p.epoch == node.epoch:
                held[node.node_id].append(p)
        records = await catalog.get_tasks_by_ids([p.task_id for ps in held.values() for p in ps])
        warehouses = {r.id: effective_warehouse(r.definition) for r in records}
        holdings = [
            Holding(
                node=node,
                slots=slots.get(n, 1),
                held=len(held[n]),
                movable=tuple(
                    p.task_id for p in held[n] if p.pinned_node is None and p.task_id in warehouses
                ),
            )
            for n, node in live.items()
        ]
        return plan_moves(holdings, lambda t: warehouses.get(t, "default"))


class _NoTarget(Exception):
    pass


def _settled(ctx: RunContext, subtasks: Sequence[Subtask], *, timed_out: bool) -> RunOutcome:
    failed = [s for s in subtasks if s.state is SubtaskState.FAILED]
    cancelled = [s for s in subtasks if s.state is SubtaskState.CANCELLED]
    moved = sum(s.items_done for s in subtasks)
    to_move = sum(s.items_total for s in subtasks)
    summary: dict[str, object] = {
        "subtasks": len(subtasks),
        "succeeded": sum(1 for s in subtasks if s.state is SubtaskState.SUCCEEDED),
        "failed": len(failed),
        "cancelled": len(cancelled),
    }
    if to_move:
        summary |= {"tasks_moved": moved, "tasks_to_move": to_move}
    ctx.return_value = json.dumps(summary)
    if failed:
        detail = "; ".join(f"node {s.node_id}: {s.error_code}: {s.error_message}" for s in failed)
        message = f"{len(failed)} of {len(subtasks)} sub-task(s) failed: {detail}"
        return _outcome(ctx, RunState.FAILED, code="SUBTASK_FAILED", message=message)
    if timed_out:
        return _outcome(ctx, RunState.FAILED, code="TIMEOUT_EXCEEDED", message="the sub-tasks timed out")
    if cancelled:
        reason = cancelled[0].error_message or "cancelled"
        return _outcome(ctx, RunState.CANCELLED, code="CANCELLED", message=reason)
    return _outcome(ctx, RunState.SUCCEEDED)


def _settled_alone(ctx: RunContext, sub: Subtask, *, timed_out: bool) -> RunOutcome:
    """A LOCATION NODE run is its one sub-task: it ends as the sub-task did, with its error, and
    its rows produced are the items the sub-task did (objects checked, steps rebuilt)."""
    if sub.state is SubtaskState.FAILED:
        return _outcome(ctx, RunState.FAILED, code=sub.error_code, message=sub.error_message)
    if timed_out:
        return _outcome(ctx, RunState.FAILED, code="TIMEOUT_EXCEEDED", message="its sub-task timed out")
    if sub.state is SubtaskState.CANCELLED:
        return _outcome(ctx, RunState.CANCELLED, code="CANCELLED", message=sub.error_message or "cancelled")
    return _outcome(ctx, RunState.SUCCEEDED, rows_produced=sub.items_done)


def _outcome(
    ctx: RunContext,
    state: RunState,
    *,
    code: str | None = None,
    message: str | None = None,
    rows_produced: int | None = None,
) -> RunOutcome:
    return RunOutcome(
        run_id=ctx.run.run_id,
        state=state,
        query_start_time=ctx.started_at,
        completed_time=ctx.clock.now(),
        error_code=code,
        error_message=message,
        rows_produced=rows_produced,
        return_value=ctx.return_value,
    )
