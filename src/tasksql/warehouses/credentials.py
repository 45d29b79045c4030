"""Passwords of server warehouses kept out of the catalog: the URL options ``password_env`` and
``password_file``.

A PostgreSQL, MySQL/MariaDB or ClickHouse warehouse may leave the password out of its URL and name
where tasksql reads it instead, with one URL option (``PASSWORD = ENV 'VAR'`` and
``PASSWORD = FILE '/path'`` in ``CREATE`` / ``ALTER WAREHOUSE`` write it):

* ``password_env=VAR``: the environment variable ``VAR`` of the tasksql process that opens the
  warehouse;
* ``password_file=/path``: the contents of that file, without a final line break (a relative path
  is taken from the data directory).

The catalog then holds the variable's name or the file's path, never the password. The password is
read each time the warehouse is opened (the first run after a start or an ``ALTER WAREHOUSE``) and
put into the URL handed to the driver, in memory only; every message names the URL with the
password as ``***``. A variable that is not set, or a file that cannot be read, fails the run with
one line naming the variable or the file (code ``CREDENTIAL_MISSING``), never a value.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from tasksql.errors import WarehouseError
from tasksql.model.password_source import OPTIONS, reference, with_reference, without_reference


def check(url: str, where: str) -> None:
    """Refuse a malformed reference: given twice, empty, or beside a password in the URL itself.

    :raises WarehouseError: code ``INVALID_URL``; ``where`` names the warehouse.
    """
    if "://" not in url:
        return
    parts = urlsplit(url)
    found = [(k.strip().lower(), v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    refs = [(k, v) for k, v in found if k in OPTIONS]
    if not refs:
        return
    if len(refs) > 1:
        raise WarehouseError(f"{where}: give one of password_env and password_file, once", code="INVALID_URL")
    option, value = refs[0]
    if not value.strip():
        raise WarehouseError(f"{where}: {option} names no {_what(option)}", code="INVALID_URL")
    if parts.password is not None:
        raise WarehouseError(
            f"{where}: the URL has a password and {option} as well; keep one (leave the password out of"
            " the URL to keep it out of the catalog)",
            code="INVALID_URL",
        )


def resolve(url: str, where: str, data_dir: Path) -> str:
    """``url`` with the password it names put into its user info, and the option removed.

    A URL without ``password_env`` / ``password_file`` is returned as it is.

    :raises WarehouseError: the variable is not set or the file cannot be read (code
        ``CREDENTIAL_MISSING``; the message names the variable or the file, never a value).
    """
    ref = reference(url)
    if ref is None:
        return url
    option, value = ref
    password = _read(option, value.strip(), where, data_dir)
    parts = urlsplit(without_reference(url))
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def _read(option: str, value: str, where: str, data_dir: Path) -> str:
    import os

    if option == "password_env":
        password = os.environ.get(value)
        if password is None:
            raise WarehouseError(
                f"{where}: its password is read from the environment variable {value}, which is not set"
                " in this tasksql process; set it where tasksql runs (or ALTER WAREHOUSE ... SET PASSWORD)",
                code="CREDENTIAL_MISSING",
            )
        return password
    path = Path(value).expanduser()
    path = path if path.is_absolute() else data_dir / path
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else type(err).__name__
        raise WarehouseError(
            f"{where}: its password is read from the file {path}, which cannot be read ({reason})",
            code="CREDENTIAL_MISSING",
        ) from None
    return text.rstrip("\r\n")


def _what(option: str) -> str:
    return "environment variable" if option == "password_env" else "file"


__all__ = ["OPTIONS", "check", "reference", "resolve", "with_reference", "without_reference"]
