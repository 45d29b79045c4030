"""The API token: who may use a server that listens beyond loopback.

Bound to a loopback address (``127.0.0.0/8``, ``::1``, ``localhost``: the default) the server is open
to the programs and users of its machine, as before. Bound to any other address (or with the
``require_token`` setting) every route needs the token: the UI, the API, the event stream and the
metrics; only the login page (``GET``/``POST /login``) answers without it.

* **The token** is 32 random bytes (URL-safe base64), made on the server's first start in that
  mode and printed once; the data directory keeps only its SHA-256 (:data:`TOKEN_FILE`, mode 0600).
  A token of that much entropy needs no slow hash: nobody can guess one from its digest.
  ``tasksql token new`` replaces it (prints the new one once); a running server reads the file
  again when it changes, so the old token stops working at once.
* **Programs** send ``Authorization: Bearer <token>`` (``TASKSQL_TOKEN`` for tasksql's own client).
* **Browsers** log in at ``/login``, a form that sets the cookie :data:`COOKIE` (HttpOnly,
  SameSite=Strict, Path=/) holding the token.

Cross-site requests: a SameSite=Strict cookie is never sent with a request another site starts,
and every request that may change something is also checked by :mod:`tasksql.server.security`
(Origin and Sec-Fetch-Site must be this server's own; bodies must be JSON, which a page of another
site cannot send without a preflight this server never grants). The login form itself is posted
form-encoded and passes the same Origin check. No separate CSRF token is used.

A request without a valid token gets 401 (``TOKEN_REQUIRED``) with ``WWW-Authenticate: Bearer``;
a browser's ``GET`` of a page is sent to the login form instead (303).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import html
import ipaddress
import os
import secrets
from pathlib import Path
from urllib.parse import quote, urlsplit

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from tasksql.engine.core import Engine
from tasksql.engine.identity import acting_as
from tasksql.server.callers import server_caller, user_caller
from tasksql.server.http_errors import Handler, RequestError, error_body
from tasksql.settings import Settings

TOKEN_FILE = "api_token.sha256"
COOKIE = "tasksql_token"
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
_COOKIE_MAX_AGE = 30 * 24 * 3600
_MAX_TOKEN = 200  # characters: longer is not a token of ours


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address or name) reaches this machine only."""
    name = host.strip().lower().removeprefix("[").removesuffix("]")
    if name in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a wildcard ("", "0.0.0.0", "::") or a host name: reachable from elsewhere


def token_required(settings: Settings) -> bool:
    return settings.require_token or not is_loopback(settings.host)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_path(data_dir: Path) -> Path:
    return Path(data_dir) / TOKEN_FILE


def new_token(data_dir: Path) -> str:
    """Make a new token, keep its digest in ``data_dir`` (replacing the old one), return the token."""
    token = secrets.token_urlsafe(32)
    path = token_path(data_dir)
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(f"sha256:{digest(token)}\n")
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)
    return token


def ensure_token(data_dir: Path) -> str | None:
    """The first start: make a token when ``data_dir`` keeps none and return it (to be printed
    once); None when one exists already."""
    if token_path(data_dir).exists():
        return None
    return new_token(data_dir)


class TokenCheck:
    """Checks tokens against the digest kept in a data directory (read again when it changes)."""

    def __init__(self, data_dir: Path) -> None:
        self._path = token_path(data_dir)
        self._stamp: tuple[int, int] | None = None
        self._digest: str | None = None

    def _current(self) -> str | None:
        try:
            st = self._path.stat()
        except FileNotFoundError:
            self._stamp, self._digest = None, None
            return None
        stamp = (st.st_mtime_ns, st.st_ino)
        if stamp != self._stamp:
            text = self._path.read_text(encoding="utf-8").strip()
            self._digest = text.removeprefix("sha256:") if text.startswith("sha256:") else None
            self._stamp = stamp
        return self._digest

    def valid(self, token: str | None) -> bool:
        if not token or len(token) > _MAX_TOKEN:
            return False
        stored = self._current()
        return stored is not None and hmac.compare_digest(digest(token), stored)


def presented_token(request: web.Request) -> str | None:
    """The token of ``Authorization: Bearer``, else of the login cookie."""
    auth = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, value = auth.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE)


def _wants_page(request: web.Request) -> bool:
    """A browser navigating to a page (not the API, the events or the metrics)."""
    path = request.path
    return (
        request.method in ("GET", "HEAD")
        and not path.startswith("/api/")
        and path != "/metrics"
        and "text/html" in request.headers.get(hdrs.ACCEPT, "")
    )


