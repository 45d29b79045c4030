"""The catalog's objects beside tasks: warehouses (where SQL runs) and notification integrations
(where run notifications are delivered). Frozen values; secrets never appear in ``repr``."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from tasksql.display import mask_url
from tasksql.model.task import QualifiedName


@dataclass(frozen=True, slots=True, kw_only=True)
class Webhook:
    """Where and how a notification is delivered. The secrets (the header, the signing secret and
    the credentials in the URL) never appear in ``repr``."""

    url: str
    method: str = "POST"
    authorization_header: str | None = field(default=None, repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    #: ``WEBHOOK_BODY_TEMPLATE`` (:mod:`tasksql.model.webhook_template`); None: the payload as is.
    body_template: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"Webhook(url={mask_url(self.url)!r}, method={self.method!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class IntegrationDef:
    """A notification integration (``CREATE NOTIFICATION INTEGRATION``); names are lower case.

    ``webhook_secret``: Snowflake's ``WEBHOOK_SECRET``, the secret object (:mod:`tasksql.model.secret`)
    whose value the webhook puts in place of ``SNOWFLAKE_WEBHOOK_SECRET`` when it sends; resolved
    (database, schema, name) once stored, as written in a parsed statement.
    """

    name: str
    type: str = "WEBHOOK"
    enabled: bool = True
    webhook: Webhook | None = None
    comment: str | None = None
    webhook_secret: QualifiedName | None = None


class WarehouseType(StrEnum):
    DUCKDB = "duckdb"
    POSTGRES = "postgres"
    SQLITE = "sqlite"
    MYSQL = "mysql"
    CLICKHOUSE = "clickhouse"
    CHDB = "chdb"


@dataclass(frozen=True, slots=True, kw_only=True)
class WarehouseDef:
    """A named place where SQL runs. No ``url`` with type duckdb means the embedded default DuckDB."""

    name: str
    type: WarehouseType = WarehouseType.DUCKDB
    url: str | None = None
    max_concurrency: int | None = None
    comment: str | None = None
    #: (tasksql role, database role) pairs, tasksql roles in lower case: with security on, a run of
    #: a task owned by one of these roles executes as its database role (PostgreSQL ``SET ROLE``,
    #: MySQL/MariaDB ``SET ROLE``); see :mod:`tasksql.warehouses.role_mapping`.
    role_mapping: tuple[tuple[str, str], ...] = ()

    @property
    def embedded(self) -> bool:
        return self.type is WarehouseType.DUCKDB and self.url is None

    def __repr__(self) -> str:
        from urllib.parse import urlsplit

        url = self.url
        if url and urlsplit(url).password:
            parts = urlsplit(url)
            url = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()
        return (
            f"WarehouseDef(name={self.name!r}, type={self.type.value!r}, url={url!r}, "
            f"max_concurrency={self.max_concurrency!r}, comment={self.comment!r}, "
            f"role_mapping={self.role_mapping!r})"
        )
