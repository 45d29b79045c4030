"""Secret objects (``CREATE / ALTER / DROP SECRET``, ``SHOW SECRETS``, ``DESCRIBE SECRET``) and the
check a notification integration's ``WEBHOOK_SECRET`` passes (:func:`usable_secret`).

Names resolve as task names do (``db.schema.name``; unqualified in the caller's database and
schema). Privileges follow Snowflake's: CREATE SECRET on the schema (and USAGE on its database and
schema) to create one; the secret's owner role (the role that created it) alters, drops and
describes it; USAGE (or READ) on the secret lets a role describe it and name it in WEBHOOK_SECRET.
SHOW SECRETS lists the secrets the role owns or holds USAGE or READ on. With security off, anyone
may do anything, as everywhere.

No statement here returns a secret's value: SHOW and DESCRIBE say where it is read (the catalog,
an environment variable, a file), and messages name the secret, never what it holds.
"""

from __future__ import annotations

import dataclasses

from tasksql.engine.core import Engine
from tasksql.engine.privileges import Access, access, new_task_owner, require_warehouse, task_owner_role
from tasksql.engine.results import Result
from tasksql.errors import ObjectExists, ObjectNotFound, TasksqlError
from tasksql.model import QualifiedName
from tasksql.model.secret import SecretDef, SecretRecord
from tasksql.model.security import ACCOUNTADMIN, ObjectKind
from tasksql.model.webhook_template import SECRET_PLACEHOLDER
from tasksql.sql import statements as st

SHOW_SECRETS_COLUMNS = (
    "created_on",
    "name",
    "schema_name",
    "database_name",
    "owner",
    "comment",
    "secret_type",
    "secret_source",
)
DESCRIBE_SECRET_COLUMNS = (*SHOW_SECRETS_COLUMNS, "read_from", "last_altered_on")


def grant_name(name: QualifiedName) -> str:
    """The object name grants on a secret use: ``db.schema.name``."""
    return ".".join(name.parts)


class SecretNotFound(ObjectNotFound):
    default_code = "SECRET_NOT_FOUND"


def _missing(engine: Engine, name: QualifiedName, stmt: st.Statement) -> SecretNotFound:
    return SecretNotFound(
        f"secret {engine.display_name(name)} does not exist (CREATE SECRET {engine.display_name(name)}"
        f" TYPE = GENERIC_STRING SECRET_STRING = ...)",
        span=stmt.spans.get("name") or stmt.span,
    )


def _owner(acc: Access, rec: SecretRecord) -> str:
    return task_owner_role(acc.state, rec.definition.owner)


def owns(acc: Access, rec: SecretRecord) -> bool:
    """Whether the caller's role owns the secret (always, with security off or as ACCOUNTADMIN)."""
    return not acc.enabled or ACCOUNTADMIN in acc.roles or _owner(acc, rec) in acc.roles


def may_use(acc: Access, rec: SecretRecord) -> bool:
    """Owner, or USAGE or READ on the secret."""
    shown = grant_name(rec.definition.name)
    return owns(acc, rec) or any(acc.has(p, ObjectKind.SECRET, shown) for p in ("USAGE", "READ"))


def _require_owner(acc: Access, rec: SecretRecord) -> None:
    if not owns(acc, rec):
        raise acc.denied("OWNERSHIP", ObjectKind.SECRET, grant_name(rec.definition.name))


async def create_secret(engine: Engine, stmt: st.CreateSecret) -> Result:
    name = engine.resolve(stmt.name)
    shown = engine.display_name(name)
    existing = await engine.catalog.get_secret(name)
    if existing is not None and stmt.if_not_exists:
        return Result.status(f"{shown} already exists, statement succeeded.", "CREATE SECRET")
    if existing is not None and not stmt.or_replace:
        raise ObjectExists(
            f"secret {shown} already exists (CREATE OR REPLACE SECRET replaces it, ALTER SECRET changes it)",
            code="SECRET_EXISTS",
            span=stmt.spans.get("name") or stmt.span,
        )
    if existing is not None:
        _require_owner(await access(engine), existing)
    definition = SecretDef(
        name=name, secret_string=stmt.secret_string, owner=await new_task_owner(engine), comment=stmt.comment
    )
    await engine.catalog.put_secret(definition, replace=stmt.or_replace, now=engine.now())
    return Result.status(f"Secret {shown} successfully created.", "CREATE SECRET")


async def alter_secret(engine: Engine, stmt: st.AlterSecret) -> Result:
    name = engine.resolve(stmt.name)
    rec = await engine.catalog.get_secret(name)
    if rec is None:
        if stmt.if_exists:
            return Result.status("Statement executed successfully.", "ALTER SECRET")
        raise _missing(engine, name, stmt)
    _require_owner(await access(engine), rec)
    values = dict(stmt.assignments)
    d = rec.definition
    new = dataclasses.replace(
        d,
        secret_string=values.get("secret_string", d.secret_string),
        comment=None if "comment" in stmt.unset else values.get("comment", d.comment),
    )
    await engine.catalog.put_secret(new, replace=True, now=engine.now())
    return Result.status("Statement executed successfully.", "ALTER SECRET")


