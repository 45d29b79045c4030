"""Translation of sqlite3 exceptions into catalog errors.

sqlite3 exceptions never leave the SQLite catalog modules: every one is turned into a
:class:`~tasksql.errors.CatalogError` here, keeping SQLite's message (which names tables and
columns, never stored values, so no secret can leak through it).
"""

from __future__ import annotations

import sqlite3

from tasksql.errors import CatalogError

# Primary result codes (the low byte of an extended code), from sqlite3.h.
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6


def is_busy(exc: BaseException) -> bool:
    """True for SQLITE_BUSY / SQLITE_LOCKED (and their extended codes): another connection holds a lock."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return "locked" in str(exc) or "busy" in str(exc)
    return (code & 0xFF) in (_SQLITE_BUSY, _SQLITE_LOCKED)


def translate(exc: sqlite3.Error, doing: str) -> CatalogError:
    """The catalog error for a sqlite3 exception raised while ``doing`` something.

    Codes: ``CATALOG_BUSY`` (the file stayed locked by another process), ``CONSTRAINT_VIOLATION``
    (a CHECK, UNIQUE or FOREIGN KEY constraint refused the change), ``CATALOG_ERROR`` otherwise.
    """
    name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    if is_busy(exc):
        return CatalogError(
            f"the catalog stayed locked by another process while {doing} ({name}: {exc})", code="CATALOG_BUSY"
        )
    if isinstance(exc, sqlite3.IntegrityError):
        return CatalogError(
            f"the catalog refused the change while {doing} ({name}: {exc})", code="CONSTRAINT_VIOLATION"
        )
    return CatalogError(f"the SQLite catalog failed while {doing} ({name}: {exc})")
