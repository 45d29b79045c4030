"""Finding the task a statement names, where a system lets a number stand for a task's id."""

from __future__ import annotations

from tasksql.engine.core import Engine
from tasksql.model import QualifiedName, TaskRecord


async def task_named_or_numbered(engine: Engine, name: QualifiedName) -> TaskRecord | None:
    """The task called ``name``; else, when ``name`` is a bare number, the task of that id.

    Ocient's ``CANCEL TASK { 'task_name' | 'task_id' }`` names a task by the id its system tables
    show (``task_id`` in sys.subtasks, ``id`` in SHOW TASKS): an anonymous ``CREATE TASK TYPE ...``
    is found so. A task named like a number wins over the task of that id.
    """
    rec = await engine.catalog.get_task(engine.resolve(name))
    if rec is not None or len(name.parts) != 1 or not name.name.isdigit():
        return rec
    return await engine.catalog.get_task_by_id(int(name.name))
