"""The pin of a task to a cluster node (``NODE = 'n1'``, Ocient's ``LOCATION NODE n1``): the check
CREATE and ALTER TASK make, and the notices they add.

A pin is part of the task's definition; the catalog reads it from the stored definition in every
statement that places or starts the task (``catalog/cluster.py``), so nothing else is written here.
What is checked:

* ``NODE = 'a'`` together with ``LOCATION NODE b`` naming another node is refused (one task, one
  node);
* a node id no node has joined with yet is allowed (it may join later) and noted, as is a node that
  is down now: the task waits for it;
* on a catalog that no cluster shares (SQLite) the pin is kept and noted as having no effect there
  (it takes effect once the catalog is copied to PostgreSQL and served by a cluster);
* a pin of a task that runs after others (a graph member) is noted as having no effect: a graph runs
  on the node of its root.

VoltDB's ``RUN ON PARTITIONS`` is noted too (:func:`run_on_notices`): tasksql has no partitions.
"""

from __future__ import annotations

from tasksql.catalog.base import Catalog
from tasksql.errors import Span, ValidationError
from tasksql.model import LocationKind, MaintenanceBody, RunOn, TaskDef, pinned_node
from tasksql.model.cluster import member_state
from tasksql.model.joins import is_graph_child


def check_pin(task: TaskDef, shown: str, span: Span | None) -> None:
    """:raises ValidationError: (code ``CONFLICTING_NODES``) ``NODE =`` and ``LOCATION NODE`` name
    different nodes."""
    body = task.body
    if (
        task.node is not None
        and isinstance(body, MaintenanceBody)
        and body.location is LocationKind.NODE
        and body.location_name != task.node
    ):
        raise ValidationError(
            f"task {shown} names two nodes: NODE = '{task.node}' and LOCATION NODE "
            f"'{body.location_name}'; give one of them (a task runs on one node)",
            code="CONFLICTING_NODES",
            span=span,
        )


def run_on_notices(task: TaskDef, old: TaskDef | None, shown: str) -> tuple[str, ...]:
    """A notice when ``task`` becomes VoltDB ``RUN ON PARTITIONS``: in VoltDB it runs once per
    partition of the database; tasksql has no partitions, so it runs each instant once in the
    cluster, as ``RUN ON DATABASE`` does (the statement is accepted, so that a VoltDB schema loads
    unchanged, and the notice says what it does)."""
    if task.run_on is not RunOn.PARTITIONS or (old is not None and old.run_on is RunOn.PARTITIONS):
        return ()
    return (
        f"task {shown} is RUN ON PARTITIONS: tasksql has no partitions, so each instant runs once in the "
        "cluster, as with RUN ON DATABASE (RUN ON HOSTS runs it once on every node)",
    )


async def pin_notices(
    catalog: Catalog, task: TaskDef, old: TaskDef | None, shown: str, *, cluster: bool
) -> tuple[str, ...]:
    """Notices about where ``task`` runs when that is new (``old``: the definition before an ALTER,
    None for a new task): its pin, and ``RUN ON PARTITIONS`` (:func:`run_on_notices`). ``cluster``:
    the catalog is one a cluster shares (PostgreSQL)."""
    return run_on_notices(task, old, shown) + await _pin_notices(catalog, task, old, shown, cluster=cluster)


async def _pin_notices(
    catalog: Catalog, task: TaskDef, old: TaskDef | None, shown: str, *, cluster: bool
) -> tuple[str, ...]:
    node = pinned_node(task)
    if node is None or (old is not None and pinned_node(old) == node):
        return ()
    if not cluster:
        return (
            f"task {shown} is pinned to node '{node}', which has no effect on this catalog: only a "
            "cluster of servers sharing a PostgreSQL catalog places tasks on nodes",
        )
    notices: list[str] = []
    if is_graph_child(task):
        notices.append(
            f"task {shown} belongs to a task graph, which runs on the node of its root task: its pin "
            f"to node '{node}' has no effect (pin the root task instead)"
        )
        return tuple(notices)
    member = next((m for m in await catalog.cluster_members() if m.node_id == node), None)
    if member is None:
        notices.append(
            f"no node '{node}' has joined the cluster yet: task {shown} waits until a node with that "
            f"id runs (tasksql serve --node-id {node})"
        )
    elif member_state(member) != "live":
        notices.append(f"node '{node}' is {member_state(member)}: task {shown} waits until it runs again")
    return tuple(notices)
