"""The catalog in one SQLite file (see :mod:`tasksql.catalog.sqlite.catalog`)."""

from __future__ import annotations

from tasksql.catalog.sqlite.catalog import SQLiteCatalog

__all__ = ["SQLiteCatalog"]
