"""What a PostgreSQL warehouse's URL must be, checked at ``CREATE`` / ``ALTER WAREHOUSE``.

A ``postgresql://`` (or ``postgres://``) URL with libpq's options, or libpq's ``key=value`` form.
libpq itself reads it (:func:`psycopg.conninfo.conninfo_to_dict`), so an option it does not know is
refused here rather than at the first run; a port must be a number. Messages name the URL as
``shown`` (password masked) and never quote the text libpq could not read, which may hold one.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from tasksql.errors import WarehouseError

SCHEMES = ("postgresql", "postgres")
EXAMPLE = "postgresql://user@host:5432/database"


def check_url(url: str, shown: str) -> None:
    """:raises WarehouseError: ``url`` is not one libpq reads (code ``INVALID_URL``)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    text = url.strip()
    if "://" in text:
        scheme = urlsplit(text).scheme.lower()
        if scheme not in SCHEMES:
            raise _bad(shown, f"expected {EXAMPLE}, not {scheme or 'no'}:")
    elif "=" not in text:
        raise _bad(shown, f"it is neither a URL ({EXAMPLE}) nor libpq's key=value form")
    try:
        params = conninfo_to_dict(text)
    except psycopg.ProgrammingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "libpq cannot read it"
        reason = (
            first
            if "query parameter" in first or "invalid connection option" in first
            else "libpq cannot read it"
        )
        raise _bad(shown, reason) from None
    for port in str(params.get("port", "")).split(","):
        if port.strip() and not port.strip().isdigit():
            raise _bad(shown, f"port {port.strip()!r} is not a number")


def _bad(shown: str, why: str) -> WarehouseError:
    return WarehouseError(f"invalid PostgreSQL URL {shown}: {why}", code="INVALID_URL")
