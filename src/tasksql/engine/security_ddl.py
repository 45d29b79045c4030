"""Handlers of the user, role and grant statements (:mod:`tasksql.sql.statements_security`).

What a statement needs is checked before it runs (:mod:`tasksql.engine.privileges`); a handler
checks what exists (the role, the user, the object) and writes. API tokens are made here: a new
user's token (and ``ALTER USER ... RESET TOKEN``'s) is returned once, in the statement's result,
and only its SHA-256 digest is stored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from fnmatch import fnmatchcase

from tasksql.catalog.records import TaskUpdate
from tasksql.engine.core import Engine
from tasksql.engine.privileges import Access, access, ownership_targets, task_owner_role
from tasksql.engine.results import Result
from tasksql.errors import ConfigError, ObjectExists, ObjectNotFound, PermissionDenied, ValidationError
from tasksql.model import DEFAULT_WAREHOUSE, QualifiedName, SuspendReason, TaskRecord, TaskState
from tasksql.model.security import (
    ACCOUNTADMIN,
    PUBLIC,
    SYSTEM_ROLES,
    GranteeKind,
    ObjectKind,
    PrivilegeGrant,
    RoleGrant,
    RoleRecord,
    SecurityState,
    UserRecord,
)
from tasksql.sql import statements_security as ss
from tasksql.sql.statements import Statement

#: Every API token starts so (a reader of a log or a config file knows what it holds).
TOKEN_PREFIX = "tsq_"


def new_token() -> tuple[str, str]:
    """A fresh API token and the hex SHA-256 digest stored for it."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _status(text: str, kind: str) -> Result:
    return Result.status(text, kind)


def _missing_role(name: str, stmt: Statement) -> ObjectNotFound:
    return ObjectNotFound(
        f"role {name} does not exist (SHOW ROLES lists them)", code="ROLE_NOT_FOUND", span=stmt.span
    )


def _missing_user(name: str, stmt: Statement) -> ObjectNotFound:
    return ObjectNotFound(f"user {name} does not exist", code="USER_NOT_FOUND", span=stmt.span)


async def check_can_start(engine: Engine) -> None:
    """With security on, refuse to start while no user holds ACCOUNTADMIN (nobody could grant)."""
    state = await engine.catalog.security_state()
    if not any(not state.users[u].disabled for u in state.holders_of(ACCOUNTADMIN)):
        raise ConfigError(
            "security is on but no enabled user holds ACCOUNTADMIN, so nobody could grant anything: "
            'with TASKSQL_SECURITY=off run tasksql sql "CREATE USER admin DEFAULT_ROLE = accountadmin; '
            'GRANT ROLE accountadmin TO USER admin" (keep the token it prints), then turn security on '
            "(docs/security.md)",
            code="NO_ACCOUNTADMIN",
        )


# --- users ---------------------------------------------------------------------------------------


async def create_user(engine: Engine, stmt: ss.CreateUser) -> Result:
    acc = await access(engine)
    state = acc.state if acc.enabled else await engine.catalog.security_state()
    name = stmt.name.lower() if stmt.name.lower() == stmt.name else stmt.name
    if stmt.default_role is not None and not state.role_exists(stmt.default_role):
        raise _missing_role(stmt.default_role, stmt)
    if name in state.users:
        if stmt.if_not_exists:
            return _status(f"{name} already exists, statement succeeded.", "CREATE USER")
        if not stmt.or_replace:
            raise ObjectExists(
                f"user {name} already exists; use CREATE OR REPLACE USER or IF NOT EXISTS",
                code="USER_EXISTS",
                span=stmt.span,
            )
        await engine.catalog.drop_user(name)
    token, digest = new_token()
    user = UserRecord(
        name=name,
        default_role=stmt.default_role,
        disabled=stmt.disabled,
        comment=stmt.comment,
        token_sha256=digest,
        created_by=acc.caller.user,
    )
    if not await engine.catalog.create_user(user, now=engine.now()):
        raise ObjectExists(f"user {name} already exists", code="USER_EXISTS", span=stmt.span)
    return Result.table(
        ("status", "token"),
        [(f"User {name} successfully created; its API token is shown once: keep it.", token)],
        "CREATE USER",
    )


