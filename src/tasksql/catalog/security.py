"""The catalog contract for users, roles, grants and the audit log (:class:`SecurityCatalog`).

The tables are small (people and roles, not runs): :meth:`SecurityCatalog.security_state` reads
them whole, and the engine decides from that value (:class:`~tasksql.model.security.SecurityState`).
Every write is one durable transaction; a drop takes the grants that name the dropped user or role
with it. The system roles are not stored: they always exist.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime

from tasksql.model.security import (
    AuditEntry,
    GranteeKind,
    ObjectKind,
    PrivilegeGrant,
    RoleGrant,
    RoleRecord,
    SecurityState,
    UserRecord,
)


class SecurityCatalog(ABC):
    """See the module."""

    @abstractmethod
    async def security_state(self) -> SecurityState:
        """Every user, role, role grant and privilege grant, as one consistent read."""

    @abstractmethod
    async def create_user(self, user: UserRecord, *, now: datetime) -> bool:
        """Add ``user`` (``created_on`` defaults to ``now``); False, changing nothing, when the name
        is taken."""

    @abstractmethod
    async def update_user(self, user: UserRecord) -> bool:
        """Store ``user``'s default role, disabled flag, comment and token digest; False when no
        such user."""

    @abstractmethod
    async def drop_user(self, name: str) -> bool:
        """Drop a user and the roles granted to it; False when no such user."""

    @abstractmethod
    async def user_by_token(self, token_sha256: str) -> UserRecord | None:
        """The user whose API token has this hex SHA-256 digest."""

    @abstractmethod
    async def create_role(self, role: RoleRecord, *, now: datetime) -> bool:
        """Add a role; False, changing nothing, when the name is taken."""

    @abstractmethod
    async def drop_role(self, name: str) -> bool:
        """Drop a role, its privileges, its grants and the grants of other roles to it; False when no
        such role."""

    @abstractmethod
    async def grant_role(self, grant: RoleGrant, *, now: datetime) -> bool:
        """Record ``grant``; False when it was there already."""

    @abstractmethod
    async def revoke_role(self, role: str, grantee_kind: GranteeKind, grantee: str) -> bool:
        """Remove a role grant; False when there was none."""

    @abstractmethod
    async def grant_privilege(self, grant: PrivilegeGrant, *, now: datetime) -> bool:
        """Record ``grant``; False when it was there already."""

    @abstractmethod
    async def revoke_privilege(self, privilege: str, kind: ObjectKind, name: str, role: str) -> bool:
        """Remove a privilege grant; False when there was none."""

    @abstractmethod
    async def forget_object(self, kind: ObjectKind, name: str) -> int:
        """Remove every privilege granted on a dropped object; how many."""

    @abstractmethod
    async def record_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Append ``entries`` to the audit log (committed before it returns, with the next group
        commit: it survives a crash of the process, not a power loss in its last milliseconds)."""

    @abstractmethod
    async def list_audit(self, *, limit: int | None = None) -> list[AuditEntry]:
        """The audit log, newest first, with ids."""

    @abstractmethod
    async def prune_audit(self, cutoff: datetime) -> int:
        """Delete entries recorded before ``cutoff``; how many."""
