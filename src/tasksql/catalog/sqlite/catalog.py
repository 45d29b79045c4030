"""The SQLite catalog: a ``catalog.db`` file in WAL mode, one writer thread, group commit.

Design
------
The core is async and sqlite3 blocks, so no sqlite3 call ever runs on the event loop:

* **Writes** go through :class:`~tasksql.catalog.sqlite.writer.SQLiteWriter` (a
  :class:`~tasksql.catalog.writer.GroupWriter`): one thread that owns
  the only writing connection and drains a queue of jobs. Every job waiting in the queue runs in
  ONE transaction (``BEGIN IMMEDIATE``); if a job fails, the group is rolled back and each job
  runs again in a transaction of its own, so the failing job alone gets its exception while the
  others commit. After ``COMMIT`` the futures of the whole group are resolved on the event loop.
  The per-job cost is the job's own statements; the commit (and its fsync) is shared by the
  group. A run's final outcome may wait a few milliseconds to ride with the next write.
* **Reads** go through :class:`~tasksql.catalog.sqlite.reader.SQLiteReader`: worker threads with
  their own read-only connections. In WAL mode they see the last commit and never wait for the
  writer.
* **Several processes** may open the same file (the CLI while a server runs, tests with two
  processes). ``BEGIN IMMEDIATE`` takes the write lock at the start of each group, so two writers
  never deadlock upgrading a read lock; a writer that finds the lock taken waits (SQLite's busy
  timeout), retries a bounded number of times with backoff, then fails with ``CATALOG_BUSY``.
  Correctness across processes comes from the database: optimistic concurrency on task versions
  (checked inside the write transaction) and the UNIQUE index on live task names.

Durability
----------
A method returns after its transaction has committed. WAL with ``synchronous=NORMAL`` writes the
commit to the log before returning, so it survives a crash of the process (even ``kill -9``); only
a power loss or an OS crash can lose the latest commits, because the log is fsynced at checkpoints
only. That is the right trade for run bookkeeping, which is frequent and which start-up
reconciliation repairs. Definition changes (``create_task``; ``update_tasks`` with a definition,
state, suspend reason, owner or drop; integrations; warehouses; settings) are what a user was told
"done" about and are rare, so their groups commit with ``synchronous=FULL``: the log is fsynced
before the method returns and the change survives a power loss too. The pragma cannot change inside
a transaction, so the writer sets it before ``BEGIN``, for the whole group.

Instants are stored as UTC ISO-8601 text with microseconds (see :mod:`tasksql.catalog.rows`).
Secrets inside definitions are stored as given and are never logged by this module.

Adding a method (runs, leases, nodes and the notification outbox came this way)
-------------------------------------------------------------------------------
1. Add the tables in a new ``sql/sqlite/migrations/NNNN_<name>.sql`` and in ``sql/sqlite/schema.sql``.
2. Add the statements to ``sql/sqlite/queries.sql`` under ``-- name:`` headers.
3. Write the body as a plain function of a ``sqlite3.Connection`` using ``_Q[<name>]`` and run it
   with ``await self._write(fn, durable=..., changes=...)`` (one transaction with the other queued
   jobs; raise a :class:`~tasksql.errors.TasksqlError` to roll back this job alone) or
   ``await self._read(fn)``. Never begin or end transactions in ``fn``; for statements with
   ``RETURNING``, fetch every row (``fetchall``) before returning.
4. Declare the method in :class:`~tasksql.catalog.base.Catalog` and test it in the contract tests.
"""

from __future__ import annotations

import json
import os
import sqlite3
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
from tasksql.catalog.queries import load_queries
from tasksql.catalog.rows import (
    Row,
    db_time,
    db_time_opt,
    definition_json,
    integration_columns,
    integration_def,
    integration_record,
    name_columns,
    reason_value,
    task_record,
    task_stub,
    task_version,
    warehouse_columns,
    warehouse_def,
    warehouse_record,
)
from tasksql.catalog.sqlite import bulk
from tasksql.catalog.sqlite import cluster as cluster_db
from tasksql.catalog.sqlite import graphs as graphs_db
from tasksql.catalog.sqlite import outbox as outbox_db
from tasksql.catalog.sqlite import runs as runs_db
from tasksql.catalog.sqlite import tasks as tasks_db
from tasksql.catalog.sqlite.connect import DEFAULT_BUSY_RETRIES, DEFAULT_BUSY_TIMEOUT
from tasksql.catalog.sqlite.reader import SQLiteReader
from tasksql.catalog.sqlite.schema import apply_schema
from tasksql.catalog.sqlite.writer import SQLiteWriter, WriterStats
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