async def alter_user(engine: Engine, stmt: ss.AlterUser) -> Result:
    state = await engine.catalog.security_state()
    user = state.users.get(stmt.name) or state.users.get(stmt.name.lower())
    if user is None:
        if stmt.if_exists:
            return _status("Statement executed successfully.", "ALTER USER")
        raise _missing_user(stmt.name, stmt)
    changes = dict(stmt.changes)
    role = changes.get("DEFAULT_ROLE", user.default_role)
    if isinstance(role, str) and not state.role_exists(role):
        raise _missing_role(role, stmt)
    comment = changes.get("COMMENT", user.comment)
    disabled = changes.get("DISABLED", user.disabled)
    token: str | None = None
    digest = user.token_sha256
    if stmt.reset_token:
        token, digest = new_token()
    updated = UserRecord(
        name=user.name,
        default_role=role if isinstance(role, str) else None,
        disabled=bool(disabled),
        comment=comment if isinstance(comment, str) else None,
        token_sha256=digest,
        created_by=user.created_by,
        created_on=user.created_on,
    )
    await engine.catalog.update_user(updated)
    if token is not None:
        return Result.table(
            ("status", "token"),
            [(f"User {user.name}'s API token was replaced; the new one is shown once: keep it.", token)],
            "ALTER USER",
        )
    return _status("Statement executed successfully.", "ALTER USER")


async def drop_user(engine: Engine, stmt: ss.DropUser) -> Result:
    name = stmt.name
    if not await engine.catalog.drop_user(name) and not await engine.catalog.drop_user(name.lower()):
        if stmt.if_exists:
            return _status("Statement executed successfully.", "DROP USER")
        raise _missing_user(name, stmt)
    return _status(f"{name} successfully dropped.", "DROP USER")


# --- roles ---------------------------------------------------------------------------------------


async def create_role(engine: Engine, stmt: ss.CreateRole) -> Result:
    acc = await access(engine)
    if stmt.name in SYSTEM_ROLES:
        raise ValidationError(
            f"{stmt.name} is a system role; it always exists", code="SYSTEM_ROLE", span=stmt.span
        )
    state = await engine.catalog.security_state()
    if stmt.name in state.roles:
        if stmt.if_not_exists:
            return _status(f"{stmt.name} already exists, statement succeeded.", "CREATE ROLE")
        if not stmt.or_replace:
            raise ObjectExists(
                f"role {stmt.name} already exists; use CREATE OR REPLACE ROLE or IF NOT EXISTS",
                code="ROLE_EXISTS",
                span=stmt.span,
            )
        await _drop_role(engine, acc, stmt.name)
    await engine.catalog.create_role(
        RoleRecord(name=stmt.name, owner=acc.role, comment=stmt.comment), now=engine.now()
    )
    return _status(f"Role {stmt.name} successfully created.", "CREATE ROLE")


async def drop_role(engine: Engine, stmt: ss.DropRole) -> Result:
    acc = await access(engine)
    if stmt.name in SYSTEM_ROLES:
        raise ValidationError(
            f"{stmt.name} is a system role; it cannot be dropped", code="SYSTEM_ROLE", span=stmt.span
        )
    state = await engine.catalog.security_state()
    if stmt.name not in state.roles:
        if stmt.if_exists:
            return _status("Statement executed successfully.", "DROP ROLE")
        raise _missing_role(stmt.name, stmt)
    if acc.role == stmt.name:
        raise ValidationError(
            f"role {stmt.name} is the current role: USE ROLE another one first (its tasks pass to the role "
            "that drops it)",
            code="CURRENT_ROLE",
            span=stmt.span,
        )
    moved = await _drop_role(engine, acc, stmt.name)
    text = f"{stmt.name} successfully dropped."
    if moved:
        text += f" Its {moved} task(s) now belong to role {acc.role} and were suspended (resume them to run)."
    return _status(text, "DROP ROLE")


