"""Where a server warehouse's password is read from, as its URL records it.

``PASSWORD = ENV 'VAR'`` and ``PASSWORD = FILE '/path'`` (CREATE and ALTER WAREHOUSE) are kept in the
warehouse's URL as one query option, ``password_env=VAR`` or ``password_file=/path``: the catalog
holds the name of the variable or the path of the file, never the password, and a URL with the
option parses back to the same definition. :mod:`tasksql.warehouses.credentials` reads the
password when the warehouse is opened. These are pure functions of the URL text.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: The warehouse types that log in with a password.
PASSWORD_TYPES = ("postgres", "mysql", "clickhouse")
#: The URL options that name where a password is read from.
OPTIONS = ("password_env", "password_file")
#: ``PASSWORD = ENV '...'`` / ``FILE '...'`` -> the URL option each writes.
SOURCES = {"ENV": "password_env", "FILE": "password_file"}


@dataclass(frozen=True, slots=True)
class PasswordSource:
    """``PASSWORD = ENV 'VAR'`` (``source`` ENV) or ``PASSWORD = FILE '/path'`` (``source`` FILE)."""

    source: str
    name: str

    @property
    def option(self) -> str:
        return SOURCES[self.source]

    @property
    def value(self) -> str:
        """The clause's value as SQL (``ENV 'VAR'``): how statements render it."""
        return f"{self.source} '" + self.name.replace("'", "''") + "'"


def reference(url: str | None) -> tuple[str, str] | None:
    """The ``(option, value)`` naming where ``url``'s password is read from, if any."""
    if not url or "://" not in url:
        return None
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key.strip().lower() in OPTIONS:
            return key.strip().lower(), value
    return None


def without_reference(url: str) -> str:
    """``url`` with its ``password_env`` / ``password_file`` option removed."""
    if "://" not in url or not any(o in url.lower() for o in OPTIONS):
        return url
    parts = urlsplit(url)
    kept = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.strip().lower() not in OPTIONS
    ]
    return urlunsplit(parts._replace(query=urlencode(kept, safe="/:")))


def with_reference(url: str, option: str, value: str) -> str | None:
    """``url`` reading its password from ``option`` = ``value`` (replacing any such option), or
    ``None`` when ``url`` is no ``scheme://`` URL (libpq's ``key=value`` form, a path)."""
    if "://" not in url:
        return None
    parts = urlsplit(without_reference(url))
    query = [*parse_qsl(parts.query, keep_blank_values=True), (option, value)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="/:")))
