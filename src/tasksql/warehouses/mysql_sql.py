"""What a MySQL/MariaDB warehouse needs besides its driver: the URL, error codes, types and markers.

Kept apart from :mod:`.mysql` so that it imports no driver: the registry reads URLs with it before
PyMySQL is known to be installed, and every function here is pure.

* :func:`parse_url` reads ``mysql://user:password@host:port/database?option=value`` (or
  ``mariadb://``) into a :class:`MySQLTarget`;
* :func:`sqlstate` maps a server error number to the SQLSTATE the rest of tasksql keys on (the
  PostgreSQL spelling: ``42P01`` no such table, ``57014`` interrupted, ...);
* :func:`column_type` and :func:`arrow_columns` / :func:`arrow_rows` name result types and turn Arrow
  tables into TEMPORARY tables;
* :func:`markable` says which bodies can commit with their completion marker: MySQL commits
  implicitly before and after most DDL, so a body holding such a statement gets no marker.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tasksql.errors import WarehouseError
from tasksql.warehouses import _markers

#: URL schemes of a MySQL/MariaDB warehouse.
SCHEMES = frozenset({"mysql", "mariadb"})
DEFAULT_PORT = 3306
#: Seconds to wait for the server when connecting, unless the URL says ``connect_timeout``.
CONNECT_TIMEOUT = 10.0
#: Options a ``mysql://`` URL accepts.
URL_OPTIONS = ("charset", "connect_timeout", "unix_socket", "ssl_ca")

#: The marker table, in the URL's database (MySQL has no schemas apart from databases, and a login
#: may have no right to create one).
MARKER_TABLE = "tasksql_run_markers"


@dataclass(frozen=True, kw_only=True, slots=True)
class MySQLTarget:
    """Where a MySQL/MariaDB warehouse connects (from its URL)."""

    host: str
    port: int
    user: str
    password: str | None
    database: str
    charset: str = "utf8mb4"
    connect_timeout: float = CONNECT_TIMEOUT
    unix_socket: str | None = None
    ssl_ca: str | None = None

    def connect_args(self) -> dict[str, Any]:
        """Keyword arguments of ``pymysql.connect`` (autocommit on, as every warehouse call starts)."""
        args: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password or "",
            "database": self.database,
            "charset": self.charset,
            "connect_timeout": self.connect_timeout,
            "autocommit": True,
            "program_name": "tasksql",
        }
        if self.unix_socket:
            args["unix_socket"] = self.unix_socket
        if self.ssl_ca:
            args["ssl"] = {"ca": self.ssl_ca}
        return args


def _bad(url_shown: str, why: str) -> WarehouseError:
    return WarehouseError(f"invalid MySQL URL {url_shown}: {why}", code="INVALID_URL")


def parse_url(url: str, shown: str) -> MySQLTarget:
    """Read a ``mysql://`` or ``mariadb://`` URL; ``shown`` is the URL as it may be printed.

    :raises WarehouseError: another scheme, no host or database, a bad port, an unknown option or a
        bad option value (code ``INVALID_URL``); the password never appears in the message.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise _bad(shown, "it does not parse (a bad port?)") from None
    if parts.scheme.lower() not in SCHEMES:
        raise _bad(shown, f"expected mysql://user@host:{DEFAULT_PORT}/database, not {parts.scheme or 'no'}:")
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise _bad(shown, "it names no database (mysql://user@host:3306/database)")
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
    charset = options.get("charset", "utf8mb4")
    if not re.fullmatch(r"[A-Za-z0-9_]{1,32}", charset):
        raise _bad(shown, f"charset {charset!r} is not a character set name")
    host = parts.hostname or ("localhost" if options.get("unix_socket") else "")
    if not host:
        raise _bad(shown, "it names no host (mysql://user@host:3306/database)")
    return MySQLTarget(
        host=host,
        port=port or DEFAULT_PORT,
        user=unquote(parts.username or ""),
        password=unquote(parts.password) if parts.password is not None else None,
        database=database,
        charset=charset,
        connect_timeout=timeout,
        unix_socket=options.get("unix_socket") or None,
        ssl_ca=options.get("ssl_ca") or None,
    )


def quote(name: str) -> str:
    """``name`` as a MySQL identifier (backticks: double quotes are strings unless ANSI_QUOTES)."""
    return "`" + name.replace("`", "``") + "`"


# --- errors --------------------------------------------------------------------------------------

