"""This node as a member of a cluster (:class:`ClusterMember`): its lease, its epoch, the tasks
placed on it, and when it may fire.

The protocol is the catalog's (:mod:`tasksql.catalog.cluster`, ``docs/architecture.md``, "Cluster
coordination"). What this node does with it:

* it joins when the scheduler starts (a new epoch every time) and renews its lease every
  :data:`RENEW_EVERY_S`, recording its runs executing; a server renews on a line of its own (a
  connection and a thread: :mod:`tasksql.scheduler.renewals`), so that no burst of runs delays a
  renewal. It claims placements at the same pace, and at a catalog change (a new task is placed
  within a round or a change notice). A task gained is fired only once the claims other nodes
  hold of it are taken over (:meth:`Catalog.take_over_claims
  <tasksql.catalog.cluster.ClusterCoordination.take_over_claims>`): when that fails, the task stays
  out of :attr:`ClusterMember.placed` and the next round tries again;
* it keeps its own **deadline** on its monotonic clock: the time a renewal was *sent* plus the
  lease, less :data:`MARGIN_S`. Past it (a renewal that failed, hung, or a process that was
  paused) the node fires nothing: the catalog may have given its tasks to another node already.
  When a renewal reports the lease lost (or the deadline passed), the node forgets its placements
  and joins again under a new epoch;
* every run write that starts a run or records its outcome carries the fence (:class:`FenceRef`),
  so a write made after the lease was lost changes nothing (the catalog checks the lease in the
  same statement);
* when it stops it drains: it releases its placements (the catalog hands the instants it claimed
  but never started over) and keeps renewing while its in-flight runs finish, then leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from tasksql import __version__
from tasksql.catalog.base import Catalog
from tasksql.catalog.cluster import LEASE_LOST
from tasksql.catalog.lease import LeaseLine
from tasksql.errors import CatalogError, TasksqlError
from tasksql.model.cluster import Fence, Membership
from tasksql.scheduler.renewals import RenewalThread

log = logging.getLogger("tasksql.scheduler")

#: How long a lease lasts after each renewal (judged by the catalog's clock). A killed node's tasks
#: are taken over by another node at its first renewal after this, so failover takes at most
#: LEASE_S + RENEW_EVERY_S plus the wait for the task's next instant.
LEASE_S = 2.5
#: Renewals (and claims of placements) this often.
RENEW_EVERY_S = 0.5
#: The node stops firing this long before its lease runs out by its own clock (clock drift, and the
#: time a fenced write takes to reach the catalog).
MARGIN_S = 0.6


@dataclass
class FenceRef:
    """The fence the run writes of this node carry: None when the node is not a cluster member
    (writes unfenced, as on a single node) or holds no lease (it is joining again). A member
    (``member``) without a lease writes no run at all: what it would write waits for its next
    lease (see :meth:`~tasksql.scheduler.inflight.InFlightRuns.settle_refused`)."""

    current: Fence | None = None
    member: bool = False

    @property
    def withheld(self) -> bool:
        """True while run writes must wait: a cluster member holding no lease."""
        return self.member and self.current is None


#: The error code of a manual graph run asked of a node that does not hold the graph's root.
NOT_PLACED_HERE = "NOT_PLACED_HERE"


def lease_lost(node_id: str) -> CatalogError:
    """The error of a manual run asked of a cluster member that holds no live lease (nothing was
    written)."""
    return CatalogError(
        f"node {node_id} holds no cluster lease now (it ran out; the node is joining again), so it "
        "starts no run: run the statement again in a few seconds, or on another node",
        code=LEASE_LOST,
    )


def not_placed_here(task: str, holder: str | None) -> CatalogError:
    """The error of a manual graph run asked of a node that does not hold the graph's root."""
    where = f"node {holder} holds it" if holder else "no node holds it now (it is being handed over)"
    return CatalogError(
        f"task {task} is the root of a task graph, whose runs go with the root's placement, and {where}:"
        f" run the statement on {'node ' + holder if holder else 'the node that takes it over'}",
        code=NOT_PLACED_HERE,
    )


