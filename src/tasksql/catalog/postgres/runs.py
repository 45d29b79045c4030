"""Job bodies of the PostgreSQL catalog for runs, task runtime fields, nodes and task graphs.

Plain functions of a psycopg cursor, run by the writer thread (inside the group transaction) or by
a reader (see :mod:`tasksql.catalog.postgres.catalog`). Batches of rows go in one round trip
(``executemany``, pipelined by psycopg). The row mapping is :mod:`tasksql.catalog.rows`, shared
with every backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from tasksql.catalog.base import LostRuns, UnstartedRun
from tasksql.catalog.cluster_rows import fence_params
from tasksql.catalog.postgres.connect import Cursor
from tasksql.catalog.queries import load_queries
from tasksql.catalog.rows import (
    db_time_opt,
    from_db_time,
    graph_end_params,
    graph_run_params,
    graph_run_record,
    members_from_json,
    members_json,
    new_run_params,
    outcome_params,
    record_from_new,
    run_record,
    runtime_params,
)
from tasksql.model.cluster import Fence
from tasksql.model.run import (
    GraphRunEnd,
    GraphRunRecord,
    NewGraphRun,
    NewRun,
    RunOutcome,
    RunRecord,
    TaskRuntime,
    settling,
)

_Q: dict[str, str] = {name: query.sql for name, query in load_queries("postgres").items()}


def fire(
    cur: Cursor,
    runs: Sequence[NewRun],
    runtime: Sequence[TaskRuntime],
    now: str,
    fence: Fence | None = None,
) -> list[RunRecord | None]:
    """Insert runs (None where a fence already holds the instant, or ``fence`` does not hold the
    task) and apply runtime updates. The fence rides in each statement (no extra round trip)."""
    out: list[RunRecord | None] = []
    if runs:
        query, extra = _fenced("run_insert", fence)
        cur.executemany(query, [new_run_params(run) | extra for run in runs], returning=True)
        for run in runs:
            row = cur.fetchone()
            out.append(None if row is None else record_from_new(int(row["run_id"]), run))
            cur.nextset()
    apply_runtime(cur, runtime, now, fence)
    return out


def apply_runtime(cur: Cursor, runtime: Sequence[TaskRuntime], now: str, fence: Fence | None = None) -> None:
    if runtime:
        query, extra = _fenced("task_runtime", fence)
        cur.executemany(query, [runtime_params(u, now) | extra for u in runtime])


def settle(
    cur: Cursor, outcome: RunOutcome, runtime: TaskRuntime | None, now: str, fence: Fence | None = None
) -> bool:
    """Settle one run (only if it is not settled yet, and while ``fence`` holds its lease) and
    apply the task's runtime change."""
    query, extra = _fenced("run_settle", fence)
    cur.execute(query, outcome_params(outcome) | extra)
    settled = cur.rowcount > 0
    if runtime is not None:
        apply_runtime(cur, [runtime], now, fence)
    return settled


def _fenced(query: str, fence: Fence | None) -> tuple[str, dict[str, object]]:
    """The statement to run, plain or conditional on ``fence`` (``<query>_fenced``), and the
    parameters the fence adds."""
    if fence is None:
        return _Q[query], {}
    return _Q[_FENCED[query]], fence_params(fence)


#: The fenced form of each statement that a fence can guard.
_FENCED = {
    "run_insert": "run_insert_fenced",
    "run_settle": "run_settle_fenced",
    "task_runtime": "task_runtime_fenced",
    "graph_run_finish": "graph_run_finish_fenced",
}


def record_fires(
    cur: Cursor,
    node_id: str,
    updates: Sequence[RunOutcome],
    releases: Sequence[tuple[int, str]],
    claims: Sequence[NewRun],
    now: str,
    fence: Fence | None = None,
) -> list[RunRecord | None]:
    """Update claimed runs, delete released ones, insert new claims (see Catalog.record_fires)."""
    if updates:
        query, extra = _fenced("run_settle", fence)
        cur.executemany(query, [outcome_params(outcome) | extra for outcome in updates])
    if releases:
        cur.executemany(
            _Q["runs_release_claim"],
            [{"task_id": t, "scheduled_time": at, "node_id": node_id} for t, at in releases],
        )
    return fire(cur, claims, (), now, fence)


