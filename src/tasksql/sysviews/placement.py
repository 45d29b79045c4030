"""Which node runs each task, and why a task waits for one: the ``node`` and ``wait_reason``
columns of SHOW TASKS and ``system.tasks``.

In a cluster (a catalog some node joined as a cluster member, see ``catalog/cluster.py``) a task is
run by the node whose live lease holds its placement; a task of a graph runs where the graph's root
is placed. A task no live node holds waits, and ``wait_reason`` says why:

* ``pinned to node n1, which has not joined`` / ``... which is lost`` (``left``, ``draining``) /
  ``... which does not serve warehouse w``: a pinned task waits for its node;
* ``no live node``;
* ``no live node serves warehouse w``;
* ``not placed yet``: a live node will take it at its next claim (within about half a second).

On a catalog no cluster member ever joined (SQLite, or PostgreSQL served by no cluster member) the
scheduler that runs is the one node: ``node`` is its id while one is live, and nothing waits for a
node (the ``scheduler`` column says whether one runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tasksql.catalog.base import Catalog
from tasksql.model import QualifiedName, RunOn, TaskRecord, effective_warehouse, pinned_node
from tasksql.model.cluster import LeaseState, Member, Placement, member_state
from tasksql.model.joins import graph_predecessors
from tasksql.procs import node_state

#: The ``node`` of a RUN ON HOSTS task in a cluster: each live node runs it.
EVERY_NODE = "(every live node)"

#: (node that runs the task or None, why it waits or None), by task id.
TaskNodes = dict[int, tuple[str | None, str | None]]


async def task_nodes(
    catalog: Catalog, records: Sequence[TaskRecord], now: datetime, *, this_node: str | None
) -> TaskNodes:
    """The ``node`` and ``wait_reason`` of each of ``records`` (see the module). ``this_node``: the
    node id of the scheduler running in this process, if one does."""
    members = {m.node_id: m for m in await catalog.cluster_members()}
    if not any(m.lease_state is not LeaseState.NONE for m in members.values()):
        return _single_node(records, await _live_scheduler(catalog, now, this_node))
    placements = {p.task_id: p for p in await catalog.list_placements()}
    by_name = {r.name: r for r in records}
    by_id = {r.id: r for r in records}
    out: TaskNodes = {}
    for rec in records:
        root = by_id.get(_root_id(rec, by_name), rec)
        out[rec.id] = _where(root, placements.get(root.id), members)
        if rec.definition.run_on is RunOn.HOSTS:  # every live node runs it (scheduler/hosts.py)
            out[rec.id] = (EVERY_NODE, None)
    return out


def _single_node(records: Sequence[TaskRecord], node: str | None) -> TaskNodes:
    return {r.id: (node, None) for r in records}


async def _live_scheduler(catalog: Catalog, now: datetime, this_node: str | None) -> str | None:
    if this_node is not None:
        return this_node
    for node in await catalog.list_nodes(now):
        if node.role == "server" and node_state(node, now) == "running":
            return node.node_id
    return None


def _root_id(rec: TaskRecord, by_name: dict[QualifiedName, TaskRecord]) -> int:
    """The id of the root of ``rec``'s graph (its own for a task that runs after none): a graph runs
    where its root is placed. A predecessor that is not listed ends the walk."""
    seen = {rec.id}
    current = rec
    while True:
        task = current.definition
        preds = graph_predecessors(task)  # a task that joins graphs is a root of its own
        parent_name = task.finalize if task.finalize is not None else (preds[0] if preds else None)
        parent = by_name.get(parent_name) if parent_name is not None else None
        if parent is None or parent.id in seen:
            return current.id
        seen.add(parent.id)
        current = parent


def _where(
    rec: TaskRecord, placement: Placement | None, members: dict[str, Member]
) -> tuple[str | None, str | None]:
    if placement is not None and placement.node_id is not None:
        holder = members.get(placement.node_id)
        if holder is not None and holder.epoch == placement.epoch and holder.live:
            return holder.node_id, None
    warehouse = effective_warehouse(rec.definition)
    pin = placement.pinned_node if placement is not None else pinned_node(rec.definition)
    live = [m for m in members.values() if member_state(m) == "live"]
    if pin is not None:
        node = members.get(pin)
        if node is None or node.lease_state is LeaseState.NONE:
            return None, f"pinned to node {pin}, which has not joined"
        if member_state(node) != "live":
            return None, f"pinned to node {pin}, which is {member_state(node)}"
        if not _serves(node, warehouse):
            return None, f"pinned to node {pin}, which does not serve warehouse {warehouse}"
        return None, "not placed yet"
    if not live:
        return None, "no live node"
    if not any(_serves(m, warehouse) for m in live):
        return None, f"no live node serves warehouse {warehouse}"
    return None, "not placed yet"


def _serves(member: Member, warehouse: str) -> bool:
    return member.warehouses is None or warehouse in member.warehouses
