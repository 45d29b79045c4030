"""Rows of the ``secrets`` table and :class:`~tasksql.model.secret.SecretRecord` values.

``name`` is the secret's resolved name as its catalog key (database, schema and name joined by
U+001F, :attr:`~tasksql.model.QualifiedName.key`); ``source`` and ``value`` say where the secret is
read: ``STRING`` keeps the secret itself in ``value`` (see docs/security.md), ``ENV`` the name of
an environment variable, ``FILE`` a path.
"""

from __future__ import annotations

from typing import Any

from tasksql.catalog.rows import Row, from_db_time, secret_key
from tasksql.model import QualifiedName
from tasksql.model.secret import SecretDef, SecretRecord, SecretSource, SecretString


def secret_columns(definition: SecretDef) -> dict[str, Any]:
    """The ``secrets`` columns of a definition (without the timestamps)."""
    return {
        "name": secret_key(definition.name),
        "type": definition.type,
        "source": definition.secret_string.source.value,
        "value": definition.secret_string.value,
        "owner": definition.owner,
        "comment": definition.comment,
    }


def secret_record(row: Row) -> SecretRecord:
    """The :class:`SecretRecord` of a ``secrets`` row."""
    definition = SecretDef(
        name=QualifiedName.from_key(row["name"]),
        secret_string=SecretString(SecretSource(row["source"]), row["value"]),
        type=row["type"],
        owner=row["owner"],
        comment=row["comment"],
    )
    return SecretRecord(
        definition=definition,
        created_on=from_db_time(row["created_on"]),
        last_altered_on=from_db_time(row["last_altered_on"]),
    )
