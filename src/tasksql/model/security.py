"""Users, roles and privileges as values, and the pure rules that decide what a role may do.

The model is Snowflake's (``docs/security.md``): privileges are granted to *roles*, roles are
granted to users and to other roles (a role inherits every privilege of the roles granted to it),
and a caller acts with one *current role* (``USE ROLE``) at a time. Four system roles always exist
and form a fixed hierarchy::

    ACCOUNTADMIN
      |-- SECURITYADMIN   (MANAGE GRANTS, CREATE USER, CREATE ROLE)
      |-- SYSADMIN        (warehouses, integrations; USAGE and CREATE TASK everywhere)
            ...           every role
    PUBLIC                (granted to every user and inherited by every role)

ACCOUNTADMIN holds every privilege. Ocient's *System Administrator* is SYSADMIN here.

Names are stored folded to lower case, as tasksql folds every unquoted name. Object names of
grants: ``""`` for the account, the warehouse's name, ``db`` for a database, ``db.schema`` for a
schema, ``db.schema.name`` for a secret, and the task's id (as text) for a task, so that a rename
keeps its grants.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

ACCOUNTADMIN = "accountadmin"
SECURITYADMIN = "securityadmin"
SYSADMIN = "sysadmin"
PUBLIC = "public"

#: The system roles, highest first.
SYSTEM_ROLES: tuple[str, ...] = (ACCOUNTADMIN, SECURITYADMIN, SYSADMIN, PUBLIC)

#: The roles each system role inherits directly (PUBLIC is inherited by every role anyway).
SYSTEM_HIERARCHY: Mapping[str, tuple[str, ...]] = {
    ACCOUNTADMIN: (SECURITYADMIN, SYSADMIN),
    SECURITYADMIN: (),
    SYSADMIN: (),
    PUBLIC: (),
}

#: Spellings of other systems' administrator roles, and the role they are here.
ROLE_ALIASES: Mapping[str, str] = {"system administrator": SYSADMIN, "system_administrator": SYSADMIN}


class ObjectKind(StrEnum):
    """What a privilege is granted on."""

    ACCOUNT = "ACCOUNT"
    TASK = "TASK"
    WAREHOUSE = "WAREHOUSE"
    DATABASE = "DATABASE"
    SCHEMA = "SCHEMA"
    SECRET = "SECRET"


class GranteeKind(StrEnum):
    """Who a role is granted to."""

    ROLE = "ROLE"
    USER = "USER"


#: The privileges that may be granted on each kind of object (OWNERSHIP on a task is the task's
#: owner column, changed by GRANT OWNERSHIP, never a row of its own).
PRIVILEGES: Mapping[ObjectKind, tuple[str, ...]] = {
    ObjectKind.ACCOUNT: (
        "EXECUTE TASK",
        "EXECUTE MANAGED TASK",
        "MONITOR EXECUTION",
        "CREATE WAREHOUSE",
        "CREATE INTEGRATION",
        "CREATE USER",
        "CREATE ROLE",
        "MANAGE GRANTS",
    ),
    ObjectKind.TASK: ("OPERATE", "MONITOR"),
    ObjectKind.WAREHOUSE: ("USAGE",),
    ObjectKind.DATABASE: ("USAGE",),
    ObjectKind.SCHEMA: ("USAGE", "CREATE TASK", "CREATE STREAM", "CREATE SECRET"),
    # Snowflake: USAGE to name the secret in WEBHOOK_SECRET, READ to send with it (tasksql's
    # dispatcher sends as no role, so READ is kept and shown but decides nothing)
    ObjectKind.SECRET: ("USAGE", "READ"),
}

#: What the system roles below ACCOUNTADMIN hold without a grant: (privilege, kind) on every
#: object of that kind.
_IMPLICIT: Mapping[str, frozenset[tuple[str, ObjectKind]]] = {
    SECURITYADMIN: frozenset(
        {
            ("MANAGE GRANTS", ObjectKind.ACCOUNT),
            ("CREATE USER", ObjectKind.ACCOUNT),
            ("CREATE ROLE", ObjectKind.ACCOUNT),
        }
    ),
    SYSADMIN: frozenset(
        {
            ("CREATE WAREHOUSE", ObjectKind.ACCOUNT),
            ("CREATE INTEGRATION", ObjectKind.ACCOUNT),
            ("USAGE", ObjectKind.WAREHOUSE),
            ("USAGE", ObjectKind.DATABASE),
            ("USAGE", ObjectKind.SCHEMA),
            ("CREATE TASK", ObjectKind.SCHEMA),
            ("CREATE STREAM", ObjectKind.SCHEMA),
            ("CREATE SECRET", ObjectKind.SCHEMA),
        }
    ),
}


def canonical_role(name: str) -> str:
    """A role name as stored: lower case, other systems' administrator names mapped."""
    low = name.lower()
    return ROLE_ALIASES.get(low, low)


