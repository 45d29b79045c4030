"""Notification integrations and warehouses.

::

    CREATE [OR REPLACE] NOTIFICATION INTEGRATION [IF NOT EXISTS] <name>
        [TYPE = WEBHOOK] [ENABLED = TRUE | FALSE] [WEBHOOK = ( url = '..' [, method = '..']
        [, authorization_header = '..'] [, signing_secret = '..'] )] [COMMENT = '..']
        (Snowflake's WEBHOOK_URL = '..' [WEBHOOK_SECRET = <secret>] [WEBHOOK_HEADERS = (..)]
        [WEBHOOK_BODY_TEMPLATE = '..'] too)
    ALTER NOTIFICATION INTEGRATION [IF EXISTS] <name> SET <option> = <value> ... | UNSET <option>, ...
    DROP NOTIFICATION INTEGRATION [IF EXISTS] <name>
    DESC[RIBE] NOTIFICATION INTEGRATION <name>
    SHOW NOTIFICATION INTEGRATIONS [LIKE '<pattern>']

    CREATE [OR REPLACE] WAREHOUSE [IF NOT EXISTS] <name> [WITH] [TYPE = <type>] [URL = '..']
        [MAX_CONCURRENCY = <n>] [COMMENT = '..'] [ROLE_MAPPING = ( '<role>' = '<db role>' [, ...] )]
    ALTER WAREHOUSE [IF EXISTS] <name> SET <option> = <value> [, ...]
    DROP WAREHOUSE [IF EXISTS] <name>
    SHOW WAREHOUSES [LIKE '<pattern>']

Streams are parsed in :mod:`tasksql.sql.parse_stream`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from tasksql.errors import NotSupportedError, Span, ValidationError
from tasksql.model import IntegrationDef, WarehouseDef, WarehouseType, Webhook
from tasksql.model.password_source import PASSWORD_TYPES, PasswordSource, with_reference
from tasksql.model.security import canonical_role
from tasksql.model.webhook_template import template_error
from tasksql.sql.common import (
    CreatePrefix,
    expect_end,
    parse_if_exists,
    parse_if_not_exists,
    reject_or_alter,
)
from tasksql.sql.cursor import Cursor, describe, duplicate
from tasksql.sql.names import parse_integration_name, parse_name, parse_simple_name
from tasksql.sql.properties import suggest
from tasksql.sql.statements import (
    AlterIntegration,
    AlterWarehouse,
    CreateIntegration,
    CreateWarehouse,
    DescribeIntegration,
    DropIntegration,
    DropWarehouse,
    ShowIntegrations,
    ShowWarehouses,
    Statement,
)
from tasksql.sql.tokens import Token, TokenKind
from tasksql.sql.values import parse_bool, parse_choice, parse_int, parse_string, parse_word_or_string

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_WEBHOOK_KEYS = ("URL", "METHOD", "AUTHORIZATION_HEADER", "SIGNING_SECRET")
#: Snowflake's webhook options (CREATE NOTIFICATION INTEGRATION (webhooks)): WEBHOOK_URL and
#: WEBHOOK_HEADERS are read as the webhook's url and authorization header; WEBHOOK_SECRET names the
#: secret object (CREATE SECRET) put in place of SNOWFLAKE_WEBHOOK_SECRET when a message is sent.
_SNOWFLAKE_WEBHOOK_KEYS = ("WEBHOOK_URL", "WEBHOOK_HEADERS", "WEBHOOK_SECRET")
_INTEGRATION_KEYS = (
    "TYPE",
    "ENABLED",
    "WEBHOOK",
    "WEBHOOK_BODY_TEMPLATE",
    *_SNOWFLAKE_WEBHOOK_KEYS,
    "COMMENT",
)
_INTEGRATION_UNSET = (
    "COMMENT",
    "ENABLED",
    "METHOD",
    "AUTHORIZATION_HEADER",
    "SIGNING_SECRET",
    "WEBHOOK_BODY_TEMPLATE",
    "WEBHOOK_SECRET",
    "WEBHOOK_HEADERS",
)
_WAREHOUSE_KEYS = ("TYPE", "URL", "PATH", "MAX_CONCURRENCY", "COMMENT", "ROLE_MAPPING", "PASSWORD")
_WAREHOUSE_ALIASES = {"POSTGRESQL": "postgres", "PG": "postgres", "MARIADB": "mysql", "SQLITE3": "sqlite"}


def _unknown(cur: Cursor, tok: Token, keys: tuple[str, ...], what: str) -> Exception:
    near = suggest(tok.text, keys)
    hint = f"; did you mean {near}?" if near else f"; expected one of {', '.join(keys)}"
    return cur.error(
        f"unknown {what} option {tok.text.upper()}{hint}",
        at=tok,
        expected=[near] if near else keys,
        code="UNKNOWN_PROPERTY",
        cls=ValidationError,
    )


def _options(
    cur: Cursor, keys: tuple[str, ...], what: str, read: Callable[[Cursor, str], Any]
) -> tuple[list[tuple[str, Any]], dict[str, Span]]:
    """``KEY = value`` pairs (optionally comma-separated) up to the end of the statement or a
    closing parenthesis; keys are returned in lower case, each with the span of its value.

    :raises ValidationError: UNKNOWN_PROPERTY for a key not in ``keys``; DUPLICATE_CLAUSE.
    """
    out: list[tuple[str, Any]] = []
    spans: dict[str, Span] = {}
    seen: set[str] = set()
    while not cur.done and not cur.at(")"):
        if cur.accept(","):
            continue
        tok = cur.peek()
        assert tok is not None
        if tok.kind not in (TokenKind.WORD, TokenKind.IDENT):
            raise cur.unexpected([f"{k} = <value>" for k in keys], f"in {what}")
        key = tok.text.upper()
        if key not in keys:
            raise _unknown(cur, tok, keys, what)
        if key in seen:
            raise duplicate(cur, key, tok)
        seen.add(key)
        cur.pos += 1
        cur.expect("=")
        first = cur.peek()
        out.append((key.lower(), read(cur, key)))
        if first is not None:
            spans[key.lower()] = cur.span_since(first)
    return out, spans


# --- notification integrations -------------------------------------------------------------------


def _webhook_value(cur: Cursor, key: str) -> str:
    if key == "METHOD":
        return parse_choice(cur, "METHOD", HTTP_METHODS)
    return parse_string(cur, f"a string for {key}")


def _webhook(cur: Cursor) -> Webhook:
    open_tok = cur.expect("(")
    pairs, _ = _options(cur, _WEBHOOK_KEYS, "WEBHOOK", _webhook_value)
    cur.expect(")")
    values = dict(pairs)
    if "url" not in values:
        raise cur.error(
            "WEBHOOK needs url = '<url>'",
            at=cur.span_since(open_tok),
            expected=["url = '<url>'"],
            code="INVALID_VALUE",
            cls=ValidationError,
        )
    return Webhook(**values)


def _integration_value(cur: Cursor, key: str) -> Any:
    if key == "TYPE":
        tok = cur.peek()
        kind = parse_word_or_string(cur, "an integration type").text.upper()
        if kind != "WEBHOOK":
            raise cur.error(
                f"notification integrations of TYPE {kind} are not supported; use TYPE = WEBHOOK",
                at=tok,
                expected=["WEBHOOK"],
                code="NOT_SUPPORTED",
                cls=NotSupportedError,
            )
        return kind
    if key == "ENABLED":
        return parse_bool(cur)
    if key == "WEBHOOK":
        return _webhook(cur)
    if key == "COMMENT":
        return parse_string(cur, "a comment")
    if key == "WEBHOOK_BODY_TEMPLATE":
        return _body_template(cur)
    if key == "WEBHOOK_URL":
        return parse_string(cur, "a string for WEBHOOK_URL")
    if key == "WEBHOOK_HEADERS":
        return _headers(cur)
    if key == "WEBHOOK_SECRET":
        return parse_name(cur, "secret name")[0]
    return _webhook_value(cur, key)


def _headers(cur: Cursor) -> str | None:
    """Snowflake's ``WEBHOOK_HEADERS = ('<name>' = '<value>', ...)``: the ``Authorization`` value
    (None without one). tasksql sends JSON with ``Content-Type: application/json``; another header,
    or another content type, cannot be honoured and is refused."""
    cur.expect("(")
    authorization: str | None = None
    while not cur.at(")"):
        name_tok = cur.peek()
        name = parse_string(cur, "a header name")
        cur.expect("=")
        value = parse_string(cur, f"a value for header {name}")
        lowered = name.lower()
        if lowered == "authorization":
            authorization = value
        elif lowered != "content-type" or value.split(";")[0].strip().lower() != "application/json":
            raise cur.error(
                f"header {name}: tasksql sends only Authorization and Content-Type: application/json",
                at=name_tok,
                code="NOT_SUPPORTED",
                cls=NotSupportedError,
            )
        if not cur.accept(","):
            break
    cur.expect(")")
    return authorization


def _body_template(cur: Cursor) -> str:
    """``WEBHOOK_BODY_TEMPLATE = '<json>'``, checked as Databend checks it (see
    :mod:`tasksql.model.webhook_template`)."""
    tok = cur.peek()
    template = parse_string(cur, "a string for WEBHOOK_BODY_TEMPLATE")
    why = template_error(template)
    if why is not None:
        raise cur.error(why, at=tok, code="INVALID_VALUE", cls=ValidationError)
    return template


def _alter_value(cur: Cursor, key: str) -> Any:
    """As :func:`_integration_value`, but ``WEBHOOK = (...)`` is the list of fields it names (any of
    them, url included or not), for ALTER ... SET to patch."""
    if key != "WEBHOOK":
        return _integration_value(cur, key)
    cur.expect("(")
    pairs, _ = _options(cur, _WEBHOOK_KEYS, "WEBHOOK", _webhook_value)
    cur.expect(")")
    return pairs


def parse_create_integration(cur: Cursor, prefix: CreatePrefix) -> Statement:
    """After ``CREATE [OR REPLACE] NOTIFICATION INTEGRATION``."""
    reject_or_alter(cur, prefix, "notification integrations")
    if_not_exists = parse_if_not_exists(cur, prefix)
    name, span = parse_integration_name(cur)
    pairs, spans = _options(cur, _INTEGRATION_KEYS, "NOTIFICATION INTEGRATION", _integration_value)
    expect_end(cur)
    values = dict(pairs)
    _snowflake_webhook(cur, values, spans)
    secret = values.pop("webhook_secret", None)
    if secret is not None and values.get("webhook") is None:
        raise cur.error(
            "WEBHOOK_SECRET needs a webhook: WEBHOOK_URL = '<url>' (or WEBHOOK = (url = '<url>', ...))",
            at=spans.get("webhook_secret"),
            expected=["WEBHOOK_URL = '<url>'"],
            code="INVALID_VALUE",
            cls=ValidationError,
        )
    template = values.pop("webhook_body_template", None)
    if template is not None:
        if values.get("webhook") is None:
            raise cur.error(
                "WEBHOOK_BODY_TEMPLATE needs a webhook: WEBHOOK = (url = '<url>', ...)",
                at=spans.get("webhook_body_template"),
                expected=["WEBHOOK = (url = '<url>')"],
                code="INVALID_VALUE",
                cls=ValidationError,
            )
        values["webhook"] = dataclasses.replace(values["webhook"], body_template=template)
    definition = IntegrationDef(
        name=name,
        type=values.get("type", "WEBHOOK"),
        enabled=values.get("enabled", True),
        webhook=values.get("webhook"),
        comment=values.get("comment"),
        webhook_secret=secret,
    )
    return CreateIntegration(
        span=cur.statement_span,
        text=cur.statement_text,
        spans={"name": span, **spans},
        definition=definition,
        or_replace=prefix.or_replace is not None,
        if_not_exists=if_not_exists,
    )


def _snowflake_webhook(cur: Cursor, values: dict[str, Any], spans: dict[str, Span]) -> None:
    """Snowflake's ``WEBHOOK_URL`` (and ``WEBHOOK_HEADERS``) as the webhook tasksql keeps."""
    url = values.pop("webhook_url", None)
    headers = "webhook_headers" in values
    authorization = values.pop("webhook_headers", None)
    if url is None and not headers:
        return
    if values.get("webhook") is not None or url is None:
        raise cur.error(
            "write the webhook once: WEBHOOK = (url = '...', ...) or Snowflake's WEBHOOK_URL = '...'"
            " [WEBHOOK_HEADERS = (...)]",
            at=spans.get("webhook_url") or spans.get("webhook_headers"),
            expected=["WEBHOOK_URL = '<url>'"],
            code="INVALID_VALUE",
            cls=ValidationError,
        )
    values["webhook"] = Webhook(url=url, authorization_header=authorization)


