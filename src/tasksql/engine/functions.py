"""SYSTEM$ functions callable from any statement (as opposed to those only valid inside a task body).

``SYSTEM$TASK_DEPENDENTS_ENABLE('<root>')`` resumes a root task and every task reachable from it;
it returns the status text Snowflake returns. ``SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS('<t>')``
cancels the task's runs in progress, as ``CANCEL TASK`` does. ``SYSTEM$WAIT(<n> [, '<unit>'])``
waits (:mod:`tasksql.scheduler.system_wait`). Each may be written ``SELECT f(...)``,
``CALL f(...)`` or inside an expression (:mod:`tasksql.sysviews.rewrite`).
"""

from __future__ import annotations

from collections.abc import Mapping

from tasksql.catalog.base import TaskUpdate
from tasksql.engine.core import Engine
from tasksql.engine.tasks_ddl import next_fire_at
from tasksql.errors import TaskNotFound, ValidationError
from tasksql.model import TaskState
from tasksql.scheduler.system_wait import system_wait
from tasksql.sysviews.tables import ScalarFn, task_name_arg
from tasksql.taskgraph import Graph


def _name_arg(args: list[object], fn: str) -> str:
    if len(args) != 1 or not isinstance(args[0], str):
        raise ValidationError(f"{fn}('<task name>') takes one task name", code="INVALID_ARGUMENT")
    return args[0]


def engine_scalars(engine: Engine) -> Mapping[str, ScalarFn]:
    async def dependents_enable(args: list[object]) -> object:
        text = _name_arg(args, "SYSTEM$TASK_DEPENDENTS_ENABLE")
        root_name = engine.resolve(task_name_arg(text, "SYSTEM$TASK_DEPENDENTS_ENABLE"))
        records = {r.name: r for r in await engine.catalog.list_tasks()}
        if root_name not in records:
            raise TaskNotFound(f"task {text} does not exist")
        graph = Graph({n: r.definition for n, r in records.items()})
        names = [root_name, *graph.dependents(root_name)]  # tasks joining graphs after it too
        final = graph.finalizer_of.get(root_name)
        if final is not None:
            names.append(final)
        now = engine.now()
        updates = [
            TaskUpdate(
                task_id=records[n].id,
                expected_version=records[n].version,
                state=TaskState.STARTED,
                suspend_reason=None,
                resumed_on=now,
                next_fire_at=next_fire_at(records[n].definition, anchor=now, now=now),
            )
            for n in names
            if records[n].state is not TaskState.STARTED
        ]
        if updates:
            await engine.catalog.update_tasks(updates, now=now, actor=engine.user.name)
            if engine.scheduler is not None:
                engine.scheduler.notify_change()
        return f"Task {text} and its dependents are started ({len(names)} tasks)."

    async def cancel_ongoing(args: list[object]) -> object:
        fn = "SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS"
        text = _name_arg(args, fn)
        name = engine.resolve(task_name_arg(text, fn))
        records = {r.name: r for r in await engine.catalog.list_tasks()}
        if name not in records:
            raise TaskNotFound(f"task {text} does not exist")
        task_id = records[name].id
        count = await engine.scheduler.cancel_task(task_id) if engine.scheduler is not None else 0
        reason = f"cancelled: {fn}"
        subtasks = await engine.catalog.cancel_subtasks(
            task_id=task_id, now=engine.clock.now(), reason=reason
        )
        more = f", {len(subtasks)} sub-task(s)" if subtasks else ""
        return f"Task {text}: {count} ongoing execution(s) cancelled{more}."

    async def wait(args: list[object]) -> object:
        return await system_wait(args)  # a CANCEL QUERY cancels the statement, and the wait

    return {
        "system$task_dependents_enable": dependents_enable,
        "task_dependents_enable": dependents_enable,  # Databend writes it without SYSTEM$
        "system$user_task_cancel_ongoing_executions": cancel_ongoing,
        "system$wait": wait,
    }