def auth_middleware(settings: Settings, engine: Engine | None = None) -> Middleware:
    """The middleware that asks for a token when :func:`token_required` or security is on (else
    passes all), and runs the request as the caller its token names (:mod:`.callers`)."""
    required = token_required(settings) or settings.security
    check = TokenCheck(Path(settings.data_dir))

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        token = presented_token(request)
        if check.valid(token):
            with acting_as(server_caller()):
                return await handler(request)
        caller = await user_caller(engine, token) if engine is not None else None
        if caller is not None:
            with acting_as(caller):
                return await handler(request)
        if not required or request.path in (LOGIN_PATH, LOGOUT_PATH):
            return await handler(request)
        if _wants_page(request):
            target = request.path_qs
            raise web.HTTPSeeOther(f"{LOGIN_PATH}?next={quote(target, safe='')}")
        err = RequestError(
            401,
            "this server needs its API token: send Authorization: Bearer <token> (tasksql's client: set"
            " TASKSQL_TOKEN), or log in at /login; `tasksql token new` on the server makes a new one",
            code="TOKEN_REQUIRED",
        )
        return web.json_response(
            error_body(401, err), status=401, headers={"WWW-Authenticate": 'Bearer realm="tasksql"'}
        )

    return middleware


# --- the login page -----------------------------------------------------------------------------

SETTINGS_KEY: web.AppKey[Settings] = web.AppKey("auth_settings", Settings)
#: The engine whose users' tokens the login form accepts too.
LOGIN_ENGINE_KEY: web.AppKey[Engine] = web.AppKey("auth_engine", Engine)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tasksql: log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}}
main{{max-width:26rem;margin:12vh auto;padding:2rem;background:#fff;border-radius:8px;
box-shadow:0 1px 4px rgba(0,0,0,.12)}}
h1{{font-size:1.3rem;margin:0 0 1rem}} label{{display:block;margin-bottom:.3rem}}
input[type=password]{{width:100%;box-sizing:border-box;padding:.5rem;font:inherit;
border:1px solid #9aa3b5;border-radius:4px}}
button{{margin-top:1rem;padding:.5rem 1.2rem;font:inherit;border:0;border-radius:4px;
background:#2d5be3;color:#fff;cursor:pointer}} button:focus,input:focus{{outline:3px solid #9bb5ff}}
.error{{color:#a4161a;margin:0 0 1rem}} p.note{{color:#4a5263;font-size:.9rem}}
</style></head>
<body><main>
<h1>tasksql</h1>
{message}
{form}
</main></body></html>
"""

_FORM = """<form method="post" action="/login">
<label for="token">API token</label>
<input type="password" id="token" name="token" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="{next}">
<button type="submit">Log in</button>
</form>
<p class="note">The token was printed when the server first started; <code>tasksql token new</code>
on the server makes a new one.</p>"""


def _safe_next(value: str | None) -> str:
    """Where to go after logging in: a path of this server only (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def _page(message: str, next_path: str, *, form: bool = True, status: int = 200) -> web.Response:
    body = _PAGE.format(
        message=message,
        form=_FORM.format(next=html.escape(next_path, quote=True)) if form else "",
    )
    # same-origin, not no-referrer: under no-referrer a browser posts the form with "Origin: null",
    # which the cross-site check refuses (a form that could never log in)
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"},
    )


async def login_page(request: web.Request) -> web.Response:
    """``GET /login``: the form (``?next=`` the page to return to)."""
    next_path = _safe_next(request.query.get("next"))
    settings = request.app[SETTINGS_KEY]
    if not token_required(settings) and not settings.security:  # security on: tokens name the user
        target = html.escape(next_path, quote=True)
        link = f'<p>This server is open to the users of its machine: no token is needed. <a href="{target}">Go on</a>.</p>'  # noqa: E501
        return _page(link, next_path, form=False)
    return _page("", next_path)


async def login(request: web.Request) -> web.Response:
    """``POST /login`` (form-encoded ``token``, ``next``): set the cookie and go on, or say why not."""
    form = await request.post()
    next_path = _safe_next(str(form.get("next", "")) or None)
    settings = request.app[SETTINGS_KEY]
    if not token_required(settings) and not settings.security:
        raise web.HTTPSeeOther(next_path)
    token = str(form.get("token", "")).strip()
    engine = request.app.get(LOGIN_ENGINE_KEY)
    user = await user_caller(engine, token) if engine is not None else None
    if not TokenCheck(Path(settings.data_dir)).valid(token) and user is None:
        message = '<p class="error" role="alert">That is not this server\'s token.</p>'
        return _page(message, next_path, status=401)
    response = web.HTTPSeeOther(next_path)
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/", max_age=_COOKIE_MAX_AGE)
    raise response


async def logout(request: web.Request) -> web.Response:
    """``POST /logout``: forget the cookie, back to the login form."""
    response = web.HTTPSeeOther(LOGIN_PATH)
    response.del_cookie(COOKIE, path="/")
    raise response
