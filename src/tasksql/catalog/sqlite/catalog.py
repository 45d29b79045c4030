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

Every method of the contract is written once, in :class:`~tasksql.catalog.sql_catalog.SqlCatalog`;
this module supplies what is SQLite's own: the file, the writer thread and the reader threads,
the schema installed when the file is new, and whole-table copies. Its queries run through
:class:`~tasksql.catalog.sqlite.dialect.SQLiteDialect`.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import AbstractAsyncContextManager

from tasksql.catalog.migrate import load_migrations, load_schema
from tasksql.catalog.rows import db_time, warehouse_columns
from tasksql.catalog.sql_catalog import SqlCatalog
from tasksql.catalog.sqlite import bulk
from tasksql.catalog.sqlite import cluster as cluster_jobs
from tasksql.catalog.sqlite.connect import DEFAULT_BUSY_RETRIES, DEFAULT_BUSY_TIMEOUT
from tasksql.catalog.sqlite.dialect import SQLITE
from tasksql.catalog.sqlite.reader import SQLiteReader
from tasksql.catalog.sqlite.schema import apply_schema
from tasksql.catalog.sqlite.writer import SQLiteWriter, WriterStats
from tasksql.catalog.tables import RowLoader
from tasksql.catalog.writer import DEFAULT_LINGER, DEFAULT_MAX_GROUP
from tasksql.clock import SYSTEM_CLOCK, Clock
from tasksql.model import DEFAULT_WAREHOUSE, WarehouseDef

_Q = SQLITE.q

#: Seconds between two looks at the change sequence while waiting for another process's change.
DEFAULT_POLL_INTERVAL = 0.2


class SQLiteCatalog(SqlCatalog[sqlite3.Connection]):
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
        super().__init__(
            dialect=SQLITE, cluster=cluster_jobs, bulk=bulk, clock=clock, poll_interval=poll_interval
        )
        self._path = os.fspath(path)
        self._busy_timeout = busy_timeout
        self._busy_retries = busy_retries
        self._max_group = max_group
        self._settle_linger = settle_linger
        self._read_threads = read_threads

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

    # --- whole tables (see bulk.py) --------------------------------------------------------------

    def load_rows(self, *, replace: bool) -> AbstractAsyncContextManager[RowLoader]:
        self._open_writer()  # refuses a closed catalog
        return bulk.SQLiteRowLoader(
            self._path,
            replace=replace,
            change_sql=_Q["change_seq_bump"],
            busy_timeout=self._busy_timeout,
            busy_retries=self._busy_retries,
        )


# --- job bodies (run in the writer thread) ------------------------------------------------------


def _install(conn: sqlite3.Connection, now: str) -> None:
    apply_schema(
        conn, schema=load_schema("sqlite"), migrations=load_migrations("sqlite"), queries=_Q, now=now
    )
    default = warehouse_columns(WarehouseDef(name=DEFAULT_WAREHOUSE))
    conn.execute(_Q["warehouse_insert"], {**default, "created_on": now, "last_altered_on": now}).fetchall()
