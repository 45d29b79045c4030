"""Job bodies of the SQLite catalog for cluster coordination: leases, placements, pins.

Plain functions of a ``sqlite3.Connection``, run by the writer thread inside the group transaction
(or by a reader). The processes that share the file are on one machine: lease expiry is judged by
its clock (SQLite's ``'now'``), and the write lock, taken at the start of every group, makes each
claim and each fenced write serial, so no row locks are needed (see :mod:`tasksql.catalog.cluster`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

from tasksql.catalog.cluster import LEASE_LOST
from tasksql.catalog.cluster_rows import (
    ids_json,
    join_params,
    lease_params,
    member_record,
    placement_record,
    warehouses_json,
)
from tasksql.catalog.queries import load_queries
from tasksql.catalog.rows import from_db_time
from tasksql.errors import CatalogError
from tasksql.model.cluster import Fence, Lease, Member, Membership, Placement

_Q: dict[str, str] = {name: query.sql for name, query in load_queries("sqlite").items()}


def join(conn: sqlite3.Connection, member: Membership) -> Lease:
    conn.execute(_Q["node_epoch_next"]).fetchall()
    [row] = conn.execute(_Q["node_join"], join_params(member)).fetchall()
    return Lease(fence=Fence(member.node_id, int(row["epoch"])), expires_at=from_db_time(row["lease_until"]))


def lease_update(conn: sqlite3.Connection, query: str, fence: Fence, **extra: object) -> bool:
    """Run one of the lease queries (``lease_renew``, ``lease_drain``, ``lease_leave``); True when
    the lease was held."""
    return bool(conn.execute(_Q[query], {**lease_params(fence), **extra}).fetchall())


def leave(conn: sqlite3.Connection, fence: Fence) -> bool:
    if not lease_update(conn, "lease_leave", fence):
        return False
    hand_over(conn, fence, None)
    return True


def claim(
    conn: sqlite3.Connection, fence: Fence, capacity: int, warehouses: Sequence[str] | None
) -> list[int]:
    """See :meth:`ClusterCoordination.claim_placements`: the steps in one transaction."""
    params = {**lease_params(fence), "capacity": capacity, "warehouses": warehouses_json(warehouses)}
    rows = conn.execute(_Q["lease_claimer"], params).fetchall()
    if not rows:
        raise CatalogError(f"node {fence} no longer holds its lease: join again", code=LEASE_LOST)
    if rows[0]["lease_state"] != "live":
        return []  # draining
    conn.execute(_Q["leases_revoke"])
    conn.execute(_Q["placements_prune"])
    conn.execute(_Q["placements_fill"])
    # a task whose pin moved to another node (ALTER TASK ... SET NODE) is handed over first
    moved = conn.execute(_Q["placements_release_moved"], params).fetchall()
    _drop_claims(conn, fence.node_id, sorted(int(r["task_id"]) for r in moved))
    taken: list[int] = []
    for query in ("placements_take_must", "placements_take_share", "placements_take_rest"):
        taken.extend(int(r["task_id"]) for r in conn.execute(_Q[query], params).fetchall())
    return sorted(taken)


def hand_over(conn: sqlite3.Connection, fence: Fence, task_ids: Sequence[int] | None) -> list[int]:
    """Release the placements of ``task_ids`` (None: all) that ``fence`` holds, and hand over the
    instants its node claimed for them that never started (see ``release_placements``)."""
    params = {**lease_params(fence), "task_ids": ids_json(task_ids)}
    released = sorted(int(r["task_id"]) for r in conn.execute(_Q["placements_release"], params).fetchall())
    _drop_claims(conn, fence.node_id, released)
    return released


def _drop_claims(conn: sqlite3.Connection, node_id: str, task_ids: Sequence[int]) -> None:
    """Delete ``node_id``'s claims of those tasks' instants that never started and move each task's
    next instant back to the earliest (so that the next holder runs them)."""
    if not task_ids:
        return
    rows = conn.execute(_Q["runs_hand_over"], {"node_id": node_id, "task_ids": ids_json(task_ids)}).fetchall()
    earliest: dict[int, tuple[int, str]] = {}
    for row in rows:
        task_id = int(row["task_id"])
        if task_id not in earliest or row["scheduled_time"] < earliest[task_id][1]:
            earliest[task_id] = (int(row["task_version"]), row["scheduled_time"])
    for task_id, (version, at) in earliest.items():
        conn.execute(_Q["task_rewind_next_fire"], {"task_id": task_id, "version": version, "at": at})


def release(conn: sqlite3.Connection, fence: Fence, task_ids: Sequence[int] | None) -> list[int]:
    if not conn.execute(_Q["lease_held"], lease_params(fence)).fetchall():
        return []
    return hand_over(conn, fence, task_ids)


def pin(conn: sqlite3.Connection, pins: Mapping[int, str | None]) -> None:
    for task_id, node_id in pins.items():
        rows = conn.execute(_Q["placement_pin"], {"task_id": task_id, "pinned_node": node_id}).fetchall()
        holder = rows[0]["node_id"] if rows else None
        if holder is not None and node_id is not None and holder != node_id:
            conn.execute(_Q["placement_unhold"], {"task_id": task_id})
            _drop_claims(conn, holder, [task_id])


def placements(conn: sqlite3.Connection, node_id: str | None) -> list[Placement]:
    return [placement_record(row) for row in conn.execute(_Q["placements_list"], {"node_id": node_id})]


def members(conn: sqlite3.Connection) -> list[Member]:
    return [member_record(row) for row in conn.execute(_Q["cluster_members"])]