def parse_alter_integration(cur: Cursor) -> Statement:
    """After ``ALTER NOTIFICATION INTEGRATION``."""
    if_exists = parse_if_exists(cur)
    name, span = parse_integration_name(cur)
    assignments: list[tuple[str, Any]] = []
    unset: list[str] = []
    spans: dict[str, Span] = {"name": span}
    if cur.accept_word("SET"):
        keys = (
            "ENABLED",
            "WEBHOOK",
            "WEBHOOK_BODY_TEMPLATE",
            *_SNOWFLAKE_WEBHOOK_KEYS,
            "COMMENT",
            *_WEBHOOK_KEYS,
        )
        assignments, more = _options(cur, keys, "NOTIFICATION INTEGRATION", _alter_value)
        # Snowflake's WEBHOOK_URL and WEBHOOK_HEADERS are the url and the authorization header (headers
        # without an Authorization leave it as it is: UNSET AUTHORIZATION_HEADER removes it)
        renamed = {"webhook_url": "url", "webhook_headers": "authorization_header"}
        assignments = [
            (renamed.get(k, k), v) for k, v in assignments if not (k == "webhook_headers" and v is None)
        ]
        # SET WEBHOOK = (...) patches the fields it names (Databend): one assignment per field, the
        # last one written winning (WEBHOOK = (url = 'a') URL = 'b' sets b)
        patch: dict[str, Any] = {}
        for key, value in assignments:
            if key == "webhook" and not value:
                raise cur.error(
                    "SET WEBHOOK = () changes nothing: name the fields to change",
                    at=more.get("webhook"),
                    expected=[f"{k.lower()} = <value>" for k in _WEBHOOK_KEYS],
                    code="INVALID_VALUE",
                    cls=ValidationError,
                )
            for field, v in value if key == "webhook" else [(key, value)]:
                patch.pop(field, None)
                patch[field] = v
        assignments = list(patch.items())
        spans.update(more)
        if not assignments:
            raise cur.error(
                "expected an option to SET", at=cur.peek(), expected=[f"{k} = <value>" for k in keys]
            )
    elif cur.accept_word("UNSET"):
        unset = _unset_list(cur, _INTEGRATION_UNSET, "NOTIFICATION INTEGRATION")
    else:
        raise cur.unexpected(["SET", "UNSET"], "in ALTER NOTIFICATION INTEGRATION")
    expect_end(cur)
    return AlterIntegration(
        span=cur.statement_span,
        text=cur.statement_text,
        spans=spans,
        name=name,
        assignments=tuple(assignments),
        unset=tuple(unset),
        if_exists=if_exists,
    )


