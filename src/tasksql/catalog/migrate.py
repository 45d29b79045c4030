"""Schema files and numbered migrations of the catalog, per dialect.

``catalog/sql/<dialect>/schema.sql`` is the whole current schema; ``migrations/NNNN_<name>.sql``
are the steps that lead there, applied in number order. A new catalog is created from the schema
and records every migration as applied; an existing catalog runs the migrations it has not
recorded. ``tests/catalog/test_catalog_migrations.py`` proves that both paths give the same schema.

To change the schema: add the next numbered migration and edit ``schema.sql`` to match; never
edit a migration that has been released.

This module only reads files; applying them is the backend's job (it knows its driver).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from tasksql.catalog.queries import sql_text
from tasksql.errors import CatalogError

_MIGRATION_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    """One numbered migration file: ``version`` from its number, ``name`` from the rest of its name."""

    version: int
    name: str
    sql: str


@cache
def load_migrations(dialect: str) -> tuple[Migration, ...]:
    """Every migration of a dialect, in version order.

    :raises CatalogError: (code ``BAD_MIGRATIONS``) a misnamed file, a duplicate or missing number.
    """
    folder = resources.files("tasksql.catalog").joinpath("sql", dialect, "migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _MIGRATION_FILE.match(entry.name)
        if match is None:
            raise CatalogError(
                f"migration file name {entry.name!r} is not NNNN_name.sql", code="BAD_MIGRATIONS"
            )
        found.append(
            Migration(
                version=int(match["version"]), name=match["name"], sql=entry.read_text(encoding="utf-8")
            )
        )
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        numbers = ", ".join(str(m.version) for m in found)
        raise CatalogError(
            f"{dialect} migrations must be numbered 1, 2, 3, ... without gaps (found {numbers})",
            code="BAD_MIGRATIONS",
        )
    return tuple(found)


def load_schema(dialect: str) -> str:
    """The text of the dialect's ``schema.sql``."""
    return sql_text(dialect, "schema.sql")
