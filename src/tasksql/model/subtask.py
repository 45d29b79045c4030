"""Sub-tasks: the per-node parts of one run of a maintenance task (Ocient's ``LOCATION SYSTEM`` or
``LOCATION CLUSTER c``, and ``rebalance`` in a cluster: one per target node; ``LOCATION NODE n``:
one, node ``n``'s).

A run that fans out writes one :class:`Subtask` per node it targets (PENDING); each node takes its
own (RUNNING), executes it against its node-local warehouse and settles it (SUCCEEDED, FAILED,
CANCELLED). The run settles when every sub-task has. Values only; the catalog stores them in its
``subtasks`` table and ``system.subtasks`` lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class SubtaskState(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def settled(self) -> bool:
        """True once the sub-task can change no more."""
        return self not in (SubtaskState.PENDING, SubtaskState.RUNNING)


#: The error code of a sub-task whose node lost its lease before settling it.
NODE_LOST = "NODE_LOST"


@dataclass(frozen=True, slots=True, kw_only=True)
class NewSubtask:
    """A sub-task to write: the node that executes it, how many items it has to do (rebalance: the
    tasks to move; 0: one statement), and its ``detail`` (JSON text the executing node reads: a
    rebalance's moves)."""

    node_id: str
    items_total: int = 0
    detail: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Subtask:
    """One sub-task as stored. ``task_type`` is the Ocient type (``rebuild``, ``check_disk``,
    ``rebalance``), ``location`` how the run picked its nodes (``SYSTEM``, ``CLUSTER c`` or ``NODE n``)."""

    subtask_id: int
    run_id: int
    task_id: int
    task_name: str
    node_id: str
    task_type: str
    location: str
    state: SubtaskState
    items_done: int
    items_total: int
    detail: str | None
    created_at: datetime
    started_at: datetime | None
    completed_time: datetime | None
    error_code: str | None
    error_message: str | None

    @property
    def progress(self) -> float:
        """From 0.0 to 1.0: the items done of those to do; a sub-task without items is 1.0 once it
        succeeded, else 0.0."""
        if self.items_total > 0:
            return min(1.0, self.items_done / self.items_total)
        return 1.0 if self.state is SubtaskState.SUCCEEDED else 0.0