async def _drop_role(engine: Engine, acc: Access, name: str) -> int:
    """Re-possess the role's tasks for the dropping role, suspended (seed 003: in-flight runs complete,
    nothing new starts until the new owner resumes them), then drop the role. In this order a crash
    between the two leaves the tasks safe and the role still there."""
    now = engine.now()
    updates = [
        TaskUpdate(
            task_id=rec.id,
            expected_version=rec.version,
            owner=acc.role,
            state=TaskState.SUSPENDED,
            suspend_reason=SuspendReason.OWNER_DROPPED,
            next_fire_at=None,
        )
        for rec in await engine.catalog.list_tasks()
        if rec.owner == name
    ]
    if updates:
        await engine.catalog.update_tasks(updates, now=now, actor=acc.caller.user)
    await engine.catalog.drop_role(name)
    return len(updates)


async def grant_role(engine: Engine, stmt: ss.GrantRole) -> Result:
    acc = await access(engine)
    state = await engine.catalog.security_state()
    if not state.role_exists(stmt.role):
        raise _missing_role(stmt.role, stmt)
    kind = stmt.grantee_kind
    if kind is GranteeKind.ROLE and not state.role_exists(stmt.grantee):
        raise _missing_role(stmt.grantee, stmt)
    if kind is GranteeKind.USER and stmt.grantee not in state.users:
        raise _missing_user(stmt.grantee, stmt)
    verb = "REVOKE ROLE" if stmt.revoke else "GRANT ROLE"
    if stmt.revoke:
        await engine.catalog.revoke_role(stmt.role, kind, stmt.grantee)
        return _status("Statement executed successfully.", verb)
    if kind is GranteeKind.ROLE:
        if stmt.role == PUBLIC or stmt.grantee == ACCOUNTADMIN:
            return _status(f"{stmt.grantee} has role {stmt.role} already.", verb)
        if state.would_cycle(stmt.role, stmt.grantee):
            raise ValidationError(
                f"granting role {stmt.role} to role {stmt.grantee} would make a role inherit itself",
                code="ROLE_CYCLE",
                span=stmt.span,
            )
    grant = RoleGrant(role=stmt.role, grantee_kind=kind, grantee=stmt.grantee, granted_by=acc.role)
    await engine.catalog.grant_role(grant, now=engine.now())
    return _status("Statement executed successfully.", verb)


async def use_role(engine: Engine, stmt: ss.UseRole) -> Result:
    acc = await access(engine)
    state = acc.state if acc.enabled else await engine.catalog.security_state()
    if not state.role_exists(stmt.role):
        raise _missing_role(stmt.role, stmt)
    if acc.enabled and not acc.caller.server_token and stmt.role not in state.user_roles(acc.caller.user):
        raise PermissionDenied(
            f"user {acc.caller.user} has not been granted role {stmt.role} (GRANT ROLE {stmt.role} TO USER "
            f"{acc.caller.user})",
            code="PERMISSION_DENIED",
            span=stmt.span,
        )
    acc.caller.role = stmt.role
    return _status("Statement executed successfully.", "USE ROLE")


SHOW_ROLES_COLUMNS = ("created_on", "name", "is_current", "is_inherited", "owner", "comment")