#: Server error numbers -> the SQLSTATE tasksql uses (PostgreSQL's spelling, as the other backends).
_SQLSTATE: dict[int, str] = {
    1064: "42601",  # syntax error
    1149: "42601",
    1146: "42P01",  # table doesn't exist
    1051: "42P01",  # unknown table (DROP)
    1109: "42P01",  # unknown table in MULTI DELETE
    1049: "3F000",  # unknown database
    1054: "42703",  # unknown column
    1052: "42702",  # ambiguous column
    1050: "42P07",  # table exists
    1007: "42P06",  # database exists
    1305: "42883",  # function / procedure does not exist
    1062: "23505",  # duplicate entry
    1586: "23505",
    1048: "23502",  # column cannot be null
    1364: "23502",  # field has no default value (strict mode)
    1451: "23503",  # foreign key
    1452: "23503",
    1216: "23503",
    1217: "23503",
    3819: "23514",  # check constraint (MySQL)
    4025: "23514",  # check constraint (MariaDB)
    1406: "22001",  # data too long
    1264: "22003",  # out of range
    1690: "22003",
    1365: "22012",  # division by zero
    1292: "22007",  # incorrect datetime value
    1366: "22P02",  # incorrect value for column
    1317: "57014",  # query execution was interrupted (KILL QUERY)
    1969: "57014",  # max_statement_time exceeded (MariaDB)
    3024: "57014",  # max_execution_time exceeded (MySQL)
    1205: "55P03",  # lock wait timeout
    1213: "40P01",  # deadlock
    1044: "42501",  # access denied to a database
    1142: "42501",  # command denied
    1143: "42501",  # column access denied
    1227: "42501",  # needs a privilege
    1045: "28P01",  # wrong user or password
    1193: "42704",  # unknown system variable
    1231: "22023",  # bad value for a variable
    1232: "22023",
    1298: "22023",  # unknown time zone
    1238: "55P02",  # variable is read only
    1229: "55P02",  # global variable (SET SESSION of a global-only one)
    1792: "25006",  # read-only transaction
    1290: "25006",  # --read-only
    2003: "08006",  # cannot connect
    2006: "08006",  # server has gone away
    2013: "08006",  # lost connection during query
    2014: "08006",
    2055: "08006",
}


def sqlstate(errno: int) -> str | None:
    """The SQLSTATE for a server or client error number (None when tasksql does not know it)."""
    return _SQLSTATE.get(errno)


def error_text(args: Sequence[Any], secret: str | None) -> tuple[int, str]:
    """(error number, one-line message) from a PyMySQL exception's ``args``, ``secret`` hidden."""
    errno = args[0] if args and isinstance(args[0], int) else 0
    msg = str(args[1]) if len(args) > 1 else (str(args[0]) if args else "")
    msg = " ".join(msg.split()) or "error"
    if secret:
        msg = msg.replace(secret, "***")
    return errno, f"{msg} (MySQL error {errno})" if errno else msg


# --- result types --------------------------------------------------------------------------------

#: The protocol's column type codes -> MySQL type names (TEXT/BLOB are told apart by charset).
_TYPE_NAMES = {
    0: "decimal",
    1: "tinyint",
    2: "smallint",
    3: "int",
    4: "float",
    5: "double",
    6: "null",
    7: "timestamp",
    8: "bigint",
    9: "mediumint",
    10: "date",
    11: "time",
    12: "datetime",
    13: "year",
    14: "date",
    15: "varchar",
    16: "bit",
    245: "json",
    246: "decimal",
    247: "enum",
    248: "set",
    249: "tinytext",
    250: "mediumtext",
    251: "longtext",
    252: "text",
    253: "varchar",
    254: "char",
    255: "geometry",
}
_BINARY = 63  # the charset number of binary strings
_AS_BINARY = {
    249: "tinyblob",
    250: "mediumblob",
    251: "longblob",
    252: "blob",
    253: "varbinary",
    254: "binary",
}


def column_type(type_code: int, charsetnr: int | None) -> str:
    """The type name of a result column, as MySQL spells it (``int``, ``varchar``, ``blob``)."""
    if charsetnr == _BINARY and type_code in _AS_BINARY:
        return _AS_BINARY[type_code]
    return _TYPE_NAMES.get(type_code, str(type_code))


# --- Arrow tables as TEMPORARY tables ------------------------------------------------------------


def _mysql_type(t: Any) -> str:
    import pyarrow.types as pat

    if pat.is_dictionary(t):
        return _mysql_type(t.value_type)
    if pat.is_decimal(t):
        return f"DECIMAL({t.precision},{t.scale})" if t.precision <= 65 and t.scale <= 30 else "DOUBLE"
    if pat.is_timestamp(t):
        return "DATETIME(6)"  # tz-aware values are stored as UTC
    checks: list[tuple[Callable[[Any], bool], str]] = [
        (pat.is_boolean, "BOOLEAN"),
        (pat.is_int8, "TINYINT"),
        (pat.is_int16, "SMALLINT"),
        (pat.is_int32, "INT"),
        (pat.is_int64, "BIGINT"),
        (pat.is_uint8, "TINYINT UNSIGNED"),
        (pat.is_uint16, "SMALLINT UNSIGNED"),
        (pat.is_uint32, "INT UNSIGNED"),
        (pat.is_uint64, "BIGINT UNSIGNED"),
        (pat.is_float16, "FLOAT"),
        (pat.is_float32, "FLOAT"),
        (pat.is_float64, "DOUBLE"),
        (pat.is_date, "DATE"),
        (pat.is_time, "TIME(6)"),
        (pat.is_duration, "TIME(6)"),
        (lambda x: pat.is_binary(x) or pat.is_large_binary(x) or pat.is_fixed_size_binary(x), "LONGBLOB"),
        (pat.is_nested, "JSON"),
    ]
    for check, name in checks:
        if check(t):
            return name
    return "LONGTEXT"


