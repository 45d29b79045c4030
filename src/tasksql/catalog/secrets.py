"""The catalog contract for secret objects (:class:`SecretCatalog`, :mod:`tasksql.model.secret`).

Secrets are keyed by their resolved name (database, schema and name). A secret whose value is
written in ``SECRET_STRING`` is stored as written: the catalog is then where it is kept (grant
access to the ``secrets`` table with care; ``ENV`` and ``FILE`` secrets keep only a variable's name
or a path). Every write is one durable transaction that advances the change sequence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from tasksql.model import QualifiedName
from tasksql.model.secret import SecretDef, SecretRecord


class SecretCatalog(ABC):
    """See the module."""

    @abstractmethod
    async def put_secret(self, definition: SecretDef, *, replace: bool, now: datetime) -> None:
        """Create a secret, or with ``replace`` overwrite an existing one of that name (keeping its
        ``created_on``, setting ``last_altered_on`` = ``now``).

        :raises ObjectExists: (code ``SECRET_EXISTS``) it exists and not ``replace``.
        :raises CatalogError: (code ``NAME_NOT_RESOLVED``) the name lacks its database or schema.
        """

    @abstractmethod
    async def get_secret(self, name: QualifiedName) -> SecretRecord | None:
        """The secret with this resolved name, or ``None``."""

    @abstractmethod
    async def list_secrets(self) -> list[SecretRecord]:
        """Every secret, ordered by name."""

    @abstractmethod
    async def drop_secret(self, name: QualifiedName) -> bool:
        """Delete a secret; ``False`` if it did not exist. Integrations that name it keep the name
        (their sends then fail until it exists again)."""