def _unset_list(cur: Cursor, keys: tuple[str, ...], what: str) -> list[str]:
    out: list[str] = []
    while True:
        tok = cur.peek()
        if tok is None or tok.kind is not TokenKind.WORD:
            raise cur.error(
                f"expected an option to UNSET, found {describe(tok)}", at=tok, expected=list(keys)
            )
        if tok.upper not in keys:
            raise _unknown(cur, tok, keys, what)
        if tok.text.lower() in out:
            raise duplicate(cur, tok.upper, tok)
        cur.pos += 1
        out.append(tok.text.lower())
        if not cur.accept(","):
            return out


def parse_drop_integration(cur: Cursor) -> Statement:
    if_exists = parse_if_exists(cur)
    name, span = parse_integration_name(cur)
    expect_end(cur)
    return DropIntegration(
        span=cur.statement_span, text=cur.statement_text, spans={"name": span}, name=name, if_exists=if_exists
    )


def parse_describe_integration(cur: Cursor) -> Statement:
    name, span = parse_integration_name(cur)
    expect_end(cur)
    return DescribeIntegration(
        span=cur.statement_span, text=cur.statement_text, spans={"name": span}, name=name
    )


def _like(cur: Cursor) -> str | None:
    like = parse_string(cur, "a LIKE pattern") if cur.accept_word("LIKE") else None
    expect_end(cur, [] if like is not None else ["LIKE"])
    return like


