"""The catalog contract for ``check_disk`` (:class:`StorageChecks`): the catalog checks its own
storage, and keeps what every check_disk run checked (one
:class:`~tasksql.model.storage_check.StorageCheck` per object), so the results outlive the process
that found them.

Every method is one transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from tasksql.model.storage_check import CheckResult, StorageCheck


@dataclass(frozen=True, slots=True)
class CatalogCheck:
    """One object of the catalog checked: its storage id (``catalog`` or ``catalog.<index>``), its
    kind (``catalog``, ``index``), the check that ran, the result and what was found."""

    storage_id: str
    object_kind: str
    check: str
    result: CheckResult
    detail: str | None


class StorageChecks(ABC):
    """See the module."""

    @abstractmethod
    async def record_storage_checks(self, checks: Sequence[StorageCheck]) -> None:
        """Keep ``checks`` (in order)."""

    @abstractmethod
    async def list_storage_checks(self, *, run_id: int | None = None) -> list[StorageCheck]:
        """The checks kept, oldest first; those of ``run_id`` only when given."""

    @abstractmethod
    async def check_own_storage(self, *, quick: bool) -> list[CatalogCheck]:
        """Check the catalog's own storage, one result per object checked. SQLite: ``PRAGMA
        integrity_check`` of the catalog file on a reading connection (``quick``:
        ``quick_check``), one object. PostgreSQL: amcheck's ``bt_index_check`` of each B-tree
        index of the catalog's schema when the extension is installed, else one SKIPPED result
        saying so."""
