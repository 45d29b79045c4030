"""Job bodies of the PostgreSQL catalog for cluster coordination: leases, placements, pins.

Plain functions of a psycopg cursor, run by the writer thread inside the group transaction (or by a
reader). Lease expiry is judged by the server's ``clock_timestamp()``; placements are taken ``FOR
UPDATE SKIP LOCKED`` and expired leases revoked the same way, so claimers never wait for each other
(see :mod:`tasksql.catalog.cluster` and ``docs/architecture.md``, "Cluster coordination").

A lease whose row is still locked :data:`STUCK_GRACE_MS` after it ran out belongs to a node stopped
in the middle of a transaction that no timeout of the server ends (SIGSTOP while it was sending a
pipelined batch: the session waits on ``ClientRead``, ``active``, and keeps its locks). The claim
then ends that node's sessions (they carry its fence label, see
:func:`~tasksql.catalog.postgres.connect.fence_label`) with ``pg_terminate_backend``: their
transactions roll back, so nothing the stopped node had in flight commits, its row is unlocked and a
later claim revokes the lease.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from tasksql.catalog.cluster import LEASE_LOST
from tasksql.catalog.cluster_rows import join_params, lease_params, member_record, placement_record
from tasksql.catalog.cluster_rows import warehouses_json as _warehouses
from tasksql.catalog.postgres.connect import Cursor, fence_label
from tasksql.catalog.queries import load_queries
from tasksql.catalog.rows import from_db_time
from tasksql.errors import CatalogError
from tasksql.model.cluster import Fence, Lease, Member, Membership, Placement

_Q: dict[str, str] = {name: query.sql for name, query in load_queries("postgres").items()}

log = logging.getLogger("tasksql.catalog")

#: Milliseconds after its end that a lease whose node row is still locked has its node's sessions
#: ended. Under the catalog connections' idle-in-transaction timeout (2 s), which frees the rows of
#: a node stopped between two statements by itself; past this a lock is one no timeout ends.
STUCK_GRACE_MS = 1000

#: Fences whose sessions the catalog's user was not allowed to end, already logged (one line each).
_REFUSED: set[tuple[str, int]] = set()


def join(cur: Cursor, member: Membership) -> Lease:
    cur.execute(_Q["node_join"], join_params(member))
    row = cur.fetchone()
    assert row is not None
    return Lease(fence=Fence(member.node_id, int(row["epoch"])), expires_at=from_db_time(row["lease_until"]))


def lease_update(cur: Cursor, query: str, fence: Fence, **extra: object) -> bool:
    """Run one of the lease queries (``lease_renew``, ``lease_drain``, ``lease_leave``); True when
    the lease was held."""
    cur.execute(_Q[query], {**lease_params(fence), **extra})
    return bool(cur.fetchall())


def leave(cur: Cursor, fence: Fence) -> bool:
    if not lease_update(cur, "lease_leave", fence):
        return False
    hand_over(cur, fence, None)
    return True


def claim(cur: Cursor, fence: Fence, capacity: int, warehouses: Sequence[str] | None) -> list[int]:
    """See :meth:`ClusterCoordination.claim_placements`: the steps in one transaction."""
    served = _warehouses(warehouses)
    params = {**lease_params(fence), "capacity": capacity, "warehouses": served}
    cur.execute(_Q["lease_claimer"], params)
    row = cur.fetchone()
    if row is None:
        raise CatalogError(f"node {fence} no longer holds its lease: join again", code=LEASE_LOST)
    if row["lease_state"] != "live":
        return []  # draining
    cur.execute(_Q["leases_revoke"], {"grace_ms": STUCK_GRACE_MS})
    rows = cur.fetchall()
    if rows:
        end_sessions(cur, str(rows[0]["schema"]), [(str(r["node_id"]), int(r["epoch"])) for r in rows])
    cur.execute(_Q["placements_prune"])
    cur.execute(_Q["placements_fill"])
    # a task whose pin moved to another node (ALTER TASK ... SET NODE) is handed over first
    cur.execute(_Q["placements_release_moved"], params)
    _drop_claims(cur, fence.node_id, sorted(int(r["task_id"]) for r in cur.fetchall()))
    taken: list[int] = []
    for query in ("placements_take_must", "placements_take_share", "placements_take_rest"):
        cur.execute(_Q[query], params)
        taken.extend(int(r["task_id"]) for r in cur.fetchall())
    return sorted(taken)


def end_sessions(cur: Cursor, schema: str, fences: Sequence[tuple[str, int]]) -> int:
    """End the sessions that carry the labels of ``fences`` (node id, epoch) on the catalog in
    ``schema``: leases that ran out whose rows are still locked (see the module). Returns how many
    were ended. Inside a savepoint: a refusal (the catalog's user may not signal those sessions)
    leaves the claim's transaction usable and is logged once per fence, naming the privilege."""
    labels = [fence_label(schema, node_id, epoch) for node_id, epoch in fences]
    cur.execute("SAVEPOINT tasksql_end_sessions")
    try:
        cur.execute(_Q["backends_end"], {"labels": labels})
        rows = cur.fetchall()
    except psycopg.errors.InsufficientPrivilege as exc:
        cur.execute("ROLLBACK TO SAVEPOINT tasksql_end_sessions")
        new = [fence for fence in fences if fence not in _REFUSED]
        if new:
            _REFUSED.update(new)
            names = ", ".join(f"{node_id}/{epoch}" for node_id, epoch in new)
            log.warning(
                "the lease of node %s ran out but its row is still locked by its sessions, and the "
                "catalog's user may not end them (%s): grant it pg_signal_backend (or log every node "
                "in as the same user) so that a stopped node's tasks are taken over",
                names,
                " ".join(str(exc).split()),
            )
        return 0
    cur.execute("RELEASE SAVEPOINT tasksql_end_sessions")
    ended = sum(1 for row in rows if row["ended"])
    if ended:
        names = ", ".join(f"{node_id}/{epoch}" for node_id, epoch in fences)
        log.warning(
            "ended %d catalog session(s) of node %s: its lease ran out %d ms ago or more and they still "
            "held its row (a stopped node); the lease is revoked at the next claim",
            ended,
            names,
            STUCK_GRACE_MS,
        )
    return ended


def hand_over(cur: Cursor, fence: Fence, task_ids: Sequence[int] | None) -> list[int]:
    """Release the placements of ``task_ids`` (None: all) that ``fence`` holds, and hand over the
    instants its node claimed for them that never started (see ``release_placements``)."""
    params = {**lease_params(fence), "task_ids": None if task_ids is None else list(task_ids)}
    cur.execute(_Q["placements_release"], params)
    released = sorted(int(r["task_id"]) for r in cur.fetchall())
    _drop_claims(cur, fence.node_id, released)
    return released


def _drop_claims(cur: Cursor, node_id: str, task_ids: Sequence[int]) -> None:
    """Delete ``node_id``'s claims of those tasks' instants that never started and move each task's
    next instant back to the earliest (so that the next holder runs them)."""
    if not task_ids:
        return
    cur.execute(_Q["runs_hand_over"], {"node_id": node_id, "task_ids": list(task_ids)})
    earliest: dict[int, tuple[int, Any]] = {}
    for row in cur.fetchall():
        task_id = int(row["task_id"])
        if task_id not in earliest or row["scheduled_time"] < earliest[task_id][1]:
            earliest[task_id] = (int(row["task_version"]), row["scheduled_time"])
    for task_id, (version, at) in earliest.items():
        cur.execute(_Q["task_rewind_next_fire"], {"task_id": task_id, "version": version, "at": at})


def release(cur: Cursor, fence: Fence, task_ids: Sequence[int] | None) -> list[int]:
    cur.execute(_Q["lease_held"], lease_params(fence))
    if not cur.fetchall():
        return []
    return hand_over(cur, fence, task_ids)


def pin(cur: Cursor, pins: Mapping[int, str | None]) -> None:
    for task_id, node_id in pins.items():
        cur.execute(_Q["placement_pin"], {"task_id": task_id, "pinned_node": node_id})
        row = cur.fetchone()
        holder = None if row is None else row["node_id"]
        if holder is not None and node_id is not None and holder != node_id:
            cur.execute(_Q["placement_unhold"], {"task_id": task_id})
            _drop_claims(cur, holder, [task_id])


def placements(cur: Cursor, node_id: str | None) -> list[Placement]:
    cur.execute(_Q["placements_list"], {"node_id": node_id})
    return [placement_record(row) for row in cur.fetchall()]


def members(cur: Cursor) -> list[Member]:
    cur.execute(_Q["cluster_members"])
    return [member_record(row) for row in cur.fetchall()]