def pinned_elsewhere(task: str, node: str) -> CatalogError:
    """The error of a manual run asked of a node other than the one its task is pinned to."""
    return CatalogError(
        f"task {task} is pinned to node {node} and runs there only: run the statement on node {node}",
        code=NOT_PLACED_HERE,
    )


#: Called with (task ids gained, task ids lost) when the node's placements changed.
PlacementsChanged = Callable[[set[int], set[int]], Awaitable[None]]


class ClusterMember:
    """The lease and placements of one node (see the module).

    :param capacity: the node's slots (runs it executes at once), weighing its share of tasks.
    :param running: the node's runs executing now (recorded at each renewal: its load).
    :param placed_changed: told when tasks were placed on the node or taken from it; the caller
        stops firing the lost ones before it returns.
    :param renewed: called after each join (with None) and each successful renewal (with what
        ``refused_mark`` said before the renewal was sent): the node deals with the outcomes its
        fence refused (see :meth:`InFlightRuns.settle_refused`).
    :param monotonic: the clock of the node's own deadline (tests pass a fake one).
    :param warehouses: the warehouses the node runs tasks of (None: every warehouse); it claims
        only tasks of those.
    :param address: where the node's HTTP API answers the other nodes (None: it serves none).
    :param line: renew on this line, in a thread of its own (see :mod:`.renewals`), rather than
        through ``catalog`` in :meth:`beat` (None).
    """

    def __init__(
        self,
        catalog: Catalog,
        fence: FenceRef,
        *,
        node_id: str,
        capacity: int,
        running: Callable[[], int],
        placed_changed: PlacementsChanged,
        now: Callable[[], datetime],
        renewed: Callable[[int | None], Awaitable[None]] | None = None,
        refused_mark: Callable[[], int] = lambda: 0,
        lease_s: float = LEASE_S,
        renew_every_s: float = RENEW_EVERY_S,
        margin_s: float = MARGIN_S,
        monotonic: Callable[[], float] = time.monotonic,
        warehouses: tuple[str, ...] | None = None,
        address: str | None = None,
        line: LeaseLine | None = None,
    ) -> None:
        self._catalog = catalog
        self._fence = fence
        fence.member = True
        self.node_id = node_id
        self._capacity = max(1, capacity)
        self._running = running
        self._placed_changed = placed_changed
        self._now = now
        self._renewed = renewed
        self._refused_mark = refused_mark
        self.lease_s = lease_s
        self.renew_every_s = renew_every_s
        self._margin = margin_s
        self._monotonic = monotonic
        self.warehouses = warehouses
        self.address = address
        self._deadline = 0.0
        self._draining = False
        self._claim_now = asyncio.Event()
        #: The tasks this node's epoch holds (and fires).
        self.placed: set[int] = set()
        #: Times this node joined (1 after start; more after its lease was lost).
        self.joins = 0
        #: The runs and graph runs of this node id that were open when it joined: its earlier
        #: epochs' (or an earlier process's), which nobody else settles once it joined again (see
        #: :func:`~tasksql.scheduler.takeover.settle_own_earlier`).
        self.earlier_runs: set[int] = set()
        self.earlier_graphs: set[str] = set()
        #: The fence and the deadline change under this lock: the renewal thread reports to them.
        self._lock = threading.Lock()
        #: From the renewal thread: the mark of the last renewal that proved the lease held, and
        #: the fence of a renewal the catalog refused (both of the current fence only).
        self._proved: int | None = None
        self._refused: Fence | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: RenewalThread | None = None
        if line is not None:
            self._thread = RenewalThread(
                line,
                request=self._renewal_request,
                report=self._renewal_report,
                every=renew_every_s,
                node_id=node_id,
                sent_clock=monotonic,
            )

    @property
    def fence(self) -> Fence | None:
        return self._fence.current

    def owns(self, task_id: int) -> bool:
        """True when ``task_id`` is placed on this node's current epoch."""
        return task_id in self.placed

    def may_fire(self) -> bool:
        """True while the node holds a lease by its own clock and is not draining: only then may
        it start instants (self-fencing)."""
        return self._fence.current is not None and not self._draining and self._monotonic() < self._deadline

    def poke(self) -> None:
        """Renew and claim now rather than at the next round (a catalog change, a refused write)."""
        self._claim_now.set()

    async def join(self) -> None:
        """Join the cluster under a new epoch and claim placements.

        :raises TasksqlError: the catalog could not be reached (the caller retries).
        """
        sent = self._monotonic()
        lease = await self._catalog.join(
            Membership(
                node_id=self.node_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                version=__version__,
                started_at=self._now(),
                lease_seconds=self.lease_s,
                capacity=self._capacity,
                warehouses=self.warehouses,
                address=self.address,
                role="server",
            )
        )
        # what the node id left open so far: read before the new fence is handed to the node's
        # writers, so that none of it was written under the new epoch
        self.earlier_runs |= {r.run_id for r in await self._catalog.open_runs(self.node_id)}
        self.earlier_graphs |= {
            g.graph_run_group_id
            for g in await self._catalog.list_graph_runs(states=["EXECUTING"])
            if g.node_id == self.node_id
        }
        with self._lock:
            self._fence.current = lease.fence
            self._deadline = sent + self.lease_s - self._margin
            self._proved = self._refused = None
        self.joins += 1
        log.info("node %s joined the cluster (epoch %d)", self.node_id, lease.fence.epoch)
        if self._thread is not None and self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._thread.start()
        await self._claim()
        if self._renewed is not None:
            await self._renewed(None)

    async def beat(self) -> None:
        """One round: renew the lease (recording the load) and claim placements; when the lease is
        lost (the catalog says so, or the node's deadline passed), forget the placements and join
        again. With a line, the renewal is the thread's: the round acts on what it reported.

        :raises TasksqlError: the catalog could not be reached (the deadline keeps running).
        """
        fence = self._fence.current
        if fence is None or self._monotonic() >= self._deadline:
            await self._lost("its lease ran out before it could renew it" if fence else None)
            if not self._draining:  # a draining node that lost its lease is done
                await self.join()
            return
        if self._thread is not None:
            with self._lock:
                refused, mark = self._refused == fence, self._proved
                self._proved = None
            held = not refused
        else:
            sent, mark = self._monotonic(), self._refused_mark()
            held = await self._catalog.renew_lease(fence, running=self._running())
            if held:
                self._deadline = sent + self.lease_s - self._margin
        if not held:
            await self._lost("the catalog says its lease is not held any more")
            if not self._draining:
                await self.join()
            return
        if self._renewed is not None and mark is not None:
            await self._renewed(mark)
        if not self._draining:
            await self._claim()

    async def loop(self, stopping: Callable[[], bool]) -> None:
        """Renew every :data:`RENEW_EVERY_S` (or at :meth:`poke`) until ``stopping()``; a failed
        round is retried at the next (the deadline stops the firing meanwhile)."""
        while not stopping():
            try:
                await self.beat()
            except TasksqlError as exc:
                log.warning("node %s could not renew its lease: %s", self.node_id, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._claim_now.wait(), self.renew_every_s)
            self._claim_now.clear()

    async def _claim(self) -> None:
        fence = self._fence.current
        if fence is None:
            return
        try:
            await self._catalog.claim_placements(fence, capacity=self._capacity, warehouses=self.warehouses)
        except TasksqlError as exc:
            if exc.code == "LEASE_LOST":
                await self._lost("the catalog refused its claim: its lease is not held any more")
                return
            raise
        # the whole set, not only the new claims: a pin (or a new epoch) may have taken tasks away
        held = {
            p.task_id
            for p in await self._catalog.list_placements(node_id=self.node_id)
            if p.epoch == fence.epoch
        }
        if self._fence.current != fence:
            return
        gained, lost = held - self.placed, self.placed - held
        if gained and not await self._take_over(fence, gained):
            held -= gained  # not fired here until taken over: the next round tries again
            gained = set()
        if self._fence.current != fence:
            return
        self.placed = held
        if gained or lost:
            await self._placed_changed(gained, lost)

    async def _take_over(self, fence: Fence, gained: set[int]) -> bool:
        """Take over the claims other nodes hold of the ``gained`` tasks' instants (see
        :meth:`Catalog.take_over_claims`), before the node fires any of them; False when the
        catalog could not be asked (the tasks are not fired until a later round has taken them).

        A task is fired only once its claims are taken over: its entry is then built from the
        task's row, whose next instant went back to the earliest claim taken. Were a claim left
        to the settling of its lost node instead, that settling (by another node, or by the lost
        node's id started again) could delete it after this node built its entry past its
        instant, and the instant would run nowhere."""
        try:
            await self._catalog.take_over_claims(fence, sorted(gained))
        except TasksqlError as exc:
            log.warning(
                "node %s could not take over the claims of %d task(s) placed on it (it fires them once"
                " it has): %s",
                self.node_id,
                len(gained),
                exc,
            )
            return False
        return True

    async def _lost(self, why: str | None) -> None:
        """Stop firing at once and forget every placement (another node may run them now)."""
        if why is not None:
            log.warning("node %s stops firing: %s; it joins again", self.node_id, why)
        with self._lock:
            self._fence.current = None
        lost, self.placed = self.placed, set()
        if lost:
            await self._placed_changed(set(), lost)

    async def drain(self, keep: Collection[int] = ()) -> None:
        """Stop taking instants and hand every placement over but those of ``keep`` (the caller
        stopped firing first). The placements kept are released when the node leaves
        (:meth:`leave`): the fenced inserts of the graph runs the node still coordinates need them
        until then."""
        self._draining = True
        fence = self._fence.current
        if fence is None:
            return
        kept = self.placed & set(keep)
        lost, self.placed = self.placed - kept, kept
        if lost:
            await self._placed_changed(set(), lost)
        await self._catalog.drain(fence)
        if not kept:
            await self._catalog.release_placements(fence)
        elif lost:
            await self._catalog.release_placements(fence, sorted(lost))

    async def keep_alive(self, done: Callable[[], bool]) -> None:
        """While draining: keep renewing until ``done()`` (in-flight runs record their outcomes
        under the fence)."""
        while not done():
            try:
                await self.beat()
            except TasksqlError as exc:
                log.warning("node %s could not renew its lease while stopping: %s", self.node_id, exc)
            await asyncio.sleep(self.renew_every_s)

    async def leave(self) -> None:
        """End the lease (the node stopped)."""
        with self._lock:
            fence, self._fence.current = self._fence.current, None
        await self.close()
        if fence is not None:
            await self._catalog.leave(fence)

    async def close(self) -> None:
        """Stop the renewal thread, if any (the node stops; nothing renews the lease after this)."""
        if self._thread is not None:
            await asyncio.to_thread(self._thread.stop)

    # --- what the renewal thread asks and tells (called in that thread) --------------------------

    def _renewal_request(self) -> tuple[Fence, int, int] | None:
        fence = self._fence.current
        if fence is None:
            return None
        return fence, self._running(), self._refused_mark()

    def _renewal_report(self, fence: Fence, sent: float, mark: int, held: bool) -> None:
        with self._lock:
            if self._fence.current != fence:
                return  # a renewal of an epoch the node left meanwhile
            if held:
                self._deadline = max(self._deadline, sent + self.lease_s - self._margin)
                self._proved = mark
            else:
                self._refused = fence
        if not held and self._loop is not None:
            self._loop.call_soon_threadsafe(self.poke)  # the round acts on it now
