"""``tasksql catalog copy`` end to end: the two catalogs named by URL or path, the checks that need
no catalog opened (the source exists, the two are not the same, the target's folder exists), the
data directory locks, and the copy itself (:func:`tasksql.catalog.copy.copy_catalog`) on an event
loop of its own.

A SQLite catalog whose folder is a data directory (it has a ``lock`` file) is copied only while
this process holds that directory's lock: a server or shell that owns the directory makes the copy
refuse at once, naming it, and none can start while the copy runs. A PostgreSQL catalog has no
directory: the nodes that beat in it are what tells that it is in use.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tasksql import datadir
from tasksql.catalog import Catalog, SQLiteCatalog, open_catalog
from tasksql.catalog.copy import CopyReport, copy_catalog, refuse_if_running
from tasksql.clock import SYSTEM_CLOCK
from tasksql.errors import CatalogError, ConfigError
from tasksql.settings import Settings


def describe(catalog: Catalog) -> str:
    """How messages name a catalog: its file, or its URL without the password and its schema."""
    if isinstance(catalog, SQLiteCatalog):
        return f"the catalog {catalog.path}"
    safe_url = getattr(catalog, "safe_url", repr(catalog))
    return f"the catalog {safe_url} (schema {getattr(catalog, 'schema', '?')})"


def run_copy(
    settings: Settings, *, source: str | None, target: str, target_schema: str | None, force: bool
) -> tuple[CopyReport, str]:
    """Copy the catalog ``source`` (default: the settings' catalog) into ``target``; returns what was
    copied and a one-line summary naming both catalogs (without passwords).

    :raises TasksqlError: one line naming the cause and the fix: a missing source, the same catalog
        twice, a target folder that does not exist, a data directory in use, a running node, a
        target with content without ``force``, or what either catalog reports.
    """
    source_catalog = open_catalog(source or settings.effective_catalog_url, schema=settings.catalog_schema)
    target_catalog = open_catalog(target, schema=target_schema or settings.catalog_schema)
    src, dst = describe(source_catalog), describe(target_catalog)
    if isinstance(source_catalog, SQLiteCatalog) and not Path(source_catalog.path).is_file():
        raise ConfigError(
            f"there is no catalog at {source_catalog.path}; name the catalog to copy with --data, --catalog"
            " or --from"
        )
    if _same(source_catalog, target_catalog):
        raise ConfigError(f"{src} is both the source and the target of the copy; give --to another catalog")
    if isinstance(target_catalog, SQLiteCatalog) and not Path(target_catalog.path).parent.is_dir():
        raise ConfigError(
            f"cannot create {dst}: the folder {Path(target_catalog.path).parent} does not exist; create it"
            " first"
        )
    # a SQLite target is created when opened: a copy that fails must not leave an empty one behind
    new_file = Path(target_catalog.path) if isinstance(target_catalog, SQLiteCatalog) else None
    if new_file is not None and new_file.exists():
        new_file = None
    locks: list[datadir.DirectoryLock] = []
    try:
        for side in (source_catalog, target_catalog):
            lock = _lock_data_dir(side)
            if lock is not None:
                locks.append(lock)
        report = asyncio.run(_copy(source_catalog, target_catalog, force=force, src=src, dst=dst))
    except BaseException:
        if new_file is not None:
            for path in (new_file, Path(f"{new_file}-wal"), Path(f"{new_file}-shm")):
                path.unlink(missing_ok=True)
        raise
    finally:
        for lock in locks:
            lock.release()
    return report, f"copied {src} to {dst}: {report.describe()}"


async def _copy(source: Catalog, target: Catalog, *, force: bool, src: str, dst: str) -> CopyReport:
    async with source:
        # a source in use is refused before the target is opened (and perhaps created)
        await refuse_if_running(source, SYSTEM_CLOCK.now(), src)
        async with target:
            try:
                return await copy_catalog(
                    source, target, replace=force, now=SYSTEM_CLOCK.now(), source_name=src, target_name=dst
                )
            except CatalogError as exc:
                if exc.code != "CATALOG_NOT_EMPTY":
                    raise
                raise CatalogError(
                    f"{exc.message}; copy into an empty catalog, or add --force to replace its content",
                    code=exc.code,
                ) from None


def _same(a: Catalog, b: Catalog) -> bool:
    if isinstance(a, SQLiteCatalog) and isinstance(b, SQLiteCatalog):
        pa, pb = Path(a.path), Path(b.path)
        if pa.exists() and pb.exists():
            return os.path.samefile(pa, pb)
        return pa.resolve() == pb.resolve()
    return describe(a) == describe(b)


def _lock_data_dir(catalog: Catalog) -> datadir.DirectoryLock | None:
    """The lock of the data directory that holds this SQLite catalog, if it is in one.

    :raises DataDirBusy: another process owns the directory (named in the message).
    """
    if not isinstance(catalog, SQLiteCatalog):
        return None
    folder = Path(catalog.path).parent
    if not (folder / datadir.LOCK_FILE).exists():
        return None
    got = datadir.try_lock(folder, "sql")
    if isinstance(got, datadir.DirectoryLock):
        return got
    raise datadir.DataDirBusy(
        f"the data directory {folder} is in use by {got.describe()}; stop it first (a catalog copy needs"
        " every server and shell of both catalogs stopped)"
    )