def parse_show_integrations(cur: Cursor) -> Statement:
    return ShowIntegrations(span=cur.statement_span, text=cur.statement_text, like=_like(cur))


# --- warehouses ----------------------------------------------------------------------------------


def _warehouse_value(cur: Cursor, key: str) -> Any:
    if key == "TYPE":
        tok = parse_word_or_string(cur, "a warehouse type")
        value = _WAREHOUSE_ALIASES.get(tok.text.upper(), tok.text.lower())
        choices = tuple(t.value for t in WarehouseType)
        if value not in choices:
            raise cur.error(
                f"unknown warehouse TYPE {tok.text!r}; expected one of {', '.join(choices)}",
                at=tok,
                expected=list(choices),
                code="INVALID_VALUE",
                cls=ValidationError,
            )
        return WarehouseType(value)
    if key == "MAX_CONCURRENCY":
        return parse_int(cur, "MAX_CONCURRENCY", minimum=1)
    if key == "ROLE_MAPPING":
        return _role_mapping(cur)
    if key == "PASSWORD":
        return _password_source(cur)
    return parse_string(cur, f"a string for {key}")


def _password_source(cur: Cursor) -> PasswordSource:
    """``ENV '<variable>'`` or ``FILE '<path>'``: where the password is read; a literal password is
    refused (it would be stored as written)."""
    source = cur.accept_word("ENV", "FILE")
    if source is None:
        raise cur.error(
            "PASSWORD takes ENV '<variable>' or FILE '<path>' (a password written here would be stored"
            " in the catalog as written)",
            at=cur.peek(),
            expected=["ENV '<variable>'", "FILE '<path>'"],
            code="INVALID_VALUE",
            cls=ValidationError,
        )
    tok = cur.peek()
    name = parse_string(cur, f"a string after PASSWORD = {source.text.upper()}")
    if not name.strip():
        raise cur.error(
            "PASSWORD names no variable or file", at=tok, code="INVALID_VALUE", cls=ValidationError
        )
    return PasswordSource(source.text.upper(), name.strip())


