"""What a ClickHouse warehouse needs besides its driver: the URL, error codes and types.

Kept apart from :mod:`.clickhouse` so that it imports no driver: the registry reads URLs with it
before clickhouse-driver is known to be installed, and every function here is pure.

* :func:`parse_url` reads ``clickhouse://user:password@host:9000/database?option=value`` (the
  native protocol) into a :class:`ClickHouseTarget`;
* :func:`sqlstate` maps a server error code to the SQLSTATE the rest of tasksql keys on (the
  PostgreSQL spelling: ``42P01`` no such table, ``57014`` interrupted, ...);
* :func:`error_text` makes a server's message one line (no stack trace, no password);
* :func:`arrow_columns` names the ClickHouse type of each column of an Arrow table (the extra
  relations a body reads, rows written by INTO from another warehouse).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tasksql.errors import WarehouseError

#: URL schemes of a ClickHouse warehouse: the native protocol (``clickhouses``: over TLS) and the
#: HTTP interface (``https``: over TLS).
SCHEMES = frozenset({"clickhouse", "clickhouses", "http", "https"})
#: The schemes of the HTTP interface.
HTTP_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORT = 9000
DEFAULT_SECURE_PORT = 9440
DEFAULT_HTTP_PORT = 8123
DEFAULT_HTTPS_PORT = 8443
#: Seconds to wait for the server when connecting, unless the URL says ``connect_timeout``.
CONNECT_TIMEOUT = 10.0
#: Options a ``clickhouse://`` URL accepts.
URL_OPTIONS = ("connect_timeout", "compression")
_COMPRESSION = ("lz4", "zstd", "none")


@dataclass(frozen=True, kw_only=True, slots=True)
class ClickHouseTarget:
    """Where a ClickHouse warehouse connects (from its URL)."""

    host: str
    port: int
    user: str
    password: str | None
    database: str
    secure: bool = False
    connect_timeout: float = CONNECT_TIMEOUT
    compression: str | None = None
    #: Reached over the HTTP interface (``http://``, ``https://``) instead of the native protocol.
    http: bool = False

    def client_args(self) -> dict[str, Any]:
        """Keyword arguments of ``clickhouse_driver.Client``."""
        args: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user or "default",
            "password": self.password or "",
            "database": self.database,
            "secure": self.secure,
            "connect_timeout": self.connect_timeout,
            "client_name": "tasksql",
        }
        if self.compression:
            args["compression"] = self.compression
        return args


def _bad(url_shown: str, why: str) -> WarehouseError:
    return WarehouseError(f"invalid ClickHouse URL {url_shown}: {why}", code="INVALID_URL")


def parse_url(url: str, shown: str) -> ClickHouseTarget:
    """Read a ``clickhouse://`` (or ``clickhouses://``, TLS) URL of the native protocol, or an
    ``http://`` (``https://``) URL of the HTTP interface; ``shown`` is the URL as it may be printed.
    The database defaults to ``default``; the port to 9000, 9440, 8123 or 8443 by scheme.

    :raises WarehouseError: another scheme, no host, a bad port, an unknown or repeated option, a
        bad option value (``compression`` over HTTP) (code ``INVALID_URL``); the password never
        appears in the message.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise _bad(shown, "it does not parse (a bad port?)") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise _bad(
            shown,
            f"expected clickhouse://user@host:{DEFAULT_PORT}/database or"
            f" http://user@host:{DEFAULT_HTTP_PORT}/database, not {scheme or 'no'}:",
        )
    database = unquote(parts.path.lstrip("/")) or "default"
    if "/" in database:
        raise _bad(shown, "the path must be one database name (clickhouse://host:9000/database)")
    if not parts.hostname:
        raise _bad(shown, f"it names no host (clickhouse://user@host:{DEFAULT_PORT}/database)")
    options: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        k = key.strip().lower()
        if k not in URL_OPTIONS:
            raise _bad(shown, f"unknown option {key!r} (known: {', '.join(URL_OPTIONS)})")
        if k in options:
            raise _bad(shown, f"option {k} is given twice")
        options[k] = value.strip()
    timeout = CONNECT_TIMEOUT
    if "connect_timeout" in options:
        try:
            timeout = float(options["connect_timeout"])
        except ValueError:
            timeout = -1.0
        if not 0 < timeout <= 3600:
            raise _bad(shown, "connect_timeout must be a number of seconds between 0 and 3600")
    compression = options.get("compression", "none").lower()
    if compression not in _COMPRESSION:
        raise _bad(shown, f"compression must be one of {', '.join(_COMPRESSION)}")
    http = scheme in HTTP_SCHEMES
    if http and compression != "none":
        raise _bad(shown, "compression is an option of the native protocol (clickhouse://), not of HTTP")
    secure = scheme in ("clickhouses", "https")
    if http:
        default_port = DEFAULT_HTTPS_PORT if secure else DEFAULT_HTTP_PORT
    else:
        default_port = DEFAULT_SECURE_PORT if secure else DEFAULT_PORT
    return ClickHouseTarget(
        host=parts.hostname,
        port=port or default_port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password) if parts.password is not None else None,
        database=database,
        secure=secure,
        connect_timeout=timeout,
        compression=None if compression == "none" else compression,
        http=http,
    )


