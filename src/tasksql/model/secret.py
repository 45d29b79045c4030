"""Secret objects (Snowflake's ``CREATE SECRET ... TYPE = GENERIC_STRING``) and the placeholder a
webhook writes where a secret's value goes.

A secret is a schema object, named ``database.schema.name`` as a task is (unqualified names resolve
in the caller's database and schema). Its value comes from one of three sources:

* ``STRING``: ``SECRET_STRING = '<value>'``, kept in the catalog as written (as Snowflake keeps it,
  and as pg_cron or Airflow connections keep theirs), so that every node can send with it;
* ``ENV``: ``SECRET_STRING = ENV '<variable>'``, the catalog keeps the variable's name;
* ``FILE``: ``SECRET_STRING = FILE '<path>'``, the catalog keeps the path (relative: from the data
  directory).

A notification integration with ``WEBHOOK_SECRET = <secret>`` puts the value in place of
:data:`PLACEHOLDER` in its URL, its Authorization header and its body template when it sends
(:func:`substituted`, :func:`redacted`). The value never appears in ``repr``, SHOW, DESCRIBE, the
API, logs or error messages; these are pure functions.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from urllib.parse import quote

from tasksql.model.objects import Webhook
from tasksql.model.task import QualifiedName

#: The word a webhook's URL, Authorization header or body template writes where the secret goes.
PLACEHOLDER = "SNOWFLAKE_WEBHOOK_SECRET"
#: The one TYPE of secret tasksql has.
GENERIC_STRING = "GENERIC_STRING"
#: How a secret's value is shown wherever it would be printed.
MASK = "********"


class SecretSource(StrEnum):
    """Where a secret's value is read: the catalog itself, an environment variable, a file."""

    STRING = "STRING"
    ENV = "ENV"
    FILE = "FILE"


@dataclass(frozen=True, slots=True)
class SecretString:
    """``SECRET_STRING = '<value>'`` (source STRING: ``value`` is the secret), ``= ENV '<var>'``
    or ``= FILE '<path>'`` (``value`` is the variable's name or the path)."""

    source: SecretSource
    value: str = field(repr=False)

    def __repr__(self) -> str:
        shown = MASK if self.source is SecretSource.STRING else repr(self.value)
        return f"SecretString({self.source.value}, {shown})"

    @property
    def where(self) -> str:
        """Where the value is read, for DESCRIBE and SHOW (never the value itself)."""
        if self.source is SecretSource.ENV:
            return f"environment variable {self.value}"
        if self.source is SecretSource.FILE:
            return f"file {self.value}"
        return "catalog"


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretDef:
    """A secret object. ``name`` is resolved (database, schema and name); ``owner`` is the role
    that owns it (with security off: the user who made it, as a task's owner)."""

    name: QualifiedName
    secret_string: SecretString
    type: str = GENERIC_STRING
    owner: str = ""
    comment: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretRecord:
    """A stored secret: its definition and when it was created and last changed."""

    definition: SecretDef
    created_on: datetime
    last_altered_on: datetime


def mentions_placeholder(webhook: Webhook) -> bool:
    """Whether the webhook writes :data:`PLACEHOLDER` anywhere a secret is put."""
    texts = (webhook.url, webhook.authorization_header or "", webhook.body_template or "")
    return any(PLACEHOLDER in text for text in texts)


def substituted(webhook: Webhook, value: str) -> Webhook:
    """``webhook`` with :data:`PLACEHOLDER` replaced by ``value`` in its URL and Authorization
    header. The body template is left as it is: the body is rendered with the value by
    :func:`tasksql.model.webhook_template.render` (inside JSON strings, escaped)."""
    header = webhook.authorization_header
    return dataclasses.replace(
        webhook,
        url=webhook.url.replace(PLACEHOLDER, value),
        authorization_header=header.replace(PLACEHOLDER, value) if header is not None else None,
    )


def redacted(text: str, value: str | None) -> str:
    """``text`` with every occurrence of the secret ``value`` masked (a receiver's error answer
    may echo what it was sent)."""
    if not value:
        return text
    # as sent, as JSON writes it inside a string, and as a URL quotes it
    for form in sorted({value, json.dumps(value)[1:-1], quote(value, safe="")}, key=len, reverse=True):
        text = text.replace(form, MASK)
    return text
