"""The catalog: where tasksql keeps its own state (see :mod:`tasksql.catalog.base` for the contract).

:func:`open_catalog` picks the backend from a URL or path; the catalog it returns is opened with
``async with`` (or :meth:`Catalog.open` / :meth:`Catalog.close`)::

    async with open_catalog("/var/lib/tasksql/catalog.db") as catalog:
        tasks = await catalog.list_tasks()

    async with open_catalog("postgresql://tasks@db.internal/ops", schema="tasksql") as catalog:
        ...
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasksql.catalog.base import (
    UNCHANGED,
    Catalog,
    IntegrationRecord,
    TaskUpdate,
    TaskVersion,
    Unchanged,
    WarehouseRecord,
)
from tasksql.catalog.sqlite import SQLiteCatalog
from tasksql.clock import SYSTEM_CLOCK, Clock
from tasksql.errors import ConfigError, NotSupportedError

if TYPE_CHECKING:
    from tasksql.catalog.postgres import PostgresCatalog

#: The catalog's file name inside a data directory.
CATALOG_FILE = "catalog.db"

__all__ = [
    "CATALOG_FILE",
    "UNCHANGED",
    "Catalog",
    "IntegrationRecord",
    "PostgresCatalog",
    "SQLiteCatalog",
    "TaskUpdate",
    "TaskVersion",
    "Unchanged",
    "WarehouseRecord",
    "open_catalog",
]


def __getattr__(name: str) -> Any:
    # psycopg is an optional dependency: the PostgreSQL catalog is imported when it is asked for
    if name == "PostgresCatalog":
        from tasksql.catalog.postgres import PostgresCatalog

        return PostgresCatalog
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_catalog(url_or_path: str, *, clock: Clock = SYSTEM_CLOCK, schema: str | None = None) -> Catalog:
    """The catalog named by ``url_or_path``, not yet opened.

    * a file path, or ``sqlite://`` followed by one (``sqlite:///var/lib/tasksql/catalog.db`` is
      the absolute path ``/var/lib/tasksql/catalog.db``): a :class:`SQLiteCatalog` on that file;
    * an existing directory (a data directory): the SQLite catalog ``catalog.db`` inside it;
    * ``postgresql://...`` / ``postgres://...``: a :class:`PostgresCatalog` in that database, in
      the PostgreSQL schema ``schema`` (default ``tasksql``; ignored for SQLite).

    :raises NotSupportedError: (code ``NOT_SUPPORTED``) another URL scheme.
    :raises ConfigError: an empty path, ``:memory:`` (the catalog must be a file other processes
        can open), a PostgreSQL URL that does not parse, or a schema name that is not an identifier.
    """
    text = url_or_path.strip()
    scheme, sep, rest = text.partition("://")
    if sep:
        if scheme.lower() in ("postgresql", "postgres"):
            try:
                from tasksql.catalog.postgres import DEFAULT_SCHEMA, PostgresCatalog
            except ImportError as err:
                raise NotSupportedError(
                    f"a PostgreSQL catalog needs the PostgreSQL driver psycopg, which this Python cannot"
                    f" import ({err}); install it with: {sys.executable} -m pip install"
                    " 'psycopg[binary,pool]>=3.2'",
                    code="DRIVER_MISSING",
                ) from None
            return PostgresCatalog(text, schema=schema or DEFAULT_SCHEMA, clock=clock)
        if scheme.lower() != "sqlite":
            raise NotSupportedError(
                f"unknown catalog URL scheme {scheme!r}; use a path, sqlite:///path or postgresql://..."
            )
        text = rest
    if not text:
        raise ConfigError("the catalog path is empty")
    if text == ":memory:" or text.startswith("file::memory:"):
        raise ConfigError("the catalog must be a file (an in-memory database cannot be shared)")
    path = Path(text).expanduser()
    if path.is_dir():
        path = path / CATALOG_FILE
    return SQLiteCatalog(path, clock=clock)