def list_runs(
    cur: Cursor,
    *,
    task_id: int | None,
    start: datetime | None,
    end: datetime | None,
    error_only: bool,
    root_task_id: int | None,
    limit: int | None,
) -> list[RunRecord]:
    params = {
        "task_id": task_id,
        "start": db_time_opt(start),
        "end": db_time_opt(end),
        "error_only": 1 if error_only else 0,
        "root_task_id": root_task_id,
        "limit": limit,
    }
    cur.execute(_Q["runs_list"], params)
    return [run_record(row) for row in cur]


def last_per_task(cur: Cursor, now: str) -> dict[int, tuple[str, datetime]]:
    cur.execute(_Q["runs_last_per_task"], {"now": now})
    return {row["task_id"]: (row["state"], from_db_time(row["at"])) for row in cur}


def settle_lost(
    cur: Cursor,
    node_ids: Sequence[str],
    now: str,
    message: str,
    unstarted: Sequence[UnstartedRun],
    committed: Sequence[RunOutcome] = (),
    keep: Sequence[int] = (),
) -> dict[str, LostRuns]:
    """See :meth:`Catalog.settle_lost_runs` (the steps are numbered as there)."""
    # failed, skipped, replanned, released, committed
    counts = {node_id: [0, 0, 0, 0, 0] for node_id in node_ids}
    owners = _owners(cur, [u.run_id for u in unstarted] + [o.run_id for o in committed], node_ids)
    for outcome in committed:  # 0. bodies that committed
        node_id = owners.get(outcome.run_id)
        if node_id is None:
            continue
        params = {
            "run_id": outcome.run_id,
            "node_id": node_id,
            "state": settling(outcome.state).value,
            "completed_time": db_time_opt(outcome.completed_time) or now,
            "query_start_time": db_time_opt(outcome.query_start_time),
            "error_code": outcome.error_code,
            "error_message": outcome.error_message,
        }
        cur.execute(_Q["runs_lost_committed"], params)
        counts[node_id][4] += cur.rowcount
    for item in unstarted:  # 1. the reaper's decisions
        node_id = owners.get(item.run_id)
        if node_id is None:
            continue
        key = {"run_id": item.run_id, "node_id": node_id}
        if item.skipped is not None:
            params = {
                **key,
                "completed_time": db_time_opt(item.skipped.completed_time) or now,
                "error_code": item.skipped.error_code,
                "error_message": item.skipped.error_message,
            }
            cur.execute(_Q["runs_lost_skip"], params)
            counts[node_id][1] += cur.rowcount
            continue
        cur.execute(_Q["runs_lost_delete"], key)
        row = cur.fetchone()
        if row is None:
            continue
        if item.rewind:
            rewind = {"task_id": row["task_id"], "version": row["task_version"], "at": row["scheduled_time"]}
            cur.execute(_Q["task_rewind_next_fire"], rewind)
        counts[node_id][2 if item.rewind else 3] += 1
    for node_id in node_ids:
        c = counts[node_id]
        params = {"node_id": node_id, "now": now, "message": message, "keep": list(keep)}
        cur.execute(_Q["runs_drop_future_claims"], params)  # 2.
        c[3] += cur.rowcount
        cur.execute(_Q["runs_skip_lost_unstarted"], params)  # 3.
        c[1] += cur.rowcount
        cur.execute(_Q["runs_settle_lost"], params)  # 4.
        c[0] += cur.rowcount
        cur.execute(_Q["graph_runs_settle_lost"], params)
    return {node_id: LostRuns(*c) for node_id, c in counts.items() if any(c)}


