"""``system.cluster``: the nodes of this catalog, one row each.

The first ten columns are those a single node always had (Timeplus' ``cluster_id``, ``node_id``,
``node_state``, ...); the rest describe a cluster member (see ``catalog/cluster.py``).

* A **cluster member** (a server on a PostgreSQL catalog joins as one) is listed whatever its state:
  ``node_state`` is ``live``, ``draining``, ``left`` or ``lost``, judged by its lease and the
  catalog's clock when the table is read (a lease that ran out is ``lost`` at once, before another
  node revoked it), with its address, epoch, lease, slots, runs executing, tasks placed and the
  warehouses it serves (NULL: every warehouse).
* A node that never joined (every node on a SQLite catalog, a process running EXECUTE TASK) is
  listed while it runs, as before: ``running``, or ``lost`` once its process on this host is gone or
  it stayed silent for :data:`NODE_LEASE_S`; stopped nodes are not listed. Its cluster columns are
  NULL (``tasks_placed`` 0).

This process is always listed (``is_self``), registered or not.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from tasksql import procs
from tasksql.model.cluster import LeaseState, Member, member_state
from tasksql.model.run import NodeRecord
from tasksql.sysviews.tables import Introspection, table_from_rows

TS = pa.timestamp("us", tz="UTC")

#: A node that never joined and is silent for longer than this is not listed (the reaper's lease);
#: within it, it is ``running``, or ``lost`` when its process on this host is gone.
NODE_LEASE_S = procs.NODE_LEASE_S

CLUSTER_SCHEMA = pa.schema(
    [
        ("cluster_id", pa.string()),
        ("node_id", pa.string()),
        ("node_state", pa.string()),
        ("host", pa.string()),
        ("pid", pa.int64()),
        ("role", pa.string()),
        ("version", pa.string()),
        ("started_at", TS),
        ("heartbeat_at", TS),
        ("is_self", pa.bool_()),
        ("address", pa.string()),
        ("epoch", pa.int64()),
        ("lease_until", TS),
        ("slots", pa.int64()),
        ("runs_executing", pa.int64()),
        ("tasks_placed", pa.int64()),
        ("warehouses", pa.string()),
    ]
)


async def cluster_table(ctx: Introspection, named: dict[str, object], positional: list[object]) -> pa.Table:
    n = ctx.node
    members = {m.node_id: m for m in await ctx.catalog.cluster_members()}
    rows: list[tuple[Any, ...]] = []
    for node in await ctx.catalog.list_nodes(ctx.now):
        member = members.get(node.node_id)
        if member is not None and member.lease_state is not LeaseState.NONE:
            rows.append(_member_row(ctx, node, member))
        elif node.stopped_at is None and (ctx.now - node.heartbeat_at).total_seconds() <= NODE_LEASE_S:
            state = procs.node_state(node, ctx.now)  # on this host a killed node is lost at once
            rows.append((*_row(ctx, node, state), None, None, None, None, None, 0, None))
    if not any(r[1] == n.node_id for r in rows):
        me = (
            n.cluster_id,
            n.node_id,
            "running",
            n.host,
            n.pid,
            n.role,
            n.version,
            n.started_at,
            ctx.now,
            True,
        )
        rows.insert(0, (*me, None, None, None, None, None, 0, None))
    return table_from_rows(CLUSTER_SCHEMA, rows)


def _row(ctx: Introspection, node: NodeRecord, state: str) -> tuple[Any, ...]:
    return (
        ctx.node.cluster_id,
        node.node_id,
        state,
        node.host,
        node.pid,
        node.role,
        node.version,
        node.started_at,
        node.heartbeat_at,
        node.node_id == ctx.node.node_id,
    )


def _member_row(ctx: Introspection, node: NodeRecord, member: Member) -> tuple[Any, ...]:
    return (
        *_row(ctx, node, member_state(member)),
        member.address,
        member.epoch,
        member.lease_until,
        member.capacity,
        member.running,
        member.placed,
        None if member.warehouses is None else ",".join(member.warehouses),
    )
