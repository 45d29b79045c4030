"""Who may talk to the API: the server answers its own clients, never a web page the user visits.

tasksql serves a local API without authentication (by default on 127.0.0.1), so the threat is a
page in the user's browser: it can send requests to ``http://127.0.0.1:8765`` directly (a "simple"
cross-site POST needs no CORS preflight) or through a name it controls that resolves to 127.0.0.1
(DNS rebinding). The policy, applied to every request before any handler runs:

1. **Host.** The ``Host`` header must name this server: ``localhost``, ``127.0.0.1`` or ``[::1]``,
   the configured ``host`` setting, or the address the connection arrived on; and its port must be
   the port the connection arrived on (80 when the header has none). A missing ``Host`` is a 400;
   any other name or port is a 421 (``HOST_NOT_ALLOWED``). DNS rebinding gives the attacker's
   name, so it is refused.
2. **Origin.** A request that may change something (any method but GET, HEAD and OPTIONS) with an
   ``Origin`` header must come from the server's own origin (``http://`` + an allowed host and
   the port); ``Origin: null`` and any other origin are a 403 (``CROSS_ORIGIN``), as is a
   ``Sec-Fetch-Site`` header other than ``same-origin`` or ``none``. Requests without ``Origin``
   (curl, the CLI, scripts) are not from a browser page and pass.
3. **Content type.** A request body is accepted only as ``application/json`` (charset utf-8 if
   one is given): a non-empty body of any other (or no) ``Content-Type`` is a 415
   (``UNSUPPORTED_MEDIA_TYPE``), whatever the method. The one exception is the login form
   (``POST /login``, :mod:`tasksql.server.auth`), posted ``application/x-www-form-urlencoded``.
   Browsers cannot send ``application/json`` cross-site without a preflight, which this server
   never grants. A request without a body needs no content type.
4. **No CORS.** The server sends no ``Access-Control-*`` headers, so browsers never let another
   origin read a response or send a preflighted request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from tasksql.server.http_errors import Handler, RequestError

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
#: Paths that take an HTML form's body (still under the Host and Origin checks).
FORM_PATHS = frozenset({"/login"})


def _normal_host(name: str) -> str:
    """A host name or address in one spelling: lower case, no brackets, IPv4-mapped IPv6 as IPv4."""
    name = name.strip().lower().removeprefix("[").removesuffix("]")
    try:
        addr = ipaddress.ip_address(name)
    except ValueError:
        return name.rstrip(".") or name  # "localhost." is "localhost"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def split_host(value: str) -> tuple[str, int | None] | None:
    """``name[:port]`` or ``[v6][:port]`` as (normalised name, port); None when it is not that form."""
    value = value.strip()
    if not value:
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else None
    else:
        name, sep, port_text_ = value.rpartition(":")
        if not sep:
            name, port_text = value, None
        elif ":" in name:
            return None  # a bare IPv6 address must be bracketed
        else:
            port_text = port_text_
    if not name or any(c.isspace() or c in "/\\@?#" for c in name):
        return None
    port: int | None = None
    if port_text is not None:
        if not (port_text.isascii() and port_text.isdigit()) or len(port_text) > 5:
            return None
        port = int(port_text)
        if not 0 < port < 65536:
            return None
    return _normal_host(name), port


class Policy:
    """The allowed host names of one server (the loopback names, its configured host)."""

    def __init__(self, configured_hosts: Iterable[str]) -> None:
        self.names = frozenset(LOOPBACK_NAMES | {_normal_host(h) for h in configured_hosts if h.strip()})

    def _connection(self, request: web.Request) -> tuple[frozenset[str], int | None]:
        """The names and the port this request may address: ours plus the address it arrived on."""
        transport = request.transport
        sockname = transport.get_extra_info("sockname") if transport is not None else None
        if isinstance(sockname, tuple) and len(sockname) >= 2:
            return self.names | {_normal_host(str(sockname[0]))}, int(sockname[1])
        return self.names, None

    def check(self, request: web.Request) -> None:
        """Raise :class:`RequestError` when ``request`` breaks the policy (module docstring)."""
        names, port = self._connection(request)
        raw_host = request.headers.getall(hdrs.HOST, [])
        if len(raw_host) != 1:
            raise RequestError(
                400, "the request needs exactly one Host header (HTTP/1.1)", code="BAD_HOST_HEADER"
            )
        host = split_host(raw_host[0])
        if host is None or host[0] not in names or (port is not None and (host[1] or 80) != port):
            raise RequestError(
                421,
                f"this server does not answer for Host {raw_host[0]!r}; address it as 127.0.0.1, "
                "localhost or its configured host, with its port",
                code="HOST_NOT_ALLOWED",
            )
        if request.method not in SAFE_METHODS:
            self._check_origin(request, names, port)
        if request.body_exists:
            self._check_content_type(request)

    @staticmethod
    def _check_origin(request: web.Request, names: frozenset[str], port: int | None) -> None:
        fetch_site = request.headers.get("Sec-Fetch-Site")
        if fetch_site is not None and fetch_site.strip().lower() not in ("same-origin", "none"):
            raise RequestError(403, _cross_origin(f"a {fetch_site} page"), code="CROSS_ORIGIN")
        origins = request.headers.getall(hdrs.ORIGIN, [])
        if not origins:
            return
        if len(origins) > 1 or not _own_origin(origins[0], names, port):
            raise RequestError(403, _cross_origin(f"origin {origins[0]!r}"), code="CROSS_ORIGIN")

    @staticmethod
    def _check_content_type(request: web.Request) -> None:
        raw = request.headers.get(hdrs.CONTENT_TYPE)
        charset = request.charset
        if request.path in FORM_PATHS and request.content_type == FORM_TYPE:
            return
        if request.content_type != JSON_TYPE or (
            charset is not None and charset.lower() not in ("utf-8", "utf8")
        ):
            shown = raw if raw is not None else "none"
            raise RequestError(
                415,
                f"request bodies must be JSON (Content-Type: application/json), not {shown!r}",
                code="UNSUPPORTED_MEDIA_TYPE",
            )


def _own_origin(origin: str, names: frozenset[str], port: int | None) -> bool:
    try:
        parts = urlsplit(origin.strip())
        origin_port = parts.port
    except ValueError:
        return False
    if parts.scheme != "http" or parts.hostname is None or parts.path or parts.query or parts.username:
        return False
    if _normal_host(parts.hostname) not in names:
        return False
    return port is None or (origin_port or 80) == port


def _cross_origin(source: str) -> str:
    return (
        f"cross-origin request from {source} refused: only the server's own origin may change "
        "things (send the request without an Origin header, e.g. from curl or the CLI)"
    )


def security_middleware(configured_hosts: Iterable[str]) -> Middleware:
    """The middleware that applies the policy for a server configured with ``configured_hosts``."""
    policy = Policy(configured_hosts)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        policy.check(request)
        return await handler(request)

    return middleware