def _owners(cur: Cursor, run_ids: Sequence[int], node_ids: Sequence[str]) -> dict[int, str]:
    """run id -> node id of those ``run_ids`` that belong to one of ``node_ids``."""
    if not run_ids:
        return {}
    cur.execute(_Q["runs_nodes"], {"run_ids": list(run_ids)})
    wanted = set(node_ids)
    return {row["run_id"]: row["node_id"] for row in cur.fetchall() if row["node_id"] in wanted}


def prune(cur: Cursor, default_cutoff: str, per_task: Mapping[int, str]) -> int:
    """Prune every task at the default cutoff, except those with their own (pruned at theirs)."""
    query = _Q["runs_prune"]
    cur.execute(query, {"cutoff": default_cutoff, "task_id": None, "exempt": list(per_task)})
    deleted = cur.rowcount
    for task_id, cutoff in per_task.items():
        cur.execute(query, {"cutoff": cutoff, "task_id": task_id, "exempt": []})
        deleted += cur.rowcount
    cur.execute(_Q["nodes_prune"], {"cutoff": default_cutoff})
    return deleted


# --- graphs --------------------------------------------------------------------------------------


def graph_version(cur: Cursor, root_task_id: int, members: Mapping[int, int], now: str) -> int:
    """The version number of this member set for the root, created when new.

    An advisory lock per root (held to the end of the transaction) serialises the numbering, so two
    nodes asking at once for a new member set get one version, not two numbers for it.
    """
    text = members_json(members)
    cur.execute(_Q["graph_version_lock"], {"root_task_id": root_task_id})
    cur.execute(_Q["graph_version_find"], {"root_task_id": root_task_id, "members": text})
    row = cur.fetchone()
    if row is not None:
        return int(row["graph_version"])
    cur.execute(
        _Q["graph_version_insert"], {"root_task_id": root_task_id, "members": text, "created_on": now}
    )
    row = cur.fetchone()
    assert row is not None
    return int(row["graph_version"])


def version_members(cur: Cursor, root_task_id: int, version: int) -> dict[int, int] | None:
    cur.execute(_Q["graph_version_members"], {"root_task_id": root_task_id, "graph_version": version})
    row = cur.fetchone()
    return None if row is None else members_from_json(row["members"])


def fire_with_graphs(
    cur: Cursor,
    runs: Sequence[NewRun],
    runtime: Sequence[TaskRuntime],
    graphs: Sequence[NewGraphRun],
    now: str,
    fence: Fence | None = None,
) -> list[RunRecord | None]:
    """:func:`fire`, plus each graph run whose root run was inserted (or that has no root run)."""
    records = fire(cur, runs, runtime, now, fence)
    for g in graphs:
        root_run_id = None
        if g.root_run_index is not None:
            root = records[g.root_run_index]
            if root is None:
                continue  # another node fired this root instant: its graph run is theirs
            root_run_id = root.run_id
        cur.execute(_Q["graph_run_insert"], graph_run_params(g, root_run_id))
    return records


def settle_step(
    cur: Cursor,
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
        settle(cur, outcome, None, now, fence)
    if runtime is not None:
        apply_runtime(cur, [runtime], now, fence)
    records = fire(cur, new_runs, (), now, fence)
    if end is not None:
        query, extra = _fenced("graph_run_finish", fence)
        cur.execute(query, graph_end_params(end) | extra)
    return records


def list_graph_runs(
    cur: Cursor, root_task_id: int | None, states: Sequence[str] | None, limit: int | None
) -> list[GraphRunRecord]:
    params = {
        "root_task_id": root_task_id,
        "states": None if states is None else list(states),
        "limit": limit,
    }
    cur.execute(_Q["graph_runs_list"], params)
    return [graph_run_record(row) for row in cur]


def runs_of(cur: Cursor, group_id: str) -> list[RunRecord]:
    cur.execute(_Q["runs_of_graph_run"], {"graph_run_group_id": group_id})
    return [run_record(row) for row in cur]
