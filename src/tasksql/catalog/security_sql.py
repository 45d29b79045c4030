""":class:`~tasksql.catalog.security.SecurityCatalog` written once over the named queries of both
backends (:class:`SqlSecurity`, a base of :class:`~tasksql.catalog.sql_catalog.SqlCatalog`); the job
bodies are in :mod:`tasksql.catalog.jobs.security`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tasksql.catalog.grouped import GroupCommitCatalog, require_name
from tasksql.catalog.jobs import security as jobs
from tasksql.catalog.rows import db_time
from tasksql.catalog.writer import D
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


class SqlSecurity(GroupCommitCatalog[D]):
    """See :class:`~tasksql.catalog.security.SecurityCatalog`."""

    async def security_state(self) -> SecurityState:
        sql = self._sql
        return await self._read(lambda db: jobs.state(sql, db))

    async def create_user(self, user: UserRecord, *, now: datetime) -> bool:
        require_name(user.name, "user")
        sql, params = self._sql, jobs.user_params(user, now)
        return await self._write(lambda db: sql.count(db, "security_user_insert", params) > 0, durable=True)

    async def update_user(self, user: UserRecord) -> bool:
        sql = self._sql
        params = {
            "name": user.name,
            "default_role": user.default_role,
            "disabled": bool(user.disabled),
            "comment": user.comment,
            "token_sha256": user.token_sha256,
        }
        return await self._write(lambda db: sql.count(db, "security_user_update", params) > 0, durable=True)

    async def drop_user(self, name: str) -> bool:
        sql = self._sql
        return await self._write(lambda db: jobs.drop_user(sql, db, name), durable=True)

    async def user_by_token(self, token_sha256: str) -> UserRecord | None:
        sql, params = self._sql, {"token_sha256": token_sha256}

        def one(db: D) -> UserRecord | None:
            row = sql.first(db, "security_user_by_token", params)
            return None if row is None else jobs.user_record(row)

        return await self._read(one)

    async def create_role(self, role: RoleRecord, *, now: datetime) -> bool:
        require_name(role.name, "role")
        sql = self._sql
        params = {
            "name": role.name,
            "owner": role.owner,
            "comment": role.comment,
            "created_on": db_time(role.created_on or now),
        }
        return await self._write(lambda db: sql.count(db, "security_role_insert", params) > 0, durable=True)

    async def drop_role(self, name: str) -> bool:
        sql = self._sql
        return await self._write(lambda db: jobs.drop_role(sql, db, name), durable=True)

    async def grant_role(self, grant: RoleGrant, *, now: datetime) -> bool:
        sql = self._sql
        params = {
            "role": grant.role,
            "grantee_kind": grant.grantee_kind.value,
            "grantee": grant.grantee,
            "granted_by": grant.granted_by,
            "created_on": db_time(grant.created_on or now),
        }
        return await self._write(
            lambda db: sql.count(db, "security_role_grant_insert", params) > 0, durable=True
        )

    async def revoke_role(self, role: str, grantee_kind: GranteeKind, grantee: str) -> bool:
        sql, params = self._sql, {"role": role, "grantee_kind": grantee_kind.value, "grantee": grantee}
        return await self._write(
            lambda db: sql.count(db, "security_role_grant_delete", params) > 0, durable=True
        )

    async def grant_privilege(self, grant: PrivilegeGrant, *, now: datetime) -> bool:
        sql = self._sql
        params = {
            "privilege": grant.privilege,
            "object_kind": grant.object_kind.value,
            "object_name": grant.object_name,
            "role": grant.role,
            "granted_by": grant.granted_by,
            "created_on": db_time(grant.created_on or now),
        }
        return await self._write(
            lambda db: sql.count(db, "security_privilege_insert", params) > 0, durable=True
        )

    async def revoke_privilege(self, privilege: str, kind: ObjectKind, name: str, role: str) -> bool:
        sql = self._sql
        params = {"privilege": privilege, "object_kind": kind.value, "object_name": name, "role": role}
        return await self._write(
            lambda db: sql.count(db, "security_privilege_delete", params) > 0, durable=True
        )

    async def forget_object(self, kind: ObjectKind, name: str) -> int:
        sql, params = self._sql, {"object_kind": kind.value, "object_name": name}
        return await self._write(
            lambda db: sql.count(db, "security_privileges_of_object_delete", params), durable=True
        )

    async def record_audit(self, entries: Sequence[AuditEntry]) -> None:
        sql, items = self._sql, tuple(entries)
        if items:
            await self._write(lambda db: jobs.record_audit(sql, db, items))

    async def list_audit(self, *, limit: int | None = None) -> list[AuditEntry]:
        sql, params = self._sql, {"limit": self._sql.limit(limit)}
        return await self._read(lambda db: [jobs.audit_entry(r) for r in sql.rows(db, "audit_list", params)])

    async def prune_audit(self, cutoff: datetime) -> int:
        sql, params = self._sql, {"cutoff": db_time(cutoff)}
        return await self._write(lambda db: sql.count(db, "audit_prune", params))
