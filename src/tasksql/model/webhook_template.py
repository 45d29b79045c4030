"""``WEBHOOK_BODY_TEMPLATE``: the body a notification integration sends, as Databend and Snowflake
write it: a JSON document in which a placeholder stands for the notification's message.

The placeholder is ``DATABEND_WEBHOOK_MESSAGE`` (Databend) or ``SNOWFLAKE_WEBHOOK_MESSAGE``
(Snowflake). Where it appears inside a JSON string value, it is replaced by the message (the
notification's JSON payload as text), escaped as JSON: ``{"text": "alert: DATABEND_WEBHOOK_MESSAGE"}``
sends ``{"text": "alert: {\\"version\\": ...}"}``. A template is checked as Databend checks it: not
empty (``UNSET WEBHOOK_BODY_TEMPLATE`` clears one), at most 64 KiB, one valid JSON value, and the
placeholder never in an object key.

With a secret (``WEBHOOK_SECRET``), ``SNOWFLAKE_WEBHOOK_SECRET`` in a string value is replaced by
the secret's value in the same pass (:func:`render`): a message that happens to contain the word
``SNOWFLAKE_WEBHOOK_SECRET`` is never replaced, and the secret's value is never read as a
placeholder.
"""

from __future__ import annotations

import json
import re
from typing import Any

PLACEHOLDERS = ("DATABEND_WEBHOOK_MESSAGE", "SNOWFLAKE_WEBHOOK_MESSAGE")
#: Where a ``WEBHOOK_SECRET``'s value goes (:data:`tasksql.model.secret.PLACEHOLDER`).
SECRET_PLACEHOLDER = "SNOWFLAKE_WEBHOOK_SECRET"
_ANY = re.compile("|".join((*PLACEHOLDERS, SECRET_PLACEHOLDER)))
#: Databend's limit on a template (its binder's MAX_WEBHOOK_BODY_TEMPLATE_BYTES).
MAX_TEMPLATE_BYTES = 64 * 1024


def template_error(template: str) -> str | None:
    """Why ``template`` cannot be a ``WEBHOOK_BODY_TEMPLATE``; None when it can. The message never
    repeats the template (it may hold a token)."""
    if not template:
        return "WEBHOOK_BODY_TEMPLATE must not be empty; use UNSET WEBHOOK_BODY_TEMPLATE to clear it"
    size = len(template.encode())
    if size > MAX_TEMPLATE_BYTES:
        return f"WEBHOOK_BODY_TEMPLATE is {size} bytes, more than the {MAX_TEMPLATE_BYTES} bytes allowed"
    try:
        value = json.loads(template)
    except (json.JSONDecodeError, RecursionError) as err:
        where = f" (line {err.lineno}, column {err.colno})" if isinstance(err, json.JSONDecodeError) else ""
        why = err.msg if isinstance(err, json.JSONDecodeError) else "nested too deeply"
        return f"WEBHOOK_BODY_TEMPLATE must be one valid JSON value: {why}{where}"
    if _placeholder_in_key(value):
        return "WEBHOOK_BODY_TEMPLATE: a placeholder must not appear in a JSON object key"
    return None


def render(template: str, message: str, secret: str | None = None) -> str:
    """The body ``template`` gives for ``message``: the message placeholders in its string values
    replaced by ``message`` and, with a ``secret``, ``SNOWFLAKE_WEBHOOK_SECRET`` by the secret (both
    JSON-escaped, as part of the string); the rest of the document as written. Without a secret,
    ``SNOWFLAKE_WEBHOOK_SECRET`` stays as written."""

    def one(match: re.Match[str]) -> str:
        word = match.group(0)
        if word == SECRET_PLACEHOLDER:
            return word if secret is None else secret
        return message

    return json.dumps(_fill(json.loads(template), one), ensure_ascii=False, separators=(",", ":"))


def _fill(value: Any, one: Any) -> Any:
    if isinstance(value, str):
        return _ANY.sub(one, value)
    if isinstance(value, list):
        return [_fill(item, one) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, one) for key, item in value.items()}
    return value


def _placeholder_in_key(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_ANY.search(key) is not None or _placeholder_in_key(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_placeholder_in_key(item) for item in value)
    return False
