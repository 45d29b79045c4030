"""File locations given as warehouse URLs (``sqlite:///abs/file.db``, ``duckdb:file.duckdb``, a path)."""

from __future__ import annotations

from pathlib import Path

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
