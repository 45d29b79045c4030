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
Every method of the contract is written once, in :class:`~tasksql.catalog.sql_catalog.SqlCatalog`;
this module supplies what is PostgreSQL's own: the target and its schema, the writer, readers and
listener with the health they share, the schema installed on first use, and whole-table copies. Its
queries run through :class:`~tasksql.catalog.postgres.dialect.PgDialect`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

from tasksql.catalog.migrate import load_migrations, load_schema
from tasksql.catalog.postgres import bulk
from tasksql.catalog.postgres import cluster as cluster_jobs
from tasksql.catalog.postgres.connect import DEFAULT_SCHEMA, Cursor, fence_label, parse_target
from tasksql.catalog.postgres.dialect import POSTGRES
from tasksql.catalog.postgres.health import Health
from tasksql.catalog.postgres.listener import ChangeListener
from tasksql.catalog.postgres.reader import PgReader
from tasksql.catalog.postgres.schema import apply_schema
from tasksql.catalog.postgres.starts import StartLine
from tasksql.catalog.postgres.writer import PgWriter
from tasksql.catalog.rows import db_time, warehouse_columns
from tasksql.catalog.sql_catalog import SqlCatalog
from tasksql.catalog.tables import RowLoader
from tasksql.catalog.writer import DEFAULT_LINGER, DEFAULT_MAX_GROUP
from tasksql.clock import SYSTEM_CLOCK, Clock
from tasksql.errors import CatalogError
from tasksql.model import DEFAULT_WAREHOUSE, WarehouseDef
from tasksql.model.cluster import Fence, Lease, Membership

_Q = POSTGRES.q

log = logging.getLogger("tasksql.catalog")

#: Seconds between two looks at the change sequence while waiting (LISTEN/NOTIFY usually wakes the
#: waiter first; polling covers a lost notification).
DEFAULT_POLL_INTERVAL = 1.0


class PostgresCatalog(SqlCatalog[Cursor]):
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
        super().__init__(
            dialect=POSTGRES, cluster=cluster_jobs, bulk=bulk, clock=clock, poll_interval=poll_interval
        )
        self._target = parse_target(url, schema)
        self._max_group = max_group
        self._settle_linger = settle_linger
        self._read_threads = read_threads
        self._listener: ChangeListener | None = None
        self._health: Health | None = None
        self._starts: StartLine | None = None

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
        self._starts = StartLine(self._target)

    async def close(self) -> None:
        writer, reader, listener, starts = self._writer, self._reader, self._listener, self._starts
        self._writer = self._reader = None
        self._listener = self._health = self._starts = None
        if starts is not None:
            await starts.close()
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

    async def join(self, member: Membership) -> Lease:
        """See :meth:`~tasksql.catalog.base.Catalog.join`. From then on this catalog's connections
        carry the new fence's label (:func:`~tasksql.catalog.postgres.connect.fence_label`), each
        from before its next transaction, so that another node can end them if this node's lease
        runs out while they hold its row (``docs/architecture.md``, "Locks of a stopped node")."""
        lease = await super().join(member)
        self._target.label.text = fence_label(self._target.schema, lease.fence.node_id, lease.fence.epoch)
        return lease

    async def _start_claims(
        self, node_id: str, run_ids: Sequence[int], at: str, fence: Fence | None
    ) -> list[int]:
        """On the start line (see :mod:`.starts`); through the writer when the line fails or an
        outage is on (the writer waits it out)."""
        line = self._starts
        if line is not None and self.outage() is None:
            try:
                return await line.start(node_id, run_ids, at, fence)
            except CatalogError as exc:
                log.warning(
                    "starting claimed runs on their own connection failed (%s): through the writer", exc
                )
        return await super()._start_claims(node_id, run_ids, at, fence)

    # --- whole tables (see bulk.py) --------------------------------------------------------------

    def load_rows(self, *, replace: bool) -> AbstractAsyncContextManager[RowLoader]:
        self._open_writer()  # refuses a closed catalog
        return bulk.PgRowLoader(self._target, replace=replace, change_sql=_Q["change_seq_bump"])


# --- job bodies (run in the writer thread) ------------------------------------------------------


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
