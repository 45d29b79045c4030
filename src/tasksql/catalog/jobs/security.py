"""Job bodies for users, roles, grants and the audit log
(see :class:`~tasksql.catalog.security.SecurityCatalog`).

Each body runs inside the writer's or a reader's transaction; a drop removes what hangs on the
dropped name (its grants) in the same transaction, so no grant ever names a missing role or user.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tasksql.catalog.dialect import CatalogDialect
from tasksql.catalog.rows import Row, db_time, from_db_time, from_db_time_opt
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


def user_record(row: Row) -> UserRecord:
    return UserRecord(
        name=row["name"],
        default_role=row["default_role"],
        disabled=bool(row["disabled"]),
        comment=row["comment"],
        token_sha256=row["token_sha256"],
        created_by=row["created_by"],
        created_on=from_db_time_opt(row["created_on"]),
    )


def user_params(user: UserRecord, now: datetime) -> dict[str, Any]:
    return {
        "name": user.name,
        "default_role": user.default_role,
        "disabled": bool(user.disabled),
        "comment": user.comment,
        "token_sha256": user.token_sha256,
        "created_by": user.created_by,
        "created_on": db_time(user.created_on or now),
    }


def state(sql: CatalogDialect[D], db: D) -> SecurityState:
    """Every user, role and grant, read in one transaction."""
    users = {u.name: u for u in (user_record(r) for r in sql.rows(db, "security_users_all"))}
    roles = {
        r["name"]: RoleRecord(
            name=r["name"], owner=r["owner"], comment=r["comment"], created_on=from_db_time(r["created_on"])
        )
        for r in sql.rows(db, "security_roles_all")
    }
    role_grants = tuple(
        RoleGrant(
            role=r["role"],
            grantee_kind=GranteeKind(r["grantee_kind"]),
            grantee=r["grantee"],
            granted_by=r["granted_by"],
            created_on=from_db_time(r["created_on"]),
        )
        for r in sql.rows(db, "security_role_grants_all")
    )
    privileges = tuple(
        PrivilegeGrant(
            privilege=r["privilege"],
            object_kind=ObjectKind(r["object_kind"]),
            object_name=r["object_name"],
            role=r["role"],
            granted_by=r["granted_by"],
            created_on=from_db_time(r["created_on"]),
        )
        for r in sql.rows(db, "security_privileges_all")
    )
    return SecurityState(users=users, roles=roles, role_grants=role_grants, privileges=privileges)


def drop_user(sql: CatalogDialect[D], db: D, name: str) -> bool:
    sql.execute(db, "security_role_grants_of_user_delete", {"name": name})
    return sql.count(db, "security_user_delete", {"name": name}) > 0


def drop_role(sql: CatalogDialect[D], db: D, name: str) -> bool:
    params = {"name": name}
    sql.execute(db, "security_role_grants_of_role_delete", params)
    sql.execute(db, "security_privileges_of_role_delete", params)
    return sql.count(db, "security_role_delete", params) > 0


def audit_params(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": db_time(entry.at),
        "user_name": entry.user_name,
        "role_name": entry.role_name,
        "statement": entry.statement,
        "outcome": entry.outcome,
        "error_code": entry.error_code,
        "error_message": entry.error_message,
    }


def audit_entry(row: Row) -> AuditEntry:
    return AuditEntry(
        id=int(row["id"]),
        at=from_db_time(row["at"]),
        user_name=row["user_name"],
        role_name=row["role_name"],
        statement=row["statement"],
        outcome=row["outcome"],
        error_code=row["error_code"],
        error_message=row["error_message"],
    )


def record_audit(sql: CatalogDialect[D], db: D, entries: Sequence[AuditEntry]) -> None:
    if entries:
        sql.many(db, "audit_insert", [audit_params(e) for e in entries])
