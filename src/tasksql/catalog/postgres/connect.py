"""Reaching a PostgreSQL catalog: its URL, its schema, connections, and errors that name their cause.

Every connection of the catalog is opened by :func:`connect` with the same settings: autocommit
(transactions are begun and ended explicitly), ``search_path`` set to the catalog's schema (the
catalog's SQL names its tables unqualified), ``TimeZone`` UTC, an idle-in-transaction timeout
(:data:`IDLE_IN_TRANSACTION_MS`: a stopped process keeps no lock), and an ``application_name`` so
that ``pg_stat_activity`` shows what the connection is: ``tasksql-catalog`` until the catalog's node
joins a cluster, then that node's fence (:func:`fence_label`, carried by :class:`Label`), so that
another node can end the sessions of a node whose lease ran out while they still hold its row
(:mod:`tasksql.catalog.postgres.cluster`).

psycopg exceptions never leave the ``catalog.postgres`` package: :func:`translate` turns each into
a one-line :class:`~tasksql.errors.CatalogError` whose code says what went wrong (the server cannot
be reached, the login was refused, a privilege is missing, ...). Messages name the catalog by its
URL with the password replaced by ``***``, and the password itself is scrubbed from any text the
server or libpq sent.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from tasksql.errors import CatalogError, ConfigError

#: The schema that holds the catalog's tables unless the setting ``catalog_schema`` names another.
DEFAULT_SCHEMA = "tasksql"

#: Seconds to wait for the server when connecting (unless the URL sets ``connect_timeout``).
CONNECT_TIMEOUT = 10

#: The server ends a session that stays idle inside a transaction this long (milliseconds). A
#: catalog transaction never waits on anything but its own statements, so only a process that
#: stopped mid-transaction (SIGSTOP, a frozen VM, a partition after BEGIN) is ever idle that long,
#: and its row locks (its node row held FOR KEY SHARE by a fenced write, placements locked by a claim)
#: would otherwise keep the other nodes from revoking its lease and taking its tasks over for as long
#: as it stays stopped. Shorter than a node's lease (2.5 s), so the locks are gone when it runs out.
#: It does not start while the server waits for the rest of a pipelined batch (no Sync yet): such
#: sessions are ended by the other nodes' claims (:mod:`tasksql.catalog.postgres.cluster`).
IDLE_IN_TRANSACTION_MS = 2000

#: ``application_name`` of the catalog's connections before its node joins (and of a catalog that
#: is no cluster member).
APPLICATION_NAME = "tasksql-catalog"

#: PostgreSQL keeps this many bytes of an ``application_name`` (NAMEDATALEN - 1).
_NAME_BYTES = 63

_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

#: A connection of the catalog: rows are dicts keyed by column name (what ``catalog.rows`` reads).
Conn = psycopg.Connection[dict[str, Any]]
Cursor = psycopg.Cursor[dict[str, Any]]


def fence_label(schema: str, node_id: str, epoch: int) -> str:
    """The ``application_name`` of the catalog connections of node ``node_id`` under ``epoch``, on
    the catalog in ``schema``: ``tasksql-catalog/<schema>/<epoch>/<node id>``, or
    ``tasksql-catalog/#`` and 24 hex digits of the MD5 of the three when that is not printable
    ASCII or does not fit PostgreSQL's 63 bytes (the server would rewrite or cut it, and it would no
    longer match). The schema keeps two catalogs in one database (whose epochs count apart) apart."""
    label = f"{APPLICATION_NAME}/{schema}/{epoch}/{node_id}"
    if len(label.encode()) <= _NAME_BYTES and _PRINTABLE.match(node_id):
        return label
    key = f"{schema}\0{epoch}\0{node_id}".encode()
    return f"{APPLICATION_NAME}/#{hashlib.md5(key, usedforsecurity=False).hexdigest()[:24]}"


class Label:
    """The ``application_name`` the connections of one catalog object carry now (``text``): set by
    the catalog when its node joins, applied by each connection's user before its next transaction
    (:func:`carry_label`). A catalog object that joins several nodes (tests) carries the last."""

    __slots__ = ("text",)

    def __init__(self) -> None:
        self.text = APPLICATION_NAME


def carry_label(conn: Conn, label: str) -> None:
    """Give ``conn`` (idle, outside a transaction) the ``application_name`` ``label`` when it has
    another: one round trip then, none otherwise (the server reports the value, libpq keeps it)."""
    if conn.info.parameter_status("application_name") != label:
        conn.execute("SELECT set_config('application_name', %s, false)", [label])


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """Where a PostgreSQL catalog lives: the URL as given, the schema, and how to connect.

    ``safe_url`` is the URL with its password replaced by ``***`` (for messages and ``repr``).
    """

    url: str
    schema: str
    safe_url: str
    password: str | None = field(repr=False)
    kwargs: dict[str, Any] = field(repr=False)
    label: Label = field(default_factory=Label, repr=False, compare=False)

    @property
    def channel(self) -> str:
        """The LISTEN/NOTIFY channel on which definition changes of this catalog are announced."""
        return f"{self.schema}_changes"


def parse_target(url: str, schema: str = DEFAULT_SCHEMA) -> Target:
    """Check a ``postgresql://`` URL and a schema name, without connecting.

    :raises ConfigError: the URL does not parse (a typo in an option, a port that is not a number),
        or the schema is not a lower-case identifier.
    """
    safe = redact_url(url)
    if not _SCHEMA_NAME.match(schema):
        raise ConfigError(
            f"catalog schema {schema!r} must be a lower-case identifier (letters, digits, _; at most 63)"
        )
    try:
        info = conninfo_to_dict(url)
    except psycopg.Error as exc:
        password = _password_in(url)
        raise ConfigError(f"invalid catalog URL {safe}: {one_line(exc, password)}") from None
    password = str(info["password"]) if info.get("password") else None
    port = str(info.get("port") or "")
    if port and not all(part.strip().isdigit() for part in port.split(",")):
        raise ConfigError(f"invalid catalog URL {safe}: the port must be a number, not {port!r}")
    idle = f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"
    options = f"-c search_path={schema} -c TimeZone=UTC {idle}"
    if info.get("options"):
        options = f"{info['options']} {options}"
    kwargs: dict[str, Any] = {"autocommit": True, "row_factory": dict_row, "options": options}
    if "application_name" not in info:
        kwargs["application_name"] = APPLICATION_NAME
    if "connect_timeout" not in info:
        kwargs["connect_timeout"] = CONNECT_TIMEOUT
    return Target(url=url, schema=schema, safe_url=safe, password=password, kwargs=kwargs)


def connect(target: Target) -> Conn:
    """A new connection to the catalog's database, configured as the module says.

    :raises CatalogError: the server cannot be reached or refused the login (see :func:`translate`).
    """
    try:
        return open_connection(target)
    except psycopg.Error as exc:
        raise translate(exc, target, "connecting") from None


def open_connection(target: Target) -> Conn:
    """:func:`connect`, raising psycopg's own error (for callers that keep its text as a cause)."""
    conn: Conn = psycopg.connect(target.url, **target.kwargs)
    return conn