async def show_roles(engine: Engine, stmt: ss.ShowRoles) -> Result:
    acc = await access(engine)
    state = acc.state if acc.enabled else await engine.catalog.security_state()
    rows: list[tuple[object, ...]] = []
    system = [(None, name, "", "") for name in SYSTEM_ROLES]
    custom = [
        (r.created_on, r.name, r.owner, r.comment or "")
        for r in sorted(state.roles.values(), key=lambda r: r.name)
    ]
    for created, name, owner, comment in [*system, *custom]:
        if stmt.like is not None and not fnmatchcase(
            name, stmt.like.lower().replace("%", "*").replace("_", "?")
        ):
            continue
        current = "Y" if name == acc.role else "N"
        inherited = "Y" if name in acc.roles and name != acc.role else "N"
        rows.append((created, name, current, inherited, owner, comment))
    return Result.table(SHOW_ROLES_COLUMNS, rows, "SHOW ROLES")


# --- privileges ----------------------------------------------------------------------------------


async def _object_name(engine: Engine, stmt: ss.GrantPrivilege) -> tuple[str, str]:
    """The stored object name of a grant and how it is shown."""
    kind, name = stmt.object_kind, stmt.object_name
    if kind is ObjectKind.ACCOUNT or name is None:
        return "", "ACCOUNT"
    if kind is ObjectKind.TASK:
        rec = await engine.catalog.get_task(engine.resolve(name))
        if rec is None:
            raise ObjectNotFound(f"task {name} does not exist", code="TASK_NOT_FOUND", span=stmt.span)
        return str(rec.id), str(rec.name)
    if kind is ObjectKind.SCHEMA:
        parts = name.parts
        full = ".".join(parts) if len(parts) == 2 else f"{engine.user.database}.{parts[0]}"
        return full, full
    if kind is ObjectKind.SECRET:
        resolved = engine.resolve(name)
        if await engine.catalog.get_secret(resolved) is None:
            raise ObjectNotFound(
                f"secret {engine.display_name(resolved)} does not exist",
                code="SECRET_NOT_FOUND",
                span=stmt.span,
            )
        shown = ".".join(resolved.parts)
        return shown, shown
    if kind is ObjectKind.WAREHOUSE:
        wh = name.name.lower()
        if wh != DEFAULT_WAREHOUSE and await engine.catalog.get_warehouse(wh) is None:
            raise ObjectNotFound(f"warehouse {wh} does not exist", code="WAREHOUSE_NOT_FOUND", span=stmt.span)
        return wh, wh
    return name.name, name.name


async def grant_privilege(engine: Engine, stmt: ss.GrantPrivilege) -> Result:
    acc = await access(engine)
    state = await engine.catalog.security_state()
    if not state.role_exists(stmt.role):
        raise _missing_role(stmt.role, stmt)
    stored, _ = await _object_name(engine, stmt)
    now = engine.now()
    for privilege in stmt.privileges:
        if stmt.revoke:
            await engine.catalog.revoke_privilege(privilege, stmt.object_kind, stored, stmt.role)
        else:
            grant = PrivilegeGrant(
                privilege=privilege,
                object_kind=stmt.object_kind,
                object_name=stored,
                role=stmt.role,
                granted_by=acc.role,
            )
            await engine.catalog.grant_privilege(grant, now=now)
    return _status("Statement executed successfully.", "REVOKE" if stmt.revoke else "GRANT")


async def grant_ownership(engine: Engine, stmt: ss.GrantOwnership) -> Result:
    """Move the tasks (a task's whole graph, or a schema's tasks) to ``stmt.role``, definitions and
    graph links untouched; grants on them are kept."""
    acc = await access(engine)
    state = await engine.catalog.security_state()
    if not state.role_exists(stmt.role):
        raise _missing_role(stmt.role, stmt)
    if stmt.secret is not None:
        return await _secret_ownership(engine, stmt, stmt.secret)
    targets = await ownership_targets(engine, stmt)
    if stmt.task is not None and not targets:
        raise ObjectNotFound(f"task {stmt.task} does not exist", code="TASK_NOT_FOUND", span=stmt.span)
    updates = [
        TaskUpdate(task_id=rec.id, expected_version=rec.version, owner=stmt.role)
        for rec in targets
        if rec.owner != stmt.role
    ]
    if updates:
        await engine.catalog.update_tasks(updates, now=engine.now(), actor=acc.caller.user)
    return _status(f"Statement executed successfully ({len(targets)} task(s) owned by {stmt.role}).", "GRANT")


