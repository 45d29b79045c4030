"""Ocient's ``check_disk`` on tasksql's own storage: every object is checked, one result each
(:class:`~tasksql.model.storage_check.StorageCheck`), kept in the catalog as it goes and listed
by ``system.storage_checks``.

The objects, and what their check proves:

* ``catalog`` (the catalog itself). SQLite catalog: ``PRAGMA integrity_check`` of the catalog file
  on a reading connection (every page, B-tree, index entry and constraint). PostgreSQL catalog:
  amcheck's ``bt_index_check`` of each B-tree index of the catalog's schema (``catalog.<index>``),
  or one SKIPPED result when the extension is not installed.
* ``<warehouse>.<table>`` of a SQLite warehouse: ``PRAGMA integrity_check(<table>)`` (the table's
  pages and every index entry against its rows); ``sample = true``: ``quick_check`` (pages and
  B-trees, no index-to-row cross-check). A file too damaged to list its tables is one DAMAGED
  result for ``<warehouse>``.
  An FTS5 table with text (not contentless): FTS5's ``integrity-check`` with rank 1, its full-text
  index against the text it indexes (its own, or its external content table's).
* ``<warehouse>.<table>`` of a DuckDB warehouse: every row read in full, its count and a checksum
  of the contents (``sum(hash(row))``) in the detail. DuckDB verifies each block's checksum when it
  loads it from the file, so a table read in full proves its blocks on disk match their checksums
  (blocks already in DuckDB's memory are not read again).
* ``<warehouse>.<schema>.<index>`` of a PostgreSQL warehouse: amcheck's ``bt_index_check`` when
  the extension is installed in that database, else one SKIPPED result for ``<warehouse>``.

Options: ``storage_ids = '<id>[, <id> ...]'`` checks only the objects named, a name standing for
itself and everything under it (``catalog``, ``lite`` = every table of warehouse ``lite``,
``lite.t`` = that table); ``only_unhealthy = true`` keeps only the results that are not OK;
``fix = true`` repairs what can be repaired and checks again: a SQLite table whose findings are all
about its indexes is reindexed (``REINDEX``), an FTS5 index is rebuilt from its text
(``INSERT INTO f(f) VALUES('rebuild')``), a PostgreSQL index is reindexed (``REINDEX INDEX``: a new
index built from the table's rows). What then passes is FIXED, else DAMAGED. Damage to a SQLite
table's own pages, and a DuckDB block that fails its checksum, have no second copy to be rebuilt
from: they stay DAMAGED, their detail saying so (``rebuild`` rebuilds every derived table:
:mod:`tasksql.scheduler.rebuild`).

Progress: ``progress(done, total)`` after each object. Cancelling the token stops the check
before the next object (and the statement running, through the warehouse). Any DAMAGED result
fails the run (``CHECK_DISK_FAILED``), naming the damaged objects.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from tasksql.catalog.checks import StorageChecks
from tasksql.clock import Clock
from tasksql.errors import NotSupportedError, QueryCancelled, QueryTimeout, TasksqlError
from tasksql.model import MaintenanceBody
from tasksql.model.storage_check import CheckResult, StorageCheck
from tasksql.scheduler import maintenance
from tasksql.scheduler.rebuild import fts5_rebuildable
from tasksql.warehouses.base import CancelToken, Warehouse

#: Called with (objects done, objects in all) as the check goes.
Progress = Callable[[int, int], Awaitable[None]]

#: The error code of a run whose check found damage.
CHECK_DISK_FAILED = "CHECK_DISK_FAILED"

#: The check of a SQLite FTS5 table: its full-text index against the text it indexes.
FTS5_CHECK = "fts5_integrity_check"


@dataclass(frozen=True, slots=True)
class Found:
    """The result of one object's check, before it is stamped with its run."""

    object_kind: str
    storage_id: str
    check: str
    result: CheckResult
    detail: str | None = None
    #: Every finding, untruncated (SQLite's lines): what a fix decides by.
    findings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Who:
    """The run a check belongs to, and the node that runs it."""

    run_id: int
    task_id: int
    task_name: str
    node_id: str


@dataclass(slots=True)
class Scope:
    """The objects ``storage_ids`` names (None: every object)."""

    ids: frozenset[str] | None = None
    kept: list[StorageCheck] = field(default_factory=list)

    @staticmethod
    def of(body: MaintenanceBody) -> Scope:
        text = maintenance.option(body, "storage_ids")
        if not text:
            return Scope()
        return Scope(frozenset(p.strip() for p in text.split(",") if p.strip()))

    def covers(self, storage_id: str) -> bool:
        """True when ``storage_id`` is named, or lies under (or above: a warehouse whose tables
        are named) a name given."""
        if self.ids is None:
            return True
        return any(
            storage_id == i or storage_id.startswith(i + ".") or i.startswith(storage_id + ".")
            for i in self.ids
        )


