"""Row <-> value mapping of cluster coordination, shared by every backend (as :mod:`.rows` is for the
rest): node memberships and leases, placements, and the parameters of fenced writes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tasksql.catalog.rows import Row, db_time, from_db_time, from_db_time_opt
from tasksql.model.cluster import Fence, LeaseState, Member, Membership, Placement


def fence_params(fence: Fence) -> dict[str, Any]:
    """The ``fence_node`` and ``fence_epoch`` parameters of a fenced query."""
    return {"fence_node": fence.node_id, "fence_epoch": fence.epoch}


def lease_params(fence: Fence) -> dict[str, Any]:
    """The ``node_id`` and ``epoch`` parameters of a lease query."""
    return {"node_id": fence.node_id, "epoch": fence.epoch}


def warehouses_json(warehouses: Sequence[str] | None) -> str | None:
    """Served warehouses as stored: a JSON array of names, None for every warehouse."""
    return None if warehouses is None else json.dumps(sorted(set(warehouses)))


def ids_json(ids: Sequence[int] | None) -> str | None:
    """Task ids as a JSON array (SQLite's stand-in for an array parameter), None for all."""
    return None if ids is None else json.dumps([int(i) for i in ids])


def join_params(member: Membership) -> dict[str, Any]:
    """The ``node_join`` parameters of a membership (the lease in whole milliseconds, at least 1)."""
    return {
        "node_id": member.node_id,
        "host": member.host,
        "pid": member.pid,
        "role": member.role,
        "version": member.version,
        "started_at": db_time(member.started_at),
        "lease_ms": max(1, round(member.lease_seconds * 1000)),
        "capacity": member.capacity,
        "warehouses": warehouses_json(member.warehouses),
        "address": member.address,
    }


def member_record(row: Row) -> Member:
    """The :class:`Member` of a ``cluster_members`` row."""
    warehouses = row["warehouses"]
    return Member(
        node_id=row["node_id"],
        host=row["host"],
        pid=row["pid"],
        version=row["version"],
        address=row["address"],
        started_at=from_db_time(row["started_at"]),
        heartbeat_at=from_db_time(row["heartbeat_at"]),
        stopped_at=from_db_time_opt(row["stopped_at"]),
        epoch=int(row["epoch"]),
        lease_state=LeaseState(row["lease_state"]),
        lease_until=from_db_time_opt(row["lease_until"]),
        live=bool(row["live"]),
        capacity=row["capacity"],
        running=int(row["running"]),
        warehouses=None if warehouses is None else tuple(json.loads(warehouses)),
        placed=int(row["placed"]),
    )


def placement_record(row: Row) -> Placement:
    """The :class:`Placement` of a ``placements_list`` row."""
    return Placement(
        task_id=int(row["task_id"]),
        node_id=row["node_id"],
        epoch=None if row["epoch"] is None else int(row["epoch"]),
        pinned_node=row["pinned_node"],
        placed_at=from_db_time_opt(row["placed_at"]),
    )