def quote(name: str) -> str:
    """``name`` as a ClickHouse identifier (double quotes; backslashes escaped as ClickHouse reads them)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def string_literal(text: str) -> str:
    """``text`` as a ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


# --- errors --------------------------------------------------------------------------------------

#: Server error codes -> the SQLSTATE tasksql uses (PostgreSQL's spelling, as the other backends).
_SQLSTATE: dict[int, str] = {
    62: "42601",  # syntax error
    60: "42P01",  # unknown table
    81: "3F000",  # unknown database
    47: "42703",  # unknown identifier
    16: "42703",  # no such column in table
    46: "42883",  # unknown function
    42: "42883",  # number of arguments does not match
    57: "42P07",  # table already exists
    82: "42P06",  # database already exists
    43: "42804",  # illegal type of argument
    53: "42804",  # type mismatch
    386: "42804",  # no common type
    6: "22P02",  # cannot parse text
    27: "22P02",  # cannot parse input
    38: "22007",  # cannot parse date
    41: "22007",  # cannot parse datetime
    70: "22P02",  # cannot convert type
    69: "22003",  # argument out of bound
    153: "22012",  # illegal division
    115: "42704",  # unknown setting
    164: "25006",  # readonly
    497: "42501",  # access denied
    192: "28P01",  # unknown user
    193: "28P01",  # wrong password
    516: "28P01",  # authentication failed
    394: "57014",  # query was cancelled (KILL QUERY)
    159: "57014",  # timeout exceeded (max_execution_time)
    209: "08006",  # socket timeout
    210: "08006",  # network error
    48: "0A000",  # not implemented
}


def sqlstate(code: int) -> str | None:
    """The SQLSTATE for a ClickHouse error code (None when tasksql does not know it)."""
    return _SQLSTATE.get(code)


_PREFIX = re.compile(r"^(?:Code:\s*\d+\.?\s*)?(?:DB::Exception:\s*)?")


def error_text(code: int, message: str, secret: str | None) -> str:
    """A one-line message from a server exception's text: the stack trace and the ``DB::Exception``
    prefix cut off, the error code named once, ``secret`` hidden."""
    text = message.split("Stack trace:", 1)[0]
    text = _PREFIX.sub("", " ".join(text.split())).rstrip(" .") or "error"
    if secret:
        text = text.replace(secret, "***")
    return f"{text} (ClickHouse error {code})" if code else text


# --- Arrow tables as ClickHouse columns ----------------------------------------------------------


def clickhouse_type(t: Any, *, nullable: bool = True) -> str:
    """The ClickHouse type that holds values of the Arrow type ``t`` (``Nullable(...)`` when
    ``nullable``: Arrow columns may hold nulls, ClickHouse columns only when declared so)."""
    import pyarrow.types as pat

    if pat.is_dictionary(t):
        return clickhouse_type(t.value_type, nullable=nullable)
    base: str | None = None
    if pat.is_decimal(t):
        base = f"Decimal({t.precision}, {t.scale})" if t.precision <= 38 else "Float64"
    elif pat.is_timestamp(t):
        base = "DateTime"  # tz-aware values are written as UTC; whole seconds on old servers
    elif pat.is_list(t) or pat.is_large_list(t):
        return f"Array({clickhouse_type(t.value_type, nullable=nullable)})"
    checks: list[tuple[Callable[[Any], bool], str]] = [
        (pat.is_boolean, "UInt8"),
        (pat.is_int8, "Int8"),
        (pat.is_int16, "Int16"),
        (pat.is_int32, "Int32"),
        (pat.is_int64, "Int64"),
        (pat.is_uint8, "UInt8"),
        (pat.is_uint16, "UInt16"),
        (pat.is_uint32, "UInt32"),
        (pat.is_uint64, "UInt64"),
        (pat.is_floating, "Float64"),
        (pat.is_date, "Date"),
    ]
    if base is None:
        base = next((name for check, name in checks if check(t)), "String")
    return f"Nullable({base})" if nullable else base


