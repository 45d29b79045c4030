"""Values of cluster coordination: a node's fence (id and epoch), what it declares when it joins, its
lease as the catalog judges it, and task placements.

The protocol is in ``docs/architecture.md`` ("Cluster coordination"); the catalog methods that use
these values are in :mod:`tasksql.catalog.cluster`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tasksql.errors import CatalogError


class LeaseState(StrEnum):
    """Where a node's lease stands, as stored in ``nodes.lease_state``."""

    #: Registered only (it never joined: a node of a release without leases, or EXECUTE TASK).
    NONE = "none"
    #: Joined; holds its lease while it renews it in time.
    LIVE = "live"
    #: Holds its lease and its placements, takes no new task (it is being stopped).
    DRAINING = "draining"
    #: Stopped cleanly: its lease ended and its placements were released.
    LEFT = "left"
    #: Its lease ran out and was revoked by another node; it must join again (a new epoch).
    LOST = "lost"


@dataclass(frozen=True, slots=True)
class Fence:
    """Who writes: a node id and the epoch it was given when it (last) joined. A fenced write is
    applied only while this epoch holds a live lease (see :mod:`tasksql.catalog.cluster`)."""

    node_id: str
    epoch: int

    def __str__(self) -> str:
        return f"{self.node_id}/{self.epoch}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Membership:
    """What a node declares when it joins the cluster.

    ``lease_seconds``: how long its lease lasts after each renewal (judged by the catalog's clock).
    ``capacity``: its slots (runs it executes at once), which weigh its share of the tasks.
    ``warehouses``: the warehouses it can reach (None: every warehouse).
    ``address``: where its HTTP API answers (None: it serves none).

    :raises CatalogError: (code ``INVALID_ARGUMENT``) a lease that is not positive, fewer than one slot.
    """

    node_id: str
    host: str
    pid: int
    version: str
    started_at: datetime
    lease_seconds: float
    capacity: int
    warehouses: tuple[str, ...] | None = None
    address: str | None = None
    role: str = "scheduler"

    def __post_init__(self) -> None:
        if not self.node_id:
            raise CatalogError("a node needs a non-empty id", code="INVALID_ARGUMENT")
        if not self.lease_seconds > 0:
            raise CatalogError(
                f"a lease must last more than 0 seconds, not {self.lease_seconds}", code="INVALID_ARGUMENT"
            )
        check_capacity(self.capacity)


def check_capacity(capacity: int) -> None:
    """:raises CatalogError: (code ``INVALID_ARGUMENT``) fewer than one slot."""
    if capacity < 1:
        raise CatalogError(f"a node needs at least 1 slot, not {capacity}", code="INVALID_ARGUMENT")


@dataclass(frozen=True, slots=True, kw_only=True)
class Lease:
    """A lease the catalog granted: the fence to write with, and when the lease runs out in the
    catalog's clock (for display: a node keeps its own deadline on its monotonic clock)."""

    fence: Fence
    expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """A node as the cluster sees it (``system.cluster``).

    ``live``: it holds a lease now, judged by the catalog's clock when it was read. ``placed``: the
    tasks its current epoch holds. The other fields are those of its ``nodes`` row.
    """

    node_id: str
    host: str
    pid: int
    version: str
    address: str | None
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    epoch: int
    lease_state: LeaseState
    lease_until: datetime | None
    live: bool
    capacity: int | None
    running: int
    warehouses: tuple[str, ...] | None
    placed: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Placement:
    """Which node runs a task: its holder (``node_id`` and ``epoch``; None when nobody holds it),
    the node it is pinned to (None: any node that serves its warehouse), and since when it is held."""

    task_id: int
    node_id: str | None
    epoch: int | None
    pinned_node: str | None
    placed_at: datetime | None


def member_state(member: Member) -> str:
    """A node's state as ``system.cluster`` shows it: ``live``, ``draining``, ``left`` or ``lost``,
    by its lease as the catalog judged it when it was read (a live or draining lease that ran out is
    ``lost`` even before another node revoked it); ``none`` for a node that never joined."""
    if member.lease_state in (LeaseState.LIVE, LeaseState.DRAINING) and not member.live:
        return LeaseState.LOST.value
    return member.lease_state.value
