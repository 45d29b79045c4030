"""Job bodies of the SQLite catalog for runs, task runtime fields and nodes.

Plain functions of a ``sqlite3.Connection``, run by the writer thread (inside the group
transaction) or a reader thread; see :mod:`tasksql.catalog.sqlite` for the rules they follow.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime

from tasksql.catalog.base import LostRuns, UnstartedRun
from tasksql.catalog.cluster_rows import fence_params
from tasksql.catalog.queries import load_queries
from tasksql.catalog.rows import (
    db_time_opt,
    from_db_time,
    new_run_params,
    node_params,
    node_record,
    outcome_params,
    record_from_new,
    run_record,
    runtime_params,
)
from tasksql.model.cluster import Fence
from tasksql.model.run import NewRun, RunOutcome, RunRecord, TaskRuntime, settling

# The row mapping is shared with every backend (catalog.rows); these names stay importable from here.
__all__ = ["node_params", "node_record", "run_record"]

_Q: dict[str, str] = {name: query.sql for name, query in load_queries("sqlite").items()}


def fire(
    conn: sqlite3.Connection,
    runs: Sequence[NewRun],
    runtime: Sequence[TaskRuntime],
    now: str,
    fence: Fence | None = None,
) -> list[RunRecord | None]:
    """Insert runs (None where a fence already holds the instant, or ``fence`` does not hold the
    task) and apply runtime updates."""
    out: list[RunRecord | None] = []
    insert, extra = _fenced("run_insert", fence)
    for run in runs:
        row = conn.execute(insert, new_run_params(run) | extra).fetchone()
        out.append(None if row is None else record_from_new(row[0], run))
    apply_runtime(conn, runtime, now, fence)
    return out


def apply_runtime(
    conn: sqlite3.Connection, runtime: Sequence[TaskRuntime], now: str, fence: Fence | None = None
) -> None:
    if runtime:
        query, extra = _fenced("task_runtime", fence)
        conn.executemany(query, [runtime_params(u, now) | extra for u in runtime])


def settle(
    conn: sqlite3.Connection,
    outcome: RunOutcome,
    runtime: TaskRuntime | None,
    now: str,
    fence: Fence | None = None,
) -> bool:
    """Settle one run (only if it is not settled yet, and while ``fence`` holds its lease) and
    apply the task's runtime change."""
    query, extra = _fenced("run_settle", fence)
    updated = conn.execute(query, outcome_params(outcome) | extra).fetchall()
    if runtime is not None:
        apply_runtime(conn, [runtime], now, fence)
    return bool(updated)


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


def list_runs(
    conn: sqlite3.Connection,
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
        "limit": -1 if limit is None else limit,
    }
    return [run_record(row) for row in conn.execute(_Q["runs_list"], params)]


def last_per_task(conn: sqlite3.Connection, now: str) -> dict[int, tuple[str, datetime]]:
    rows = conn.execute(_Q["runs_last_per_task"], {"now": now})
    return {row[0]: (row[1], from_db_time(row[2])) for row in rows}


def settle_lost(
    conn: sqlite3.Connection,
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
    owners = _owners(conn, [u.run_id for u in unstarted] + [o.run_id for o in committed], node_ids)
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
        counts[node_id][4] += len(conn.execute(_Q["runs_lost_committed"], params).fetchall())
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
            counts[node_id][1] += len(conn.execute(_Q["runs_lost_skip"], params).fetchall())
            continue
        row = conn.execute(_Q["runs_lost_delete"], key).fetchone()
        if row is None:
            continue
        if item.rewind:
            rewind = {"task_id": row[0], "version": row[1], "at": row[2]}
            conn.execute(_Q["task_rewind_next_fire"], rewind)
        counts[node_id][2 if item.rewind else 3] += 1
    kept = json.dumps(list(keep))
    for node_id in node_ids:
        c = counts[node_id]
        params = {"node_id": node_id, "now": now, "keep": kept}
        c[3] += conn.execute(_Q["runs_drop_future_claims"], params).rowcount  # 2.
        c[1] += len(conn.execute(_Q["runs_skip_lost_unstarted"], params).fetchall())  # 3.
        rows = conn.execute(_Q["runs_settle_lost"], {**params, "message": message})
        c[0] += len(rows.fetchall())  # 4.
    return {node_id: LostRuns(*c) for node_id, c in counts.items() if any(c)}


def _owners(conn: sqlite3.Connection, run_ids: Sequence[int], node_ids: Sequence[str]) -> dict[int, str]:
    """run id -> node id of those ``run_ids`` that belong to one of ``node_ids``."""
    if not run_ids:
        return {}
    rows = conn.execute(_Q["runs_nodes"], {"run_ids": json.dumps(list(run_ids))})
    wanted = set(node_ids)
    return {row[0]: row[1] for row in rows if row[1] in wanted}


def record_fires(
    conn: sqlite3.Connection,
    node_id: str,
    updates: Sequence[RunOutcome],
    releases: Sequence[tuple[int, str]],
    claims: Sequence[NewRun],
    now: str,
    fence: Fence | None = None,
) -> list[RunRecord | None]:
    """Update claimed runs, delete released ones, insert new claims (see Catalog.record_fires)."""
    for outcome in updates:
        settle(conn, outcome, None, now, fence)
    if releases:
        conn.executemany(
            _Q["runs_release_claim"],
            [{"task_id": t, "scheduled_time": at, "node_id": node_id} for t, at in releases],
        )
    return fire(conn, claims, (), now, fence)


def prune(conn: sqlite3.Connection, default_cutoff: str, per_task: Mapping[int, str]) -> int:
    """Prune every task at the default cutoff, except those with their own (pruned at theirs)."""
    query = _Q["runs_prune"]
    deleted = conn.execute(
        query, {"cutoff": default_cutoff, "task_id": None, "exempt": json.dumps(list(per_task))}
    ).rowcount
    for task_id, cutoff in per_task.items():
        deleted += conn.execute(query, {"cutoff": cutoff, "task_id": task_id, "exempt": "[]"}).rowcount
    conn.execute(_Q["nodes_prune"], {"cutoff": default_cutoff})
    return deleted
