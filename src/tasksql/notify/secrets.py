"""The value of a notification integration's ``WEBHOOK_SECRET``, read when a message is sent.

A secret (:mod:`tasksql.model.secret`) is read from the catalog at each attempt, so an ``ALTER
SECRET`` or a new value in its file counts from the next attempt on:

* ``STRING``: the value the catalog keeps;
* ``ENV``: the environment variable of the process that sends (the node's dispatcher);
* ``FILE``: the file's contents without a final line break (a relative path is taken from the data
  directory).

A secret that does not exist (dropped after the integration named it, as Snowflake allows), a
variable that is not set or a file that cannot be read fails the attempt with a message naming
the integration, the secret and the fix, never a value; the attempt is retried with the usual
backoff, so fixing it in time delivers the message.
"""

from __future__ import annotations

import os
from pathlib import Path

from tasksql.catalog.base import Catalog
from tasksql.model import IntegrationDef
from tasksql.model.secret import SecretSource
from tasksql.notify.webhook import WebhookFailed


async def secret_value(catalog: Catalog, integration: IntegrationDef, data_dir: Path | None) -> str | None:
    """The value of ``integration``'s WEBHOOK_SECRET (None when it names none).

    :raises WebhookFailed: (retryable) the secret cannot be read; see the module.
    """
    name = integration.webhook_secret
    if name is None:
        return None
    shown = ".".join(name.parts)
    where = f"notification integration {integration.name}: its WEBHOOK_SECRET {shown}"
    rec = await catalog.get_secret(name)
    if rec is None:
        raise WebhookFailed(
            f"{where} does not exist (dropped?); CREATE SECRET {shown} TYPE = GENERIC_STRING SECRET_STRING ="
            f" ..., or ALTER NOTIFICATION INTEGRATION {integration.name} SET WEBHOOK_SECRET = <secret>",
            retryable=True,
        )
    secret = rec.definition.secret_string
    if secret.source is SecretSource.STRING:
        return secret.value
    if secret.source is SecretSource.ENV:
        value = os.environ.get(secret.value)
        if value is None:
            raise WebhookFailed(
                f"{where} is read from the environment variable {secret.value}, which is not set in this"
                " tasksql process; set it where tasksql runs (or ALTER SECRET ... SET SECRET_STRING)",
                retryable=True,
            )
        return value
    path = Path(secret.value).expanduser()
    if not path.is_absolute() and data_dir is not None:
        path = data_dir / path
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else type(err).__name__
        raise WebhookFailed(
            f"{where} is read from the file {path}, which cannot be read ({reason})", retryable=True
        ) from None
