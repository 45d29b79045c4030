"""The catalog contract for cluster coordination: nodes join and hold leases, tasks are placed on
nodes, and run writes can be fenced by the writer's lease.

The protocol (why each step is safe, the failover timeline) is in ``docs/architecture.md``,
"Cluster coordination". In short:

* :meth:`ClusterCoordination.join` gives a node a new **epoch** (a number the catalog never hands out
  twice) and a **lease**; ``(node id, epoch)`` is its :class:`~tasksql.model.cluster.Fence`;
* lease expiry is judged by the catalog's own clock (PostgreSQL: the server's
  ``clock_timestamp()``; SQLite: the clock of the machine that holds the file), never by the node's;
* a lease that ran out is *revoked* by the next node that claims placements, which then takes that
  node's tasks; a revoked (or superseded) epoch can never renew, claim or write again;
* a write made with ``fence=`` (the run writes of :class:`~tasksql.catalog.base.Catalog`) is applied
  only while the fence's lease is live, and, for inserting or starting a run, while the task's
  placement (its graph root's) is held by that epoch; so is a change of the task's runtime fields
  (its failure count, a suspension), but for a ``RUN ON HOSTS`` task, whose every node applies the
  failure policy to its own runs under its lease. The check is part of the write's own
  statement: no extra round trip. A refused write changes nothing and reads like a fence that held
  (``None`` for an inserted run, ``False`` for an outcome).

A task's **pin** (the node it may run on only) is its definition's: ``NODE = 'n1'``
(:attr:`TaskDef.node <tasksql.model.TaskDef.node>`) or Ocient's ``LOCATION NODE n1`` of a
maintenance body; else the explicit pin :meth:`ClusterCoordination.pin_tasks` wrote. Every statement
that depends on it (a claim, a fenced start) reads it from the task's row itself, so an ALTER TASK
that moves a pin holds from its commit on: the previous holder's starts are refused at once and it
hands the task over at its next claim.

The ``UNIQUE (task, scheduled instant)`` fence of runs holds whatever the leases say.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

from tasksql.model.cluster import Fence, Lease, Member, Membership, Placement
from tasksql.model.run import NewRun, RunRecord

#: The error code of a call whose fence no longer holds a live lease (it must join again).
LEASE_LOST = "LEASE_LOST"


class ClusterCoordination(ABC):
    """The coordination methods every catalog has (see the module). Every method is one
    transaction, as everywhere in the contract."""

    @abstractmethod
    async def join(self, member: Membership) -> Lease:
        """Join the cluster (again): write the node's row (as :meth:`Catalog.register_node` does,
        plus its address, slots and warehouses), give it a new epoch, greater than every epoch
        handed out before by this catalog, and a live lease lasting ``member.lease_seconds`` from
        the catalog's now. The previous epoch of the same node id, if any, stops holding anything:
        its placements become orphans and its fenced writes are refused from this commit on."""

    @abstractmethod
    async def renew_lease(self, fence: Fence, *, running: int) -> bool:
        """Extend the lease of ``fence`` by its length from the catalog's now and record ``running``
        (the runs it executes). False, changing nothing, when the lease is not held any more: it
        ran out (by the catalog's clock), was revoked, ended (:meth:`leave`) or the node joined
        again under a newer epoch. A lease that ran out is never extended, even if nobody revoked
        it yet: the node must join again."""

    @abstractmethod
    async def drain(self, fence: Fence) -> bool:
        """Mark the node ``draining``: it keeps its lease (renewals go on) and its placements, and
        claims nothing more. False when the lease is not held."""

    @abstractmethod
    async def leave(self, fence: Fence) -> bool:
        """End the lease (``left``) and release every placement of the epoch as
        :meth:`release_placements` does. False, changing nothing, when the lease was not held."""

    @abstractmethod
    async def claim_placements(
        self,
        fence: Fence,
        *,
        capacity: int,
        warehouses: Sequence[str] | None,
    ) -> list[int]:
        """Take tasks to run, in ONE transaction, and return the ids taken now, ascending.

        Records ``capacity`` (slots) and ``warehouses`` (None: every warehouse) on the node's row;
        revokes every lease that ran out (taking those node rows ``FOR UPDATE SKIP LOCKED``); gives
        every live task without a placement an empty one; releases (as :meth:`release_placements`
        does) the tasks it holds that are pinned to another node now; then takes *orphans* (placements with no
        holder, or whose holder's epoch is not live or draining any more) that this node may run:
        pinned to it or to no node, and of a warehouse it serves (a task's warehouse is its
        definition's, ``default`` when unset). It takes every such orphan pinned to it or that no
        other live node serves, and others up to its share, ``ceil(live tasks * capacity / slots of
        all live nodes) - tasks it holds`` (none while its runs executing fill its slots and another
        live node's do not); then every unpinned orphan left that no other live node serving its
        warehouse would take at its next claim (each such node holds its share, or its slots are
        full while another live node's are not): slots limit the runs executing, not the
        placements. So, once the live nodes have each claimed once after a lease ran out (their
        loads unchanged meanwhile), no orphan a live node may run is left. A pinned task is taken
        by its node only (and only if that node serves its warehouse). Orphans are locked ``FOR
        UPDATE SKIP LOCKED``: two nodes claiming at once never take the same task, and neither
        waits (a row skipped is taken at a later claim).

        A draining node takes nothing (returns []).

        :raises CatalogError: (code ``LEASE_LOST``) the fence's lease is not held (nothing changed).
        :raises CatalogError: (code ``INVALID_ARGUMENT``) ``capacity`` below 1.
        """

    @abstractmethod
    async def release_placements(self, fence: Fence, task_ids: Sequence[int] | None = None) -> list[int]:
        """Give up the placements of ``task_ids`` (None: all) that ``fence`` holds, in ONE
        transaction, and return the released ids, ascending. For each released task, the runs of the
        fence's node that never started (SCHEDULED, no start time) are deleted and the task's next
        instant goes back to the earliest of them (while the task is started at that run's version
        and its next instant is later), so that the next holder runs those instants. The caller
        stops firing those tasks before it calls. A fence whose lease is not held releases nothing."""

    @abstractmethod
    async def take_over_claims(self, fence: Fence, task_ids: Sequence[int]) -> list[int]:
        """Take over, for ``fence``'s node, the claims other nodes hold of the tasks ``task_ids`` it
        gained, in ONE transaction, and return the ids of the tasks whose claims were taken,
        ascending. Only while the fence's lease is live, and only for the tasks whose placement the
        fence's epoch holds: of each, the runs of other nodes that never started (SCHEDULED, no
        start time, first attempts of the schedule outside graph runs) of the instants from a
        minute before the task's next instant (``next_fire_at``, which a holder writes no later
        than its claims) on, come or to come (every instant when it has none), are deleted, and
        the task's next instant goes back to the earliest of them (while the task is started at
        that run's version and its next instant is later), so that the fence's node runs those
        instants, or skips them, by the task's policy. Their previous holders can start none of
        them any more (a claim is started only while it is its node's row and its task is placed
        on that node's epoch, see :meth:`Catalog.start_claims`; a cluster member starts no body
        before its start is committed). The claims of instants that already came are taken too,
        not left to the settling of their node (:meth:`Catalog.settle_lost_runs`): that settling
        may come later, from a node that does not hold the task (the lost node's own id started
        again), and its rewind of the next instant would reach the catalog only, not the entry the
        holder already built past it. Claims further back are left to that settling (the bound
        keeps the statement to the runs since the task's next instant, not its history). A fence
        whose lease is not held takes nothing."""

    @abstractmethod
    async def pin_tasks(self, pins: Mapping[int, str | None]) -> None:
        """Pin each task (id -> node id) to a node, or unpin it (None), in ONE transaction. A pinned
        task is claimed by its node only and never taken over by another: while its node is down
        it waits. A task pinned to a node other than its holder is released as by
        :meth:`release_placements` (its holder's instants that never started are handed over).
        Ids that are not of a live task are left out. A pin of the task's definition (``NODE =``,
        ``LOCATION NODE``) takes precedence over one written here."""

    @abstractmethod
    async def list_placements(self, *, node_id: str | None = None) -> list[Placement]:
        """The placements of live tasks, by task id: every one, or those held by ``node_id`` (any
        epoch). ``pinned_node`` is the task's pin (its definition's, else the explicit one)."""

    @abstractmethod
    async def fire_leased(self, run: NewRun, fence: Fence) -> RunRecord | None:
        """Insert ``run``, a manual run (EXECUTE TASK) of ``fence``'s node, only while that lease
        is live (or draining), in ONE transaction (the node's row locked until the commit, so a
        revocation waits for it): unlike :meth:`Catalog.fire` under a fence, the task's placement
        is not asked for, since a manual run runs on the node that was asked for it. None,
        changing nothing, when the lease is not held (ran out, revoked, left, superseded) or a
        fence already holds the run's instant. Its start is the insert itself (an EXECUTING
        run); its outcome is written under the same fence as any run's."""

    @abstractmethod
    async def cluster_members(self) -> list[Member]:
        """Every known node, most recently started first, with its lease judged by the catalog's
        clock now and the number of tasks its current epoch holds."""
