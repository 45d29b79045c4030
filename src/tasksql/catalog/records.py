"""The values the catalog contract passes in and out beside the model's own: a change to a stored
task (:class:`TaskUpdate`, with :data:`UNCHANGED` for what it leaves as stored), what to do with a
lost node's runs (:class:`UnstartedRun`, :class:`LostRuns`), and stored rows with their stamps
(:class:`TaskStub`, :class:`TaskVersion`, :class:`IntegrationRecord`, :class:`WarehouseRecord`).

They are importable from :mod:`tasksql.catalog.base` (and :mod:`tasksql.catalog`) as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Final

from tasksql.errors import CatalogError
from tasksql.model import IntegrationDef, SuspendReason, TaskDef, TaskState, WarehouseDef
from tasksql.model.run import RunOutcome


class Unchanged(Enum):
    """The type of :data:`UNCHANGED`."""

    UNCHANGED = "UNCHANGED"

    def __repr__(self) -> str:
        return "UNCHANGED"


#: A :class:`TaskUpdate` field left at this value keeps what is stored (``None`` means "clear it").
UNCHANGED: Final = Unchanged.UNCHANGED


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskUpdate:
    """One change to one stored task, applied by :meth:`Catalog.update_tasks`.

    ``expected_version`` is the :attr:`TaskRecord.version` the writer based its change on; the
    update is refused with :class:`ConcurrentModification` when the stored version differs.

    ``definition`` replaces the definition: when it differs from the stored one, the task gets a new
    version (version + 1, a new :class:`TaskVersion` row, ``last_committed_on`` = now). Its name may
    differ from the stored name (a rename); the new name must be free. ``canonical_sql`` is the
    canonical SQL text of that definition, stored beside it (only used with ``definition``).

    Every other field is applied as given unless left :data:`UNCHANGED`; none of them makes a new
    version. ``drop`` marks the task dropped (after applying the other fields).
    """

    task_id: int
    expected_version: int
    definition: TaskDef | None = None
    canonical_sql: str | None = None
    state: TaskState | Unchanged = UNCHANGED
    suspend_reason: SuspendReason | Unchanged | None = UNCHANGED
    next_fire_at: datetime | Unchanged | None = UNCHANGED
    resumed_on: datetime | Unchanged | None = UNCHANGED
    consecutive_failures: int | Unchanged = UNCHANGED
    owner: str | Unchanged = UNCHANGED
    drop: bool = False

    def __post_init__(self) -> None:
        failures = self.consecutive_failures
        if failures is not UNCHANGED and failures < 0:
            raise CatalogError(
                f"consecutive_failures must be zero or more, not {failures}", code="INVALID_UPDATE"
            )
        if self.canonical_sql is not None and self.definition is None:
            raise CatalogError("canonical_sql is only stored with a new definition", code="INVALID_UPDATE")

    @property
    def changes_definition(self) -> bool:
        """True when this update can change what a scheduler caches (not only run bookkeeping).

        Such updates are committed durably (see the backend) and advance :meth:`Catalog.change_seq`.
        Updates of ``next_fire_at``, ``resumed_on`` and ``consecutive_failures`` alone are not.
        """
        return (
            self.definition is not None
            or self.drop
            or self.state is not UNCHANGED
            or self.suspend_reason is not UNCHANGED
            or self.owner is not UNCHANGED
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class UnstartedRun:
    """What :meth:`Catalog.settle_lost_runs` does with one run of a lost node that never started
    (still SCHEDULED, no ``query_start_time``), as the reaper decided from the task's policy.

    With ``skipped`` (an outcome in state SKIPPED, with its code and reason) the run is recorded
    SKIPPED: its instant is not to be run. Without it the row is deleted, which frees the instant's
    UNIQUE (task, scheduled time) fence; with ``rewind`` as well, the instant is *re-planned*: the
    task's stored next instant goes back to the run's scheduled time (only while the task is started,
    still at the run's version, and its stored next instant is later or unset), so that a scheduler
    loading the task plans that instant again under its catch-up policy. Without ``rewind`` the
    instant is *released*: it is still to come, or the task changed, was suspended or dropped.
    """

    run_id: int
    skipped: RunOutcome | None = None
    rewind: bool = False


@dataclass(frozen=True, slots=True)
class LostRuns:
    """What :meth:`Catalog.settle_lost_runs` did to the runs of one lost node: ``failed`` runs had
    started (recorded FAILED, NODE_LOST); the others never started: ``skipped`` (recorded SKIPPED),
    ``replanned`` (deleted, their instant handed back to the planner) and ``released`` (deleted);
    ``committed`` runs had committed their body (recorded with the outcome given for them)."""

    failed: int = 0
    skipped: int = 0
    replanned: int = 0
    released: int = 0
    committed: int = 0

    @property
    def total(self) -> int:
        return self.failed + self.skipped + self.replanned + self.released + self.committed

    def describe(self) -> str:
        """``"1 failed (it had started), 2 skipped"``: the non-zero counts, for a log line."""
        parts = [
            f"{n} {what}"
            for n, what in (
                (self.committed, "succeeded (body committed)"),
                (self.failed, "failed (started)"),
                (self.skipped, "skipped (never started)"),
                (self.replanned, "re-planned (never started)"),
                (self.released, "released (instant still to come)"),
            )
            if n
        ]
        return ", ".join(parts) or "nothing"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskStub:
    """What a scheduler needs to keep a task in its cache without decoding its definition.

    ``in_graph``: the task runs after others or finalizes one (such a task is needed whole by the
    graph index). The other fields are those of the :class:`TaskRecord` of the same row.
    """

    id: int
    version: int
    state: TaskState
    suspend_reason: SuspendReason | None
    resumed_on: datetime | None
    last_committed_on: datetime
    next_fire_at: datetime | None
    consecutive_failures: int
    in_graph: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskVersion:
    """One committed version of a task's definition; versions are never deleted with the task."""

    task_id: int
    version: int
    definition: TaskDef
    created_on: datetime
    actor: str | None = None
    canonical_sql: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IntegrationRecord:
    """A stored notification integration: its definition and when it was created and last changed."""

    definition: IntegrationDef
    created_on: datetime
    last_altered_on: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class WarehouseRecord:
    """A stored warehouse: its definition and when it was created and last changed."""

    definition: WarehouseDef
    created_on: datetime
    last_altered_on: datetime
