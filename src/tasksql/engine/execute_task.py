"""EXECUTE TASK and CANCEL TASK: statements that act on runs.

With a scheduler running in this process (``tasksql serve``, ``db.start()``), EXECUTE TASK starts
the run and returns at once, as Snowflake does, unless the query asks to wait for runs
(``tasksql sql`` does, so that it behaves the same with and without a server). Without one (an
embedded ``tasksql sql``), the run executes in this process and the statement returns when it has
finished; no scheduler starts for it (:meth:`Scheduler.open_for
<tasksql.scheduler.service.Scheduler.open_for>`: the task and its graph are read, nothing else
is loaded, fired or reaped). A statement that waited for its run fails with
:class:`~tasksql.errors.RunFailed` (and the run's own error) when the run, or the graph run it
started, failed or was cancelled.
Cancelling the query (CANCEL QUERY, Ctrl-C) while it waits cancels the run and stops waiting.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from tasksql.engine.core import Engine
from tasksql.engine.queries import current_query
from tasksql.engine.results import Result
from tasksql.engine.task_lookup import task_named_or_numbered
from tasksql.engine.tasks_ddl import get_task_or_raise
from tasksql.errors import QueryCancelled, RunFailed, TaskNotFound, ValidationError
from tasksql.model import RunState, TaskRecord
from tasksql.model.joins import is_graph_child
from tasksql.model.run import RunRecord
from tasksql.sql import statements as st
from tasksql.warehouses.base import CancelToken

if TYPE_CHECKING:
    from tasksql.scheduler.service import Scheduler

RUN_COLUMNS = ("status", "run_id", "state", "scheduled_time", "error_code", "error_message")

#: Run and graph run states that make a waiting EXECUTE TASK fail.
FAILED_STATES = frozenset({"FAILED", "CANCELLED", RunState.FAILED_AND_AUTO_SUSPENDED.value})


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
    if is_graph_child(rec.definition):
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
    if stmt.window is not None:
        from tasksql.engine.backfill import backfill  # it runs each window as this module does

        return await backfill(engine, stmt, rec)
    query = current_query()
    token = query.token if query is not None else None
    if scheduler is not None:
        run = await scheduler.execute_now(rec, config=stmt.using_config)
        started = run is not None and run.state is RunState.EXECUTING
        if not started or query is None or not query.wait_for_runs:
            status = (
                f"Task {shown} is scheduled to run immediately."
                if started
                else f"Task {shown} was not run: its previous run is still executing."
            )
            return _row(engine, status, run)
        assert run is not None
        run = await wait_for_run(engine, scheduler, rec, run, token)
        return await _outcome(engine, shown, run)
    local = engine.new_scheduler()
    await local.open_for(rec)
    try:
        run = await local.execute_now(rec, config=stmt.using_config)
        if run is not None:
            run = await wait_for_run(engine, local, rec, run, token)
    finally:
        # cancelled: what is left of the graph run is cancelled at once, not after the grace period
        grace = 0.0 if token is not None and token.cancelled else engine.settings.grace_period_s
        await local.stop(grace=grace)
    return await _outcome(engine, shown, run)


async def wait_for_run(
    engine: Engine, sched: Scheduler, rec: TaskRecord, run: RunRecord, token: CancelToken | None
) -> RunRecord | None:
    """Wait until ``run`` and its graph run are over; the run as stored then.

    :raises QueryCancelled: ``token`` was cancelled meanwhile; the task's running runs are cancelled.
    """

    async def over() -> None:
        await sched.wait_for_run(run.run_id)
        await sched.wait_for_graph(run.graph_run_group_id)

    waiter = asyncio.ensure_future(over())
    if token is None:
        await waiter
        return await engine.catalog.get_run(run.run_id)
    loop = asyncio.get_running_loop()
    cancelled: asyncio.Future[None] = loop.create_future()

    def settle() -> None:
        if not cancelled.done():
            cancelled.set_result(None)

    def wake() -> None:  # any thread
        loop.call_soon_threadsafe(settle)

    unhook = token.on_cancel(wake)
    try:
        await asyncio.wait({waiter, cancelled}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        unhook()
        cancelled.cancel()
    if not waiter.done():
        waiter.cancel()
        reason = f"cancelled: the statement waiting for it was cancelled ({token.reason})"
        await sched.cancel_task(rec.id, reason)
        raise QueryCancelled(
            f"EXECUTE TASK {engine.display_name(rec.name)} was cancelled while waiting for run {run.run_id};"
            " the task's running runs were cancelled"
        )
    return await engine.catalog.get_run(run.run_id)


async def _outcome(engine: Engine, shown: str, run: RunRecord | None) -> Result:
    """The result of an EXECUTE TASK that waited for its run.

    :raises RunFailed: the run (or its graph run) ended FAILED or CANCELLED; the message carries
        the run's error.
    """
    if run is None:
        return _row(engine, f"Task {shown} ran: NOT RUN.", None)
    state = run.state.value
    code, message, where = run.error_code, run.error_message, ""
    if run.graph_run_group_id is not None and state not in FAILED_STATES:
        group = await engine.catalog.get_graph_run(run.graph_run_group_id)
        if group is not None and group.state in FAILED_STATES:
            state, code, message = group.state, group.first_error_code, group.first_error_message
            where = f" (task graph: {group.first_error_task_name} {group.state})"
    if state in FAILED_STATES:
        detail = f"[{code}] {message}" if code else (message or "no error recorded")
        raise RunFailed(f"task {shown} ran: {state}{where}, run {run.run_id}: {detail}")
    if run.state is RunState.SKIPPED:
        return _row(engine, f"Task {shown} was not run: {run.error_message or 'skipped'}.", run)
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
    scheduler = engine.scheduler
    local = None
    if scheduler is None:
        local = scheduler = engine.new_scheduler()
        await local.open_for(rec)
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
    if local is not None and group is not None and state in FAILED_STATES:  # it was waited for
        detail = f"[{group.first_error_code}] {group.first_error_message}"
        raise RunFailed(
            f"task graph {shown} retried its last graph run (attempt {run.attempt_number}): {state}"
            f" ({group.first_error_task_name}): {detail}"
        )
    verb = "is retrying" if local is None else "retried"
    return _row(
        engine, f"Task graph {shown} {verb} its last graph run (attempt {run.attempt_number}): {state}.", run
    )


async def cancel_task(engine: Engine, stmt: st.CancelTask) -> Result:
    """Ocient's ``CANCEL TASK { 'task_name' | 'task_id' }``: the task of that name, else, for a
    number, the task of that id (``task_id`` in sys.subtasks / system.subtasks, ``id`` in SHOW
    TASKS): an anonymous ``CREATE TASK TYPE ...`` is found by its id as Ocient's docs say."""
    rec = await task_named_or_numbered(engine, stmt.name)
    if rec is None:
        try:
            rec = await get_task_or_raise(engine, stmt.name, stmt)  # raises: it does not exist
        except TaskNotFound as err:
            if len(stmt.name.parts) == 1 and stmt.name.name.isdigit():  # looked up as an id too
                number = stmt.name.name
                raise TaskNotFound(
                    f"no task is named {number} or has id {number} (SHOW TASKS lists names and ids)",
                    span=err.span,
                ) from None
            raise
    count = 0
    if engine.scheduler is not None:
        count = await engine.scheduler.cancel_task(rec.id)
    # the sub-tasks of its fanned-out runs, on every node (each node cancels its statement when it
    # sees its sub-task cancelled; the run settles CANCELLED once all have)
    reason = "cancelled: CANCEL TASK"
    subtasks = await engine.catalog.cancel_subtasks(task_id=rec.id, now=engine.clock.now(), reason=reason)
    more = f", {len(subtasks)} sub-task(s) cancelled" if subtasks else ""
    return Result.status(
        f"Task {engine.display_name(rec.name)}: {count} run(s) cancelled{more}.", "CANCEL TASK"
    )
