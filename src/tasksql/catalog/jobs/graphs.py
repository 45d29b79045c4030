"""Job bodies for task graphs: graph versions and graph runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tasksql.catalog.dialect import CatalogDialect
from tasksql.catalog.jobs.runs import apply_runtime, fenced, fire, settle
from tasksql.catalog.rows import (
    graph_end_params,
    graph_run_params,
    graph_run_record,
    members_from_json,
    members_json,
    run_record,
)
from tasksql.catalog.writer import D
from tasksql.model.cluster import Fence
from tasksql.model.run import (
    GraphRunEnd,
    GraphRunRecord,
    NewGraphRun,
    NewRun,
    RunOutcome,
    RunRecord,
    TaskRuntime,
)


def graph_version(
    sql: CatalogDialect[D], db: D, root_task_id: int, members: Mapping[int, int], now: str
) -> int:
    """The version number of this member set for the root, created when new.

    Two nodes asking at once for a new member set get one version, not two numbers for it: the
    numbering of one root is serialised (:meth:`~CatalogDialect.lock_graph_root`).
    """
    text = members_json(members)
    sql.lock_graph_root(db, root_task_id)
    row = sql.first(db, "graph_version_find", {"root_task_id": root_task_id, "members": text})
    if row is not None:
        return int(row["graph_version"])
    params = {"root_task_id": root_task_id, "members": text, "created_on": now}
    [row] = sql.rows(db, "graph_version_insert", params)
    return int(row["graph_version"])


def version_members(sql: CatalogDialect[D], db: D, root_task_id: int, version: int) -> dict[int, int] | None:
    row = sql.first(db, "graph_version_members", {"root_task_id": root_task_id, "graph_version": version})
    return None if row is None else members_from_json(row["members"])


def fire_with_graphs(
    sql: CatalogDialect[D],
    db: D,
    runs: Sequence[NewRun],
    runtime: Sequence[TaskRuntime],
    graphs: Sequence[NewGraphRun],
    now: str,
    fence: Fence | None = None,
) -> list[RunRecord | None]:
    """:func:`~.runs.fire`, plus each graph run whose root run was inserted (or that has no root run)."""
    records = fire(sql, db, runs, runtime, now, fence)
    for g in graphs:
        root_run_id = None
        if g.root_run_index is not None:
            root = records[g.root_run_index]
            if root is None:
                continue  # another node fired this root instant: its graph run is theirs
            root_run_id = root.run_id
        sql.execute(db, "graph_run_insert", graph_run_params(g, root_run_id))
    return records


def settle_step(
    sql: CatalogDialect[D],
    db: D,
    *,
    outcome: RunOutcome | None,
    runtime: TaskRuntime | None,
    new_runs: Sequence[NewRun],
    end: GraphRunEnd | None,
    now: str,
    fence: Fence | None = None,
    required: bool = False,
) -> list[RunRecord | None] | None:
    """Settle a run of a graph, insert the runs it makes due, and maybe end the graph run; with
    ``required``, nothing but the outcome is tried when the outcome is not applied (None)."""
    if outcome is not None and not settle(sql, db, outcome, None, now, fence) and required:
        return None
    if runtime is not None:
        apply_runtime(sql, db, [runtime], now, fence)
    records = fire(sql, db, new_runs, (), now, fence)
    if end is not None:
        query, extra = fenced("graph_run_finish", fence)
        sql.execute(db, query, graph_end_params(end) | extra)
    return records


def list_graph_runs(
    sql: CatalogDialect[D], db: D, root_task_id: int | None, states: Sequence[str] | None, limit: int | None
) -> list[GraphRunRecord]:
    """Graph runs newest first, through the statement of this shape of filters (see
    :meth:`CatalogDialect.shaped`): of one root, the index by root and scheduled time."""
    params: dict[str, object] = {}
    if root_task_id is not None:
        params["root_task_id"] = root_task_id
    if states is not None:
        params["states"] = sql.array(states)
    query = sql.shaped("graph_runs_list", list(params))
    params["limit"] = sql.limit(limit)
    return [graph_run_record(row) for row in sql.rows(db, query, params)]


def runs_of(sql: CatalogDialect[D], db: D, group_id: str) -> list[RunRecord]:
    return [run_record(row) for row in sql.rows(db, "runs_of_graph_run", {"graph_run_group_id": group_id})]