#: Why ``fix`` leaves damage it cannot repair, by dialect (a PostgreSQL index is always reindexed).
_UNREPAIRABLE = {
    # REINDEX rebuilds index entries from the rows; the rows' own pages exist once
    "sqlite": "the damage is in the table's own pages, which have no second copy (REINDEX repairs"
    " index entries only); restore the file from a backup",
    # a block that fails its checksum stays so: CHECKPOINT writes only blocks changed in memory
    "duckdb": "DuckDB keeps one copy of a table's blocks, so there is nothing to rebuild a block"
    " that fails its checksum from; restore the file from a backup",
}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 1000 else text[:997] + "..."


class _Checker:
    """The objects of one warehouse and their checks (see the module)."""

    def __init__(
        self,
        warehouse: Warehouse,
        name: str,
        body: MaintenanceBody,
        token: CancelToken,
        remaining: Callable[[], float] | None,
    ) -> None:
        self.wh, self.name, self.token, self.remaining = warehouse, name, token, remaining
        self.sample = maintenance.flag(body, "sample")
        self.fix = maintenance.flag(body, "fix")
        #: The SQLite FTS5 tables (their targets) whose index is derived from text they keep.
        self.fts5: set[str] = set()

    async def rows(self, sql: str) -> list[tuple[object, ...]]:
        timeout = self.remaining() if self.remaining is not None else None
        result = await self.wh.run_body([sql], transactional=False, timeout=timeout, token=self.token)
        return [] if result.last is None else [tuple(r) for r in result.last.rows]

    async def objects(self) -> list[tuple[str, str]] | Found:
        """(storage id, what to check) of each object, or the one result when there are none to list."""
        dialect = self.wh.dialect
        try:
            if dialect == "sqlite":
                names = await self.rows(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
                    " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
                )
                self.fts5 = {
                    _quote(str(n)) for n, sql in names if fts5_rebuildable(None if sql is None else str(sql))
                }
                return [(f"{self.name}.{n}", _quote(str(n))) for n, _ in names]
            if dialect == "duckdb":
                tables = await self.rows(
                    "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT internal"
                    " AND database_name = current_database() ORDER BY schema_name, table_name"
                )
                return [
                    (
                        f"{self.name}.{t}" if s == "main" else f"{self.name}.{s}.{t}",
                        f"{_quote(str(s))}.{_quote(str(t))}",
                    )
                    for s, t in tables
                ]
            if dialect == "postgres":
                [(installed,)] = await self.rows(
                    "SELECT count(*) FROM pg_extension WHERE extname = 'amcheck'"
                )
                if not installed:
                    why = (
                        f"the amcheck extension is not installed in warehouse {self.name}"
                        " (CREATE EXTENSION amcheck)"
                    )
                    return Found("warehouse", self.name, "bt_index_check", CheckResult.SKIPPED, why)
                indexes = await self.rows(
                    "SELECT n.nspname, c.relname, c.oid::bigint FROM pg_class c"
                    " JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE c.relkind = 'i' AND a.amname = 'btree'"
                    " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                    " AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1, 2"
                )
                return [(f"{self.name}.{s}.{i}", f"{_quote(str(s))}.{_quote(str(i))}") for s, i, _ in indexes]
        except (QueryCancelled, QueryTimeout):
            raise
        except TasksqlError as err:  # a file too damaged to list its objects
            return Found("file", self.name, "list_objects", CheckResult.DAMAGED, _short(err.message))
        raise NotSupportedError(f"TYPE check_disk is not supported on {dialect} warehouses")

    async def check(self, storage_id: str, target: str) -> Found:
        found = await self._check_once(storage_id, target)
        if found.result is not CheckResult.DAMAGED or not self.fix:
            return found
        repair = self._repair(target, found)
        if repair is None:
            why = _UNREPAIRABLE.get(self.wh.dialect, "nothing is known to repair it")
            return Found(
                found.object_kind,
                storage_id,
                found.check,
                CheckResult.DAMAGED,
                _short(f"not repaired: {why}; it found: {found.detail}"),
                found.findings,
            )
        try:
            await self.rows(repair)
        except (QueryCancelled, QueryTimeout):
            raise
        except TasksqlError as err:
            return Found(
                found.object_kind,
                storage_id,
                found.check,
                CheckResult.DAMAGED,
                _short(f"{found.detail}; {repair} failed: {err.message}"),
            )
        again = await self._check_once(storage_id, target)
        if again.result is CheckResult.OK:
            return Found(
                found.object_kind,
                storage_id,
                found.check,
                CheckResult.FIXED,
                _short(f"fixed by {repair}; it had found: {found.detail}"),
            )
        return again

    def _repair(self, target: str, found: Found) -> str | None:
        dialect = self.wh.dialect
        if dialect == "sqlite" and target in self.fts5:  # the index, from the text it indexes
            return f"INSERT INTO {target}({target}) VALUES('rebuild')"
        if dialect == "sqlite":
            # only index entries are wrong: the indexes are rebuilt from the table's rows
            if found.findings and all(" index " in f for f in found.findings):
                return f"REINDEX {target}"
            return None
        if dialect == "postgres":
            return f"REINDEX INDEX {target}"
        return None

    async def _check_once(self, storage_id: str, target: str) -> Found:
        dialect = self.wh.dialect
        try:
            if dialect == "sqlite" and target in self.fts5:
                # FTS5's own check: the index against the text (rank 1: an external content table's too)
                await self.rows(f"INSERT INTO {target}({target}, rank) VALUES('integrity-check', 1)")
                return Found("table", storage_id, FTS5_CHECK, CheckResult.OK)
            if dialect == "sqlite":
                pragma = "quick_check" if self.sample else "integrity_check"
                rows = await self.rows(f"PRAGMA {pragma}({target})")
                found = [str(r[0]) for r in rows if r and str(r[0]) != "ok"]
                if found:
                    detail = _short(f"{len(found)} finding(s): " + "; ".join(found))
                    return Found("table", storage_id, pragma, CheckResult.DAMAGED, detail, tuple(found))
                return Found("table", storage_id, pragma, CheckResult.OK)
            if dialect == "duckdb":
                [(n, checksum)] = await self.rows(
                    f"SELECT count(*), coalesce(sum(hash(t)), 0)::VARCHAR FROM {target} AS t"
                )
                return Found(
                    "table", storage_id, "read_checksum", CheckResult.OK, f"rows={n} checksum={checksum}"
                )
            literal = "'" + target.replace("'", "''") + "'"
            await self.rows(f"SELECT bt_index_check({literal}::regclass)")
            return Found("index", storage_id, "bt_index_check", CheckResult.OK)
        except (QueryCancelled, QueryTimeout):
            raise
        except TasksqlError as err:
            kind = "index" if dialect == "postgres" else "table"
            check = {"sqlite": "integrity_check", "duckdb": "read_checksum"}.get(dialect, "bt_index_check")
            detail = err.message
            if dialect == "sqlite" and target in self.fts5:  # SQLite says only "malformed"
                check, detail = FTS5_CHECK, f"the full-text index does not match its text: {detail}"
            return Found(kind, storage_id, check, CheckResult.DAMAGED, _short(detail))