def _password_in_url(
    cur: Cursor, pairs: list[tuple[str, Any]], spans: dict[str, Span]
) -> list[tuple[str, Any]]:
    """CREATE: ``PASSWORD = ...`` is kept in the URL as its option (see
    :mod:`tasksql.model.password_source`), so it needs a ``scheme://`` URL beside it."""
    values = dict(pairs)
    found = values.pop("password", None)
    if found is None:
        return pairs
    kind = values.get("type", WarehouseType.DUCKDB)
    if kind.value not in PASSWORD_TYPES:
        raise cur.error(
            f"TYPE = {kind.value} has no password (PASSWORD is for {', '.join(PASSWORD_TYPES)} warehouses)",
            at=spans["password"],
            code="INVALID_VALUE",
            cls=ValidationError,
        )
    url = with_reference(values.get("url") or "", found.option, found.name)
    if url is None:
        raise cur.error(
            "PASSWORD needs a URL of the form scheme://user@host/database beside it",
            at=spans.get("url", spans["password"]),
            code="INVALID_URL",
            cls=ValidationError,
        )
    return [(k, url if k == "url" else v) for k, v in pairs if k != "password"]


def _role_mapping(cur: Cursor) -> tuple[tuple[str, str], ...]:
    """``( <role> = '<database role>' [, ...] )``: tasksql roles (a name or a string, stored as
    :func:`canonical_role` folds them) paired with database roles (kept exactly); ``()`` is none."""
    cur.expect("(")
    out: dict[str, str] = {}
    while not cur.accept(")"):
        if out:
            cur.expect(",")
        tok = parse_word_or_string(cur, "a tasksql role")
        role = canonical_role(tok.text)
        if role in out:
            raise duplicate(cur, role, tok)
        cur.expect("=")
        db_tok = parse_word_or_string(cur, "a database role")
        if not db_tok.text.strip():
            raise cur.error(
                "a database role cannot be empty", at=db_tok, code="INVALID_VALUE", cls=ValidationError
            )
        out[role] = db_tok.text
    return tuple(out.items())


