"""Results of ``check_disk`` (Ocient's maintenance type): one :class:`StorageCheck` per object a run
checked (the catalog, a warehouse file, a table, an index), what was checked and what was found.
Values only; the catalog stores them in its ``storage_checks`` table and
``system.storage_checks`` lists them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class CheckResult(StrEnum):
    OK = "OK"
    #: The check found damage it did not (or could not) repair.
    DAMAGED = "DAMAGED"
    #: The check found damage, ``fix = true`` repaired it, and the check then passed.
    FIXED = "FIXED"
    #: The object was not checked (``detail`` says why: no checker installed, ...).
    SKIPPED = "SKIPPED"


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageCheck:
    """One object checked by one run: ``object_kind`` is ``catalog``, ``file``, ``table`` or
    ``index``; ``storage_id`` names it as ``storage_ids`` does (``catalog``, ``catalog.<index>``,
    ``<warehouse>``, ``<warehouse>.<table>``); ``check`` is what ran (``integrity_check``,
    ``read_checksum``, ``bt_index_check``, ...)."""

    run_id: int
    task_id: int
    task_name: str
    node_id: str
    object_kind: str
    storage_id: str
    check: str
    result: CheckResult
    detail: str | None
    checked_at: datetime
    check_id: int | None = None
