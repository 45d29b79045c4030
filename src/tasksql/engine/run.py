"""EXECUTE TASK and CANCEL TASK: statements that act on runs.

With a scheduler running in this process (``tasksql serve``, ``db.start()``), EXECUTE TASK starts
the run and returns at once, as Snowflake does. Without one (an embedded ``tasksql sql``), the run
executes in this process and the statement returns when it has finished, with its final state.
"""

from __future__ import annotations

import json

from tasksql.engine.core import Engine
from tasksql.engine.results import Result
from tasksql.engine.tasks_ddl import get_task_or_raise
from tasksql.errors import ValidationError
from tasksql.model import TaskRecord
from tasksql.runs import RunRecord
from tasksql.sql import statements as st

RUN_COLUMNS = ("status", "run_id", "state", "scheduled_time", "error_code", "error_message")


def _row(engine: Engine, status: str, rec: RunRecord | None) -> Result:
    if rec is None:
        return Result.table(RUN_COLUMNS, [(status, None, None, None, None, None)], "EXECUTE TASK")
    return Result.table(
        RUN_COLUMNS,
        [(status, rec.run_id, rec.state.value, rec.scheduled_time, rec.error_code, rec.error_message)],
        "EXECUTE TASK",
    )


async def execute_task(engine: Engine, stmt: st.ExecuteTask) -> Result:
    rec = await get_task_or_raise(engine, stmt.name, stmt)
    shown = engine.display_name(rec.name)
    if rec.definition.after or rec.definition.finalize is not None:
        raise ValidationError(
            f"task {shown} is a child task; EXECUTE TASK runs a standalone or root task",
            code="NOT_A_ROOT",
            span=stmt.span,
        )
    if stmt.using_config is not None:
        try:
            json.loads(stmt.using_config)
        except ValueError as exc:
            raise ValidationError(
                f"USING CONFIG is not valid JSON: {exc}", code="INVALID_VALUE", span=stmt.span
            ) from None
    scheduler = engine.scheduler
    if stmt.retry_last or stmt.retry_group is not None:
        return await _retry(engine, stmt, rec)
    if scheduler is not None:
        run = await scheduler.execute_now(rec, config=stmt.using_config)
        status = (
            f"Task {shown} is scheduled to run immediately."
            if run and run.state.value == "EXECUTING"
            else f"Task {shown} was not run: its previous run is still executing."
        )
        return _row(engine, status, run)
    from tasksql.scheduler.service import Scheduler

    local = Scheduler(engine)
    await local.start(background=False)
    try:
        run = await local.execute_now(rec, config=stmt.using_config)
        if run is not None:
            await local.wait_for_run(run.run_id)
            await local.wait_for_graph(run.graph_run_group_id)
            run = await engine.catalog.get_run(run.run_id)
    finally:
        await local.stop(grace=engine.settings.grace_period_s)
    state = run.state.value if run is not None else "NOT RUN"
    return _row(engine, f"Task {shown} ran: {state}.", run)


async def _retry(engine: Engine, stmt: st.ExecuteTask, rec: TaskRecord) -> Result:
    """EXECUTE TASK root RETRY LAST (RETRY GRAPH RUN GROUP '<id>' must name the last graph run)."""
    shown = engine.display_name(rec.name)
    if stmt.retry_group is not None:
        last = await engine.catalog.list_graph_runs(root_task_id=rec.id, limit=1)
        if not last or last[0].graph_run_group_id != stmt.retry_group:
            raise ValidationError(
                f"graph run {stmt.retry_group} is not the last graph run of {shown}; only the last one "
                "can be retried",
                code="NOTHING_TO_RETRY",
                span=stmt.span,
            )
    from tasksql.scheduler.service import Scheduler

    scheduler = engine.scheduler
    local = None
    if scheduler is None:
        local = scheduler = Scheduler(engine)
        await local.start(background=False)
    try:
        run = await scheduler.retry_last(rec)
        if local is not None and run is not None:
            await local.wait_for_graph(run.graph_run_group_id)
    finally:
        if local is not None:
            await local.stop(grace=engine.settings.grace_period_s)
    if run is None:
        return _row(engine, f"Task {shown}: nothing to retry.", None)
    group = await engine.catalog.get_graph_run(run.graph_run_group_id or "")
    state = group.state if group is not None else run.state.value
    verb = "is retrying" if local is None else "retried"
    return _row(
        engine, f"Task graph {shown} {verb} its last graph run (attempt {run.attempt_number}): {state}.", run
    )


async def cancel_task(engine: Engine, stmt: st.CancelTask) -> Result:
    rec = await get_task_or_raise(engine, stmt.name, stmt)
    count = 0
    if engine.scheduler is not None:
        count = await engine.scheduler.cancel_task(rec.id)
    return Result.status(f"Task {engine.display_name(rec.name)}: {count} run(s) cancelled.", "CANCEL TASK")
