"""Who sent a request: the server's own API token, or a user's token (``CREATE USER`` prints one).

The server's token (``tasksql token new``) acts as ACCOUNTADMIN, so that turning security on never
locks the operator out of a server. A user's token makes the request run as that user
(:func:`tasksql.engine.identity.acting_as`), with the user's default role; a disabled or dropped
user's token is no token. Only digests are compared (tokens carry 256 random bits: a digest
cannot be reversed, and needs no slow hash).
"""

from __future__ import annotations

import hashlib

from tasksql.engine.core import Engine
from tasksql.engine.identity import Caller

#: The name the server's own token acts under (in SHOW QUERIES and system.audit_log).
SERVER_TOKEN_USER = "server-token"

_MAX_TOKEN = 200  # characters: longer is not a token of ours


def server_caller() -> Caller:
    return Caller(SERVER_TOKEN_USER, server_token=True)


async def user_caller(engine: Engine, token: str | None) -> Caller | None:
    """The enabled user whose token ``token`` is, as a caller; None when it is no user's."""
    if not token or len(token) > _MAX_TOKEN:
        return None
    user = await engine.catalog.user_by_token(hashlib.sha256(token.encode("utf-8")).hexdigest())
    if user is None or user.disabled:
        return None
    return Caller(user.name)