async def run_check_disk(
    body: MaintenanceBody,
    warehouse: Warehouse,
    warehouse_name: str,
    catalog: StorageChecks,
    *,
    who: Who,
    clock: Clock,
    token: CancelToken,
    progress: Progress | None = None,
    remaining: Callable[[], float] | None = None,
) -> list[StorageCheck]:
    """Check every object in scope (the catalog first, then the warehouse's), keep each result in
    the catalog as it is found (only the unhealthy ones with ``only_unhealthy``), report progress,
    and return the results.

    ``remaining()``, when given, is the seconds left of the run's timeout: each statement gets
    that long (a run that calls it off has its sub-tasks cancelled instead).

    :raises QueryCancelled: the token was cancelled (the results so far are kept).
    :raises QueryTimeout: a statement ran past the time left.
    :raises TasksqlError: (code ``CHECK_DISK_FAILED``) an object is DAMAGED.
    """
    scope = Scope.of(body)
    only_unhealthy = maintenance.flag(body, "only_unhealthy")
    checker = _Checker(warehouse, warehouse_name, body, token, remaining)
    listed = await checker.objects() if scope.covers(warehouse_name) else []
    objects = [(s, t) for s, t in listed if scope.covers(s)] if isinstance(listed, list) else []
    with_catalog = scope.covers("catalog")
    total = len(objects) + (1 if with_catalog else 0) + (1 if isinstance(listed, Found) else 0)
    results: list[StorageCheck] = []

    async def keep(found: Sequence[Found], done: int) -> None:
        stamped = [
            StorageCheck(
                run_id=who.run_id,
                task_id=who.task_id,
                task_name=who.task_name,
                node_id=who.node_id,
                object_kind=f.object_kind,
                storage_id=f.storage_id,
                check=f.check,
                result=f.result,
                detail=f.detail,
                checked_at=clock.now(),
            )
            for f in found
        ]
        results.extend(stamped)
        kept = [s for s in stamped if not (only_unhealthy and s.result is CheckResult.OK)]
        await catalog.record_storage_checks(kept)
        if progress is not None:
            await progress(done, total)

    done = 0
    if progress is not None:
        await progress(0, total)
    if with_catalog:
        own = await catalog.check_own_storage(quick=checker.sample)
        done += 1
        await keep([Found(c.object_kind, c.storage_id, c.check, c.result, c.detail) for c in own], done)
    if isinstance(listed, Found):
        done += 1
        await keep([listed], done)
    for storage_id, target in objects:
        if token.cancelled:
            raise QueryCancelled(token.reason or "cancelled")
        found = await checker.check(storage_id, target)
        done += 1
        await keep([found], done)
    damaged = [r.storage_id for r in results if r.result is CheckResult.DAMAGED]
    if damaged:
        named = ", ".join(damaged[:10]) + (f" and {len(damaged) - 10} more" if len(damaged) > 10 else "")
        first = next(r for r in results if r.result is CheckResult.DAMAGED)
        raise TasksqlError(
            f"check_disk found damage in {len(damaged)} object(s): {named} (first: {first.detail};"
            " see system.storage_checks)",
            code=CHECK_DISK_FAILED,
        )
    return results