def translate(exc: psycopg.Error, target: Target, doing: str) -> CatalogError:
    """The one-line catalog error for a psycopg exception raised while ``doing`` something.

    Codes: ``CATALOG_UNAVAILABLE`` (the server cannot be reached, or the connection was lost),
    ``CATALOG_LOGIN`` (the login was refused, or the database does not exist),
    ``CATALOG_PRIVILEGES`` (the user lacks a privilege the catalog needs),
    ``CONSTRAINT_VIOLATION`` (a CHECK, UNIQUE or FOREIGN KEY constraint refused the change),
    ``CATALOG_ERROR`` otherwise.
    """
    text = one_line(exc, target.password)
    state = exc.sqlstate or ""
    where = f"the PostgreSQL catalog at {target.safe_url}"
    if state in ("28P01", "28000") or _login_refused(text):
        return CatalogError(f"{where} refused the login: {text}", code="CATALOG_LOGIN")
    if state == "3D000" or ("database" in text and "does not exist" in text):
        return CatalogError(f"{where}: {text}", code="CATALOG_LOGIN")
    if state == "42501":
        return CatalogError(
            f"{where}: {text} while {doing}: the catalog's user needs USAGE and CREATE on schema "
            f"{target.schema} (or CREATE on the database to create it) and SELECT, INSERT, UPDATE, "
            "DELETE on its tables",
            code="CATALOG_PRIVILEGES",
        )
    if state.startswith("23"):
        return CatalogError(f"{where} refused the change while {doing}: {text}", code="CONSTRAINT_VIOLATION")
    if isinstance(exc, psycopg.OperationalError) and (not state or state[:2] in ("08", "57")):
        return CatalogError(f"cannot reach {where} while {doing}: {text}", code="CATALOG_UNAVAILABLE")
    return CatalogError(f"{where} failed while {doing}: {text}")


def _login_refused(text: str) -> bool:
    """A login the server refused (libpq reports these without a SQLSTATE)."""
    if "FATAL" not in text:
        return False
    return any(
        what in text
        for what in ("authentication failed", "role ", "pg_hba.conf", "permission denied for database")
    )


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, safe to print or log."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"://[^/@]*@", "://***@", url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        if ":" in userinfo:
            netloc = f"{userinfo.partition(':')[0]}:***@{host}"
    query = re.sub(r"(?i)(^|&)(password=)[^&]*", r"\1\2***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _password_in(url: str) -> str | None:
    """The password of a URL that psycopg could not parse, so that it can be scrubbed anyway."""
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def one_line(exc: BaseException, password: str | None) -> str:
    """The exception's message on one line, without the password."""
    text = str(exc)
    if password:
        text = text.replace(password, "***")  # before the spaces change: a password may hold some
    return " ".join(text.split()) or type(exc).__name__  # one line, one space between words