async def _secret_ownership(engine: Engine, stmt: ss.GrantOwnership, name: QualifiedName) -> Result:
    """Move a secret to ``stmt.role``; grants on it are kept."""
    resolved = engine.resolve(name)
    rec = await engine.catalog.get_secret(resolved)
    if rec is None:
        shown = engine.display_name(resolved)
        raise ObjectNotFound(f"secret {shown} does not exist", code="SECRET_NOT_FOUND", span=stmt.span)
    if rec.definition.owner != stmt.role:
        owned = dataclasses.replace(rec.definition, owner=stmt.role)
        await engine.catalog.put_secret(owned, replace=True, now=engine.now())
    return _status(f"Statement executed successfully (secret owned by {stmt.role}).", "GRANT")


SHOW_GRANTS_COLUMNS = (
    "created_on",
    "privilege",
    "granted_on",
    "name",
    "granted_to",
    "grantee_name",
    "granted_by",
)


async def show_grants(engine: Engine, stmt: ss.ShowGrants) -> Result:
    acc = await access(engine)
    state = acc.state if acc.enabled else await engine.catalog.security_state()
    tasks = {str(t.id): t for t in await engine.catalog.list_tasks()}
    rows: list[tuple[object, ...]] = []
    kind = stmt.to_kind
    name = stmt.name.name if stmt.name is not None else acc.caller.user
    if kind in (None, "USER"):
        for g in state.role_grants:
            if g.grantee_kind is GranteeKind.USER and g.grantee == name:
                rows.append((g.created_on, "USAGE", "ROLE", g.role, "USER", name, g.granted_by))
    elif kind == "ROLE":
        rows += _role_rows(state, tasks, name)
    elif kind == "OF":
        for g in state.role_grants:
            if g.role == name:
                rows.append(
                    (g.created_on, "USAGE", "ROLE", name, g.grantee_kind.value, g.grantee, g.granted_by)
                )
    elif kind == "TASK":
        assert stmt.name is not None
        rec = await engine.catalog.get_task(engine.resolve(stmt.name))
        if rec is None:
            raise ObjectNotFound(f"task {stmt.name} does not exist", code="TASK_NOT_FOUND", span=stmt.span)
        owner = task_owner_role(state, rec.owner)
        rows.append((rec.created_on, "OWNERSHIP", "TASK", str(rec.name), "ROLE", owner, ""))
        for p in state.privileges:
            if p.object_kind is ObjectKind.TASK and p.object_name == str(rec.id):
                rows.append((p.created_on, p.privilege, "TASK", str(rec.name), "ROLE", p.role, p.granted_by))
    return Result.table(SHOW_GRANTS_COLUMNS, rows, "SHOW GRANTS")


def _role_rows(state: SecurityState, tasks: dict[str, TaskRecord], role: str) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for p in state.privileges:
        if p.role != role:
            continue
        rec = tasks.get(p.object_name) if p.object_kind is ObjectKind.TASK else None
        shown = str(rec.name) if rec is not None else (p.object_name or "ACCOUNT")
        rows.append((p.created_on, p.privilege, p.object_kind.value, shown, "ROLE", role, p.granted_by))
    for g in state.role_grants:
        if g.grantee_kind is GranteeKind.ROLE and g.grantee == role:
            rows.append((g.created_on, "USAGE", "ROLE", g.role, "ROLE", role, g.granted_by))
    for rec in tasks.values():
        if task_owner_role(state, rec.owner) == role:
            rows.append((rec.created_on, "OWNERSHIP", "TASK", str(rec.name), "ROLE", role, ""))
    record = state.roles.get(role)
    if record is not None:
        rows.append((record.created_on, "OWNERSHIP", "ROLE", role, "ROLE", record.owner, ""))
    return rows
