"""Notification integrations, warehouses and streams: catalog objects other than tasks."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from tasksql.display import mask_url
from tasksql.engine.core import Engine
from tasksql.engine.results import Result
from tasksql.engine.secrets import check_placeholder, usable_secret
from tasksql.errors import (
    CatalogError,
    IntegrationNotFound,
    ObjectExists,
    TasksqlError,
    ValidationError,
    WarehouseNotFound,
)
from tasksql.model import IntegrationDef, WarehouseDef, Webhook
from tasksql.sql import statements as st
from tasksql.warehouses import role_mapping
from tasksql.warehouses.registry import shown_url

SECRET_MASK = "********"
_WEBHOOK_FIELDS = {"url", "method", "authorization_header", "signing_secret", "body_template"}
#: SQL keys of webhook fields that differ from the field's name.
_WEBHOOK_KEYS = {"webhook_body_template": "body_template", "webhook_headers": "authorization_header"}


# --- notification integrations -------------------------------------------------------------------


async def create_integration(engine: Engine, stmt: st.CreateIntegration) -> Result:
    d = stmt.definition
    existing = await engine.catalog.get_integration(d.name)
    if existing is not None and stmt.if_not_exists:
        return Result.status(
            f"{d.name} already exists, statement succeeded.", "CREATE NOTIFICATION INTEGRATION"
        )
    if existing is not None and not stmt.or_replace:
        raise ObjectExists(
            f"notification integration {d.name} already exists", code="INTEGRATION_EXISTS", span=stmt.span
        )
    d = await _with_secret(engine, d, stmt)
    await engine.catalog.put_integration(d, replace=stmt.or_replace, now=engine.now())
    return Result.status(f"Integration {d.name} successfully created.", "CREATE NOTIFICATION INTEGRATION")


async def alter_integration(engine: Engine, stmt: st.AlterIntegration) -> Result:
    d = await engine.catalog.get_integration(stmt.name)
    if d is None:
        if stmt.if_exists:
            return Result.status("Statement executed successfully.", "ALTER NOTIFICATION INTEGRATION")
        raise IntegrationNotFound(f"notification integration {stmt.name} does not exist", span=stmt.span)
    hook: dict[str, Any] = dataclasses.asdict(d.webhook) if d.webhook else {"url": ""}
    top: dict[str, Any] = {}
    for sql_key, value in stmt.assignments:
        key = _WEBHOOK_KEYS.get(sql_key, sql_key)
        if key == "webhook" and isinstance(value, Webhook):
            hook = dataclasses.asdict(value)
        elif key in _WEBHOOK_FIELDS:
            hook[key] = value
        else:
            top[key] = value
    for key in (_WEBHOOK_KEYS.get(k, k) for k in stmt.unset):
        if key in _WEBHOOK_FIELDS - {"url"}:
            hook[key] = "POST" if key == "method" else None
        elif key in ("comment", "webhook_secret"):
            top[key] = None
        elif key == "enabled":
            top[key] = True
        else:
            raise ValidationError(f"cannot unset {key.upper()}", code="INVALID_VALUE", span=stmt.span)
    if not hook.get("url") and any(_WEBHOOK_KEYS.get(k, k) in _WEBHOOK_FIELDS for k, _ in stmt.assignments):
        raise ValidationError(
            f"notification integration {stmt.name} has no webhook url yet:"
            " SET WEBHOOK = (url = '<url>', ...)",
            code="INVALID_VALUE",
            span=stmt.span,
        )
    new = dataclasses.replace(d, **top, webhook=Webhook(**hook) if hook.get("url") else None)
    if "webhook_secret" in top:
        new = await _with_secret(engine, new, stmt)
    _check_placeholder(new, stmt)
    await engine.catalog.put_integration(new, replace=True, now=engine.now())
    return Result.status("Statement executed successfully.", "ALTER NOTIFICATION INTEGRATION")


async def _with_secret(engine: Engine, d: IntegrationDef, stmt: st.Statement) -> IntegrationDef:
    """``d`` with its WEBHOOK_SECRET resolved, once the secret is found usable (see
    :func:`tasksql.engine.secrets.usable_secret`), and its placeholders checked."""
    if d.webhook_secret is not None:
        d = dataclasses.replace(d, webhook_secret=await usable_secret(engine, d.webhook_secret, stmt))
    _check_placeholder(d, stmt)
    return d


def _check_placeholder(d: IntegrationDef, stmt: st.Statement) -> None:
    hook = d.webhook
    texts = (hook.url, hook.authorization_header, hook.body_template) if hook else ()
    why = check_placeholder(texts, d.webhook_secret)
    if why is not None:
        raise ValidationError(
            f"notification integration {d.name}: {why}", code="INVALID_VALUE", span=stmt.span
        )


async def drop_integration(engine: Engine, stmt: st.DropIntegration) -> Result:
    users = [
        r.name
        for r in await engine.catalog.list_tasks()
        if stmt.name in (r.definition.error_integration, r.definition.success_integration)
    ]
    if users and await engine.catalog.get_integration(stmt.name) is not None:
        names = ", ".join(engine.display_name(n) for n in users)
        raise CatalogError(
            f"notification integration {stmt.name} is used by task(s) {names}; unset it there first",
            code="INTEGRATION_IN_USE",
            span=stmt.span,
        )
    dropped = await engine.catalog.drop_integration(stmt.name)
    if not dropped and not stmt.if_exists:
        raise IntegrationNotFound(f"notification integration {stmt.name} does not exist", span=stmt.span)
    return Result.status(f"{stmt.name} successfully dropped.", "DROP NOTIFICATION INTEGRATION")


def _integration_properties(d: IntegrationDef) -> list[tuple[str, Any]]:
    hook = d.webhook
    return [
        ("name", d.name),
        ("type", d.type),
        ("enabled", d.enabled),
        ("url", mask_url(hook.url) if hook else None),  # a token in the URL is a secret too
        ("method", hook.method if hook else None),
        ("authorization_header", SECRET_MASK if hook and hook.authorization_header else None),
        ("signing_secret", SECRET_MASK if hook and hook.signing_secret else None),
        ("webhook_body_template", hook.body_template if hook else None),
        # the secret's name (its value is never shown: DESCRIBE SECRET says where it is read)
        ("webhook_secret", ".".join(d.webhook_secret.parts) if d.webhook_secret else None),
        ("comment", d.comment),
    ]


async def describe_integration(engine: Engine, stmt: st.DescribeIntegration) -> Result:
    d = await engine.catalog.get_integration(stmt.name)
    if d is None:
        raise IntegrationNotFound(f"notification integration {stmt.name} does not exist", span=stmt.span)
    return Result.table(
        ("property", "value"), _integration_properties(d), "DESCRIBE NOTIFICATION INTEGRATION"
    )


async def show_integrations(engine: Engine, stmt: st.ShowIntegrations) -> Result:
    from tasksql.engine.show import like

    rows = [
        (
            r.definition.name,
            r.definition.type,
            "NOTIFICATION",
            r.definition.enabled,
            r.definition.comment,
            r.created_on,
        )
        for r in await engine.catalog.list_integrations()
        if stmt.like is None or like(r.definition.name, stmt.like)
    ]
    columns = ("name", "type", "category", "enabled", "comment", "created_on")
    return Result.table(columns, rows, "SHOW NOTIFICATION INTEGRATIONS")


# --- warehouses ----------------------------------------------------------------------------------


async def create_warehouse(engine: Engine, stmt: st.CreateWarehouse) -> Result:
    d = stmt.definition
    existing = await engine.catalog.get_warehouse(d.name)
    if existing is not None and stmt.if_not_exists:
        return Result.status(f"{d.name} already exists, statement succeeded.", "CREATE WAREHOUSE")
    if existing is not None and not stmt.or_replace:
        raise ObjectExists(f"warehouse {d.name} already exists", code="WAREHOUSE_EXISTS", span=stmt.span)
    _check_runnable(engine, d, stmt)
    await engine.catalog.put_warehouse(d, replace=stmt.or_replace, now=engine.now())
    return Result.status(f"Warehouse {d.name} successfully created.", "CREATE WAREHOUSE")


async def alter_warehouse(engine: Engine, stmt: st.AlterWarehouse) -> Result:
    d = await engine.catalog.get_warehouse(stmt.name)
    if d is None:
        if stmt.if_exists:
            return Result.status("Statement executed successfully.", "ALTER WAREHOUSE")
        raise WarehouseNotFound(f"warehouse {stmt.name} does not exist", span=stmt.span)
    new = _altered(d, stmt)
    _check_runnable(engine, new, stmt)
    await engine.catalog.put_warehouse(new, replace=True, now=engine.now())
    return Result.status("Statement executed successfully.", "ALTER WAREHOUSE")


def _altered(d: WarehouseDef, stmt: st.AlterWarehouse) -> WarehouseDef:
    """``d`` with the statement's assignments. ``PASSWORD = ENV/FILE`` is kept in the URL (see
    :mod:`tasksql.model.password_source`); a new URL without a password of its own keeps where the
    old one read its password from, as a separate PASSWORD property would stay."""
    from tasksql.errors import WarehouseError
    from tasksql.model import password_source as pw

    changes = dict(stmt.assignments)
    source: pw.PasswordSource | None = changes.pop("password", None)
    new: WarehouseDef = dataclasses.replace(d, **changes)
    ref = pw.reference(d.url)
    if source is None and "url" in changes and ref is not None and new.url:
        kept = (
            new.url if pw.reference(new.url) or _has_password(new.url) else pw.with_reference(new.url, *ref)
        )
        new = dataclasses.replace(new, url=kept or new.url)
    if source is not None:
        url = pw.with_reference(new.url or "", source.option, source.name)
        if new.type.value not in pw.PASSWORD_TYPES:
            raise WarehouseError(
                f"warehouse {d.name}: TYPE = {new.type.value} has no password (PASSWORD is for"
                f" {', '.join(pw.PASSWORD_TYPES)} warehouses)",
                code="INVALID_VALUE",
                span=stmt.spans.get("password") or stmt.span,
            )
        if url is None:
            raise WarehouseError(
                f"warehouse {d.name}: PASSWORD needs a URL of the form scheme://user@host/database",
                code="INVALID_URL",
                span=stmt.spans.get("password") or stmt.span,
            )
        new = dataclasses.replace(new, url=url)
    return new


def _has_password(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password is not None
    except ValueError:
        return False


def _check_runnable(engine: Engine, d: WarehouseDef, stmt: st.Statement) -> None:
    """Refuse at once a warehouse no run could use (type without backend, missing driver, bad URL),
    pointing at the clause that made it so; the catalog is not touched."""
    try:
        engine.warehouses.check(d)
    except TasksqlError as err:
        key = {"INVALID_URL": "url", "ROLE_MAPPING_UNSUPPORTED": "role_mapping"}.get(err.code, "type")
        err.span = err.span or stmt.spans.get(key) or stmt.span
        raise


async def drop_warehouse(engine: Engine, stmt: st.DropWarehouse) -> Result:
    users = [r.name for r in await engine.catalog.list_tasks() if r.definition.warehouse == stmt.name]
    if users:
        names = ", ".join(engine.display_name(n) for n in users)
        raise CatalogError(
            f"warehouse {stmt.name} is used by task(s) {names}; change their WAREHOUSE first",
            code="WAREHOUSE_IN_USE",
            span=stmt.span,
        )
    dropped = await engine.catalog.drop_warehouse(stmt.name)
    if not dropped and not stmt.if_exists:
        raise WarehouseNotFound(f"warehouse {stmt.name} does not exist", span=stmt.span)
    return Result.status(f"{stmt.name} successfully dropped.", "DROP WAREHOUSE")


async def show_warehouses(engine: Engine, stmt: st.ShowWarehouses) -> Result:
    from tasksql.engine.show import like

    rows = []
    for r in await engine.catalog.list_warehouses():
        d = r.definition
        if stmt.like is not None and not like(d.name, stmt.like):
            continue
        concurrency = d.max_concurrency or engine.settings.default_max_concurrency
        rows.append(
            (
                d.name,
                d.type.value,
                shown_url(d.url) if d.url else None,
                concurrency,
                d.embedded,
                d.comment,
                r.created_on,
                role_mapping.shown(d.role_mapping),
            )
        )
    columns = ("name", "type", "url", "max_concurrency", "embedded", "comment", "created_on", "role_mapping")
    return Result.table(columns, rows, "SHOW WAREHOUSES")


# --- streams (Timeplus) --------------------------------------------------------------------------

_SIMPLE_TYPES = {
    "string": "VARCHAR",
    "fixed_string": "VARCHAR",
    "int8": "TINYINT",
    "int16": "SMALLINT",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "int128": "HUGEINT",
    "uint8": "UTINYINT",
    "uint16": "USMALLINT",
    "uint32": "UINTEGER",
    "uint64": "UBIGINT",
    "float32": "FLOAT",
    "float64": "DOUBLE",
    "bool": "BOOLEAN",
    "date": "DATE",
    "date32": "DATE",
    "datetime": "TIMESTAMPTZ",
    "datetime64": "TIMESTAMPTZ",
    "uuid": "UUID",
    "json": "JSON",
    "ipv4": "VARCHAR",
    "ipv6": "VARCHAR",
}
_WRAPPERS = {"nullable", "low_cardinality"}


def stream_type(text: str) -> str:
    """Map a Timeplus column type onto DuckDB; unknown types pass through unchanged."""
    t = text.strip()
    m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?", t, re.S)
    if m is None:
        return t
    head, inner = m.group(1).lower(), m.group(2)
    if head in _WRAPPERS and inner:
        return stream_type(inner)
    if head == "array" and inner:
        return stream_type(inner) + "[]"
    if head == "map" and inner:
        key, _, value = _split_top(inner)
        return f"MAP({stream_type(key)}, {stream_type(value)})"
    if head == "decimal" and inner:
        return f"DECIMAL({inner})"
    if head in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[head]
    return t


def _split_top(text: str) -> tuple[str, str, str]:
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            return text[:i], ",", text[i + 1 :]
    return text, "", ""


async def create_stream(engine: Engine, stmt: st.CreateStream) -> Result:
    """Timeplus ``CREATE STREAM name (columns)`` (``ON TABLE`` streams: :mod:`tasksql.engine.streams`)."""
    if not stmt.columns:
        raise ValidationError("CREATE STREAM needs a column list", code="MISSING_COLUMNS", span=stmt.span)
    from tasksql.model import quote_ident

    cols = [f"{quote_ident(name)} {stream_type(typ)}" for name, typ in stmt.columns]
    if "_tp_time" not in {name for name, _ in stmt.columns}:
        # Every Timeplus stream has an event-time column; INTO fills it with its default.
        cols.append("_tp_time TIMESTAMPTZ DEFAULT current_timestamp")
    head = "CREATE OR REPLACE TABLE" if stmt.or_replace else "CREATE TABLE"
    if stmt.if_not_exists:
        head += " IF NOT EXISTS"
    warehouse = await engine.warehouse()
    await warehouse.execute(f"{head} {stmt.name} ({', '.join(cols)})")
    return Result.status(f"Stream {stmt.name} successfully created.", "CREATE STREAM")
