"""EXECUTE TASK and CANCEL TASK: statements that act on runs."""

from __future__ import annotations

from tasksql.engine.core import Engine
from tasksql.engine.results import Result
from tasksql.engine.tasks_ddl import get_task_or_raise
from tasksql.errors import NotSupportedError, ValidationError
from tasksql.sql import statements as st


async def execute_task(engine: Engine, stmt: st.ExecuteTask) -> Result:
    rec = await get_task_or_raise(engine, stmt.name, stmt)
    if rec.definition.after or rec.definition.finalize is not None:
        raise ValidationError(
            f"task {engine.display_name(rec.name)} is a child task; EXECUTE TASK runs a standalone or root task",
            code="NOT_A_ROOT",
            span=stmt.span,
        )
    raise NotSupportedError("EXECUTE TASK needs the scheduler, which is not part of this build yet")


async def cancel_task(engine: Engine, stmt: st.CancelTask) -> Result:
    await get_task_or_raise(engine, stmt.name, stmt)
    raise NotSupportedError("CANCEL TASK needs the scheduler, which is not part of this build yet")
