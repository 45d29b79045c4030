"""Canonical SQL of the user, role and grant statements (:mod:`tasksql.sql.statements_security`),
read back by the parser to equal statements."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tasksql.model.security import ObjectKind
from tasksql.sql import statements_security as ss
from tasksql.sql.names import quote_string, render_exact, render_name
from tasksql.sql.statements import Statement


def _bool(value: object) -> str:
    return "TRUE" if value else "FALSE"


def _create_user(s: ss.CreateUser) -> str:
    out = "CREATE OR REPLACE USER " if s.or_replace else "CREATE USER "
    out += "IF NOT EXISTS " if s.if_not_exists else ""
    out += render_exact(s.name)
    if s.default_role is not None:
        out += f" DEFAULT_ROLE = {render_exact(s.default_role)}"
    if s.disabled:
        out += " DISABLED = TRUE"
    if s.comment is not None:
        out += f" COMMENT = {quote_string(s.comment)}"
    return out


def _alter_user(s: ss.AlterUser) -> str:
    head = f"ALTER USER {'IF EXISTS ' if s.if_exists else ''}{render_exact(s.name)}"
    if s.reset_token:
        return head + " RESET TOKEN"
    if all(value is None for _, value in s.changes):
        return head + " UNSET " + ", ".join(key for key, _ in s.changes)
    parts = []
    for key, value in s.changes:
        if key == "DISABLED":
            parts.append(f"DISABLED = {_bool(value)}")
        elif key == "COMMENT":
            parts.append(f"COMMENT = {quote_string(str(value))}")
        else:
            parts.append(f"{key} = {render_exact(str(value))}")
    return head + " SET " + ", ".join(parts)


def _drop(kind: str, name: str, if_exists: bool) -> str:
    return f"DROP {kind} {'IF EXISTS ' if if_exists else ''}{render_exact(name)}"


def _create_role(s: ss.CreateRole) -> str:
    out = "CREATE OR REPLACE ROLE " if s.or_replace else "CREATE ROLE "
    out += "IF NOT EXISTS " if s.if_not_exists else ""
    out += render_exact(s.name)
    return out + (f" COMMENT = {quote_string(s.comment)}" if s.comment is not None else "")


def _grant_role(s: ss.GrantRole) -> str:
    verb, to = ("REVOKE", "FROM") if s.revoke else ("GRANT", "TO")
    return f"{verb} ROLE {render_exact(s.role)} {to} {s.grantee_kind.value} {render_exact(s.grantee)}"


def _grant_privilege(s: ss.GrantPrivilege) -> str:
    verb, to = ("REVOKE", "FROM") if s.revoke else ("GRANT", "TO")
    target = (
        "ACCOUNT"
        if s.object_kind is ObjectKind.ACCOUNT or s.object_name is None
        else (f"{s.object_kind.value} {render_name(s.object_name)}")
    )
    return f"{verb} {', '.join(s.privileges)} ON {target} {to} ROLE {render_exact(s.role)}"


def _grant_ownership(s: ss.GrantOwnership) -> str:
    if s.schema is not None:
        target = f"ALL TASKS IN SCHEMA {render_name(s.schema)}"
    elif s.secret is not None:
        target = f"SECRET {render_name(s.secret)}"
    else:
        assert s.task is not None
        target = f"TASK {render_name(s.task)}"
    return f"GRANT OWNERSHIP ON {target} TO ROLE {render_exact(s.role)}"


def _show_grants(s: ss.ShowGrants) -> str:
    if s.to_kind is None or s.name is None:
        return "SHOW GRANTS"
    if s.to_kind == "TASK":
        return f"SHOW GRANTS ON TASK {render_name(s.name)}"
    if s.to_kind == "OF":
        return f"SHOW GRANTS OF ROLE {render_exact(s.name.name)}"
    return f"SHOW GRANTS TO {s.to_kind} {render_exact(s.name.name)}"


SECURITY_RENDERERS: dict[type[Statement], Callable[[Any], str]] = {
    ss.CreateUser: _create_user,
    ss.AlterUser: _alter_user,
    ss.DropUser: lambda s: _drop("USER", s.name, s.if_exists),
    ss.CreateRole: _create_role,
    ss.DropRole: lambda s: _drop("ROLE", s.name, s.if_exists),
    ss.GrantRole: _grant_role,
    ss.GrantPrivilege: _grant_privilege,
    ss.GrantOwnership: _grant_ownership,
    ss.UseRole: lambda s: f"USE ROLE {render_exact(s.role)}",
    ss.ShowRoles: lambda s: "SHOW ROLES" + (f" LIKE {quote_string(s.like)}" if s.like is not None else ""),
    ss.ShowGrants: _show_grants,
}
