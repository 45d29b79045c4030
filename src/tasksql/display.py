"""Values as people read them: durations without float noise, URLs without their credentials.

Everything that shows a stored value to a person (SHOW, DESCRIBE, ``system.*`` relations, the HTTP
API, error messages, logs) formats durations and URLs through these functions, so a duration never
prints as ``1.5590000000000002`` and a token in a URL never prints at all. The stored values are
unchanged: a webhook is still delivered to its full URL.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

#: What a hidden part of a URL is replaced with.
URL_MASK = "***"

# A path segment that looks like a token (Slack, Discord and most webhook URLs carry one in the
# path): 16 or more URL-safe characters with at least one letter and one digit.
_TOKEN_SEGMENT = re.compile(r"(?=[^/]*[0-9])(?=[^/]*[A-Za-z])[A-Za-z0-9_\-.~+=%]{16,}")


def round_ms(ms: float) -> float:
    """A duration in milliseconds rounded to the microsecond (3 decimals); it stays a number."""
    return round(ms, 3)


def timedelta_ms(delta: timedelta) -> float:
    """``delta`` in milliseconds, exact to the microsecond (``1.559``, not ``1.5590000000000002``)."""
    return (delta // timedelta(microseconds=1)) / 1000


def decimal_text(value: float) -> str:
    """A number with at most 3 decimals, without trailing zeros: ``1``, ``0.5``, ``1.559``.

    Seconds print rounded to the millisecond (``0.999971`` -> ``1``), milliseconds to the
    microsecond."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def mask_url(url: str, *, public_options: frozenset[str] = frozenset(), path_tokens: bool = True) -> str:
    """``url`` safe to show: the credentials in it become ``***``.

    Hidden: the password of the user info (the user stays), the value of every query parameter
    (the names stay) except those named in ``public_options``, the fragment, and (with
    ``path_tokens``) every path segment that looks like a token (16 or more characters mixing
    letters and digits). Scheme, host, port and the other path segments stay, so the endpoint can
    still be recognised. Text that does not parse as a URL is hidden whole.
    """
    try:
        parts = urlsplit(url)
        _ = parts.port  # an invalid port raises ValueError
    except ValueError:
        return URL_MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{URL_MASK}@{host}" if colon else f"{user}@{host}"
    path = parts.path
    if path_tokens:
        path = "/".join(URL_MASK if _TOKEN_SEGMENT.fullmatch(s) else s for s in path.split("/"))
    items = parts.query.split("&") if parts.query else []
    query = "&".join(_mask_query_item(item, public_options) for item in items)
    # rebuilt piece by piece, not with urlunsplit: that drops an empty authority ("sqlite:///x")
    rest = url[len(parts.scheme) + 1 :] if parts.scheme else url
    text = f"{parts.scheme}:" if parts.scheme else ""
    if rest.startswith("//"):
        text += "//" + netloc
    text += path
    if "?" in url.partition("#")[0]:
        text += "?" + query
    if "#" in url:
        text += "#" + (URL_MASK if parts.fragment else "")
    return text


def _mask_query_item(item: str, public_options: frozenset[str]) -> str:
    key, eq, value = item.partition("=")
    if eq:
        return item if not value or key.lower() in public_options else f"{key}={URL_MASK}"
    return URL_MASK if item else item  # a bare item (``?s3cr3t``) may itself be the token
