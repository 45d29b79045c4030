"""Job bodies of the SQLite catalog for task graphs: graph versions and graph runs.

Plain functions of a ``sqlite3.Connection`` (see :mod:`tasksql.catalog.sqlite` for the rules).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from tasksql.catalog.queries import load_queries
from tasksql.catalog.rows import Row, db_time, db_time_opt, from_db_time, from_db_time_opt
from tasksql.catalog.sqlite_runs import apply_runtime, fire, run_record, settle
from tasksql.model import ScheduledFrom
from tasksql.runs import GraphRunEnd, GraphRunRecord, NewGraphRun, NewRun, RunOutcome, RunRecord, TaskRuntime

_Q: dict[str, str] = {name: query.sql for name, query in load_queries("sqlite").items()}


def members_json(members: Mapping[int, int]) -> str:
    """The canonical text of a graph's members: ``{"<task id>": <version>, ...}`` sorted by id."""
    return json.dumps({str(k): members[k] for k in sorted(members)}, separators=(",", ":"))


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
    return None if row is None else {int(k): int(v) for k, v in json.loads(row[0]).items()}


def _graph_params(g: NewGraphRun, root_run_id: int | None) -> dict[str, Any]:
    return {
        "graph_run_group_id": g.graph_run_group_id,
        "root_task_id": g.root_task_id,
        "root_task_name": g.root_task_name,
        "database_name": g.database_name,
        "schema_name": g.schema_name,
        "graph_version": g.graph_version,
        "state": g.state,
        "scheduled_from": g.scheduled_from.value,
        "scheduled_time": db_time(g.scheduled_time),
        "query_start_time": db_time_opt(g.query_start_time),
        "attempt_number": g.attempt_number,
        "root_run_id": root_run_id,
        "config": g.config,
        "node_id": g.node_id,
    }


def fire_with_graphs(
    conn: sqlite3.Connection,
    runs: Sequence[NewRun],
    runtime: Sequence[TaskRuntime],
    graphs: Sequence[NewGraphRun],
    now: str,
) -> list[RunRecord | None]:
    """:func:`fire`, plus each graph run whose root run was inserted (or that has no root run)."""
    records = fire(conn, runs, runtime, now)
    for g in graphs:
        root_run_id = None
        if g.root_run_index is not None:
            root = records[g.root_run_index]
            if root is None:
                continue  # another node fired this root instant: its graph run is theirs
            root_run_id = root.run_id
        conn.execute(_Q["graph_run_insert"], _graph_params(g, root_run_id))
    return records


def settle_step(
    conn: sqlite3.Connection,
    *,
    outcome: RunOutcome | None,
    runtime: TaskRuntime | None,
    new_runs: Sequence[NewRun],
    end: GraphRunEnd | None,
    now: str,
) -> list[RunRecord | None]:
    """Settle a run of a graph, insert the runs it makes due, and maybe end the graph run."""
    if outcome is not None:
        settle(conn, outcome, None, now)
    if runtime is not None:
        apply_runtime(conn, [runtime], now)
    records = fire(conn, new_runs, (), now)
    if end is not None:
        conn.execute(
            _Q["graph_run_finish"],
            {
                "graph_run_group_id": end.graph_run_group_id,
                "state": end.state,
                "completed_time": db_time(end.completed_time),
                "first_error_task_name": end.first_error_task_name,
                "first_error_code": end.first_error_code,
                "first_error_message": end.first_error_message,
            },
        )
    return records


def graph_run_record(row: Row) -> GraphRunRecord:
    return GraphRunRecord(
        graph_run_group_id=row["graph_run_group_id"],
        root_task_id=row["root_task_id"],
        root_task_name=row["root_task_name"],
        database_name=row["database_name"],
        schema_name=row["schema_name"],
        graph_version=row["graph_version"],
        state=row["state"],
        scheduled_from=ScheduledFrom(row["scheduled_from"]),
        scheduled_time=from_db_time(row["scheduled_time"]),
        query_start_time=from_db_time_opt(row["query_start_time"]),
        completed_time=from_db_time_opt(row["completed_time"]),
        attempt_number=row["attempt_number"],
        root_run_id=row["root_run_id"],
        first_error_task_name=row["first_error_task_name"],
        first_error_code=row["first_error_code"],
        first_error_message=row["first_error_message"],
        config=row["config"],
        node_id=row["node_id"],
    )


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
