"""Tasks after tasks of several graphs (Databend's ``AFTER task1, task2``).

Snowflake's rule: a task graph has one root, and a task with predecessors runs inside the graph
runs of that root. Databend has no graph runs: a task after others runs when each of its
predecessors' latest run succeeded and finished after the task's own last run, so that its
predecessors may belong to different graphs.

tasksql keeps both. A task *joins graphs* when its definition says ``after_any_graph`` (set for
``AFTER`` written the Databend way, or ``AFTER_ANY_GRAPH = TRUE``) and it has more than one
predecessor. Such a task is not a member of its predecessors' graphs: it is the root of a graph of
its own (itself and the tasks after it), started by its predecessors' outcomes instead of a
schedule. Its predecessors' graph runs are unaffected by it. Every other task with predecessors
follows Snowflake's rule. Pure functions: the engine, the graph rules and the scheduler share them.
"""

from __future__ import annotations

from tasksql.model.task import QualifiedName, TaskDef


def joins_graphs(task: TaskDef) -> bool:
    """Whether ``task`` runs once each of its predecessors succeeded, outside their graph runs."""
    return task.after_any_graph and len(task.after) > 1


def graph_predecessors(task: TaskDef) -> tuple[QualifiedName, ...]:
    """The predecessors whose graph runs ``task`` belongs to: none for a task that joins graphs
    (it is a root of its own graph), its ``AFTER`` list otherwise."""
    return () if joins_graphs(task) else task.after


def is_graph_child(task: TaskDef) -> bool:
    """Whether ``task`` runs inside another task's graph runs (a child or a finalizer), so that it
    has no schedule of its own and cannot be executed on its own."""
    return bool(graph_predecessors(task)) or task.finalize is not None
