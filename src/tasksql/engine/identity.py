"""Who is calling: the user and the current role that statements run as.

An engine serves one caller by default (:attr:`Engine.caller`, an embedded CLI, shell or Python
connection: ``TASKSQL_USER`` / ``--user``, else, with security on, the operating system's user);
a server binds each request to the user its token names with :func:`acting_as`, so that one engine
serves many callers at once. ``USE ROLE`` changes the current role of the caller it runs for (for
the rest of an embedded connection; for the rest of an HTTP request).

With security off (the default) every caller acts as ACCOUNTADMIN and nothing is checked.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from tasksql.model.security import ACCOUNTADMIN, PUBLIC, SecurityState
from tasksql.settings import Settings

#: The default of ``owner`` (``TASKSQL_USER``): not a choice, so with security on the OS user is used.
_UNSET_USER = "tasksql"


@dataclass(slots=True)
class Caller:
    """A user and the role chosen with ``USE ROLE`` (None: the user's default role).

    ``server_token``: the caller presented the server's own API token (``tasksql token new``): it
    acts as ACCOUNTADMIN without being a user, so that turning security on locks nobody out of a
    server."""

    user: str
    role: str | None = None
    server_token: bool = False


_CALLER: ContextVar[Caller | None] = ContextVar("tasksql_caller", default=None)


def default_caller(settings: Settings) -> Caller:
    """The caller of an embedded engine (see the module)."""
    if settings.security and settings.owner == _UNSET_USER:
        try:
            return Caller(getpass.getuser().lower())
        except Exception:  # no login name (a container without a passwd entry): the setting
            return Caller(settings.owner)
    return Caller(settings.owner)


@contextmanager
def acting_as(caller: Caller | None) -> Iterator[None]:
    """Run the statements of this context (this asyncio task and those it starts) as ``caller``."""
    token = _CALLER.set(caller)
    try:
        yield
    finally:
        _CALLER.reset(token)


def bound_caller() -> Caller | None:
    """The caller bound by :func:`acting_as`, if any."""
    return _CALLER.get()


def current_role(caller: Caller, state: SecurityState, security: bool) -> str:
    """The role ``caller`` acts with: ACCOUNTADMIN with security off; else the role of ``USE ROLE``,
    or the user's default role when the user may use it, or PUBLIC."""
    if not security:
        return caller.role or ACCOUNTADMIN
    if caller.server_token:
        return caller.role or ACCOUNTADMIN
    if caller.role is not None:
        return caller.role
    user = state.users.get(caller.user)
    if user is not None and user.default_role and user.default_role in state.user_roles(caller.user):
        return user.default_role
    return PUBLIC
