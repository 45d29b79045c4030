"""What ``SYSTEM$TASK_RUNTIME_INFO`` tells a run about its task graph, beyond the run itself.

Snowflake documents these properties (docs.snowflake.com/en/sql-reference/functions/
system_task_runtime_info): ``CURRENT_ROOT_TASK_NAME``, ``CURRENT_ROOT_TASK_UUID`` (the root's id as
SHOW TASKS shows it), ``LAST_SUCCESSFUL_TASK_GRAPH_RUN_GROUP_ID`` and
``LAST_SUCCESSFUL_TASK_GRAPH_ORIGINAL_SCHEDULED_TIMESTAMP`` (the newest graph run of the root that
SUCCEEDED, the one a body processes data since). They need the catalog, so they are computed only
when a body asks for one of them, once per attempt.

A task outside any graph is its own root; its last successful "graph run" is its own newest
SUCCEEDED run (its group id is then NULL, as its current group id is).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tasksql.catalog.base import Catalog
from tasksql.model import RunState
from tasksql.model.run import RunRecord
from tasksql.scheduler.graph_run import GraphRun

#: How many of a standalone task's newest runs are searched for its last success.
_STANDALONE_WINDOW = 200


@dataclass(frozen=True, slots=True)
class GraphFacts:
    root_name: str
    root_id: int
    last_success_group: str | None
    last_success_time: datetime | None


async def graph_facts(catalog: Catalog, run: RunRecord, graph: GraphRun | None) -> GraphFacts:
    """The facts of ``run``'s graph (``graph`` None: a run outside any graph)."""
    if graph is not None:
        root = graph.members.get(graph.root_id)
        root_name = str(root.name) if root is not None else run.name
        done = await catalog.list_graph_runs(root_task_id=graph.root_id, states=["SUCCEEDED"], limit=1)
        last = next((g for g in done if g.graph_run_group_id != graph.group_id), None)
        return GraphFacts(
            root_name=root_name,
            root_id=graph.root_id,
            last_success_group=last.graph_run_group_id if last is not None else None,
            last_success_time=last.scheduled_time if last is not None else None,
        )
    runs = await catalog.list_runs(task_id=run.task_id, limit=_STANDALONE_WINDOW)
    own = next((r for r in runs if r.state is RunState.SUCCEEDED and r.run_id != run.run_id), None)
    return GraphFacts(
        root_name=run.name,
        root_id=run.root_task_id or run.task_id,
        last_success_group=None,
        last_success_time=own.scheduled_time if own is not None else None,
    )