def arrow_columns(table: Any) -> list[tuple[str, str]]:
    """(column name, ClickHouse type) for each column of the Arrow ``table``."""
    return [(f.name, clickhouse_type(f.type)) for f in table.schema]


def _text(v: Any) -> Any:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, list | dict | tuple):
        import json

        return json.dumps(v, default=str)
    return str(v)


def column_values(column: Any, ch_type: str) -> list[Any]:
    """The values of the Arrow array ``column`` as clickhouse-driver takes them for ``ch_type``."""
    values = column.to_pylist()
    inner = (
        ch_type.removeprefix("Nullable(").removesuffix(")") if ch_type.startswith("Nullable(") else ch_type
    )
    if inner == "String":
        return [_text(v) for v in values]
    if inner.startswith("Array("):
        return [[] if v is None else v for v in values]  # an Array cannot be NULL: empty instead
    if inner == "UInt8":
        return [int(v) if isinstance(v, bool) else v for v in values]
    if inner == "DateTime":
        from datetime import UTC

        return [v.astimezone(UTC).replace(tzinfo=None) if v is not None and v.tzinfo else v for v in values]
    return list(values)


# --- INSERT ... VALUES ---------------------------------------------------------------------------

#: Rows of an ``INSERT ... VALUES`` sent as one ``INSERT ... SELECT``.
VALUES_CHUNK = 1000


def inline_insert(sql: str) -> tuple[list[str], int] | None:
    """An INSERT whose rows are written in the statement itself, as statements the native protocol
    can run: ``INSERT INTO t [(cols)] VALUES (r1), (r2)`` becomes ``INSERT INTO t [(cols)] SELECT r1
    UNION ALL SELECT r2`` (:data:`VALUES_CHUNK` rows per statement; ClickHouse converts each value
    to its column's type), with the number of rows. None for every other statement.

    Over the native protocol the server reads an INSERT's rows from the client, not from the text
    (a text with ``VALUES`` would make it wait for rows that never come).

    :raises QueryFailed: an INSERT with inline data in another format (``FORMAT CSV ...``), or
        ``VALUES`` followed by something other than rows (code ``NOT_SUPPORTED``, ``42601``).
    """
    from sqlglot import TokenType

    from tasksql.errors import QueryFailed
    from tasksql.warehouses._sqltext import tokens

    toks = tokens(sql, "clickhouse")
    if not toks or toks[0].token_type != TokenType.INSERT:
        return None
    while toks and toks[-1].token_type == TokenType.SEMICOLON:
        toks.pop()
    depth, at = 0, None
    for i, t in enumerate(toks):
        if t.token_type == TokenType.L_PAREN:
            depth += 1
        elif t.token_type == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and t.token_type in (TokenType.SELECT, TokenType.WITH):
            return None  # INSERT ... SELECT: the server computes the rows
        elif depth == 0 and t.token_type == TokenType.VALUES:
            at = i
            break
    if at is None:
        raise QueryFailed(
            "an INSERT with rows in another format than VALUES cannot be sent over ClickHouse's native"
            " protocol: write INSERT ... VALUES (...) or INSERT ... SELECT",
            code="NOT_SUPPORTED",
            sqlstate="0A000",
        )
    head = sql[: toks[at].start]
    rows: list[str] = []
    i = at + 1
    while i < len(toks):
        if toks[i].token_type != TokenType.L_PAREN:
            raise QueryFailed(
                f"expected a row (...) after VALUES, not {toks[i].text!r}", code="SYNTAX", sqlstate="42601"
            )
        depth, j = 0, i
        while j < len(toks):
            if toks[j].token_type == TokenType.L_PAREN:
                depth += 1
            elif toks[j].token_type == TokenType.R_PAREN:
                depth -= 1
                if depth == 0:
                    break
            j += 1
        if j == len(toks):
            raise QueryFailed(
                "a row after VALUES has no closing parenthesis", code="SYNTAX", sqlstate="42601"
            )
        rows.append(sql[toks[i].end + 1 : toks[j].start])
        i = j + 1
        if i < len(toks) and toks[i].token_type == TokenType.COMMA:
            i += 1
    statements = [
        head + "SELECT " + "\nUNION ALL SELECT ".join(rows[k : k + VALUES_CHUNK])
        for k in range(0, len(rows), VALUES_CHUNK)
    ]
    return statements, len(rows)
