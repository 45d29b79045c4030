"""What each statement needs, checked before it runs (with ``security = on``; docs/security.md).

:func:`access` reads who is calling and every grant (:class:`Access`); :func:`check_statement`
raises :class:`~tasksql.errors.PermissionDenied` (HTTP 403) naming the privilege and the object the
caller's role lacks, before the statement changes anything. Every interface runs statements
through :meth:`Engine.execute`, so every interface is checked here, once.

A task's owner is a role. A task whose stored owner names no role (made before security was turned
on: the owner was a user name) is owned by ACCOUNTADMIN.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from tasksql.engine.core import Engine
from tasksql.engine.identity import Caller, bound_caller, current_role
from tasksql.engine.task_lookup import task_named_or_numbered
from tasksql.errors import PermissionDenied
from tasksql.model import DEFAULT_WAREHOUSE, QualifiedName, Spelling, TaskRecord
from tasksql.model.security import (
    ACCOUNTADMIN,
    SYSADMIN,
    ObjectKind,
    RunAdmission,
    SecurityState,
)
from tasksql.sql import statements as st
from tasksql.sql import statements_security as ss
from tasksql.warehouses import role_mapping

EXECUTE_TASK = "EXECUTE TASK"
MONITOR_EXECUTION = "MONITOR EXECUTION"
MANAGE_GRANTS = "MANAGE GRANTS"


@dataclass(frozen=True, slots=True)
class Access:
    """The caller, its current role, every role that role inherits, and the grants."""

    enabled: bool
    caller: Caller
    role: str
    roles: frozenset[str]
    state: SecurityState

    def has(self, privilege: str, kind: ObjectKind, name: str = "") -> bool:
        return not self.enabled or self.state.has(self.roles, privilege, kind, name)

    def require(self, privilege: str, kind: ObjectKind, name: str = "", shown: str | None = None) -> None:
        if not self.has(privilege, kind, name):
            raise self.denied(privilege, kind, shown if shown is not None else name)

    def denied(self, privilege: str, kind: ObjectKind | str, shown: str) -> PermissionDenied:
        what = str(kind).lower() if kind is not ObjectKind.ACCOUNT else "the account"
        target = f"{what} {shown}" if shown and kind is not ObjectKind.ACCOUNT else what
        return PermissionDenied(
            f"role {self.role} (user {self.caller.user}) lacks {privilege} on {target}",
            code="PERMISSION_DENIED",
        )

    def owner_role(self, rec: TaskRecord) -> str:
        return task_owner_role(self.state, rec.owner)

    def owns(self, rec: TaskRecord) -> bool:
        return not self.enabled or self.owner_role(rec) in self.roles or ACCOUNTADMIN in self.roles

    def on_task(self, rec: TaskRecord, *privileges: str) -> bool:
        """Whether the role owns ``rec`` or holds one of ``privileges`` on it."""
        return self.owns(rec) or any(self.has(p, ObjectKind.TASK, str(rec.id)) for p in privileges)

    def sees(self, rec: TaskRecord) -> bool:
        """Owner, OPERATE, MONITOR on the task, or MONITOR EXECUTION on the account (seed 003)."""
        return self.on_task(rec, "OPERATE", "MONITOR") or self.has(MONITOR_EXECUTION, ObjectKind.ACCOUNT)

    def require_task(self, rec: TaskRecord, *privileges: str) -> None:
        if not self.on_task(rec, *privileges):
            wanted = " or ".join(("OWNERSHIP", *privileges))
            raise self.denied(wanted, ObjectKind.TASK, str(rec.name))


def task_owner_role(state: SecurityState, owner: str) -> str:
    """The role owning a task whose owner column is ``owner`` (see the module)."""
    return owner if state.role_exists(owner) else ACCOUNTADMIN


async def access(engine: Engine) -> Access:
    """The calling user's access; with security off, ACCOUNTADMIN's (nothing is read).

    :raises PermissionDenied: security is on and the caller is no user, or a disabled one.
    """
    caller = bound_caller() or engine.caller
    if not engine.settings.security:
        return Access(
            False,
            caller,
            current_role(caller, SecurityState(), False),
            frozenset({ACCOUNTADMIN}),
            SecurityState(),
        )
    state = await engine.catalog.security_state()
    if caller.server_token:
        role = current_role(caller, state, True)
        return Access(True, caller, role, state.roles_of(role), state)
    user = state.users.get(caller.user)
    if user is None:
        raise PermissionDenied(
            f"user {caller.user} is not a tasksql user; an administrator creates it (CREATE USER "
            f"{caller.user}), or run as another user (--user, TASKSQL_USER)",
            code="UNKNOWN_USER",
        )
    if user.disabled:
        raise PermissionDenied(
            f"user {caller.user} is disabled (ALTER USER ... SET DISABLED = FALSE)", code="USER_DISABLED"
        )
    role = current_role(caller, state, True)
    if role not in state.user_roles(caller.user) or not state.role_exists(role):
        caller.role = None  # the role was revoked or dropped since USE ROLE: back to the default
        role = current_role(caller, state, True)
    return Access(True, caller, role, state.roles_of(role), state)


def owner_for_new_task(acc: Access, fallback: str) -> str:
    """The owner recorded for a task made now: the current role, or (security off) the user name."""
    return acc.role if acc.enabled else fallback


def _schema_of(engine: Engine, name: QualifiedName) -> tuple[str, str]:
    resolved = engine.resolve(name)
    return resolved.database or "", f"{resolved.database}.{resolved.schema}"


def require_create_in_schema(acc: Access, engine: Engine, name: QualifiedName, privilege: str) -> None:
    """USAGE on the database and the schema of ``name``, and ``privilege`` on the schema."""
    database, schema = _schema_of(engine, name)
    acc.require("USAGE", ObjectKind.DATABASE, database)
    acc.require("USAGE", ObjectKind.SCHEMA, schema)
    acc.require(privilege, ObjectKind.SCHEMA, schema)


def require_warehouse(acc: Access, warehouse: str | None) -> None:
    acc.require("USAGE", ObjectKind.WAREHOUSE, (warehouse or DEFAULT_WAREHOUSE).lower())


async def _task(engine: Engine, name: QualifiedName) -> TaskRecord | None:
    return await engine.catalog.get_task(engine.resolve(name))


async def check_statement(engine: Engine, stmt: st.Statement) -> None:
    """Raise :class:`PermissionDenied` when the caller may not run ``stmt`` (security on only)."""
    if not engine.settings.security:
        return
    acc = await access(engine)
    try:
        await _check(engine, acc, stmt)
    except PermissionDenied as err:
        if err.span is None:
            err.span = stmt.span
        raise


async def _check(engine: Engine, acc: Access, stmt: st.Statement) -> None:
    if ACCOUNTADMIN in acc.roles:
        return await _check_as_admin(engine, acc, stmt)
    if isinstance(stmt, st.CreateTask):
        await _check_create_task(engine, acc, stmt)
    elif isinstance(stmt, st.CloneTask):
        source = await _task(engine, stmt.source)
        if source is not None and not acc.sees(source):
            raise acc.denied("MONITOR", ObjectKind.TASK, str(source.name))
        require_create_in_schema(acc, engine, stmt.name, "CREATE TASK")
    elif isinstance(stmt, st.AlterTask):
        rec = await _task(engine, stmt.name)
        if rec is None:
            return  # the handler says it does not exist (or IF EXISTS)
        if isinstance(stmt.action, (st.Resume, st.Suspend)):
            acc.require_task(rec, "OPERATE")
            if isinstance(stmt.action, st.Resume):
                _require_owner_executes(acc, rec)
        else:
            acc.require_task(rec)
            if isinstance(stmt.action, st.AddAfter):
                await _require_one_owner(engine, acc, stmt.action.names, acc.owner_role(rec))
            warehouse = dict(getattr(stmt.action, "assignments", ())).get("warehouse")
            if isinstance(warehouse, str):
                require_warehouse(acc, warehouse)
            _check_set_as_user(acc, stmt)
    elif isinstance(stmt, st.DropTask):
        rec = await _task(engine, stmt.name)
        if rec is not None:
            acc.require_task(rec)
    elif isinstance(stmt, (st.ShowCreateTask, st.DescribeTask)):
        rec = await _task(engine, stmt.name)
        if rec is not None and not acc.sees(rec):
            raise acc.denied("MONITOR", ObjectKind.TASK, str(rec.name))
    elif isinstance(stmt, (st.ExecuteTask, st.CancelTask)):
        # CANCEL TASK may name the task by its id (Ocient): the task the handler will cancel
        find = task_named_or_numbered if isinstance(stmt, st.CancelTask) else _task
        rec = await find(engine, stmt.name)
        if rec is not None:
            acc.require_task(rec, "OPERATE")
            if rec.spelling is Spelling.OCIENT and isinstance(stmt, st.CancelTask):
                _require_system_administrator(acc, "CANCEL TASK of a maintenance task")
            if isinstance(stmt, st.ExecuteTask):
                _require_owner_executes(acc, rec)
    elif isinstance(stmt, (st.CreateWarehouse, st.AlterWarehouse, st.DropWarehouse)):
        acc.require("CREATE WAREHOUSE", ObjectKind.ACCOUNT)
    elif isinstance(stmt, (st.CreateIntegration, st.AlterIntegration, st.DropIntegration)):
        acc.require("CREATE INTEGRATION", ObjectKind.ACCOUNT)
    elif isinstance(stmt, st.CreateSecret):
        # the secret's owner, USAGE or READ on it: checked by its handlers (tasksql.engine.secrets)
        require_create_in_schema(acc, engine, stmt.name, "CREATE SECRET")
    elif isinstance(stmt, st.CreateStream):
        require_create_in_schema(acc, engine, stmt.name, "CREATE STREAM")
        require_warehouse(acc, stmt.warehouse)
    elif isinstance(stmt, (st.DropStream, st.DescribeStream, st.ShowStreams)):
        require_warehouse(acc, stmt.warehouse)
    elif isinstance(stmt, st.Passthrough):
        require_warehouse(acc, None)
    elif isinstance(stmt, st.CancelQuery):
        query = next((q for q in engine.queries.running() if q.query_id == stmt.query_id), None)
        if query is not None and query.user != acc.caller.user:
            raise acc.denied("OWNERSHIP", "query", stmt.query_id)
    elif isinstance(stmt, ss.CreateUser):
        acc.require("CREATE USER", ObjectKind.ACCOUNT)
    elif isinstance(stmt, ss.AlterUser):
        own_token = stmt.reset_token and stmt.name.lower() == acc.caller.user and not stmt.changes
        if not own_token:
            acc.require("CREATE USER", ObjectKind.ACCOUNT)
    elif isinstance(stmt, ss.DropUser):
        acc.require("CREATE USER", ObjectKind.ACCOUNT)
    elif isinstance(stmt, ss.CreateRole):
        acc.require("CREATE ROLE", ObjectKind.ACCOUNT)
    elif isinstance(stmt, ss.DropRole):
        _require_role_owner(acc, stmt.name)
    elif isinstance(stmt, ss.GrantRole):
        _require_role_owner(acc, stmt.role)
    elif isinstance(stmt, ss.GrantPrivilege):
        await _check_grant_privilege(engine, acc, stmt)
    elif isinstance(stmt, ss.GrantOwnership) and stmt.secret is not None:
        secret = await engine.catalog.get_secret(engine.resolve(stmt.secret))
        owner = task_owner_role(acc.state, secret.definition.owner) if secret is not None else None
        if owner is not None and owner not in acc.roles and not acc.has(MANAGE_GRANTS, ObjectKind.ACCOUNT):
            raise acc.denied("OWNERSHIP", ObjectKind.SECRET, ".".join(engine.resolve(stmt.secret).parts))
    elif isinstance(stmt, ss.GrantOwnership):
        for rec in await ownership_targets(engine, stmt):
            if not acc.owns(rec) and not acc.has(MANAGE_GRANTS, ObjectKind.ACCOUNT):
                raise acc.denied("OWNERSHIP", ObjectKind.TASK, str(rec.name))
    elif isinstance(stmt, ss.ShowGrants) and stmt.to_kind == "TASK" and stmt.name is not None:
        rec = await _task(engine, stmt.name)
        if rec is not None and not acc.sees(rec):
            raise acc.denied("MONITOR", ObjectKind.TASK, str(rec.name))
    elif isinstance(stmt, ss.ShowGrants):
        _check_show_grants(acc, stmt)
    return None


async def _check_as_admin(engine: Engine, acc: Access, stmt: st.Statement) -> None:
    """ACCOUNTADMIN may do anything; only the rules that protect the model itself remain (a graph
    has one owner; AS USER names an enabled user)."""
    if isinstance(stmt, st.CreateTask):
        await _require_one_owner(engine, acc, stmt.definition.after, acc.role)
        await _check_as_user(engine, acc, stmt)
    elif isinstance(stmt, st.AlterTask) and isinstance(stmt.action, st.AddAfter):
        rec = await _task(engine, stmt.name)
        if rec is not None:
            await _require_one_owner(engine, acc, stmt.action.names, acc.owner_role(rec))
    elif isinstance(stmt, st.AlterTask):
        _check_set_as_user(acc, stmt)


async def _check_create_task(engine: Engine, acc: Access, stmt: st.CreateTask) -> None:
    task = stmt.definition
    require_create_in_schema(acc, engine, task.name, "CREATE TASK")
    require_warehouse(acc, task.warehouse)
    if stmt.spelling is Spelling.OCIENT:
        _require_system_administrator(acc, "CREATE TASK of a maintenance task")
    if stmt.or_replace or stmt.or_alter:
        existing = await _task(engine, task.name)
        if existing is not None:
            acc.require_task(existing)
    await _require_one_owner(engine, acc, task.after, acc.role)
    await _check_as_user(engine, acc, stmt)


async def _require_one_owner(
    engine: Engine, acc: Access, predecessors: Iterable[QualifiedName], owner: str
) -> None:
    """Every task of a graph has one owner: each predecessor must be owned by ``owner`` (the role
    that owns, or will own, the child)."""
    for parent_name in predecessors:
        parent = await _task(engine, parent_name)
        if parent is not None and acc.owner_role(parent) != owner:
            raise PermissionDenied(
                f"every task of a graph has one owner: {parent.name} is owned by role "
                f"{acc.owner_role(parent)}, not by {owner} (USE ROLE {acc.owner_role(parent)})",
                code="PERMISSION_DENIED",
            )


async def _check_as_user(engine: Engine, acc: Access, stmt: st.CreateTask) -> None:
    """VoltDB's ``AS USER u`` (Snowflake's ``EXECUTE AS USER u``): ``u`` must be a user, enabled,
    and the caller must be ``u`` or hold MANAGE GRANTS (else any user could make a task run as
    another)."""
    _check_user_to_run_as(acc, stmt.definition.run_as_user, stmt)


def _check_set_as_user(acc: Access, stmt: st.AlterTask) -> None:
    """``ALTER TASK ... SET EXECUTE AS USER u``: checked as at CREATE TASK."""
    if isinstance(stmt.action, st.SetProperties):
        user = dict(stmt.action.assignments).get("run_as_user")
        _check_user_to_run_as(acc, user if isinstance(user, str) else None, stmt)


def _check_user_to_run_as(acc: Access, user: str | None, stmt: st.Statement) -> None:
    if user is None:
        return
    record = acc.state.users.get(user.lower()) or acc.state.users.get(user)
    if record is None or record.disabled:
        raise PermissionDenied(
            f"AS USER {user}: no such enabled tasksql user", code="PERMISSION_DENIED", span=stmt.span
        )
    if record.name != acc.caller.user and not acc.has(MANAGE_GRANTS, ObjectKind.ACCOUNT):
        raise acc.denied(MANAGE_GRANTS, ObjectKind.ACCOUNT, "")


def _require_owner_executes(acc: Access, rec: TaskRecord) -> None:
    owner = acc.owner_role(rec)
    if not acc.state.has(acc.state.roles_of(owner), EXECUTE_TASK, ObjectKind.ACCOUNT):
        raise PermissionDenied(
            f"the owner role {owner} of task {rec.name} lacks EXECUTE TASK on the account "
            f"(GRANT EXECUTE TASK ON ACCOUNT TO ROLE {owner}, as ACCOUNTADMIN)",
            code="PERMISSION_DENIED",
        )


def _require_system_administrator(acc: Access, what: str) -> None:
    if SYSADMIN not in acc.roles:
        raise PermissionDenied(
            f"{what} needs the System Administrator role (SYSADMIN); role {acc.role} does not have it",
            code="PERMISSION_DENIED",
        )


def _require_role_owner(acc: Access, role: str) -> None:
    """Owning ``role`` (its owner is among the caller's roles) or MANAGE GRANTS; a system role only
    by a caller that has it."""
    record = acc.state.roles.get(role)
    if record is None:
        system = acc.state.role_exists(role)
        if system and (role not in acc.roles or not acc.has(MANAGE_GRANTS, ObjectKind.ACCOUNT)):
            raise acc.denied("OWNERSHIP", "role", role)
        return  # the handler says it does not exist
    if record.owner not in acc.roles and not acc.has(MANAGE_GRANTS, ObjectKind.ACCOUNT):
        raise acc.denied("OWNERSHIP", "role", role)


async def _check_grant_privilege(engine: Engine, acc: Access, stmt: ss.GrantPrivilege) -> None:
    if stmt.object_kind is ObjectKind.ACCOUNT:
        # seed 003: account privileges are granted as ACCOUNTADMIN
        raise acc.denied(", ".join(stmt.privileges) + " (to grant: ACCOUNTADMIN)", ObjectKind.ACCOUNT, "")
    if stmt.object_kind is ObjectKind.TASK and stmt.object_name is not None:
        rec = await _task(engine, stmt.object_name)
        if rec is not None and acc.owns(rec):
            return
    if stmt.object_kind is ObjectKind.SECRET and stmt.object_name is not None:
        secret = await engine.catalog.get_secret(engine.resolve(stmt.object_name))
        if secret is not None and task_owner_role(acc.state, secret.definition.owner) in acc.roles:
            return  # the secret's owner grants on it
    acc.require(MANAGE_GRANTS, ObjectKind.ACCOUNT)


def _check_show_grants(acc: Access, stmt: ss.ShowGrants) -> None:
    if stmt.name is None or stmt.to_kind == "TASK":
        return
    name = stmt.name.name
    if stmt.to_kind == "USER" and name == acc.caller.user:
        return
    if stmt.to_kind in ("ROLE", "OF") and name in acc.roles:
        return
    acc.require(MANAGE_GRANTS, ObjectKind.ACCOUNT)


async def ownership_targets(engine: Engine, stmt: ss.GrantOwnership) -> list[TaskRecord]:
    """The tasks GRANT OWNERSHIP moves: the task and the rest of its graph (one owner per graph), or
    every task of the schema."""
    if stmt.secret is not None:
        return []
    tasks = await engine.catalog.list_tasks()
    if stmt.schema is not None:
        parts = stmt.schema.parts
        database, schema = (parts[0], parts[1]) if len(parts) == 2 else (engine.user.database, parts[0])
        return [t for t in tasks if t.name.database == database and t.name.schema == schema]
    assert stmt.task is not None
    target = engine.resolve(stmt.task)
    start = next((t for t in tasks if t.name == target), None)
    if start is None:
        return []
    return graph_of(start, tasks)


def graph_of(start: TaskRecord, tasks: Iterable[TaskRecord]) -> list[TaskRecord]:
    """``start`` and every task linked to it by AFTER or FINALIZE, in either direction."""
    by_name = {t.name: t for t in tasks}
    links: dict[QualifiedName, set[QualifiedName]] = {n: set() for n in by_name}
    for t in by_name.values():
        for other in (*t.definition.after, *((t.definition.finalize,) if t.definition.finalize else ())):
            if other in by_name:
                links[t.name].add(other)
                links[other].add(t.name)
    seen = {start.name}
    todo = [start.name]
    while todo:
        for other in links[todo.pop()]:
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return sorted((by_name[n] for n in seen), key=lambda t: t.id)


async def new_task_owner(engine: Engine) -> str:
    """The owner recorded for a task made now: the caller's current role (security off: the user
    name, as always)."""
    if not engine.settings.security:
        return engine.user.name
    return (await access(engine)).role


async def visible_tasks(engine: Engine, records: list[TaskRecord]) -> list[TaskRecord]:
    """The tasks of ``records`` the caller may see (all with security off)."""
    if not engine.settings.security:
        return records
    acc = await access(engine)
    return [rec for rec in records if acc.sees(rec)]


async def visible_relations(engine: Engine, tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """Virtual relations cut to what the caller may see (all with security off): rows of tasks it
    may not see (by ``task_id``, ``root_task_id``, or ``system.tasks``' ``id``) are left out, and
    ``system.audit_log`` shows the caller's own lines unless its role holds MONITOR EXECUTION or
    MANAGE GRANTS."""
    if not engine.settings.security:
        return tables
    acc = await access(engine)
    if ACCOUNTADMIN in acc.roles:
        return tables
    visible = [rec.id for rec in await engine.catalog.list_tasks() if acc.sees(rec)]
    all_audit = acc.has(MONITOR_EXECUTION, ObjectKind.ACCOUNT) or acc.has(MANAGE_GRANTS, ObjectKind.ACCOUNT)
    ids = pa.array(visible, pa.int64())
    out: dict[str, pa.Table] = {}
    for key, table in tables.items():
        names = set(table.column_names)
        kept = table
        if {"statement", "outcome", "user_name"} <= names:
            if not all_audit:
                kept = table.filter(pc.equal(table["user_name"], acc.caller.user))
        elif "task_id" in names:
            kept = table.filter(pc.is_in(table["task_id"], ids))
        elif "root_task_id" in names:
            kept = table.filter(pc.is_in(table["root_task_id"], ids))
        elif {"id", "owner", "database_name"} <= names:
            kept = table.filter(pc.is_in(table["id"], ids))
        out[key] = kept
    return out


async def visible_task_ids(engine: Engine) -> set[int] | None:
    """The ids of the tasks the caller may see; None: every task (security off, ACCOUNTADMIN)."""
    if not engine.settings.security:
        return None
    acc = await access(engine)
    if ACCOUNTADMIN in acc.roles:
        return None
    return {rec.id for rec in await engine.catalog.list_tasks() if acc.sees(rec)}


async def run_gate(engine: Engine, rec: TaskRecord) -> RunAdmission | None:
    """Whether a run of ``rec`` may start now, and as which database role (None: it may, with the
    warehouse login's rights), asked by the scheduler at each run.

    With security on, runs execute as the task's owner role (seed 003): that role must hold EXECUTE
    TASK on the account, directly or through a role granted to it, and USAGE on the task's
    warehouse; revoking either stops the later runs (recorded SKIPPED with the reason). A VoltDB
    task ``AS USER u`` runs as ``u``: ``u`` must still be an enabled user whose roles hold USAGE on
    the warehouse. When the warehouse has a ROLE_MAPPING (:mod:`tasksql.warehouses.role_mapping`),
    the run executes as the database role it pairs with the owner role; an owner role it does not
    name fails the run (``ROLE_NOT_MAPPED``).
    """
    if not engine.settings.security:
        return None
    state = await engine.catalog.security_state()
    owner = task_owner_role(state, rec.owner)
    roles = state.roles_of(owner)
    warehouse = (rec.definition.warehouse or DEFAULT_WAREHOUSE).lower()
    refused = _refusal(state, owner, roles, warehouse, rec.definition.run_as_user)
    if refused is not None:
        return RunAdmission(refused=refused)
    await engine.warehouse(warehouse)  # opened (and its definition known) before the run needs it
    definition = engine.warehouses.definition(warehouse)
    if definition is None or not definition.role_mapping:
        return None
    db_role = role_mapping.database_role(definition.role_mapping, owner)
    if db_role is None:
        return RunAdmission(
            refused=f"warehouse {warehouse} maps no database role for the owner role {owner}; add one: "
            f"ALTER WAREHOUSE {warehouse} SET ROLE_MAPPING = (..., '{owner}' = '<database role>')",
            code="ROLE_NOT_MAPPED",
            state="FAILED",
        )
    return RunAdmission(database_role=db_role)


def _refusal(
    state: SecurityState, owner: str, roles: frozenset[str], warehouse: str, user_name: str | None
) -> str | None:
    if not state.has(roles, EXECUTE_TASK, ObjectKind.ACCOUNT):
        return f"skipped: the owner role {owner} lacks EXECUTE TASK on the account"
    if not state.has(roles, "USAGE", ObjectKind.WAREHOUSE, warehouse):
        return f"skipped: the owner role {owner} lacks USAGE on warehouse {warehouse}"
    if user_name is not None:
        user = state.users.get(user_name.lower()) or state.users.get(user_name)
        if user is None or user.disabled:
            return f"skipped: AS USER {user_name} is no enabled tasksql user"
        if not state.has(state.user_roles(user.name), "USAGE", ObjectKind.WAREHOUSE, warehouse):
            return f"skipped: AS USER {user_name} lacks USAGE on warehouse {warehouse}"
    return None