def _path_as_url(cur: Cursor, pairs: list[tuple[str, Any]], spans: dict[str, Span]) -> list[tuple[str, Any]]:
    """``PATH = '...'`` (a directory for embedded warehouses) is kept as the URL; not both."""
    if "path" not in spans:
        return pairs
    if "url" in spans:
        raise cur.error(
            "give URL or PATH, not both", at=spans["path"], code="DUPLICATE_CLAUSE", cls=ValidationError
        )
    spans["url"] = spans.pop("path")
    return [("url" if key == "path" else key, value) for key, value in pairs]


def parse_create_warehouse(cur: Cursor, prefix: CreatePrefix) -> Statement:
    """After ``CREATE [OR REPLACE] WAREHOUSE``."""
    reject_or_alter(cur, prefix, "warehouses")
    if_not_exists = parse_if_not_exists(cur, prefix)
    name, span = parse_simple_name(cur, "warehouse name")
    cur.accept_word("WITH")
    pairs, spans = _options(cur, _WAREHOUSE_KEYS, "WAREHOUSE", _warehouse_value)
    expect_end(cur)
    pairs = _password_in_url(cur, _path_as_url(cur, pairs, spans), spans)
    definition = WarehouseDef(name=name, **dict(pairs))
    return CreateWarehouse(
        span=cur.statement_span,
        text=cur.statement_text,
        spans={"name": span, **spans},
        definition=definition,
        or_replace=prefix.or_replace is not None,
        if_not_exists=if_not_exists,
    )


def parse_alter_warehouse(cur: Cursor) -> Statement:
    if_exists = parse_if_exists(cur)
    name, span = parse_simple_name(cur, "warehouse name")
    cur.expect("SET")
    pairs, spans = _options(cur, _WAREHOUSE_KEYS, "WAREHOUSE", _warehouse_value)
    pairs = _path_as_url(cur, pairs, spans)
    if not pairs:
        raise cur.error(
            "expected an option to SET", at=cur.peek(), expected=[f"{k} = <value>" for k in _WAREHOUSE_KEYS]
        )
    expect_end(cur)
    return AlterWarehouse(
        span=cur.statement_span,
        text=cur.statement_text,
        spans={"name": span, **spans},
        name=name,
        assignments=tuple(pairs),
        if_exists=if_exists,
    )


def parse_drop_warehouse(cur: Cursor) -> Statement:
    if_exists = parse_if_exists(cur)
    name, span = parse_simple_name(cur, "warehouse name")
    expect_end(cur)
    return DropWarehouse(
        span=cur.statement_span, text=cur.statement_text, spans={"name": span}, name=name, if_exists=if_exists
    )


def parse_show_warehouses(cur: Cursor) -> Statement:
    return ShowWarehouses(span=cur.statement_span, text=cur.statement_text, like=_like(cur))
