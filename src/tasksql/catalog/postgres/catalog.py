"""The catalog in a PostgreSQL database, in a schema of its own (default ``tasksql``).

Design
------
The same shape as the SQLite catalog, so that every promise of the contract holds the same way:

* **Writes** go through :class:`~tasksql.catalog.postgres.writer.PgWriter`: one thread with one
  connection that drains a queue of jobs, every job waiting in the queue in ONE transaction
  (group commit). Writes of one catalog object are therefore applied in the order they were asked
  for, which :meth:`record_fires` and :meth:`settle_later` promise; run bookkeeping costs one
  commit per group, not per run. Several nodes write at once through their own writers; the
  database fences them: ``FOR UPDATE`` on the task row for optimistic version checks, unique
  indexes on live names and on (task, instant) for runs, ``FOR UPDATE SKIP LOCKED`` for outbox
  claims, advisory locks for migrations and graph version numbers.
* **Reads** go through :class:`~tasksql.catalog.postgres.reader.PgReader`: a few worker threads
  with a connection each; each statement sees the latest commit.
* **Change signals**: a definition change bumps ``catalog_meta.change_seq`` and sends a NOTIFY in
  its transaction; :class:`~tasksql.catalog.postgres.listener.ChangeListener` wakes
  :meth:`wait_for_change` when any node commits one, and waiters poll every ``poll_interval`` as a
  fallback.
* **Outages** (the server restarts or stops, connections are terminated): the writer judges them
  and the three share one :class:`~tasksql.catalog.postgres.health.Health`. Run bookkeeping (run
  starts and outcomes, claims, graph steps, next instants: the writes submitted with ``hold``)
  waits during an outage and is committed exactly once when the server is back; everything else
  (a user's statement, a read, a heartbeat) fails at once with ``CATALOG_UNAVAILABLE``.
  :meth:`outage` and :meth:`wait_reachable` let the scheduler pause meanwhile.

Durability: definition changes commit with the server's ``synchronous_commit`` (``on`` by default:
flushed before the method returns); run bookkeeping commits with ``synchronous_commit = off``
(acknowledged before the flush, which follows within a few hundred milliseconds; a crash of the
server can lose those last commits, which start-up reconciliation settles). :meth:`one_sync`
commits a script's changes asynchronously and flushes them all with one synchronous commit at its
end.

Instants are ``timestamptz``; secrets inside definitions are stored as given and never logged here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, TypeVar

from tasksql.catalog.base import (
    IntegrationRecord,
    LostRuns,
    TaskStub,
    TaskUpdate,
    TaskVersion,
    UnstartedRun,
    WarehouseRecord,
)
from tasksql.catalog.grouped import GroupCommitCatalog, require_name
from tasksql.catalog.migrate import load_migrations, load_schema
from tasksql.catalog.postgres import bulk
from tasksql.catalog.postgres import cluster as cluster_db
from tasksql.catalog.postgres import outbox as outbox_db
from tasksql.catalog.postgres import runs as runs_db
from tasksql.catalog.postgres import tasks as tasks_db
from tasksql.catalog.postgres.connect import DEFAULT_SCHEMA, Cursor, parse_target
from tasksql.catalog.postgres.health import Health
from tasksql.catalog.postgres.listener import ChangeListener
from tasksql.catalog.postgres.reader import PgReader
from tasksql.catalog.postgres.schema import apply_schema
from tasksql.catalog.postgres.writer import PgWriter
from tasksql.catalog.queries import load_queries
from tasksql.catalog.rows import (
    Row,
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
    task_record,
    task_stub,
    task_version,
    warehouse_columns,
    warehouse_def,
    warehouse_record,
)
from tasksql.catalog.tables import RowLoader, TableRow
from tasksql.catalog.writer import DEFAULT_LINGER, DEFAULT_MAX_GROUP
from tasksql.clock import SYSTEM_CLOCK, Clock
from tasksql.errors import CatalogError, ObjectExists, TaskNotFound
from tasksql.model import (
    DEFAULT_WAREHOUSE,
    IntegrationDef,
    QualifiedName,
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

T = TypeVar("T")

_Q: dict[str, str] = {name: query.sql for name, query in load_queries("postgres").items()}

#: Seconds between two looks at the change sequence while waiting (LISTEN/NOTIFY usually wakes the
#: waiter first; polling covers a lost notification).
DEFAULT_POLL_INTERVAL = 1.0


class PostgresCatalog(GroupCommitCatalog[Cursor]):
    """The catalog in the PostgreSQL database named by ``url``, in the schema ``schema``.

    :param url: a ``postgresql://`` URL (user, password, host, port, database, libpq options).
    :param schema: the PostgreSQL schema that holds the catalog's tables; created on first use.
    :param clock: the time source for what the catalog stamps by itself.
    :param poll_interval: seconds between checks of the change sequence while waiting.
    :param max_group: most write jobs committed in one transaction.
    :param settle_linger: longest a run's final outcome waits to share a transaction (seconds).
    :param read_threads: connections (and threads) for reads.
    :raises ConfigError: the URL does not parse or the schema name is not an identifier.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str = DEFAULT_SCHEMA,
        clock: Clock = SYSTEM_CLOCK,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_group: int = DEFAULT_MAX_GROUP,
        settle_linger: float = DEFAULT_LINGER,
        read_threads: int = 2,
    ) -> None:
        super().__init__(clock=clock, poll_interval=poll_interval)
        self._target = parse_target(url, schema)
        self._max_group = max_group
        self._settle_linger = settle_linger
        self._read_threads = read_threads
        self._reader: PgReader | None = None
        self._listener: ChangeListener | None = None
        self._health: Health | None = None

    @property
    def schema(self) -> str:
        return self._target.schema

    @property
    def safe_url(self) -> str:
        """The URL with its password replaced by ``***``."""
        return self._target.safe_url

    def __repr__(self) -> str:
        return f"PostgresCatalog({self._target.safe_url!r}, schema={self._target.schema!r})"

    # --- life cycle ------------------------------------------------------------------------------

    async def open(self) -> None:
        if self._writer is not None:
            return
        health = Health(self._target, asyncio.get_running_loop())
        writer = PgWriter(
            self._target,
            change_sql=_Q["change_seq_bump"],
            on_change=self._changed,
            health=health,
            max_group=self._max_group,
            linger=self._settle_linger,
        )
        await writer.start()
        now = db_time(self._clock.now())
        schema = self._target.schema
        try:
            await writer.submit(lambda cur: _install(cur, schema, now), durable=True)
        except BaseException:
            await writer.stop()
            raise
        self._attach(writer)
        try:
            reader = PgReader(self._target, health, threads=self._read_threads)
            await reader.open()
            listener = ChangeListener(self._target, self._notified, health)
            await listener.start()
        except BaseException:
            self._writer = None
            await writer.stop()
            raise
        self._reader, self._listener = reader, listener
        self._health = health

    async def close(self) -> None:
        writer, reader, listener = self._writer, self._reader, self._listener
        self._writer = self._reader = None
        self._listener = self._health = None
        if listener is not None:
            await listener.stop()
        if writer is not None:
            await writer.stop()
        if reader is not None:
            await reader.close()

    def durable_commits(self) -> int:
        """Transactions this catalog object committed with a flush of the WAL (durable writes; a
        script's changes share one, see :meth:`one_sync`), since it was opened."""
        writer = self._open_writer()
        assert isinstance(writer, PgWriter)
        return writer.durable_commits

    def outage(self) -> CatalogError | None:
        health = self._health
        return None if health is None else health.error("using the catalog")

    async def wait_reachable(self, timeout: float) -> bool:
        health = self._health
        return True if health is None else await health.wait_reachable(timeout)

    # --- the two ways to the database ------------------------------------------------------------

    async def _read(self, fn: Callable[[Cursor], T]) -> T:
        if self._reader is None:
            raise CatalogError("the catalog is closed", code="CATALOG_CLOSED")
        return await self._reader.run(fn)

    # --- tasks -----------------------------------------------------------------------------------

    async def get_task(self, name: QualifiedName) -> TaskRecord | None:
        params = name_columns(name)
        return await self._read(lambda cur: _one(cur, "task_by_name", params, task_record))

    async def get_task_by_id(self, task_id: int) -> TaskRecord | None:
        return await self._read(lambda cur: _one(cur, "task_by_id", {"id": task_id}, task_record))

    async def list_tasks(self) -> list[TaskRecord]:
        return await self._read(lambda cur: _all(cur, "tasks_live", {}, task_record))

    async def list_task_stubs(self, *, after_id: int = 0, limit: int | None = None) -> list[TaskStub]:
        params = {"after_id": after_id, "limit": limit}
        return await self._read(lambda cur: _all(cur, "task_stubs", params, task_stub))

    async def get_tasks_by_ids(self, ids: Sequence[int]) -> list[TaskRecord]:
        params = {"ids": list(ids)}
        return await self._read(lambda cur: _all(cur, "tasks_by_ids", params, task_record))

    async def history_retentions(self) -> dict[int, int]:
        rows = await self._read(lambda cur: _all(cur, "task_retentions", {}, lambda row: row))
        return {int(row["id"]): int(row["retention_ms"]) for row in rows}

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
        stamp = db_time(now)
        return await self._write(
            lambda cur: tasks_db.create(cur, definition, fields, stamp=stamp, replace=replace, actor=actor),
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
        stamp = db_time(now)
        ddl = any(update.changes_definition for update in updates)
        return await self._write(
            lambda cur: [tasks_db.update(cur, update, stamp, actor) for update in updates],
            durable=ddl,
            changes=ddl,
        )

    async def task_versions(self, task_id: int) -> list[TaskVersion]:
        return await self._read(lambda cur: _all(cur, "task_versions", {"task_id": task_id}, task_version))

    async def get_task_version(self, task_id: int, version: int) -> TaskDef:
        params = {"task_id": task_id, "version": version}
        text = await self._read(lambda cur: _one(cur, "task_version", params, lambda row: row["definition"]))
        if text is None:
            raise TaskNotFound(f"task id {task_id} has no version {version}", code="TASK_VERSION_NOT_FOUND")
        return task_from_json(text)

    # --- notification integrations ---------------------------------------------------------------

    async def put_integration(self, definition: IntegrationDef, *, replace: bool, now: datetime) -> None:
        require_name(definition.name, "integration")
        row = {**integration_columns(definition), "created_on": db_time(now), "last_altered_on": db_time(now)}

        def put(cur: Cursor) -> None:
            if replace:
                cur.execute(_Q["integration_upsert"], row)
            elif not _returning(cur, "integration_insert", row):
                raise ObjectExists(f"integration {definition.name} already exists", code="INTEGRATION_EXISTS")

        await self._write(put, durable=True, changes=True)

    async def get_integration(self, name: str) -> IntegrationDef | None:
        return await self._read(lambda cur: _one(cur, "integration_by_name", {"name": name}, integration_def))

    async def list_integrations(self) -> list[IntegrationRecord]:
        return await self._read(lambda cur: _all(cur, "integrations_all", {}, integration_record))

    async def drop_integration(self, name: str) -> bool:
        return await self._write(
            lambda cur: bool(_returning(cur, "integration_delete", {"name": name})),
            durable=True,
            changes=True,
        )

    # --- warehouses ------------------------------------------------------------------------------

    async def put_warehouse(self, definition: WarehouseDef, *, replace: bool, now: datetime) -> None:
        require_name(definition.name, "warehouse")
        if definition.name == DEFAULT_WAREHOUSE and not definition.embedded:
            raise CatalogError(
                "the default warehouse is the embedded DuckDB; only its MAX_CONCURRENCY and COMMENT "
                "can change (create another warehouse for other databases)",
                code="DEFAULT_WAREHOUSE",
            )
        row = {**warehouse_columns(definition), "created_on": db_time(now), "last_altered_on": db_time(now)}

        def put(cur: Cursor) -> None:
            if replace:
                cur.execute(_Q["warehouse_upsert"], row)
            elif not _returning(cur, "warehouse_insert", row):
                raise ObjectExists(f"warehouse {definition.name} already exists", code="WAREHOUSE_EXISTS")

        await self._write(put, durable=True, changes=True)

    async def get_warehouse(self, name: str) -> WarehouseDef | None:
        return await self._read(lambda cur: _one(cur, "warehouse_by_name", {"name": name}, warehouse_def))

    async def list_warehouses(self) -> list[WarehouseRecord]:
        return await self._read(lambda cur: _all(cur, "warehouses_all", {}, warehouse_record))

    async def drop_warehouse(self, name: str) -> bool:
        if name == DEFAULT_WAREHOUSE:
            raise CatalogError("the default warehouse cannot be dropped", code="DEFAULT_WAREHOUSE")
        return await self._write(
            lambda cur: bool(_returning(cur, "warehouse_delete", {"name": name})), durable=True, changes=True
        )

    # --- settings and change signals -------------------------------------------------------------

    async def get_setting(self, key: str) -> str | None:
        return await self._read(lambda cur: _one(cur, "setting_get", {"key": key}, lambda row: row["value"]))

    async def set_setting(self, key: str, value: str | None) -> None:
        require_name(key, "setting")

        def put(cur: Cursor) -> None:
            if value is None:
                cur.execute(_Q["setting_delete"], {"key": key})
            else:
                cur.execute(_Q["setting_put"], {"key": key, "value": value})

        await self._write(put, durable=True)

    async def change_seq(self) -> int:
        seq = await self._read(lambda cur: _one(cur, "change_seq", {}, lambda row: row["change_seq"]))
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
        now = db_time(self._clock.now())
        return await self._write(
            lambda cur: runs_db.fire_with_graphs(cur, runs, runtime, graphs, now, fence), hold=True
        )

    async def finish_run(
        self,
        outcome: RunOutcome,
        runtime: TaskRuntime | None,
        notifications: Sequence[OutboxItem] = (),
        *,
        fence: Fence | None = None,
    ) -> bool:
        now = db_time(self._clock.now())
        suspends = runtime is not None and runtime.state is not None
        items = tuple(notifications)

        def settle(cur: Cursor) -> bool:
            settled = runs_db.settle(cur, outcome, runtime, now, fence)
            if settled:  # an already settled run queued its notifications when it was settled
                outbox_db.enqueue(cur, items)
            return settled

        lazy = outcome.state.terminal and not items
        settled = await self._write(settle, durable=suspends, changes=suspends, lazy=lazy, hold=True)
        if settled and items:
            self._queued()
        return settled

    async def set_task_runtime(self, updates: Sequence[TaskRuntime], *, fence: Fence | None = None) -> None:
        if not updates:
            return
        now = db_time(self._clock.now())
        suspends = any(u.state is not None for u in updates)
        await self._write(
            lambda cur: runs_db.apply_runtime(cur, updates, now, fence),
            durable=suspends,
            changes=suspends,
            hold=True,
        )

    async def get_run(self, run_id: int) -> RunRecord | None:
        return await self._read(lambda cur: _one(cur, "run_by_id", {"run_id": run_id}, run_record))

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
        return await self._read(
            lambda cur: runs_db.list_runs(
                cur,
                task_id=task_id,
                start=start,
                end=end,
                error_only=error_only,
                root_task_id=root_task_id,
                limit=limit,
            )
        )

    async def last_run_states(self, now: datetime) -> dict[int, tuple[str, datetime]]:
        stamp = db_time(now)
        return await self._read(lambda cur: runs_db.last_per_task(cur, stamp))

    async def open_runs(self, *node_ids: str) -> list[RunRecord]:
        if not node_ids:
            return []
        params = {"node_ids": list(node_ids)}
        return await self._read(lambda cur: _all(cur, "runs_open_of_nodes", params, run_record))

    async def settle_lost_runs(
        self,
        node_ids: Sequence[str],
        now: datetime,
        message: str,
        unstarted: Sequence[UnstartedRun] = (),
        committed: Sequence[RunOutcome] = (),
        keep: Sequence[int] = (),
    ) -> dict[str, LostRuns]:
        if not node_ids:
            return {}
        stamp = db_time(now)
        nodes, decided, done, kept = tuple(node_ids), tuple(unstarted), tuple(committed), tuple(keep)
        return await self._write(
            lambda cur: runs_db.settle_lost(cur, nodes, stamp, message, decided, done, kept)
        )

    async def prune_runs(self, default_cutoff: datetime, per_task: Mapping[int, datetime]) -> int:
        cutoffs = {task_id: db_time(cutoff) for task_id, cutoff in per_task.items()}
        default = db_time(default_cutoff)
        return await self._write(lambda cur: runs_db.prune(cur, default, cutoffs))

    async def register_node(self, node: NodeRecord) -> None:
        params = node_params(node)
        await self._write(lambda cur: _execute(cur, "node_upsert", params))

    async def heartbeat(self, node_id: str, now: datetime) -> None:
        params = {"node_id": node_id, "now": db_time(now)}
        await self._write(lambda cur: _execute(cur, "node_heartbeat", params))

    async def stop_node(self, node_id: str, now: datetime) -> None:
        params = {"node_id": node_id, "now": db_time(now)}
        await self._write(lambda cur: _execute(cur, "node_stop", params), durable=True)

    async def list_nodes(self, now: datetime) -> list[NodeRecord]:
        return await self._read(lambda cur: _all(cur, "nodes_all", {}, node_record))

    # --- cluster coordination (see catalog/cluster.py) -------------------------------------------

    async def join(self, member: Membership) -> Lease:
        return await self._write(lambda cur: cluster_db.join(cur, member), durable=True)

    async def renew_lease(self, fence: Fence, *, running: int) -> bool:
        count = max(0, running)
        return await self._write(
            lambda cur: cluster_db.lease_update(cur, "lease_renew", fence, running=count)
        )

    async def drain(self, fence: Fence) -> bool:
        return await self._write(lambda cur: cluster_db.lease_update(cur, "lease_drain", fence), durable=True)

    async def leave(self, fence: Fence) -> bool:
        return await self._write(lambda cur: cluster_db.leave(cur, fence), durable=True)

    async def claim_placements(
        self, fence: Fence, *, capacity: int, warehouses: Sequence[str] | None
    ) -> list[int]:
        check_capacity(capacity)
        served = None if warehouses is None else tuple(warehouses)
        return await self._write(lambda cur: cluster_db.claim(cur, fence, capacity, served))

    async def release_placements(self, fence: Fence, task_ids: Sequence[int] | None = None) -> list[int]:
        ids = None if task_ids is None else tuple(task_ids)
        return await self._write(lambda cur: cluster_db.release(cur, fence, ids), durable=True)

    async def pin_tasks(self, pins: Mapping[int, str | None]) -> None:
        if pins:
            wanted = dict(pins)
            await self._write(lambda cur: cluster_db.pin(cur, wanted), durable=True)

    async def list_placements(self, *, node_id: str | None = None) -> list[Placement]:
        return await self._read(lambda cur: cluster_db.placements(cur, node_id))

    async def cluster_members(self) -> list[Member]:
        return await self._read(cluster_db.members)

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
        now = db_time(self._clock.now())
        suspends = runtime is not None and runtime.state is not None
        items = tuple(notifications)

        def step(cur: Cursor) -> list[RunRecord | None]:
            records = runs_db.settle_step(
                cur, outcome=outcome, runtime=runtime, new_runs=new_runs, end=end, now=now, fence=fence
            )
            outbox_db.enqueue(cur, items)
            return records

        records = await self._write(step, durable=suspends, changes=suspends, hold=True)
        if items:
            self._queued()
        return records

    async def graph_version(self, root_task_id: int, members: Mapping[int, int]) -> int:
        now = db_time(self._clock.now())
        return await self._write(
            lambda cur: runs_db.graph_version(cur, root_task_id, members, now), hold=True
        )

    async def graph_version_members(self, root_task_id: int, version: int) -> dict[int, int] | None:
        return await self._read(lambda cur: runs_db.version_members(cur, root_task_id, version))

    async def get_graph_run(self, group_id: str) -> GraphRunRecord | None:
        params = {"graph_run_group_id": group_id}
        return await self._read(lambda cur: _one(cur, "graph_run_by_id", params, graph_run_record))

    async def list_graph_runs(
        self,
        *,
        root_task_id: int | None = None,
        states: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[GraphRunRecord]:
        return await self._read(lambda cur: runs_db.list_graph_runs(cur, root_task_id, states, limit))

    async def graph_run_runs(self, group_id: str) -> list[RunRecord]:
        return await self._read(lambda cur: runs_db.runs_of(cur, group_id))

    # --- notification outbox ---------------------------------------------------------------------

    async def enqueue_notifications(self, items: Sequence[OutboxItem]) -> None:
        if not items:
            return
        batch = tuple(items)
        await self._write(lambda cur: outbox_db.enqueue(cur, batch))
        self._queued()

    async def claim_notifications(
        self, node_id: str, *, now: datetime, lease_seconds: float, limit: int
    ) -> list[OutboxMessage]:
        if limit <= 0:
            return []
        return await self._write(lambda cur: outbox_db.claim(cur, node_id, now, lease_seconds, limit))

    async def next_notification_due(self) -> datetime | None:
        return await self._read(outbox_db.next_due)

    async def record_notification_attempt(self, attempt: DeliveryAttempt) -> bool:
        return await self._write(lambda cur: outbox_db.record(cur, attempt))

    async def notification_history(
        self, *, message_id: str | None = None, integration: str | None = None, limit: int | None = None
    ) -> list[DeliveryRecord]:
        return await self._read(lambda cur: outbox_db.history(cur, message_id, integration, limit))

    async def list_notifications(
        self, *, state: OutboxState | None = None, limit: int | None = None
    ) -> list[OutboxMessage]:
        return await self._read(lambda cur: outbox_db.list_messages(cur, state, limit))

    async def prune_notifications(self, cutoff: datetime) -> int:
        return await self._write(lambda cur: outbox_db.prune(cur, cutoff))

    # --- run bookkeeping jobs (see grouped.py) --------------------------------------------------

    def _fires_job(
        self,
        node_id: str,
        updates: list[RunOutcome],
        releases: list[tuple[int, str]],
        claims: Sequence[NewRun],
        now: str,
        fence: Fence | None,
    ) -> Callable[[Cursor], list[RunRecord | None]]:
        return lambda cur: runs_db.record_fires(cur, node_id, updates, releases, claims, now, fence)

    def _settle_job(self, outcome: RunOutcome, now: str, fence: Fence | None) -> Callable[[Cursor], bool]:
        return lambda cur: runs_db.settle(cur, outcome, None, now, fence)

    def _touch(self, db: Cursor) -> None:
        # a write, so that the commit has a WAL record to flush up to
        db.execute(_Q["meta_touch"])

    # --- whole tables (see bulk.py) --------------------------------------------------------------

    def export_rows(self, table: str, *, batch_size: int = 1000) -> AsyncIterator[list[TableRow]]:
        return bulk.export_rows(self._read, table, batch_size)

    async def row_counts(self) -> dict[str, int]:
        return await self._read(bulk.row_counts)

    async def id_counters(self) -> dict[str, int]:
        return await self._read(bulk.id_counters)

    def load_rows(self, *, replace: bool) -> AbstractAsyncContextManager[RowLoader]:
        self._open_writer()  # refuses a closed catalog
        return bulk.PgRowLoader(self._target, replace=replace, change_sql=_Q["change_seq_bump"])


# --- job bodies (run in the writer or a reader thread) -------------------------------------------


def _install(cur: Cursor, schema: str, now: str) -> None:
    apply_schema(
        cur,
        schema_name=schema,
        schema=load_schema("postgres"),
        migrations=load_migrations("postgres"),
        queries=_Q,
        now=now,
    )
    default = warehouse_columns(WarehouseDef(name=DEFAULT_WAREHOUSE))
    cur.execute(_Q["warehouse_insert"], {**default, "created_on": now, "last_altered_on": now})


def _execute(cur: Cursor, query: str, params: dict[str, Any]) -> None:
    cur.execute(_Q[query], params)


def _one(cur: Cursor, query: str, params: dict[str, Any], convert: Callable[[Row], T]) -> T | None:
    cur.execute(_Q[query], params)
    row = cur.fetchone()
    return None if row is None else convert(row)


def _all(cur: Cursor, query: str, params: dict[str, Any], convert: Callable[[Row], T]) -> list[T]:
    cur.execute(_Q[query], params)
    return [convert(row) for row in cur.fetchall()]


def _returning(cur: Cursor, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cur.execute(_Q[query], params)
    return cur.fetchall()
