"""The catalog in a PostgreSQL database (see :mod:`tasksql.catalog.postgres.catalog`)."""

from __future__ import annotations

from tasksql.catalog.postgres.catalog import PostgresCatalog
from tasksql.catalog.postgres.connect import DEFAULT_SCHEMA

__all__ = ["DEFAULT_SCHEMA", "PostgresCatalog"]