_Q: dict[str, str] = {name: query.sql for name, query in load_queries("sqlite").items()}

#: Seconds between two looks at the change sequence while waiting for another process's change.
DEFAULT_POLL_INTERVAL = 0.2


class SQLiteCatalog(GroupCommitCatalog[sqlite3.Connection]):
    """The catalog in one SQLite file (see the module documentation for the design).

    :param path: the catalog file; created with its schema when missing (its folder must exist).
    :param clock: the time source for what the catalog stamps by itself (schema version, the
        seeded ``default`` warehouse); everything else gets ``now`` from the caller.
    :param poll_interval: seconds between checks for changes made by other processes.
    :param busy_timeout: seconds a statement waits for a lock held by another process.
    :param busy_retries: further attempts after a statement still found the file locked.
    :param max_group: most write jobs committed in one transaction.
    :param settle_linger: longest a run's final outcome waits to share a transaction with the
        next write (seconds; see :mod:`.writer`).
    :param read_threads: reader threads (each with its own connection).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock = SYSTEM_CLOCK,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        busy_retries: int = DEFAULT_BUSY_RETRIES,
        max_group: int = DEFAULT_MAX_GROUP,
        settle_linger: float = DEFAULT_LINGER,
        read_threads: int = 1,
    ) -> None:
        super().__init__(clock=clock, poll_interval=poll_interval)
        self._path = os.fspath(path)
        self._busy_timeout = busy_timeout
        self._busy_retries = busy_retries
        self._max_group = max_group
        self._settle_linger = settle_linger
        self._read_threads = read_threads
        self._reader: SQLiteReader | None = None

    @property
    def path(self) -> str:
        return self._path

    def __repr__(self) -> str:
        return f"SQLiteCatalog({self._path!r})"

    # --- life cycle ------------------------------------------------------------------------------

    async def open(self) -> None:
        if self._writer is not None:
            return
        writer = SQLiteWriter(
            self._path,
            change_sql=_Q["change_seq_bump"],
            on_change=self._changed,
            busy_timeout=self._busy_timeout,
            busy_retries=self._busy_retries,
            max_group=self._max_group,
            linger=self._settle_linger,
        )
        await writer.start()
        now = db_time(self._clock.now())
        try:
            await writer.submit(lambda conn: _install(conn, now), durable=True)
        except BaseException:
            await writer.stop()
            raise
        self._attach(writer)
        self._reader = SQLiteReader(
            self._path,
            busy_timeout=self._busy_timeout,
            busy_retries=self._busy_retries,
            threads=self._read_threads,
        )

    async def close(self) -> None:
        writer, reader = self._writer, self._reader
        self._writer = self._reader = None
        if writer is not None:
            await writer.stop()
        if reader is not None:
            await reader.close()

    def writer_stats(self) -> WriterStats:
        """Counters of the writer thread (groups committed, jobs, failures, queue length)."""
        writer = self._open_writer()
        assert isinstance(writer, SQLiteWriter)
        return writer.stats()

    # --- the two ways to the database ------------------------------------------------------------

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on a read-only connection in a reader thread."""
        if self._reader is None:
            raise CatalogError("the catalog is closed", code="CATALOG_CLOSED")
        return await self._reader.run(fn)

    # --- tasks -----------------------------------------------------------------------------------

    async def get_task(self, name: QualifiedName) -> TaskRecord | None:
        params = name_columns(name)
        return await self._read(lambda conn: _one(conn, "task_by_name", params, task_record))

    async def get_task_by_id(self, task_id: int) -> TaskRecord | None:
        return await self._read(lambda conn: _one(conn, "task_by_id", {"id": task_id}, task_record))

    async def list_tasks(self) -> list[TaskRecord]:
        return await self._read(lambda conn: _all(conn, "tasks_live", {}, task_record))

    async def list_task_stubs(self, *, after_id: int = 0, limit: int | None = None) -> list[TaskStub]:
        params = {"after_id": after_id, "limit": -1 if limit is None else limit}
        return await self._read(lambda conn: _all(conn, "task_stubs", params, task_stub))

    async def get_tasks_by_ids(self, ids: Sequence[int]) -> list[TaskRecord]:
        params = {"ids": json.dumps(list(ids))}
        return await self._read(lambda conn: _all(conn, "tasks_by_ids", params, task_record))

    async def history_retentions(self) -> dict[int, int]:
        rows = await self._read(lambda conn: conn.execute(_Q["task_retentions"]).fetchall())
        return {int(row[0]): int(row[1]) for row in rows}

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
            lambda conn: tasks_db.create(conn, definition, fields, stamp=stamp, replace=replace, actor=actor),
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
            lambda conn: [tasks_db.update(conn, update, stamp, actor) for update in updates],
            durable=ddl,
            changes=ddl,
        )

    async def task_versions(self, task_id: int) -> list[TaskVersion]:
        return await self._read(lambda conn: _all(conn, "task_versions", {"task_id": task_id}, task_version))

    async def get_task_version(self, task_id: int, version: int) -> TaskDef:
        params = {"task_id": task_id, "version": version}
        text = await self._read(
            lambda conn: _one(conn, "task_version", params, lambda row: row["definition"])
        )
        if text is None:
            raise TaskNotFound(f"task id {task_id} has no version {version}", code="TASK_VERSION_NOT_FOUND")
        return task_from_json(text)

    # --- notification integrations ---------------------------------------------------------------

    async def put_integration(self, definition: IntegrationDef, *, replace: bool, now: datetime) -> None:
        require_name(definition.name, "integration")
        row = {**integration_columns(definition), "created_on": db_time(now), "last_altered_on": db_time(now)}

        def put(conn: sqlite3.Connection) -> None:
            if not replace and _exists(conn, "integration_by_name", definition.name):
                raise ObjectExists(f"integration {definition.name} already exists", code="INTEGRATION_EXISTS")
            conn.execute(_Q["integration_upsert"], row)

        await self._write(put, durable=True, changes=True)

    async def get_integration(self, name: str) -> IntegrationDef | None:
        return await self._read(
            lambda conn: _one(conn, "integration_by_name", {"name": name}, integration_def)
        )

    async def list_integrations(self) -> list[IntegrationRecord]:
        return await self._read(lambda conn: _all(conn, "integrations_all", {}, integration_record))

    async def drop_integration(self, name: str) -> bool:
        return await self._write(
            lambda conn: bool(_returning(conn, "integration_delete", {"name": name})),
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

        def put(conn: sqlite3.Connection) -> None:
            if not replace and _exists(conn, "warehouse_by_name", definition.name):
                raise ObjectExists(f"warehouse {definition.name} already exists", code="WAREHOUSE_EXISTS")
            conn.execute(_Q["warehouse_upsert"], row)

        await self._write(put, durable=True, changes=True)

    async def get_warehouse(self, name: str) -> WarehouseDef | None:
        return await self._read(lambda conn: _one(conn, "warehouse_by_name", {"name": name}, warehouse_def))

    async def list_warehouses(self) -> list[WarehouseRecord]:
        return await self._read(lambda conn: _all(conn, "warehouses_all", {}, warehouse_record))

    async def drop_warehouse(self, name: str) -> bool:
        if name == DEFAULT_WAREHOUSE:
            raise CatalogError("the default warehouse cannot be dropped", code="DEFAULT_WAREHOUSE")
        return await self._write(
            lambda conn: bool(_returning(conn, "warehouse_delete", {"name": name})),
            durable=True,
            changes=True,
        )

    # --- settings and change signals -------------------------------------------------------------

    async def get_setting(self, key: str) -> str | None:
        return await self._read(
            lambda conn: _one(conn, "setting_get", {"key": key}, lambda row: row["value"])
        )

    async def set_setting(self, key: str, value: str | None) -> None:
        require_name(key, "setting")

        def put(conn: sqlite3.Connection) -> None:
            if value is None:
                conn.execute(_Q["setting_delete"], {"key": key})
            else:
                conn.execute(_Q["setting_put"], {"key": key, "value": value})

        await self._write(put, durable=True)

    async def change_seq(self) -> int:
        return await self._read(_change_seq)

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
        if graphs:
            return await self._write(
                lambda conn: graphs_db.fire_with_graphs(conn, runs, runtime, graphs, now, fence)
            )
        return await self._write(lambda conn: runs_db.fire(conn, runs, runtime, now, fence))

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

        def step(conn: sqlite3.Connection) -> list[RunRecord | None]:
            records = graphs_db.settle_step(
                conn, outcome=outcome, runtime=runtime, new_runs=new_runs, end=end, now=now, fence=fence
            )
            outbox_db.enqueue(conn, items)
            return records

        records = await self._write(step, durable=suspends, changes=suspends)
        if items:
            self._queued()
        return records

    async def graph_version(self, root_task_id: int, members: Mapping[int, int]) -> int:
        now = db_time(self._clock.now())
        return await self._write(lambda conn: graphs_db.graph_version(conn, root_task_id, members, now))

    async def graph_version_members(self, root_task_id: int, version: int) -> dict[int, int] | None:
        return await self._read(lambda conn: graphs_db.version_members(conn, root_task_id, version))

    async def get_graph_run(self, group_id: str) -> GraphRunRecord | None:
        params = {"graph_run_group_id": group_id}
        return await self._read(
            lambda conn: _one(conn, "graph_run_by_id", params, graphs_db.graph_run_record)
        )

    async def list_graph_runs(
        self,
        *,
        root_task_id: int | None = None,
        states: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[GraphRunRecord]:
        return await self._read(lambda conn: graphs_db.list_graph_runs(conn, root_task_id, states, limit))

    async def graph_run_runs(self, group_id: str) -> list[RunRecord]:
        return await self._read(lambda conn: graphs_db.runs_of(conn, group_id))

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

        def settle(conn: sqlite3.Connection) -> bool:
            settled = runs_db.settle(conn, outcome, runtime, now, fence)
            if settled:  # an already settled run queued its notifications when it was settled
                outbox_db.enqueue(conn, items)
            return settled

        # A final outcome starts nothing: it may share the next write's transaction.
        lazy = outcome.state.terminal and not items
        settled = await self._write(settle, durable=suspends, changes=suspends, lazy=lazy)
        if settled and items:
            self._queued()
        return settled

    async def set_task_runtime(self, updates: Sequence[TaskRuntime], *, fence: Fence | None = None) -> None:
        if not updates:
            return
        now = db_time(self._clock.now())
        suspends = any(u.state is not None for u in updates)
        await self._write(
            lambda conn: runs_db.apply_runtime(conn, updates, now, fence), durable=suspends, changes=suspends
        )

    async def get_run(self, run_id: int) -> RunRecord | None:
        return await self._read(lambda conn: _one(conn, "run_by_id", {"run_id": run_id}, runs_db.run_record))

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
            lambda conn: runs_db.list_runs(
                conn,
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
        return await self._read(lambda conn: runs_db.last_per_task(conn, stamp))

    async def open_runs(self, *node_ids: str) -> list[RunRecord]:
        if not node_ids:
            return []
        params = {"node_ids": json.dumps(list(node_ids))}
        return await self._read(lambda conn: _all(conn, "runs_open_of_nodes", params, runs_db.run_record))

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

        def settle_lost(conn: sqlite3.Connection) -> dict[str, LostRuns]:
            settled = runs_db.settle_lost(conn, nodes, stamp, message, decided, done, kept)
            graphs_db.settle_lost_graphs(conn, nodes, stamp, message)
            return settled

        return await self._write(settle_lost)

    async def prune_runs(self, default_cutoff: datetime, per_task: Mapping[int, datetime]) -> int:
        cutoffs = {task_id: db_time(cutoff) for task_id, cutoff in per_task.items()}
        default = db_time(default_cutoff)
        return await self._write(lambda conn: runs_db.prune(conn, default, cutoffs))

    async def register_node(self, node: NodeRecord) -> None:
        params = runs_db.node_params(node)
        await self._write(lambda conn: conn.execute(_Q["node_upsert"], params) and None)

    async def heartbeat(self, node_id: str, now: datetime) -> None:
        params = {"node_id": node_id, "now": db_time(now)}
        await self._write(lambda conn: conn.execute(_Q["node_heartbeat"], params) and None)

    async def stop_node(self, node_id: str, now: datetime) -> None:
        params = {"node_id": node_id, "now": db_time(now)}
        await self._write(lambda conn: conn.execute(_Q["node_stop"], params) and None, durable=True)

    async def list_nodes(self, now: datetime) -> list[NodeRecord]:
        return await self._read(lambda conn: _all(conn, "nodes_all", {}, runs_db.node_record))

    # --- notification outbox ---------------------------------------------------------------------

    async def enqueue_notifications(self, items: Sequence[OutboxItem]) -> None:
        if not items:
            return
        batch = tuple(items)
        await self._write(lambda conn: outbox_db.enqueue(conn, batch))
        self._queued()

    async def claim_notifications(
        self, node_id: str, *, now: datetime, lease_seconds: float, limit: int
    ) -> list[OutboxMessage]:
        if limit <= 0:
            return []
        return await self._write(lambda conn: outbox_db.claim(conn, node_id, now, lease_seconds, limit))

    async def next_notification_due(self) -> datetime | None:
        return await self._read(outbox_db.next_due)

    async def record_notification_attempt(self, attempt: DeliveryAttempt) -> bool:
        return await self._write(lambda conn: outbox_db.record(conn, attempt))

    async def notification_history(
        self, *, message_id: str | None = None, integration: str | None = None, limit: int | None = None
    ) -> list[DeliveryRecord]:
        return await self._read(lambda conn: outbox_db.history(conn, message_id, integration, limit))

    async def list_notifications(
        self, *, state: OutboxState | None = None, limit: int | None = None
    ) -> list[OutboxMessage]:
        return await self._read(lambda conn: outbox_db.list_messages(conn, state, limit))

    async def prune_notifications(self, cutoff: datetime) -> int:
        return await self._write(lambda conn: outbox_db.prune(conn, cutoff))

    # --- cluster coordination (see catalog/cluster.py) -------------------------------------------

    async def join(self, member: Membership) -> Lease:
        return await self._write(lambda conn: cluster_db.join(conn, member), durable=True)

    async def renew_lease(self, fence: Fence, *, running: int) -> bool:
        count = max(0, running)
        return await self._write(
            lambda conn: cluster_db.lease_update(conn, "lease_renew", fence, running=count)
        )

    async def drain(self, fence: Fence) -> bool:
        return await self._write(
            lambda conn: cluster_db.lease_update(conn, "lease_drain", fence), durable=True
        )

    async def leave(self, fence: Fence) -> bool:
        return await self._write(lambda conn: cluster_db.leave(conn, fence), durable=True)

    async def claim_placements(
        self, fence: Fence, *, capacity: int, warehouses: Sequence[str] | None
    ) -> list[int]:
        check_capacity(capacity)
        served = None if warehouses is None else tuple(warehouses)
        return await self._write(lambda conn: cluster_db.claim(conn, fence, capacity, served))

    async def release_placements(self, fence: Fence, task_ids: Sequence[int] | None = None) -> list[int]:
        ids = None if task_ids is None else tuple(task_ids)
        return await self._write(lambda conn: cluster_db.release(conn, fence, ids), durable=True)

    async def pin_tasks(self, pins: Mapping[int, str | None]) -> None:
        if pins:
            wanted = dict(pins)
            await self._write(lambda conn: cluster_db.pin(conn, wanted), durable=True)

    async def list_placements(self, *, node_id: str | None = None) -> list[Placement]:
        return await self._read(lambda conn: cluster_db.placements(conn, node_id))

    async def cluster_members(self) -> list[Member]:
        return await self._read(cluster_db.members)

    # --- run bookkeeping jobs (see grouped.py) --------------------------------------------------

    def _fires_job(
        self,
        node_id: str,
        updates: list[RunOutcome],
        releases: list[tuple[int, str]],
        claims: Sequence[NewRun],
        now: str,
        fence: Fence | None,
    ) -> Callable[[sqlite3.Connection], list[RunRecord | None]]:
        return lambda conn: runs_db.record_fires(conn, node_id, updates, releases, claims, now, fence)

    def _settle_job(
        self, outcome: RunOutcome, now: str, fence: Fence | None
    ) -> Callable[[sqlite3.Connection], bool]:
        return lambda conn: runs_db.settle(conn, outcome, None, now, fence)

    def _touch(self, db: sqlite3.Connection) -> None:
        # rewrites one row as it is: a WAL frame to commit, so the commit has something to flush
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
        return bulk.SQLiteRowLoader(
            self._path,
            replace=replace,
            change_sql=_Q["change_seq_bump"],
            busy_timeout=self._busy_timeout,
            busy_retries=self._busy_retries,
        )


# --- job bodies (run in the writer or a reader thread) -------------------------------------------


def _install(conn: sqlite3.Connection, now: str) -> None:
    apply_schema(
        conn, schema=load_schema("sqlite"), migrations=load_migrations("sqlite"), queries=_Q, now=now
    )
    default = warehouse_columns(WarehouseDef(name=DEFAULT_WAREHOUSE))
    conn.execute(_Q["warehouse_seed"], {**default, "created_on": now, "last_altered_on": now})


def _one(
    conn: sqlite3.Connection, query: str, params: dict[str, Any], convert: Callable[[Row], T]
) -> T | None:
    row = conn.execute(_Q[query], params).fetchone()
    return None if row is None else convert(row)


def _all(
    conn: sqlite3.Connection, query: str, params: dict[str, Any], convert: Callable[[Row], T]
) -> list[T]:
    return [convert(row) for row in conn.execute(_Q[query], params)]


def _returning(conn: sqlite3.Connection, query: str, params: dict[str, Any]) -> list[sqlite3.Row]:
    # fetchall: a RETURNING statement must run to completion before the transaction goes on.
    return conn.execute(_Q[query], params).fetchall()


def _exists(conn: sqlite3.Connection, query: str, name: str) -> bool:
    return conn.execute(_Q[query], {"name": name}).fetchone() is not None


def _change_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute(_Q["change_seq"]).fetchone()
    return int(row[0])