async def drop_secret(engine: Engine, stmt: st.DropSecret) -> Result:
    """Drop the secret. Integrations that name it keep the name, as in Snowflake: their sends fail,
    each attempt recorded with a message naming the secret, until it exists again.

    When tasksql has no secret of that name and the default warehouse is DuckDB, the statement is
    DuckDB's own ``DROP SECRET`` (its secrets for S3 and the like) and goes there."""
    name = engine.resolve(stmt.name)
    rec = await engine.catalog.get_secret(name)
    if rec is None:
        if await _is_duckdb_default(engine):
            try:
                return await _to_warehouse(engine, stmt)
            except TasksqlError as err:
                if stmt.if_exists or "non-existent secret" not in err.message:
                    raise
                shown = engine.display_name(name)  # neither tasksql nor DuckDB has it
                raise SecretNotFound(
                    f"secret {shown} does not exist, in tasksql or in the default warehouse (DuckDB);"
                    " SHOW SECRETS lists tasksql's, duckdb_secrets() DuckDB's",
                    span=stmt.spans.get("name") or stmt.span,
                ) from None
        if stmt.if_exists:
            return Result.status("Statement executed successfully.", "DROP SECRET")
        raise _missing(engine, name, stmt)
    acc = await access(engine)
    _require_owner(acc, rec)
    await engine.catalog.drop_secret(name)
    await engine.catalog.forget_object(ObjectKind.SECRET, grant_name(name))
    return Result.status(f"{engine.display_name(name)} successfully dropped.", "DROP SECRET")


async def _is_duckdb_default(engine: Engine) -> bool:
    from tasksql.model import WarehouseType

    return (await engine.warehouse()).type is WarehouseType.DUCKDB


async def _to_warehouse(engine: Engine, stmt: st.DropSecret) -> Result:
    from tasksql.engine.passthrough import passthrough

    acc = await access(engine)
    if acc.enabled:
        require_warehouse(acc, None)
    return await passthrough(engine, st.Passthrough(span=stmt.span, text=stmt.text))


def _row(rec: SecretRecord, owner: str) -> tuple[object, ...]:
    d = rec.definition
    return (
        rec.created_on,
        d.name.name,
        d.name.schema,
        d.name.database,
        owner,
        d.comment,
        d.type,
        d.secret_string.source.value,
    )


async def show_secrets(engine: Engine, stmt: st.ShowSecrets) -> Result:
    from tasksql.engine.show import like

    acc = await access(engine)
    rows = [
        _row(rec, _owner(acc, rec) if acc.enabled else rec.definition.owner)
        for rec in await engine.catalog.list_secrets()
        if (stmt.like is None or like(rec.definition.name.name, stmt.like)) and may_use(acc, rec)
    ]
    return Result.table(SHOW_SECRETS_COLUMNS, rows, "SHOW SECRETS")


async def describe_secret(engine: Engine, stmt: st.DescribeSecret) -> Result:
    name = engine.resolve(stmt.name)
    rec = await engine.catalog.get_secret(name)
    if rec is None:
        raise _missing(engine, name, stmt)
    acc = await access(engine)
    if not may_use(acc, rec):
        raise acc.denied("OWNERSHIP, USAGE or READ", ObjectKind.SECRET, grant_name(name))
    owner = _owner(acc, rec) if acc.enabled else rec.definition.owner
    row = (*_row(rec, owner), rec.definition.secret_string.where, rec.last_altered_on)
    return Result.table(DESCRIBE_SECRET_COLUMNS, [row], "DESCRIBE SECRET")


async def usable_secret(engine: Engine, name: QualifiedName, stmt: st.Statement) -> QualifiedName:
    """The resolved name of the secret ``WEBHOOK_SECRET = name`` names, after checking that it
    exists and that the caller's role may use it (owner, USAGE or READ).

    :raises SecretNotFound: no such secret (the message says how to make it).
    :raises PermissionDenied: the role may not use it.
    """
    resolved = engine.resolve(name)
    rec = await engine.catalog.get_secret(resolved)
    if rec is None:
        shown = engine.display_name(resolved)
        raise SecretNotFound(
            f"WEBHOOK_SECRET names the secret {shown}, which does not exist; create it first: CREATE"
            f" SECRET {shown} TYPE = GENERIC_STRING SECRET_STRING = '<value>' (or ENV '<variable>')",
            span=stmt.spans.get("webhook_secret") or stmt.span,
        )
    acc = await access(engine)
    if not may_use(acc, rec):
        err = acc.denied("USAGE", ObjectKind.SECRET, grant_name(resolved))
        err.span = stmt.spans.get("webhook_secret") or stmt.span
        raise err
    return resolved


def check_placeholder(texts: tuple[str | None, ...], secret: QualifiedName | None) -> str | None:
    """Why a webhook that writes ``SNOWFLAKE_WEBHOOK_SECRET`` in ``texts`` cannot send without a
    ``WEBHOOK_SECRET``; None when it can."""
    if secret is None and any(SECRET_PLACEHOLDER in (t or "") for t in texts):
        return (
            f"the webhook writes {SECRET_PLACEHOLDER} but names no secret to put there: add"
            " WEBHOOK_SECRET = <secret name> (CREATE SECRET ... TYPE = GENERIC_STRING first)"
        )
    return None
