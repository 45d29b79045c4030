"""Job bodies of the SQLite catalog for task graphs: graph versions and graph runs.

Plain functions of a ``sqlite3.Connection`` (see :mod:`tasksql.catalog.sqlite` for the rules).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence

from tasksql.catalog.cluster_rows import fence_params
from tasksql.catalog.queries import load_queries
from tasksql.catalog.rows import (
    graph_end_params,
    graph_run_params,
    graph_run_record,
    members_from_json,
    members_json,
    run_record,
)
from tasksql.catalog.sqlite.runs import apply_runtime, fire, settle
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

_Q: dict[str, str] = {name: query.sql for name, query in load_queries("sqlite").items()}

# The row mapping is shared with every backend (catalog.rows); these names stay importable from here.
__all__ = ["graph_run_record", "members_json"]


def graph_version(conn: sqlite3.Connection, root_task_id: int, members: Mapping[int, int], now: str) -> int:
    """The version number of this member set for the root, created when new."""
    text = members_json(members)
    row = conn.execute(_Q["graph_version_find"], {"root_task_id": root_task_id, "members": text}).fetchone()
    if row is not None:
        return int(row[0])
    params = {"root_task_id": root_task_id, "members": text, "created_on": now}
    return int(conn.execute(_Q["graph_version_insert"], params).fetchall()[0][0])


def version_members(conn: sqlite3.Connection, root_task_id: int, version: int) -> dict[int, int] | None:
    row = conn.execute(
        _Q["graph_version_members"], {"root_task_id": root_task_id, "graph_version": version}
    ).fetchone()
    return None if row is None else members_from_json(row[0])


def fire_with_graphs(
    conn: sqlite3.Connection,
    runs: Sequence[NewRun],
    runtime: Sequence[TaskRuntime],
    graphs: Sequence[NewGraphRun],
    now: str,
    fence: Fence | None = None,
) -> list[RunRecord | None]:
    """:func:`fire`, plus each graph run whose root run was inserted (or that has no root run)."""
    records = fire(conn, runs, runtime, now, fence)
    for g in graphs:
        root_run_id = None
        if g.root_run_index is not None:
            root = records[g.root_run_index]
            if root is None:
                continue  # another node fired this root instant: its graph run is theirs
            root_run_id = root.run_id
        conn.execute(_Q["graph_run_insert"], graph_run_params(g, root_run_id))
    return records


def settle_step(
    conn: sqlite3.Connection,
    *,
    outcome: RunOutcome | None,
    runtime: TaskRuntime | None,
    new_runs: Sequence[NewRun],
    end: GraphRunEnd | None,
    now: str,
    fence: Fence | None = None,
) -> list[RunRecord | None]:
    """Settle a run of a graph, insert the runs it makes due, and maybe end the graph run."""
    if outcome is not None:
        settle(conn, outcome, None, now, fence)
    if runtime is not None:
        apply_runtime(conn, [runtime], now, fence)
    records = fire(conn, new_runs, (), now, fence)
    if end is not None:
        if fence is None:
            conn.execute(_Q["graph_run_finish"], graph_end_params(end))
        else:
            conn.execute(_Q["graph_run_finish_fenced"], graph_end_params(end) | fence_params(fence))
    return records


def list_graph_runs(
    conn: sqlite3.Connection, root_task_id: int | None, states: Sequence[str] | None, limit: int | None
) -> list[GraphRunRecord]:
    params = {
        "root_task_id": root_task_id,
        "states": json.dumps(list(states)) if states is not None else None,
        "limit": -1 if limit is None else limit,
    }
    return [graph_run_record(row) for row in conn.execute(_Q["graph_runs_list"], params)]


def runs_of(conn: sqlite3.Connection, group_id: str) -> list[RunRecord]:
    return [run_record(r) for r in conn.execute(_Q["runs_of_graph_run"], {"graph_run_group_id": group_id})]


def settle_lost_graphs(conn: sqlite3.Connection, node_ids: Sequence[str], now: str, message: str) -> None:
    for node_id in node_ids:
        conn.execute(_Q["graph_runs_settle_lost"], {"node_id": node_id, "now": now, "message": message})
