"""Every statement's way in: the privilege check before it runs and the audit line after.

:meth:`Engine.execute_statement` runs each statement through :func:`guarded`. With security on,
:func:`~tasksql.engine.privileges.check_statement` refuses a statement the caller may not run
before anything changes. Whatever the setting, every DDL, grant, revoke and manual execution is
recorded in ``system.audit_log`` (who, role, when, statement, outcome), refused ones included.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from tasksql.engine.core import READ_ONLY, Engine
from tasksql.engine.identity import bound_caller, current_role
from tasksql.engine.privileges import check_statement
from tasksql.engine.results import Result
from tasksql.errors import TasksqlError
from tasksql.model.security import AuditEntry, SecurityState
from tasksql.sql import statements as st
from tasksql.sql import statements_security as ss
from tasksql.sql.recorded import recorded_text

log = logging.getLogger("tasksql.audit")

#: Statements that change nothing and are not audited.
NOT_AUDITED = (*READ_ONLY, *ss.READ_ONLY_SECURITY, st.ShowStreams, st.DescribeStream)

#: How much of a statement's text an audit line keeps.
MAX_AUDIT_TEXT = 4000


def audited(stmt: st.Statement) -> bool:
    return not isinstance(stmt, NOT_AUDITED)


async def guarded(
    engine: Engine, stmt: st.Statement, handler: Callable[[Any, Any], Awaitable[Result]]
) -> Result:
    """Check, run and audit one statement."""
    if not audited(stmt):
        await check_statement(engine, stmt)
        return await handler(engine, stmt)
    role = await _role_now(engine)
    try:
        await check_statement(engine, stmt)
        result = await handler(engine, stmt)
    except TasksqlError as err:
        await _audit(engine, stmt, role, "FAILED", err.code, err.message)
        raise
    await _audit(engine, stmt, role, "SUCCEEDED", None, None)
    return result


async def _role_now(engine: Engine) -> str:
    caller = bound_caller() or engine.caller
    if not engine.settings.security:
        return current_role(caller, SecurityState(), False)
    try:
        return current_role(caller, await engine.catalog.security_state(), True)
    except TasksqlError:
        return caller.role or ""


async def _audit(
    engine: Engine, stmt: st.Statement, role: str, outcome: str, code: str | None, message: str | None
) -> None:
    caller = bound_caller() or engine.caller
    entry = AuditEntry(
        at=engine.now(),
        user_name=caller.user,
        role_name=role,
        statement=_redacted(stmt)[:MAX_AUDIT_TEXT],
        outcome=outcome,
        error_code=code,
        error_message=message[:MAX_AUDIT_TEXT] if message else None,
    )
    try:
        await engine.catalog.record_audit([entry])
    except TasksqlError as err:  # the statement's outcome stands; say that its line is missing
        log.warning("audit line not recorded (%s): %s", err, entry.statement)


def _redacted(stmt: st.Statement) -> str:
    """The statement as recorded: secrets of integrations, warehouses and secret objects are not
    kept (:func:`~tasksql.sql.recorded.recorded_text`)."""
    return recorded_text(stmt)