def arrow_columns(table: Any) -> list[tuple[str, str]]:
    """(column name, MySQL type) for each column of the Arrow ``table``."""
    return [(f.name, _mysql_type(f.type)) for f in table.schema]


def _value(v: Any) -> Any:
    if isinstance(v, datetime) and v.tzinfo is not None:
        return v.astimezone(UTC).replace(tzinfo=None)
    if isinstance(v, list | dict | tuple):
        return json.dumps(v, default=str)
    return v


def arrow_rows(table: Any, batch: int = 5_000) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of the Arrow ``table`` as tuples PyMySQL can send, ``batch`` rows at a time."""
    for rb in table.to_batches(max_chunksize=batch):
        cols = [c.to_pylist() for c in rb.columns]
        yield [tuple(_value(v) for v in row) for row in zip(*cols, strict=True)]


# --- statements ----------------------------------------------------------------------------------

_WORDS = re.compile(
    r"(?:\s+|--[^\n]*(?:\n|$)|#[^\n]*(?:\n|$)|/\*.*?\*/)*([A-Za-z]+)(?:\s+([A-Za-z]+))?", re.S
)

#: First words of statements that commit the transaction implicitly (DDL, locks, accounts,
#: maintenance) or manage it, or may (CALL: a procedure may COMMIT): a body with one gets no marker.
_IMPLICIT_COMMIT = frozenset(
    {
        "alter",
        "create",
        "drop",
        "rename",
        "truncate",
        "lock",
        "unlock",
        "grant",
        "revoke",
        "analyze",
        "check",
        "optimize",
        "repair",
        "flush",
        "reset",
        "install",
        "uninstall",
        "load",  # LOAD INDEX / LOAD DATA (LOAD DATA commits on some engines)
        "cache",
        "call",
        "xa",
        "set",  # SET autocommit = 1 / SET PASSWORD / SET TRANSACTION commit or act outside it
        "handler",
    }
)
#: Statements whose first word is listed above but that stay in the transaction: TEMPORARY tables
#: and assignments of user variables.
_STAYS = re.compile(r"(?is)\s*(?:(?:create|drop)\s+temporary\s+table\b|set\s+@(?!@))")
#: First words of statements that only read (a SELECT can call a stored function that writes, so it
#: is not counted as read only, as in PostgreSQL).
_READ_ONLY = frozenset({"show", "describe", "desc", "explain", "help"})
#: First words of DML that reports how many rows it changed.
DML = frozenset({"insert", "update", "delete", "replace", "load"})


#: Stored programs: their body holds semicolons of its own (the mysql client's DELIMITER).
_STORED_PROGRAM = re.compile(
    r"(?is)\s*create\s+(?:or\s+replace\s+)?(?:definer\s*=\s*\S+\s+)?(?:aggregate\s+)?"
    r"(?:procedure|function|trigger|event)\b"
)


def is_stored_program(sql: str) -> bool:
    """Whether ``sql`` creates a procedure, function, trigger or event: one statement whatever
    semicolons its body holds (the server refuses a second statement after it anyway: tasksql's
    connections do not allow several statements per call)."""
    return _STORED_PROGRAM.match(sql) is not None


def words(sql: str) -> tuple[str, str]:
    """The first two words of ``sql`` (lower case), after blanks and comments."""
    m = _WORDS.match(sql)
    if m is None:
        return "", ""
    return m.group(1).lower(), (m.group(2) or "").lower()


def markable(statements: Sequence[str], *, into: bool) -> bool:
    """Whether a body of ``statements`` can commit with its run's completion marker: it may have
    effects, and none of its statements commits implicitly (DDL other than TEMPORARY tables, LOCK,
    GRANT, CALL, SET, ...) or controls the transaction itself."""
    if not statements:
        return False
    effects = into
    for sql in statements:
        first, _ = words(sql)
        if _markers.controls_transaction(sql):
            return False
        if first in _IMPLICIT_COMMIT and not _STAYS.match(sql):
            return False
        if first not in _READ_ONLY:
            effects = True
    return effects


def create_markers_sql() -> str:
    """The marker table (InnoDB: it must commit and roll back with the body)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (scope VARCHAR(64) NOT NULL,"
        " run_id BIGINT NOT NULL, committed_at DATETIME(6) NOT NULL, PRIMARY KEY (scope, run_id))"
        " ENGINE = InnoDB"
    )
