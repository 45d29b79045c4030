"""File locations given as warehouse URLs (``sqlite:///abs/file.db``, ``duckdb:file.duckdb``, a path)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl

from tasksql.errors import WarehouseError


def file_path(url: str, scheme: str, base_dir: Path) -> Path:
    """The file a ``scheme`` URL names; relative paths are taken from ``base_dir``.

    Accepted: ``scheme:///abs/path`` (also ``scheme:////abs/path``), ``scheme://rel/path`` and
    ``scheme:rel/path`` (relative), or a bare path.

    :raises WarehouseError: the URL has another scheme or no path (code ``INVALID_URL``).
    """
    text = url.strip()
    if "://" in text or text.lower().startswith(scheme + ":"):
        head, _, rest = text.partition(":")
        if head.lower() != scheme:
            raise WarehouseError(
                f"a {scheme} warehouse needs a {scheme}: URL or a file path, not {head}:",
                code="INVALID_URL",
            )
        text = rest[2:] if rest.startswith("//") else rest
        text = text.split("?", 1)[0]
        if text.startswith("//"):  # sqlite:////abs/path (SQLAlchemy's spelling) is /abs/path too
            text = "/" + text.lstrip("/")
    if not text:
        raise WarehouseError(f"the {scheme} URL {url!r} names no file", code="INVALID_URL")
    path = Path(text).expanduser()
    return path if path.is_absolute() else base_dir / path


def url_options(url: str, allowed: Mapping[str, frozenset[str]]) -> dict[str, str]:
    """The ``?key=value&...`` options of a file URL, keys and values lower-cased.

    ``allowed`` maps each accepted key to its accepted values.

    :raises WarehouseError: an unknown key, a value not allowed, or a key given twice
        (code ``INVALID_URL``).
    """
    _, sep, query = url.strip().partition("?")
    if not sep:
        return {}
    options: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        k, v = key.strip().lower(), value.strip().lower()
        if k not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise WarehouseError(f"unknown URL option {key!r} (known: {known})", code="INVALID_URL")
        if v not in allowed[k]:
            raise WarehouseError(
                f"URL option {k} = {value!r}: expected one of {', '.join(sorted(allowed[k]))}",
                code="INVALID_URL",
            )
        if k in options:
            raise WarehouseError(f"URL option {k} is given twice", code="INVALID_URL")
        options[k] = v
    return options
