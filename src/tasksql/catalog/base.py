"""The catalog contract: where tasksql keeps its own state.

The catalog is the truth. Schedulers, the engine and every interface read definitions from it and
rebuild their in-memory caches from it; nothing else is authoritative. Several processes (and, with
a PostgreSQL catalog, several nodes) may use one catalog at once, so the contract never assumes a
single writer:

* every write is a transaction that either commits as a whole or changes nothing;
* concurrent edits of one task are detected with *optimistic concurrency*: a writer states the
  version it read (:attr:`TaskUpdate.expected_version`) and gets :class:`ConcurrentModification`
  when another writer got there first;
* names are fenced by UNIQUE constraints, so two writers creating the same name cannot both win;
* :meth:`Catalog.change_seq` grows with every committed definition change made by *any* process,
  so a scheduler knows when to reload (:meth:`Catalog.wait_for_change` is the wake-up).

Instants passed in and returned are timezone-aware UTC datetimes; a naive datetime passed in is
taken to be UTC. Backends store them with microsecond precision.

Durability has two levels. A *durable* commit (definition changes, settings) survives a crash of
the machine that holds the catalog before the method returns. Run bookkeeping is committed so that
it survives a crash of the tasksql process, but a crash of the catalog's own storage (power loss;
a PostgreSQL server crash) may lose its last few hundred milliseconds, which start-up
reconciliation repairs.

A backend is tested by the ``tests/catalog/test_catalog_contract*.py`` files, written against this
class only: a third backend would only have to pass them.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from types import TracebackType
from typing import Self

from tasksql.catalog.checks import StorageChecks
from tasksql.catalog.cluster import ClusterCoordination
from tasksql.catalog.fanout import FanoutCoordination
from tasksql.catalog.records import (
    UNCHANGED,
    IntegrationRecord,
    LostRuns,
    TaskStub,
    TaskUpdate,
    TaskVersion,
    Unchanged,
    UnstartedRun,
    WarehouseRecord,
)
from tasksql.catalog.secrets import SecretCatalog
from tasksql.catalog.security import SecurityCatalog
from tasksql.catalog.tables import RowLoader, TableRow
from tasksql.errors import CatalogError
from tasksql.model import (
    IntegrationDef,
    QualifiedName,
    Spelling,
    SuspendReason,
    TaskDef,
    TaskRecord,
    TaskState,
    WarehouseDef,
)
from tasksql.model.cluster import Fence
from tasksql.model.outbox import DeliveryAttempt, DeliveryRecord, OutboxItem, OutboxMessage, OutboxState
from tasksql.model.run import (
    GraphRunEnd,
    GraphRunRecord,
    NewGraphRun,
    NewRun,
    NodeRecord,
    RunOutcome,
    RunRecord,
    TaskRuntime,
)
from tasksql.observe import Observers

# The contract's own values live in catalog/records.py; they stay importable from here.
__all__ = [
    "UNCHANGED",
    "Catalog",
    "IntegrationRecord",
    "LostRuns",
    "TaskStub",
    "TaskUpdate",
    "TaskVersion",
    "Unchanged",
    "UnstartedRun",
    "WarehouseRecord",
]


class Catalog(ClusterCoordination, FanoutCoordination, SecurityCatalog, SecretCatalog, StorageChecks, ABC):
    """The durable state of tasksql: tasks and their versions, integrations, secrets, warehouses,
    settings.

    Every method is a coroutine; none blocks the event loop. A catalog is used from the event loop
    that opened it. Use it as an async context manager (``async with catalog:``) or call
    :meth:`open` and :meth:`close`. Calling any other method before :meth:`open` or after
    :meth:`close` raises :class:`CatalogError` (code ``CATALOG_CLOSED``).

    Every write method is one transaction: when it returns, its change is committed (and, where the
    method says so, durable against power loss); when it raises, nothing was changed. A write whose
    caller is cancelled may still commit (it may already be running); read to find out. Errors are
    always :class:`~tasksql.errors.TasksqlError` subclasses; a backend's driver exceptions never
    escape (a failure of the storage itself is a plain :class:`CatalogError`).

    Object names (integrations, warehouses, setting keys) are compared exactly; the engine folds
    case before it calls the catalog. Task names must be resolved (database, schema and name all
    given); an unresolved name raises :class:`CatalogError` (code ``NAME_NOT_RESOLVED``).

    Run writes take an optional ``fence`` (the writer's node and epoch): with it, the write applies
    only while that epoch holds a live lease (and, to insert or start a run or change a task's
    runtime fields, the task's placement); see :mod:`tasksql.catalog.cluster`. A refused write
    changes nothing and reads like a fence that held (None, False). Without it, as before.
    """

    @property
    def observers(self) -> Observers:
        """The listeners of this catalog object (:mod:`tasksql.observe`): a backend reports the run
        bookkeeping it committed and how long its writes took; nobody listens by default."""
        found: Observers | None = self.__dict__.get("_observers")
        if found is None:
            found = self.__dict__["_observers"] = Observers()
        return found

    # --- life cycle ------------------------------------------------------------------------------

    @abstractmethod
    async def open(self) -> None:
        """Connect, create the schema or migrate it to the current version, seed what must exist.

        Safe to run by several processes at once (migrations run in one transaction, and a process
        that finds them applied does nothing). Seeds the ``default`` warehouse if it is missing.

        :raises SchemaVersionError: the catalog was written by a newer tasksql.
        :raises CatalogError: the storage cannot be opened, or it is not a tasksql catalog.
        """

    @abstractmethod
    async def close(self) -> None:
        """Finish the writes already submitted, then release every connection and thread.

        Idempotent. Methods called afterwards raise :class:`CatalogError` (``CATALOG_CLOSED``).
        """

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def outage(self) -> CatalogError | None:
        """``None`` while the catalog's storage is believed reachable. During an outage the backend
        knows of (a PostgreSQL server restarting or stopped, a connection that cannot be made
        again), the one-line error, code ``CATALOG_UNAVAILABLE``, that reads and writes which do
        not wait get at once. Run bookkeeping (:meth:`fire`, :meth:`record_fires`,
        :meth:`finish_run`, :meth:`settle_later`, :meth:`settle_graph_step`,
        :meth:`set_task_runtime`, :meth:`graph_version`) waits out an outage instead and is
        committed once when it ends. A backend that knows no outages (SQLite) returns ``None``.
        """
        return None

    async def wait_reachable(self, timeout: float) -> bool:
        """Wait until no outage is on (see :meth:`outage`), at most ``timeout`` seconds; True when
        the catalog is believed reachable."""
        return True

    # --- tasks -----------------------------------------------------------------------------------

    @abstractmethod
    async def get_task(self, name: QualifiedName) -> TaskRecord | None:
        """The live (not dropped) task with this resolved name, or ``None``."""

    @abstractmethod
    async def get_task_by_id(self, task_id: int) -> TaskRecord | None:
        """The live task with this id, or ``None`` (also for a dropped task)."""

    @abstractmethod
    async def list_tasks(self) -> list[TaskRecord]:
        """Every live task, ordered by (database, schema, name)."""

    @abstractmethod
    async def list_task_stubs(self, *, after_id: int = 0, limit: int | None = None) -> list[TaskStub]:
        """A :class:`TaskStub` of every live task with an id above ``after_id`` (at most ``limit``),
        by id; no definition is decoded (a scheduler's cache of 100,000 tasks loads in a fraction of
        :meth:`list_tasks`'s time and memory, a chunk at a time)."""

    @abstractmethod
    async def get_tasks_by_ids(self, ids: Sequence[int]) -> list[TaskRecord]:
        """The live tasks among ``ids``, by id (dropped and unknown ids are left out)."""

    @abstractmethod
    async def history_retentions(self) -> dict[int, int]:
        """Task id -> HISTORY_RETENTION in milliseconds, for every live task that sets one."""

    @abstractmethod
    async def create_task(
        self,
        definition: TaskDef,
        *,
        spelling: Spelling,
        state: TaskState,
        suspend_reason: SuspendReason | None,
        owner: str,
        now: datetime,
        next_fire_at: datetime | None,
        replace: bool = False,
        actor: str | None = None,
        canonical_sql: str | None = None,
    ) -> TaskRecord:
        """Store a new task named ``definition.name``, at version 1, and return it.

        In the same transaction: the task row, its version-1 :class:`TaskVersion` row (``actor``,
        ``canonical_sql``), ``created_on`` = ``last_committed_on`` = ``now``, and the change
        sequence. Committed durably.

        With ``replace`` and a live task of that name: that task keeps its id and ``created_on``
        (its run history stays linked to the id) and gets a new version with this definition,
        ``spelling``, ``state``, ``suspend_reason``, ``owner`` and ``next_fire_at``;
        ``consecutive_failures`` goes back to 0; ``last_suspended_on`` is set to ``now`` when the
        state goes from started to suspended. Without a live task of that name, ``replace`` creates.

        :raises ObjectExists: (code ``TASK_EXISTS``) a live task has that name and not ``replace``.
        :raises CatalogError: the name is not resolved (``NAME_NOT_RESOLVED``).
        """

    @abstractmethod
    async def update_tasks(
        self,
        updates: Sequence[TaskUpdate],
        *,
        now: datetime,
        actor: str | None = None,
    ) -> list[TaskRecord]:
        """Apply every update in ONE transaction, in order, and return the resulting records.

        All or nothing: if one update fails, none is applied. Updates are applied in order, so a
        later update of the same task must expect the version the earlier one produced. For each:
        a new definition makes a new version (``actor`` is recorded on it); ``last_suspended_on``
        is set to ``now`` when the state goes from started to suspended; ``drop`` sets the task
        aside: it disappears from :meth:`get_task`, :meth:`get_task_by_id` and :meth:`list_tasks`,
        its name can be reused at once, and its versions stay readable. The record returned for a
        dropped task is its last state. Updates for which :attr:`TaskUpdate.changes_definition`
        holds are committed durably and advance the change sequence. An empty sequence is a no-op.

        :raises TaskNotFound: no live task has ``task_id``.
        :raises ConcurrentModification: the stored version is not ``expected_version``.
        :raises ObjectExists: (``TASK_EXISTS``) a new definition renames the task to a taken name.
        :raises CatalogError: a definition's name is not resolved (``NAME_NOT_RESOLVED``).
        """

    @abstractmethod
    async def task_versions(self, task_id: int) -> list[TaskVersion]:
        """Every version of the task with this id (dropped or not), oldest first; [] if unknown."""

    @abstractmethod
    async def get_task_version(self, task_id: int, version: int) -> TaskDef:
        """The definition of one version of a task (dropped or not).

        :raises TaskNotFound: (code ``TASK_VERSION_NOT_FOUND``) no such task or version.
        """

    # --- notification integrations ---------------------------------------------------------------

    @abstractmethod
    async def put_integration(self, definition: IntegrationDef, *, replace: bool, now: datetime) -> None:
        """Create an integration, or with ``replace`` overwrite an existing one of that name.

        Secrets in the definition (webhook authorization header, signing secret) are stored as
        given. Replacing keeps ``created_on`` and sets ``last_altered_on`` = ``now``. Committed
        durably; advances the change sequence.

        :raises ObjectExists: (code ``INTEGRATION_EXISTS``) it exists and not ``replace``.
        """

    @abstractmethod
    async def get_integration(self, name: str) -> IntegrationDef | None:
        """The integration with this name, or ``None``."""

    @abstractmethod
    async def list_integrations(self) -> list[IntegrationRecord]:
        """Every integration, ordered by name."""

    @abstractmethod
    async def drop_integration(self, name: str) -> bool:
        """Delete an integration; ``False`` if it did not exist. Durable; advances the change sequence."""

    # --- warehouses ------------------------------------------------------------------------------

    @abstractmethod
    async def put_warehouse(self, definition: WarehouseDef, *, replace: bool, now: datetime) -> None:
        """Create a warehouse, or with ``replace`` overwrite an existing one of that name.

        The ``default`` warehouse always exists: it can be replaced only by an embedded DuckDB
        definition (its ``max_concurrency`` and ``comment`` may change). Replacing keeps
        ``created_on``. Committed durably; advances the change sequence.

        :raises ObjectExists: (code ``WAREHOUSE_EXISTS``) it exists and not ``replace``.
        :raises CatalogError: (code ``DEFAULT_WAREHOUSE``) ``default`` would stop being embedded.
        """

    @abstractmethod
    async def get_warehouse(self, name: str) -> WarehouseDef | None:
        """The warehouse with this name, or ``None``."""

    @abstractmethod
    async def list_warehouses(self) -> list[WarehouseRecord]:
        """Every warehouse, ``default`` included, ordered by name."""

    @abstractmethod
    async def drop_warehouse(self, name: str) -> bool:
        """Delete a warehouse; ``False`` if it did not exist. Durable; advances the change sequence.

        :raises CatalogError: (code ``DEFAULT_WAREHOUSE``) for ``default``, which cannot be dropped.
        """

    # --- settings and change signals -------------------------------------------------------------

    @abstractmethod
    async def get_setting(self, key: str) -> str | None:
        """The value of a global setting, or ``None`` when it is not set."""

    @abstractmethod
    async def set_setting(self, key: str, value: str | None) -> None:
        """Set a global setting; ``None`` removes it. Committed durably."""

    @abstractmethod
    def one_sync(self) -> AbstractAsyncContextManager[None]:
        """Within this context (of the current task), definition changes are committed and visible
        at once as usual, but their durability waits for the context's end, where one durable
        commit covers them all (also when the context ends with an error): a script of many
        statements pays one flush to stable storage instead of one per statement (SQLite: one
        fsync of the WAL; PostgreSQL: asynchronous commits, then one synchronous commit, which
        waits for the WAL up to itself). Nothing is acknowledged before it is durable, since the
        script returns only after that last commit."""

    @abstractmethod
    async def change_seq(self) -> int:
        """A number that grows with every committed definition change, made by any process.

        Definition changes are: creating or replacing a task, task updates for which
        :attr:`TaskUpdate.changes_definition` holds, and putting or dropping an integration or a
        warehouse. It never decreases; compare it with an earlier value to know whether to reload.
        """

    @abstractmethod
    async def wait_for_change(self, seq: int, timeout: float, *, poll: float | None = None) -> int:
        """Wait until :meth:`change_seq` is greater than ``seq`` or ``timeout`` seconds pass.

        Returns the current change sequence (greater than ``seq`` unless the timeout passed).
        A change committed through this catalog object wakes the waiter at once. A change made by
        another process is noticed within the poll interval: ``poll`` seconds, or the backend's
        own when ``poll`` is None (SQLite polls; PostgreSQL is woken by a NOTIFY sent in the
        change's transaction, and polls only as a fallback).
        """

    # --- runs, task runtime fields and nodes -----------------------------------------------------

    @abstractmethod
    async def fire(
        self,
        runs: Sequence[NewRun],
        runtime: Sequence[TaskRuntime],
        graphs: Sequence[NewGraphRun] = (),
        *,
        fence: Fence | None = None,
    ) -> list[RunRecord | None]:
        """Insert ``runs``, apply ``runtime`` updates and start ``graphs`` in ONE transaction.

        A graph run is inserted only when the root run it names (``root_run_index``) was inserted.

        Returns one entry per run, in order: the stored run, or ``None`` when a fence already holds
        it (the UNIQUE (task, scheduled instant) of a scheduled first attempt, or (graph run, task,
        attempt) inside a graph run): another node fired that instant first. Runtime updates never
        create a version, never advance the change sequence, and ignore dropped tasks.
        """

    @abstractmethod
    def record_fires(
        self,
        node_id: str,
        updates: Sequence[RunOutcome],
        releases: Sequence[tuple[int, datetime]],
        claims: Sequence[NewRun],
        *,
        urgent: bool = False,
        fence: Fence | None = None,
    ) -> asyncio.Future[list[RunRecord | None]]:
        """Bookkeeping of runs claimed ahead (see :mod:`tasksql.scheduler.claims`), in ONE transaction:

        - ``updates``: state changes of claimed runs whose instant came (EXECUTING with its start
          time, or SKIPPED with code and message); a run already settled is left alone;
        - ``releases``: (task id, instant) of claims of ``node_id`` that will not happen (the task
          changed, the scheduler stops): their rows are deleted if still SCHEDULED; with ``fence``
          only if ``node_id`` is the fence's node, while its lease is live and the task is placed
          on its epoch, as a claim is inserted (or the task is dropped): a claim of a task
          that went to another node is left to that node, which takes it over
          (:meth:`~tasksql.catalog.cluster.ClusterCoordination.take_over_claims`: the task's next
          instant goes back to it), so that a node that lost its lease or the placement cannot
          delete the instant from under the new holder;
        - ``claims``: SCHEDULED runs for coming instants, fenced like :meth:`fire`.

        Not a coroutine: the write's place in this catalog object's order of writes is taken when
        the call returns, so it is applied before any write asked for afterwards (a release before
        the insert of the same instant), on every backend. The future is done once the write is
        committed, and gives one entry per claim, as :meth:`fire` does. Unless ``urgent``, the
        commit may come a few milliseconds late, in one transaction with other writes (a backend
        says how long): nothing starts on it.

        :raises CatalogError: the catalog is closed (raised by the call, not the future).
        """

    @abstractmethod
    async def start_claims(
        self, node_id: str, run_ids: Sequence[int], at: datetime, *, fence: Fence | None = None
    ) -> list[int]:
        """Start runs claimed ahead (see :mod:`tasksql.scheduler.claims`) in ONE transaction,
        committed before it returns (never lazily): each of ``run_ids`` that is still a claim of
        ``node_id`` (SCHEDULED, no start time, its ``node_id`` column ``node_id``) becomes EXECUTING
        with ``at`` as its start time. With ``fence`` (whose node must be ``node_id``), a run is
        started only while the fence's lease is live and its task (its graph root) is placed on
        the fence's epoch, as a fenced start of :meth:`finish_run` is. Returns the ids started, in
        ascending order; a run another node took over, a run already started or settled, a claim
        released, and every run of a refused fence are left out (and left as they are). A run of
        ``node_id`` that is EXECUTING with ``at`` as its start time already is returned again, as
        it is: a call repeated after its commit was cut off gives the same answer.

        It applies to the claims whose insert was committed before the call; unlike the other
        writes, it need not take its place after writes asked for before it (a backend may write
        it on a connection of its own, so that it does not wait behind them).

        A cluster member starts its claimed runs with it before their bodies begin, so that a
        claim whose start was refused runs nowhere but on the node that holds it now.
        """

    @abstractmethod
    async def finish_run(
        self,
        outcome: RunOutcome,
        runtime: TaskRuntime | None,
        notifications: Sequence[OutboxItem] = (),
        *,
        fence: Fence | None = None,
    ) -> bool:
        """Settle a run (or move a SCHEDULED run to EXECUTING), apply the task's runtime change and
        queue ``notifications`` in the notification outbox, in one transaction. Returns False,
        changing no run and queueing nothing, when the run was already settled (a settled run is
        final, and its notifications were queued when it was settled). A runtime change that
        suspends the task advances the change sequence. Queued messages wake
        :meth:`wait_for_notifications` once committed. A final outcome with nothing else to do
        may be committed a few milliseconds late, in one transaction with other writes (a backend
        says how long); it returns once committed.
        """

    @abstractmethod
    def settle_later(self, outcome: RunOutcome, *, fence: Fence | None = None) -> asyncio.Future[bool]:
        """:meth:`finish_run` for a final outcome with no runtime change and no notifications,
        without waiting: the write's place in this catalog object's order of writes is taken when
        the call returns (it is applied before any write asked for afterwards), and it may be
        committed a few milliseconds late, in one transaction with other writes. When the run's
        start (from :meth:`record_fires`) is not committed yet, the outcome may take its place, so
        the run goes from SCHEDULED to settled in one commit. The future is done once the outcome
        is committed (False: the run was already settled).

        :raises CatalogError: the catalog is closed (raised by the call, not the future).
        """

    @abstractmethod
    async def set_task_runtime(self, updates: Sequence[TaskRuntime], *, fence: Fence | None = None) -> None:
        """Apply scheduler-owned task fields (next instant, anchor, failure count) in one transaction."""

    @abstractmethod
    async def get_run(self, run_id: int) -> RunRecord | None:
        """One run, or None when it does not exist (or was pruned)."""

    @abstractmethod
    async def list_runs(
        self,
        *,
        task_id: int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        error_only: bool = False,
        root_task_id: int | None = None,
        limit: int | None = None,
    ) -> list[RunRecord]:
        """Runs, newest scheduled first: of one task, scheduled in [start, end), failed only, of one
        graph root, at most ``limit`` (None: all)."""

    @abstractmethod
    async def last_run_states(self, now: datetime) -> dict[int, tuple[str, datetime]]:
        """task id -> (state, time of its last change) of each task's latest run (runs claimed for
        instants after ``now`` do not count)."""

    @abstractmethod
    async def open_runs(self, *node_ids: str) -> list[RunRecord]:
        """The runs of these nodes that are not settled (SCHEDULED or EXECUTING), by run id."""

    @abstractmethod
    async def settle_lost_runs(
        self,
        node_ids: Sequence[str],
        now: datetime,
        message: str,
        unstarted: Sequence[UnstartedRun] = (),
        committed: Sequence[RunOutcome] = (),
        keep: Sequence[int] = (),
        *,
        epochs: Mapping[str, int] | None = None,
        fence: Fence | None = None,
        only: Sequence[int] | None = None,
        graph_runs: Sequence[str] | None = None,
    ) -> dict[str, LostRuns]:
        """Settle what the lost nodes ``node_ids`` left, in ONE transaction; returns, per node that
        left anything, what was done (nodes that left nothing are not in the result).

        Who may settle is checked in that same transaction, so that a node that joins again (or
        whose lease is renewed) meanwhile never has a run it started since recorded lost:

        * ``epochs`` (node id -> epoch): a node named there is settled only while its row still has
          that epoch and its lease is not live (its row stays locked until the commit: a join of
          that node waits for it); a node whose row moved on is left out entirely;
        * ``fence``: nothing is settled unless the fence's lease is live (a node settling its own
          earlier epochs' runs, ``node_ids`` being its own id);
        * ``only`` (run ids): steps 2 to 4 touch these runs only (None: every run of the nodes),
          and ``graph_runs`` (group ids): the graph runs step 4 settles (None: every executing one
          of the nodes).

        A run that never started is never recorded FAILED. The runs in ``keep`` (run ids) are left
        as they are (their fate cannot be told yet). In this order:

        0. each of ``committed`` (the outcomes of runs whose body is known to have committed) whose
           run belongs to one of these nodes and is not settled is recorded with that outcome
           (state, completed time, codes, message; its start time where the run has none);
        1. each of ``unstarted`` whose run belongs to one of these nodes and is still SCHEDULED with
           no ``query_start_time`` is recorded SKIPPED (with its outcome's completed time, code and
           message), or deleted (and with ``rewind`` its task's next instant rewound), see
           :class:`UnstartedRun`; a run that started meanwhile is left to step 4;
        2. their runs that never started and are scheduled after ``now`` (claims of instants still to
           come) are deleted, so that another node can claim those instants (counted ``released``);
        3. their other runs that never started are recorded SKIPPED with code NODE_LOST and the
           message ``node <id> was lost before the run started``;
        4. their runs that started (EXECUTING, or a ``query_start_time``) are recorded FAILED with
           code NODE_LOST and ``message``, and their executing graph runs FAILED likewise.

        Nothing here changes a task's consecutive-failure count, suspends a task or queues a
        notification: a lost node's runs are not failures of the task.
        """

    @abstractmethod
    async def settle_graph_step(
        self,
        outcome: RunOutcome | None,
        runtime: TaskRuntime | None,
        new_runs: Sequence[NewRun],
        end: GraphRunEnd | None,
        notifications: Sequence[OutboxItem] = (),
        *,
        fence: Fence | None = None,
    ) -> list[RunRecord | None]:
        """In ONE transaction: settle a run of a graph run, apply its task's runtime change, insert
        the runs that became due (fenced per graph run, task and attempt), with ``end`` settle the
        graph run, and queue ``notifications`` in the outbox. Returns the inserted runs (None where a
        fence held)."""

    @abstractmethod
    async def settle_graph_member(
        self,
        outcome: RunOutcome,
        runtime: TaskRuntime | None,
        new_runs: Sequence[NewRun],
        end: GraphRunEnd | None,
        notifications: Sequence[OutboxItem] = (),
        *,
        fence: Fence | None = None,
    ) -> list[RunRecord | None] | None:
        """:meth:`settle_graph_step` of a member's own outcome and the step of its graph run that
        follows from it, all or nothing on the outcome: when ``outcome`` is not applied (its run is
        settled already, or ``fence`` refuses it: the lease is not live, the run is not of the
        fence's node), nothing of the step is written (no runtime change, run, end or notification)
        and None is returned, so that a graph run does not go on from an outcome the catalog does
        not hold."""

    @abstractmethod
    async def graph_version(self, root_task_id: int, members: Mapping[int, int]) -> int:
        """The version number of a root's graph with these members (task id -> version); a member
        set never seen before gets the next number."""

    @abstractmethod
    async def graph_version_members(self, root_task_id: int, version: int) -> dict[int, int] | None:
        """The members of one graph version, or None."""

    @abstractmethod
    async def get_graph_run(self, group_id: str) -> GraphRunRecord | None:
        """One graph run."""

    @abstractmethod
    async def list_graph_runs(
        self,
        *,
        root_task_id: int | None = None,
        states: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[GraphRunRecord]:
        """Graph runs, newest scheduled first, of one root (or all), in the given states (or any)."""

    @abstractmethod
    async def graph_run_runs(self, group_id: str) -> list[RunRecord]:
        """Every run of one graph run, every attempt, oldest first."""

    @abstractmethod
    async def prune_runs(self, default_cutoff: datetime, per_task: Mapping[int, datetime]) -> int:
        """Delete settled runs scheduled before the cutoff (per-task cutoffs override the default)
        and nodes silent since before the default cutoff; returns how many runs were deleted."""

    @abstractmethod
    async def register_node(self, node: NodeRecord) -> None:
        """Record a node as started (again, when the id exists)."""

    @abstractmethod
    async def heartbeat(self, node_id: str, now: datetime) -> None:
        """Record that a node is alive."""

    @abstractmethod
    async def stop_node(self, node_id: str, now: datetime) -> None:
        """Record that a node stopped cleanly."""

    @abstractmethod
    async def list_nodes(self, now: datetime) -> list[NodeRecord]:
        """Every known node, stopped ones included, most recently started first. Whether a node that
        has not stopped is still alive is for the caller to judge (its heartbeat, and on its own
        host its process: :func:`tasksql.procs.process_gone`)."""

    # --- notification outbox ---------------------------------------------------------------------

    @abstractmethod
    async def enqueue_notifications(self, items: Sequence[OutboxItem]) -> None:
        """Queue messages (PENDING, no attempts, due at their ``created_at``) in one transaction.

        A message id that is already stored is left as it is, so queueing is idempotent. Committed
        messages wake :meth:`wait_for_notifications`. Run outcomes queue theirs with
        :meth:`finish_run` instead, in the outcome's transaction.
        """

    @abstractmethod
    async def claim_notifications(
        self, node_id: str, *, now: datetime, lease_seconds: float, limit: int
    ) -> list[OutboxMessage]:
        """Lease up to ``limit`` due messages to the dispatcher ``node_id`` and return them, earliest
        due first.

        A message is due when it is PENDING, its ``next_attempt_at`` is at or before ``now``, its
        lease is free or expired (``lease_until`` at or before ``now``), and its integration is
        enabled or no longer exists (the dispatcher gives such a message up). Messages of a
        disabled integration are not claimed: they wait until it is enabled again. Each claimed
        message gets ``leased_by`` = ``node_id`` and ``lease_until`` = ``now + lease_seconds`` in
        ONE transaction, so two dispatchers never hold the same message at once: while a lease
        runs, no other dispatcher can claim the message. (SQLite takes the write lock for the
        claim; PostgreSQL selects with ``FOR UPDATE SKIP LOCKED``.)
        """

    @abstractmethod
    async def next_notification_due(self) -> datetime | None:
        """When the earliest message :meth:`claim_notifications` could return becomes due (its
        ``next_attempt_at`` or the end of its lease, whichever is later), or ``None`` when there
        is none. A read: dispatchers poll it instead of claiming (a write) when idle."""

    @abstractmethod
    async def record_notification_attempt(self, attempt: DeliveryAttempt) -> bool:
        """Record one delivery attempt and settle its message, in one transaction.

        The history row is always written (the attempt happened), unless the message is gone.
        The message is updated only while it is PENDING and held by ``attempt.node_id`` (a
        delivery counts whoever holds it, so a delivered message is never sent again): attempts
        becomes at least ``attempt.attempt``, the lease is released, and by ``attempt.result``:
        DELIVERED sets ``delivered_at`` = ``sent_at``; RETRY keeps it PENDING and due at
        ``retry_at``; GIVE_UP makes it FAILED. ``last_error`` becomes ``attempt.error``.
        Returns whether the message was updated (False: the lease was lost or it was settled).
        """

    @abstractmethod
    async def notification_history(
        self, *, message_id: str | None = None, integration: str | None = None, limit: int | None = None
    ) -> list[DeliveryRecord]:
        """Delivery attempts, newest first: of one message, of one integration, at most ``limit``
        (None: all); each with its message's event type and current state."""

    @abstractmethod
    async def list_notifications(
        self, *, state: OutboxState | None = None, limit: int | None = None
    ) -> list[OutboxMessage]:
        """Stored messages, oldest first: of one state, at most ``limit`` (None: all)."""

    @abstractmethod
    async def prune_notifications(self, cutoff: datetime) -> int:
        """Delete settled (DELIVERED or FAILED) messages created before ``cutoff``, with their
        delivery history; PENDING messages are kept. Returns how many messages were deleted."""

    @abstractmethod
    async def wait_for_notifications(self, timeout: float) -> bool:
        """Wait until messages queued through this catalog object commit, or ``timeout`` seconds.

        Returns True when woken by queued messages, False on timeout. Messages queued by another
        process (or another catalog object) do not wake it: a dispatcher polls for those.
        """

    # --- whole tables (tasksql catalog copy; see tables.py) --------------------------------------

    @abstractmethod
    def export_rows(self, table: str, *, batch_size: int = 1000) -> AsyncIterator[list[TableRow]]:
        """Every row of ``table`` (one of :data:`~tasksql.catalog.tables.TABLES`), in pages of at
        most ``batch_size`` rows, in key order (insertion order where the spec says so). Each page
        is a read of its own: copy a catalog that nothing writes to."""

    @abstractmethod
    async def row_counts(self) -> dict[str, int]:
        """The number of rows of every table of :data:`~tasksql.catalog.tables.TABLES`."""

    @abstractmethod
    async def id_counters(self) -> dict[str, int]:
        """For each table with an identity column, the highest value handed out so far (rows
        since deleted included; 0 when none), by table name."""

    @abstractmethod
    def load_rows(self, *, replace: bool) -> AbstractAsyncContextManager[RowLoader]:
        """ONE transaction, on a connection of its own, that replaces everything this catalog
        holds with the rows written through the loader.

        Entering begins it and keeps other writers out until it ends (SQLite: the write lock;
        PostgreSQL: the tables locked against writes), refuses a catalog with content
        (:data:`~tasksql.catalog.tables.CONTENT_COUNTS_SQL`) unless ``replace`` with
        :class:`CatalogError` code ``CATALOG_NOT_EMPTY``, then deletes the rows of every table.
        A normal exit advances the change sequence and commits durably; an exception rolls
        everything back (nothing changed). Waiters of :meth:`wait_for_change` on this object learn
        of it by polling, as of another process's change.
        """
