"""Statements of users, roles and privileges (parsed by :mod:`tasksql.sql.parse_security`).

Role and user names are folded to lower case unless quoted; a grant's object is kept as written
(resolved by the engine against the current database and schema).
"""

from __future__ import annotations

from dataclasses import dataclass

from tasksql.model import QualifiedName
from tasksql.model.security import GranteeKind, ObjectKind
from tasksql.sql.statements import Statement


@dataclass(frozen=True, kw_only=True)
class CreateUser(Statement):
    """``CREATE [OR REPLACE] USER [IF NOT EXISTS] name [DEFAULT_ROLE = r] [DISABLED = b]
    [COMMENT = '..']``."""

    name: str
    default_role: str | None = None
    disabled: bool = False
    comment: str | None = None
    or_replace: bool = False
    if_not_exists: bool = False


@dataclass(frozen=True, kw_only=True)
class AlterUser(Statement):
    """``ALTER USER [IF EXISTS] name SET option = value [...] | UNSET option [, ...] | RESET TOKEN``.

    ``changes`` are (option, value) pairs, options upper case (DEFAULT_ROLE, DISABLED, COMMENT);
    UNSET gives the value None.
    """

    name: str
    if_exists: bool = False
    changes: tuple[tuple[str, object], ...] = ()
    reset_token: bool = False


@dataclass(frozen=True, kw_only=True)
class DropUser(Statement):
    name: str
    if_exists: bool = False


@dataclass(frozen=True, kw_only=True)
class CreateRole(Statement):
    """``CREATE [OR REPLACE] ROLE [IF NOT EXISTS] name [COMMENT = '..']``."""

    name: str
    comment: str | None = None
    or_replace: bool = False
    if_not_exists: bool = False


@dataclass(frozen=True, kw_only=True)
class DropRole(Statement):
    name: str
    if_exists: bool = False


@dataclass(frozen=True, kw_only=True)
class GrantRole(Statement):
    """``GRANT ROLE r TO {ROLE | USER} g`` (``revoke``: ``REVOKE ROLE r FROM ...``)."""

    role: str
    grantee_kind: GranteeKind
    grantee: str
    revoke: bool = False


@dataclass(frozen=True, kw_only=True)
class GrantPrivilege(Statement):
    """``GRANT priv [, ...] ON kind object TO ROLE r`` (``revoke``: ``REVOKE ... FROM ROLE r``).

    ``object_name``: None for the account; a qualified name otherwise (one part for a warehouse or a
    database, up to two for a schema, up to three for a task).
    """

    privileges: tuple[str, ...]
    object_kind: ObjectKind
    object_name: QualifiedName | None
    role: str
    revoke: bool = False


@dataclass(frozen=True, kw_only=True)
class GrantOwnership(Statement):
    """``GRANT OWNERSHIP ON TASK t TO ROLE r``, ``... ON ALL TASKS IN SCHEMA s TO ROLE r`` or
    ``... ON SECRET s TO ROLE r`` (``[COPY | REVOKE] CURRENT GRANTS`` accepted; grants on the
    objects are kept either way)."""

    task: QualifiedName | None
    schema: QualifiedName | None
    role: str
    secret: QualifiedName | None = None


@dataclass(frozen=True, kw_only=True)
class UseRole(Statement):
    role: str


@dataclass(frozen=True, kw_only=True)
class ShowRoles(Statement):
    like: str | None = None


@dataclass(frozen=True, kw_only=True)
class ShowGrants(Statement):
    """``SHOW GRANTS`` (the current role's), ``TO ROLE r``, ``TO USER u``, ``ON TASK t``, ``OF ROLE r``."""

    to_kind: str | None = None  #: ROLE, USER, TASK (ON TASK) or OF (OF ROLE: who holds r)
    name: QualifiedName | None = None


#: Statements of this module that change nothing.
READ_ONLY_SECURITY = (UseRole, ShowRoles, ShowGrants)
