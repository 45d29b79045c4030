"""Canonical SQL of the secret statements (:mod:`tasksql.sql.parse_secret`), read back by the
parser to equal statements.

A literal ``SECRET_STRING`` is printed as written: :func:`~tasksql.sql.render.render` gives the
statement back to the one who wrote it (the fixtures' round trip). Nothing that shows a stored
secret prints it: SHOW SECRETS and DESCRIBE SECRET say where the value is read, never the value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tasksql.model.secret import SecretSource, SecretString
from tasksql.sql import statements as st
from tasksql.sql.names import quote_string, render_name


def _secret_string(value: SecretString) -> str:
    if value.source is SecretSource.STRING:
        return quote_string(value.value)
    return f"{value.source.value} {quote_string(value.value)}"


def _value(key: str, value: Any) -> str:
    return _secret_string(value) if isinstance(value, SecretString) else quote_string(str(value))


def _create_secret(s: st.CreateSecret) -> str:
    head = "CREATE OR REPLACE SECRET" if s.or_replace else "CREATE SECRET"
    if s.if_not_exists:
        head += " IF NOT EXISTS"
    value = _secret_string(s.secret_string)
    out = f"{head} {render_name(s.name)} TYPE = GENERIC_STRING SECRET_STRING = {value}"
    if s.comment is not None:
        out += f" COMMENT = {quote_string(s.comment)}"
    return out


def _alter_secret(s: st.AlterSecret) -> str:
    head = "ALTER SECRET IF EXISTS" if s.if_exists else "ALTER SECRET"
    head += f" {render_name(s.name)}"
    if s.assignments:
        return f"{head} SET " + " ".join(f"{k.upper()} = {_value(k, v)}" for k, v in s.assignments)
    return f"{head} UNSET " + ", ".join(k.upper() for k in s.unset)


def _drop_secret(s: st.DropSecret) -> str:
    return f"DROP SECRET{' IF EXISTS' if s.if_exists else ''} {render_name(s.name)}"


def _show_secrets(s: st.ShowSecrets) -> str:
    return "SHOW SECRETS" + (f" LIKE {quote_string(s.like)}" if s.like is not None else "")


SECRET_RENDERERS: dict[type[st.Statement], Callable[[Any], str]] = {
    st.CreateSecret: _create_secret,
    st.AlterSecret: _alter_secret,
    st.DropSecret: _drop_secret,
    st.DescribeSecret: lambda s: f"DESCRIBE SECRET {render_name(s.name)}",
    st.ShowSecrets: _show_secrets,
}
