"""The catalog contract, written once over named queries: what the SQLite and the PostgreSQL catalog
do the same way, which is every method but opening, closing and the backend's own checks.

A method turns its arguments into parameters (:mod:`tasksql.catalog.rows`), runs a job body of
:mod:`tasksql.catalog.jobs` (or one named query) through :meth:`~GroupCommitCatalog._write` or
:meth:`~GroupCommitCatalog._read`, and maps rows back. The backend supplies the seam:

* a :class:`~tasksql.catalog.dialect.CatalogDialect`, which runs named queries on its handle;
* its cluster job bodies (:class:`ClusterJobs`: the backend's ``cluster`` module);
* its whole-table reads (:class:`BulkJobs`: the backend's ``bulk`` module) and loader
  (``load_rows``);
* the writer and readers, made and attached by ``open`` and closed by ``close``.

How each write is submitted is part of the contract's promises and is the same on both backends:
``durable`` for what a user was told "done" about (definitions, settings, a suspension), ``changes``
for what a scheduler caches, ``lazy`` for a final outcome that starts nothing, ``hold`` for run
bookkeeping that waits out an outage of the database (see :meth:`GroupCommitCatalog._write`).

Adding a method: add its statements to both ``sql/<dialect>/queries.sql`` under the same name (and
its tables to both schemas, with a migration each), write its body in :mod:`tasksql.catalog.jobs`
against the dialect (never begin or end a transaction there; raise a
:class:`~tasksql.errors.TasksqlError` to roll back the job alone), call it from a method here, and
declare the method in :class:`~tasksql.catalog.base.Catalog` with a contract test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from tasksql.catalog.checks_sql import SqlStorageChecks
from tasksql.catalog.dialect import CatalogDialect
from tasksql.catalog.fanout_sql import SqlFanout
from tasksql.catalog.grouped import require_name
from tasksql.catalog.jobs import graphs as graph_jobs
from tasksql.catalog.jobs import outbox as outbox_jobs
from tasksql.catalog.jobs import runs as run_jobs
from tasksql.catalog.jobs import tasks as task_jobs
from tasksql.catalog.records import (
    IntegrationRecord,
    LostRuns,
    TaskStub,
    TaskUpdate,
    TaskVersion,
    UnstartedRun,
    WarehouseRecord,
)
from tasksql.catalog.rows import (
    db_time,
    db_time_opt,
    definition_json,
    graph_run_record,
    integration_columns,
    integration_def,
    integration_record,
    name_columns,
    node_params,
    node_record,
    reason_value,
    run_record,
    secret_key,
    task_record,
    task_stub,
    task_version,
    warehouse_columns,
    warehouse_def,
    warehouse_record,
)
from tasksql.catalog.secret_rows import secret_columns, secret_record
from tasksql.catalog.security_sql import SqlSecurity
from tasksql.catalog.tables import TableRow
from tasksql.catalog.writer import D
from tasksql.clock import Clock
from tasksql.errors import CatalogError, ObjectExists, TaskNotFound
from tasksql.model import (
    DEFAULT_WAREHOUSE,
    IntegrationDef,
    QualifiedName,
    RunState,
    Spelling,
    SuspendReason,
    TaskDef,
    TaskRecord,
    TaskState,
    WarehouseDef,
    task_from_json,
)
from tasksql.model.cluster import Fence, Lease, Member, Membership, Placement, check_capacity
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
from tasksql.model.secret import SecretDef, SecretRecord

T = TypeVar("T")
H_contra = TypeVar("H_contra", contravariant=True)


class ClusterJobs(Protocol[H_contra]):
    """The cluster job bodies of a backend (its ``cluster`` module), functions of its handle."""

    def join(self, db: H_contra, member: Membership, /) -> Lease: ...
    def lease_update(self, db: H_contra, query: str, fence: Fence, /, *, running: int = ...) -> bool: ...
    def leave(self, db: H_contra, fence: Fence, /) -> bool: ...
    def claim(
        self, db: H_contra, fence: Fence, capacity: int, warehouses: Sequence[str] | None, /
    ) -> list[int]: ...
    def release(self, db: H_contra, fence: Fence, task_ids: Sequence[int] | None, /) -> list[int]: ...
    def pin(self, db: H_contra, pins: Mapping[int, str | None], /) -> None: ...
    def placements(self, db: H_contra, node_id: str | None, /) -> list[Placement]: ...
    def members(self, db: H_contra, /) -> list[Member]: ...


class BulkJobs(Protocol[H_contra]):
    """The whole-table reads of a backend (its ``bulk`` module; see :mod:`tasksql.catalog.bulk`)."""

    def export_rows(
        self, read: Callable[[Callable[[H_contra], Any]], Awaitable[Any]], table_name: str, batch_size: int, /
    ) -> AsyncIterator[list[TableRow]]: ...
    def row_counts(self, db: H_contra, /) -> dict[str, int]: ...
    def id_counters(self, db: H_contra, /) -> dict[str, int]: ...


class SqlCatalog(SqlFanout[D], SqlSecurity[D], SqlStorageChecks[D]):
    """The catalog contract over a backend's dialect and writer (see the module).

    :param dialect: runs the backend's named queries on its handle.
    :param cluster: the backend's cluster job bodies.
    :param bulk: the backend's whole-table reads.
    :param clock: the time source for what the catalog stamps by itself.
    :param poll_interval: seconds between two looks at the change sequence while waiting.
    """

    def __init__(
        self,
        *,
        dialect: CatalogDialect[D],
        cluster: ClusterJobs[D],
        bulk: BulkJobs[D],
        clock: Clock,
        poll_interval: float,
    ) -> None:
        super().__init__(dialect=dialect, clock=clock, poll_interval=poll_interval)
        self._cluster = cluster
        self._bulk = bulk

    # --- named queries ---------------------------------------------------------------------------

    async def _one(self, query: str, params: Mapping[str, Any], convert: Callable[[Any], T]) -> T | None:
        """The first row of a named query, converted; None when it returns none."""
        sql = self._sql

        def one(db: D) -> T | None:
            row = sql.first(db, query, params)
            return None if row is None else convert(row)

        return await self._read(one)

    async def _all(self, query: str, params: Mapping[str, Any], convert: Callable[[Any], T]) -> list[T]:
        """Every row of a named query, converted."""
        sql = self._sql
        return await self._read(lambda db: [convert(row) for row in sql.rows(db, query, params)])

    # --- tasks -----------------------------------------------------------------------------------

    async def get_task(self, name: QualifiedName) -> TaskRecord | None:
        return await self._one("task_by_name", name_columns(name), task_record)

    async def get_task_by_id(self, task_id: int) -> TaskRecord | None:
        return await self._one("task_by_id", {"id": task_id}, task_record)

    async def list_tasks(self) -> list[TaskRecord]:
        return await self._all("tasks_live", {}, task_record)

    async def list_task_stubs(self, *, after_id: int = 0, limit: int | None = None) -> list[TaskStub]:
        return await self._all(
            "task_stubs", {"after_id": after_id, "limit": self._sql.limit(limit)}, task_stub
        )

    async def get_tasks_by_ids(self, ids: Sequence[int]) -> list[TaskRecord]:
        return await self._all("tasks_by_ids", {"ids": self._sql.array(ids)}, task_record)

    async def history_retentions(self) -> dict[int, int]:
        rows = await self._all("task_retentions", {}, lambda row: (int(row["id"]), int(row["retention_ms"])))
        return dict(rows)

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
        fields: dict[str, Any] = {
            **name_columns(definition.name),
            "definition": definition_json(definition),
            "canonical_sql": canonical_sql,
            "spelling": spelling.value,
            "state": state.value,
            "suspend_reason": reason_value(suspend_reason),
            "owner": owner,
            "next_fire_at": db_time_opt(next_fire_at),
            "consecutive_failures": 0,
        }
        stamp, sql = db_time(now), self._sql
        return await self._write(
            lambda db: task_jobs.create(
                sql, db, definition, fields, stamp=stamp, replace=replace, actor=actor
            ),
            durable=True,
            changes=True,
        )

    async def update_tasks(
        self, updates: Sequence[TaskUpdate], *, now: datetime, actor: str | None = None
    ) -> list[TaskRecord]:
        if not updates:
            return []
        for update in updates:
            if update.definition is not None:
                name_columns(update.definition.name)  # refuse unresolved names before queueing
        stamp, sql = db_time(now), self._sql
        ddl = any(update.changes_definition for update in updates)
        return await self._write(
            lambda db: [task_jobs.update(sql, db, update, stamp, actor) for update in updates],
            durable=ddl,
            changes=ddl,
        )

    async def task_versions(self, task_id: int) -> list[TaskVersion]:
        return await self._all("task_versions", {"task_id": task_id}, task_version)

    async def get_task_version(self, task_id: int, version: int) -> TaskDef:
        params = {"task_id": task_id, "version": version}
        text: str | None = await self._one("task_version", params, lambda row: row["definition"])
        if text is None:
            raise TaskNotFound(f"task id {task_id} has no version {version}", code="TASK_VERSION_NOT_FOUND")
        return task_from_json(text)

    # --- notification integrations and warehouses -----------------------------------------------

    async def put_integration(self, definition: IntegrationDef, *, replace: bool, now: datetime) -> None:
        require_name(definition.name, "integration")
        row = {**integration_columns(definition), "created_on": db_time(now), "last_altered_on": db_time(now)}
        exists = ObjectExists(f"integration {definition.name} already exists", code="INTEGRATION_EXISTS")
        await self._put(
            row, replace=replace, upsert="integration_upsert", insert="integration_insert", exists=exists
        )

    async def get_integration(self, name: str) -> IntegrationDef | None:
        return await self._one("integration_by_name", {"name": name}, integration_def)

    async def list_integrations(self) -> list[IntegrationRecord]:
        return await self._all("integrations_all", {}, integration_record)

    async def drop_integration(self, name: str) -> bool:
        return await self._drop("integration_delete", name)

    async def put_secret(self, definition: SecretDef, *, replace: bool, now: datetime) -> None:
        row = {**secret_columns(definition), "created_on": db_time(now), "last_altered_on": db_time(now)}
        exists = ObjectExists(f"secret {definition.name} already exists", code="SECRET_EXISTS")
        await self._put(row, replace=replace, upsert="secret_upsert", insert="secret_insert", exists=exists)

    async def get_secret(self, name: QualifiedName) -> SecretRecord | None:
        return await self._one("secret_by_name", {"name": secret_key(name)}, secret_record)

    async def list_secrets(self) -> list[SecretRecord]:
        return await self._all("secrets_all", {}, secret_record)

    async def drop_secret(self, name: QualifiedName) -> bool:
        return await self._drop("secret_delete", secret_key(name))

    async def put_warehouse(self, definition: WarehouseDef, *, replace: bool, now: datetime) -> None:
        require_name(definition.name, "warehouse")
        if definition.name == DEFAULT_WAREHOUSE and not definition.embedded:
            raise CatalogError(
                "the default warehouse is the embedded DuckDB; only its MAX_CONCURRENCY and COMMENT "
                "can change (create another warehouse for other databases)",
                code="DEFAULT_WAREHOUSE",
            )
        row = {**warehouse_columns(definition), "created_on": db_time(now), "last_altered_on": db_time(now)}
        exists = ObjectExists(f"warehouse {definition.name} already exists", code="WAREHOUSE_EXISTS")
        await self._put(
            row, replace=replace, upsert="warehouse_upsert", insert="warehouse_insert", exists=exists
        )

    async def get_warehouse(self, name: str) -> WarehouseDef | None:
        return await self._one("warehouse_by_name", {"name": name}, warehouse_def)

    async def list_warehouses(self) -> list[WarehouseRecord]:
        return await self._all("warehouses_all", {}, warehouse_record)

    async def drop_warehouse(self, name: str) -> bool:
        if name == DEFAULT_WAREHOUSE:
            raise CatalogError("the default warehouse cannot be dropped", code="DEFAULT_WAREHOUSE")
        return await self._drop("warehouse_delete", name)

    async def _put(
        self, row: dict[str, Any], *, replace: bool, upsert: str, insert: str, exists: ObjectExists
    ) -> None:
        """Store an object's row: with ``replace`` by ``upsert`` (one of that name is overwritten),
        else by ``insert``, which adds nothing when the name is taken (then ``exists`` is raised)."""
        sql = self._sql

        def put(db: D) -> None:
            if replace:
                sql.execute(db, upsert, row)
            elif not sql.count(db, insert, row):
                raise exists

        await self._write(put, durable=True, changes=True)

    async def _drop(self, query: str, name: str) -> bool:
        sql = self._sql
        return await self._write(
            lambda db: sql.count(db, query, {"name": name}) > 0, durable=True, changes=True
        )

    # --- settings and change signals -------------------------------------------------------------

    async def get_setting(self, key: str) -> str | None:
        return await self._one("setting_get", {"key": key}, lambda row: row["value"])

    async def set_setting(self, key: str, value: str | None) -> None:
        require_name(key, "setting")
        sql = self._sql

        def put(db: D) -> None:
            if value is None:
                sql.execute(db, "setting_delete", {"key": key})
            else:
                sql.execute(db, "setting_put", {"key": key, "value": value})

        await self._write(put, durable=True)

    async def change_seq(self) -> int:
        seq = await self._one("change_seq", {}, lambda row: row["change_seq"])
        return int(seq or 0)

    # --- runs, task runtime fields and nodes -----------------------------------------------------

    async def fire(
        self,
        runs: Sequence[NewRun],
        runtime: Sequence[TaskRuntime],
        graphs: Sequence[NewGraphRun] = (),
        *,
        fence: Fence | None = None,
    ) -> list[RunRecord | None]:
        if not runs and not runtime and not graphs:
            return []
        now, sql = db_time(self._clock.now()), self._sql
        records = await self._write(
            lambda db: graph_jobs.fire_with_graphs(sql, db, runs, runtime, graphs, now, fence), hold=True
        )
        self.observers.runs_inserted([r for r in records if r is not None])
        return records

    async def start_claims(
        self, node_id: str, run_ids: Sequence[int], at: datetime, *, fence: Fence | None = None
    ) -> list[int]:
        if not run_ids:
            return []
        if fence is not None and fence.node_id != node_id:
            raise CatalogError(
                f"a start of node {node_id}'s claims fenced by node {fence.node_id}'s lease",
                code="INVALID_ARGUMENT",
            )
        started = await self._start_claims(node_id, run_ids, db_time(at), fence)
        if self.observers.active:
            for run_id in started:
                self.observers.run_changed(
                    RunOutcome(run_id=run_id, state=RunState.EXECUTING, query_start_time=at)
                )
        return started

    async def _start_claims(
        self, node_id: str, run_ids: Sequence[int], at: str, fence: Fence | None
    ) -> list[int]:
        """Write :meth:`start_claims` through the writer (a backend may have a quicker way)."""
        sql = self._sql
        return await self._write(
            lambda db: run_jobs.start_claims(sql, db, node_id, run_ids, at, fence), hold=True
        )

    async def finish_run(
        self,
        outcome: RunOutcome,
        runtime: TaskRuntime | None,
        notifications: Sequence[OutboxItem] = (),
        *,
        fence: Fence | None = None,
    ) -> bool:
        now, sql = db_time(self._clock.now()), self._sql
        suspends = runtime is not None and runtime.state is not None
        items = tuple(notifications)

        def settle(db: D) -> bool:
            settled = run_jobs.settle(sql, db, outcome, runtime, now, fence)
            if settled:  # an already settled run queued its notifications when it was settled
                outbox_jobs.enqueue(sql, db, items)
            return settled

        # A final outcome starts nothing: it may share the next write's transaction.
        lazy = outcome.state.terminal and not items
        settled = await self._write(settle, durable=suspends, changes=suspends, lazy=lazy, hold=True)
        if settled and items:
            self._queued()
        if settled:
            self.observers.run_changed(outcome)
        return settled

    async def set_task_runtime(self, updates: Sequence[TaskRuntime], *, fence: Fence | None = None) -> None:
        if not updates:
            return
        now, sql = db_time(self._clock.now()), self._sql
        suspends = any(u.state is not None for u in updates)
        await self._write(
            lambda db: run_jobs.apply_runtime(sql, db, updates, now, fence),
            durable=suspends,
            changes=suspends,
            hold=True,
        )

    async def get_run(self, run_id: int) -> RunRecord | None:
        return await self._one("run_by_id", {"run_id": run_id}, run_record)

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
        sql = self._sql
        return await self._read(
            lambda db: run_jobs.list_runs(
                sql,
                db,
                task_id=task_id,
                start=start,
                end=end,
                error_only=error_only,
                root_task_id=root_task_id,
                limit=limit,
            )
        )

    async def last_run_states(self, now: datetime) -> dict[int, tuple[str, datetime]]:
        stamp, sql = db_time(now), self._sql
        return await self._read(lambda db: run_jobs.last_per_task(sql, db, stamp))

    async def open_runs(self, *node_ids: str) -> list[RunRecord]:
        if not node_ids:
            return []
        return await self._all("runs_open_of_nodes", {"node_ids": self._sql.array(node_ids)}, run_record)

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
        if not node_ids:
            return {}
        stamp, sql = db_time(now), self._sql
        nodes, decided, done, kept = tuple(node_ids), tuple(unstarted), tuple(committed), tuple(keep)
        scope = run_jobs.LostScope(
            epochs=None if epochs is None else dict(epochs),
            fence=fence,
            only=None if only is None else tuple(only),
            graph_runs=None if graph_runs is None else tuple(graph_runs),
        )
        return await self._write(
            lambda db: run_jobs.settle_lost(sql, db, nodes, stamp, message, decided, done, kept, scope)
        )

    async def prune_runs(self, default_cutoff: datetime, per_task: Mapping[int, datetime]) -> int:
        cutoffs = {task_id: db_time(cutoff) for task_id, cutoff in per_task.items()}
        default, sql = db_time(default_cutoff), self._sql
        return await self._write(lambda db: run_jobs.prune(sql, db, default, cutoffs))

    async def register_node(self, node: NodeRecord) -> None:
        params, sql = node_params(node), self._sql
        await self._write(lambda db: sql.execute(db, "node_upsert", params))

    async def heartbeat(self, node_id: str, now: datetime) -> None:
        params, sql = {"node_id": node_id, "now": db_time(now)}, self._sql
        await self._write(lambda db: sql.execute(db, "node_heartbeat", params))

    async def stop_node(self, node_id: str, now: datetime) -> None:
        params, sql = {"node_id": node_id, "now": db_time(now)}, self._sql
        await self._write(lambda db: sql.execute(db, "node_stop", params), durable=True)

    async def list_nodes(self, now: datetime) -> list[NodeRecord]:
        return await self._all("nodes_all", {}, node_record)

    # --- graphs ----------------------------------------------------------------------------------

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
        records = await self._graph_step(outcome, runtime, new_runs, end, notifications, fence, False)
        assert records is not None  # only a required outcome makes it None
        return records

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
        return await self._graph_step(outcome, runtime, new_runs, end, notifications, fence, True)

    async def _graph_step(
        self,
        outcome: RunOutcome | None,
        runtime: TaskRuntime | None,
        new_runs: Sequence[NewRun],
        end: GraphRunEnd | None,
        notifications: Sequence[OutboxItem],
        fence: Fence | None,
        required: bool,
    ) -> list[RunRecord | None] | None:
        now, sql = db_time(self._clock.now()), self._sql
        suspends = runtime is not None and runtime.state is not None
        items = tuple(notifications)

        def step(db: D) -> list[RunRecord | None] | None:
            records = graph_jobs.settle_step(
                sql,
                db,
                outcome=outcome,
                runtime=runtime,
                new_runs=new_runs,
                end=end,
                now=now,
                fence=fence,
                required=required,
            )
            if records is not None:
                outbox_jobs.enqueue(sql, db, items)
            return records

        records = await self._write(step, durable=suspends, changes=suspends, hold=True)
        if records is None:
            return None
        if items:
            self._queued()
        if outcome is not None:
            self.observers.run_changed(outcome)
        self.observers.runs_inserted([r for r in records if r is not None])
        return records

    async def graph_version(self, root_task_id: int, members: Mapping[int, int]) -> int:
        now, sql = db_time(self._clock.now()), self._sql
        return await self._write(
            lambda db: graph_jobs.graph_version(sql, db, root_task_id, members, now), hold=True
        )

    async def graph_version_members(self, root_task_id: int, version: int) -> dict[int, int] | None:
        sql = self._sql
        return await self._read(lambda db: graph_jobs.version_members(sql, db, root_task_id, version))

    async def get_graph_run(self, group_id: str) -> GraphRunRecord | None:
        return await self._one("graph_run_by_id", {"graph_run_group_id": group_id}, graph_run_record)

    async def list_graph_runs(
        self,
        *,
        root_task_id: int | None = None,
        states: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[GraphRunRecord]:
        sql = self._sql
        return await self._read(lambda db: graph_jobs.list_graph_runs(sql, db, root_task_id, states, limit))

    async def graph_run_runs(self, group_id: str) -> list[RunRecord]:
        sql = self._sql
        return await self._read(lambda db: graph_jobs.runs_of(sql, db, group_id))

    # --- notification outbox ---------------------------------------------------------------------

    async def enqueue_notifications(self, items: Sequence[OutboxItem]) -> None:
        if not items:
            return
        batch, sql = tuple(items), self._sql
        await self._write(lambda db: outbox_jobs.enqueue(sql, db, batch))
        self._queued()

    async def claim_notifications(
        self, node_id: str, *, now: datetime, lease_seconds: float, limit: int
    ) -> list[OutboxMessage]:
        if limit <= 0:
            return []
        sql = self._sql
        return await self._write(lambda db: outbox_jobs.claim(sql, db, node_id, now, lease_seconds, limit))

    async def next_notification_due(self) -> datetime | None:
        sql = self._sql
        return await self._read(lambda db: outbox_jobs.next_due(sql, db))

    async def record_notification_attempt(self, attempt: DeliveryAttempt) -> bool:
        sql = self._sql
        return await self._write(lambda db: outbox_jobs.record(sql, db, attempt))

    async def notification_history(
        self, *, message_id: str | None = None, integration: str | None = None, limit: int | None = None
    ) -> list[DeliveryRecord]:
        sql = self._sql
        return await self._read(lambda db: outbox_jobs.history(sql, db, message_id, integration, limit))

    async def list_notifications(
        self, *, state: OutboxState | None = None, limit: int | None = None
    ) -> list[OutboxMessage]:
        sql = self._sql
        return await self._read(lambda db: outbox_jobs.list_messages(sql, db, state, limit))

    async def prune_notifications(self, cutoff: datetime) -> int:
        sql = self._sql
        return await self._write(lambda db: outbox_jobs.prune(sql, db, cutoff))

    # --- cluster coordination (see catalog/cluster.py) -------------------------------------------

    async def join(self, member: Membership) -> Lease:
        cluster = self._cluster
        return await self._write(lambda db: cluster.join(db, member), durable=True)

    async def renew_lease(self, fence: Fence, *, running: int) -> bool:
        cluster, count = self._cluster, max(0, running)
        return await self._write(lambda db: cluster.lease_update(db, "lease_renew", fence, running=count))

    async def drain(self, fence: Fence) -> bool:
        cluster = self._cluster
        return await self._write(lambda db: cluster.lease_update(db, "lease_drain", fence), durable=True)

    async def leave(self, fence: Fence) -> bool:
        cluster = self._cluster
        return await self._write(lambda db: cluster.leave(db, fence), durable=True)

    async def claim_placements(
        self, fence: Fence, *, capacity: int, warehouses: Sequence[str] | None
    ) -> list[int]:
        check_capacity(capacity)
        cluster, served = self._cluster, None if warehouses is None else tuple(warehouses)
        return await self._write(lambda db: cluster.claim(db, fence, capacity, served))

    async def release_placements(self, fence: Fence, task_ids: Sequence[int] | None = None) -> list[int]:
        cluster, ids = self._cluster, None if task_ids is None else tuple(task_ids)
        return await self._write(lambda db: cluster.release(db, fence, ids), durable=True)

    async def pin_tasks(self, pins: Mapping[int, str | None]) -> None:
        if pins:
            cluster, wanted = self._cluster, dict(pins)
            await self._write(lambda db: cluster.pin(db, wanted), durable=True)

    async def list_placements(self, *, node_id: str | None = None) -> list[Placement]:
        cluster = self._cluster
        return await self._read(lambda db: cluster.placements(db, node_id))

    async def fire_leased(self, run: NewRun, fence: Fence) -> RunRecord | None:
        sql = self._sql
        record = await self._write(lambda db: run_jobs.fire_leased(sql, db, run, fence), hold=True)
        if record is not None:
            self.observers.runs_inserted([record])
        return record

    async def take_over_claims(self, fence: Fence, task_ids: Sequence[int]) -> list[int]:
        sql, ids = self._sql, tuple(task_ids)
        return await self._write(lambda db: run_jobs.take_over_claims(sql, db, fence, ids), hold=True)

    async def cluster_members(self) -> list[Member]:
        cluster = self._cluster
        return await self._read(cluster.members)

    # --- whole tables (see bulk.py) --------------------------------------------------------------

    def export_rows(self, table: str, *, batch_size: int = 1000) -> AsyncIterator[list[TableRow]]:
        return self._bulk.export_rows(self._read, table, batch_size)

    async def row_counts(self) -> dict[str, int]:
        return await self._read(self._bulk.row_counts)

    async def id_counters(self) -> dict[str, int]:
        return await self._read(self._bulk.id_counters)
