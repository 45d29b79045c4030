"""The catalog contract for work that runs on several nodes (:class:`FanoutCoordination`).

* **RUN ON HOSTS** (VoltDB): every live node runs the task at each instant. Such a run carries
  ``host_node`` (the node it belongs to) and is fenced by ``UNIQUE (task, instant, host_node)``
  (``runs_host_fence``) instead of the ordinary ``UNIQUE (task, instant)``, which keeps holding for
  every other scheduled run. :meth:`FanoutCoordination.fire_on_host` inserts one, only while the
  writer's lease is live.
* **Sub-tasks** (Ocient ``LOCATION SYSTEM`` / ``CLUSTER c`` and ``rebalance``): one run writes one
  sub-task per node it targets; each node takes its own, executes it and settles it; a sub-task
  whose node lost its lease is settled FAILED (``NODE_LOST``) by whoever looks next.
* **Moving placements** (``rebalance``): the holder of a task hands it to another live node in one
  transaction, as :meth:`~tasksql.catalog.cluster.ClusterCoordination.release_placements` hands
  over the instants it claimed but never started.

Every method is one transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from tasksql.model import TaskRecord
from tasksql.model.cluster import Fence
from tasksql.model.run import NewRun, RunRecord
from tasksql.model.subtask import NewSubtask, Subtask, SubtaskState


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveNode:
    """A node with a live lease now: its epoch, the warehouses it serves (None: every one) and the
    cluster it says it belongs to (None: it never said)."""

    node_id: str
    epoch: int
    warehouses: tuple[str, ...] | None
    cluster_id: str | None

    def serves(self, warehouse: str) -> bool:
        return self.warehouses is None or warehouse in self.warehouses


class FanoutCoordination(ABC):
    """See the module."""

    @abstractmethod
    async def fire_on_host(self, run: NewRun, fence: Fence) -> RunRecord | None:
        """Insert ``run`` as the RUN ON HOSTS run of ``fence``'s node (its ``node_id`` and
        ``host_node`` are the fence's node), only while that lease is live. None, changing nothing,
        when the lease is not live or the node has a run of that task at that instant already."""

    @abstractmethod
    async def list_host_tasks(self) -> list[TaskRecord]:
        """The live tasks whose definition says RUN ON HOSTS, by id."""

    @abstractmethod
    async def set_node_cluster(self, node_id: str, cluster_id: str) -> None:
        """Record the cluster ``node_id`` belongs to (its setting ``cluster_id``)."""

    @abstractmethod
    async def live_nodes(self) -> list[LiveNode]:
        """The nodes whose lease is live now (by the catalog's clock), by id."""

    @abstractmethod
    async def create_subtasks(
        self,
        run: RunRecord,
        *,
        task_type: str,
        location: str,
        subtasks: Sequence[NewSubtask],
        now: datetime,
    ) -> list[Subtask]:
        """Write one PENDING sub-task of ``run`` per item of ``subtasks``, in order; returns them."""

    @abstractmethod
    async def take_subtasks(self, node_id: str, *, now: datetime) -> list[Subtask]:
        """The PENDING sub-tasks of ``node_id``, now RUNNING (started ``now``); two callers never
        take the same one."""

    @abstractmethod
    async def progress_subtask(
        self, subtask_id: int, items_done: int, items_total: int | None = None
    ) -> bool:
        """Record the items a RUNNING sub-task has done (and of how many, when ``items_total`` is
        given); False when it is not running (settled or cancelled meanwhile)."""

    @abstractmethod
    async def settle_subtask(
        self,
        subtask_id: int,
        state: SubtaskState,
        *,
        now: datetime,
        items_done: int | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> bool:
        """Settle an open sub-task in ``state`` (SUCCEEDED, FAILED or CANCELLED); False, changing
        nothing, when it was settled already (a settled sub-task is final).

        :raises CatalogError: (code ``INVALID_ARGUMENT``) ``state`` is not a settled state.
        """

    @abstractmethod
    async def cancel_subtasks(
        self, *, task_id: int | None = None, run_id: int | None = None, now: datetime, reason: str
    ) -> list[int]:
        """Cancel every open sub-task of ``task_id`` (CANCEL TASK) or of ``run_id``; their ids."""

    @abstractmethod
    async def settle_lost_subtasks(self, *, now: datetime, restarted: str | None = None) -> list[int]:
        """Settle FAILED (``NODE_LOST``) the open sub-tasks of every node whose lease is gone
        (lost, left, or run out by the catalog's clock), and the RUNNING ones of ``restarted`` (a
        node that started again: they died with its previous process); their ids."""

    @abstractmethod
    async def list_subtasks(
        self,
        *,
        run_id: int | None = None,
        task_id: int | None = None,
        node_id: str | None = None,
        open_only: bool = False,
    ) -> list[Subtask]:
        """Sub-tasks by id, filtered by run, task, node, or open (PENDING, RUNNING) only."""

    @abstractmethod
    async def move_placements(self, fence: Fence, moves: Mapping[int, str]) -> list[int]:
        """Move each task of ``moves`` (task id -> node id) that ``fence`` holds and that is not
        pinned to the current epoch of that node, if its lease is live; return the ids moved,
        ascending. As :meth:`~tasksql.catalog.cluster.ClusterCoordination.release_placements`, the
        runs of ``fence``'s node that never started for a moved task are deleted and its next
        instant goes back to the earliest of them, so the new holder runs them. The caller stops
        firing those tasks first. A fence whose lease is not held moves nothing."""