@dataclass(frozen=True, slots=True, kw_only=True)
class UserRecord:
    """A tasksql user. ``token_sha256``: the hex SHA-256 of the user's API token (None: no token)."""

    name: str
    default_role: str | None = None
    disabled: bool = False
    comment: str | None = None
    token_sha256: str | None = None
    created_by: str = ""
    created_on: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleRecord:
    """A role made by CREATE ROLE; ``owner`` is the role that created it (it may drop and grant it)."""

    name: str
    owner: str
    comment: str | None = None
    created_on: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleGrant:
    """``GRANT ROLE role TO {ROLE | USER} grantee``."""

    role: str
    grantee_kind: GranteeKind
    grantee: str
    granted_by: str = ""
    created_on: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PrivilegeGrant:
    """``GRANT privilege ON kind object TO ROLE role``."""

    privilege: str
    object_kind: ObjectKind
    object_name: str
    role: str
    granted_by: str = ""
    created_on: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One line of ``system.audit_log``: who (user, role) ran what, when, and how it ended."""

    at: datetime
    user_name: str
    role_name: str
    statement: str
    outcome: str  #: ``SUCCEEDED`` or ``FAILED``
    error_code: str | None = None
    error_message: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunAdmission:
    """What a run's start decided about its owner role (with security on): ``refused`` says why it
    may not run (recorded ``state`` with error ``code``); else ``database_role`` names the role of
    the warehouse's database its WHEN and body execute as (None: the warehouse login's own)."""

    refused: str | None = None
    code: str = "PRIVILEGE_REVOKED"
    state: str = "SKIPPED"
    database_role: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SecurityState:
    """Every user, role and grant, read at once: the facts :meth:`roles_of` and :meth:`has` decide
    from."""

    users: Mapping[str, UserRecord] = field(default_factory=dict)
    roles: Mapping[str, RoleRecord] = field(default_factory=dict)
    role_grants: tuple[RoleGrant, ...] = ()
    privileges: tuple[PrivilegeGrant, ...] = ()

    def role_exists(self, name: str) -> bool:
        return name in SYSTEM_HIERARCHY or name in self.roles

    def granted_roles(self, kind: GranteeKind, grantee: str) -> list[str]:
        """The roles granted directly to a user or a role (system hierarchy not included)."""
        return [g.role for g in self.role_grants if g.grantee_kind is kind and g.grantee == grantee]

    def roles_of(self, role: str) -> frozenset[str]:
        """``role`` and every role it inherits, transitively, PUBLIC included (ACCOUNTADMIN, the top
        of the hierarchy, every role)."""
        seen = self._inherited(role)
        if ACCOUNTADMIN in seen:
            return frozenset(seen | set(self.roles))
        return frozenset(seen)

    def _inherited(self, role: str) -> set[str]:
        """``role`` and the roles granted to it, transitively, and PUBLIC."""
        seen: set[str] = set()
        todo = [role, PUBLIC]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            todo.extend(SYSTEM_HIERARCHY.get(current, ()))
            todo.extend(self.granted_roles(GranteeKind.ROLE, current))
        return seen

    def user_roles(self, user: str) -> frozenset[str]:
        """Every role ``user`` may use (``USE ROLE``): those granted to it, what they inherit, PUBLIC."""
        out: set[str] = {PUBLIC}
        for role in self.granted_roles(GranteeKind.USER, user):
            out |= self.roles_of(role)
        return frozenset(out)

    def has(self, roles: Iterable[str], privilege: str, kind: ObjectKind, name: str = "") -> bool:
        """Whether any of ``roles`` (an effective set, from :meth:`roles_of`) holds ``privilege`` on
        the object ``kind`` ``name``."""
        active = set(roles)
        if ACCOUNTADMIN in active:
            return True
        for role in active:
            if (privilege, kind) in _IMPLICIT.get(role, frozenset()):
                return True
        return any(
            g.privilege == privilege and g.object_kind is kind and g.object_name == name and g.role in active
            for g in self.privileges
        )

    def holders_of(self, role: str) -> list[str]:
        """The users holding ``role``, directly or through the roles granted to them."""
        return sorted(u for u in self.users if role in self.user_roles(u))

    def would_cycle(self, role: str, grantee_role: str) -> bool:
        """Whether granting ``role`` to ``grantee_role`` would make a role inherit itself."""
        return role == grantee_role or (grantee_role != PUBLIC and grantee_role in self._inherited(role))
