"""Job bodies for runs, task runtime fields and nodes.

A run's start and outcome, new claims and next instants are what every scheduler writes most, so
these bodies do the least they can per row: a batch of rows is one round trip where the driver can
pipeline it (:meth:`~tasksql.catalog.dialect.CatalogDialect.many`), and a cluster member's fence
rides in each statement (the ``*_fenced`` queries) instead of costing a statement of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tasksql.catalog.cluster_rows import fence_params, lease_params
from tasksql.catalog.dialect import CatalogDialect
from tasksql.catalog.records import LostRuns, UnstartedRun
from tasksql.catalog.rows import (
    db_time_opt,
    from_db_time,
    new_run_params,
    outcome_params,
    record_from_new,
    run_record,
    runtime_params,
)
from tasksql.catalog.writer import D
from tasksql.model.cluster import Fence
from tasksql.model.run import NewRun, RunOutcome, RunRecord, TaskRuntime, settling

#: The fenced form of each statement that a fence can guard.
_FENCED = {
    "run_insert": "run_insert_fenced",
    "run_settle": "run_settle_fenced",
    "task_runtime": "task_runtime_fenced",
    "graph_run_finish": "graph_run_finish_fenced",
    "runs_release_claim": "runs_release_claim_fenced",
}


def fenced(query: str, fence: Fence | None) -> tuple[str, dict[str, object]]:
    """The query to run, plain or conditional on ``fence`` (``<query>_fenced``), and the
    parameters the fence adds."""
    if fence is None:
        return query, {}
    return _FENCED[query], fence_params(fence)


def fire(
    sql: CatalogDialect[D],
    db: D,
    runs: Sequence[NewRun],
    runtime: Sequence[TaskRuntime],
    now: str,
    fence: Fence | None = None,
) -> list[RunRecord | None]:
    """Insert runs (None where a fence already holds the instant, or ``fence`` does not hold the
    task) and apply runtime updates."""
    query, extra = fenced("run_insert", fence)
    rows = sql.each_first(db, query, [new_run_params(run) | extra for run in runs])
    out: list[RunRecord | None] = [
        None if row is None else record_from_new(int(row["run_id"]), run)
        for row, run in zip(rows, runs, strict=True)
    ]
    apply_runtime(sql, db, runtime, now, fence)
    return out


def fire_leased(sql: CatalogDialect[D], db: D, run: NewRun, fence: Fence) -> RunRecord | None:
    """See :meth:`~tasksql.catalog.cluster.ClusterCoordination.fire_leased`: the fence's live lease
    (its row locked until the commit), then the plain insert."""
    if sql.first(db, "lease_held", lease_params(fence)) is None:
        return None
    row = sql.first(db, "run_insert", new_run_params(run))
    return None if row is None else record_from_new(int(row["run_id"]), run)


def apply_runtime(
    sql: CatalogDialect[D], db: D, runtime: Sequence[TaskRuntime], now: str, fence: Fence | None = None
) -> None:
    if runtime:
        query, extra = fenced("task_runtime", fence)
        sql.many(db, query, [runtime_params(u, now) | extra for u in runtime])


def settle(
    sql: CatalogDialect[D],
    db: D,
    outcome: RunOutcome,
    runtime: TaskRuntime | None,
    now: str,
    fence: Fence | None = None,
) -> bool:
    """Settle one run (only if it is not settled yet, and while ``fence`` holds its lease) and
    apply the task's runtime change."""
    query, extra = fenced("run_settle", fence)
    settled = sql.count(db, query, outcome_params(outcome) | extra) > 0
    if runtime is not None:
        apply_runtime(sql, db, [runtime], now, fence)
    return settled


def settle_many(
    sql: CatalogDialect[D],
    db: D,
    outcomes: Sequence[RunOutcome],
    fence: Fence | None = None,
) -> list[bool]:
    """:func:`settle` of each outcome (no runtime change), as one batch: whether each was settled."""
    query, extra = fenced("run_settle", fence)
    rows = sql.each_first(db, query, [outcome_params(outcome) | extra for outcome in outcomes])
    return [row is not None for row in rows]


def record_fires(
    sql: CatalogDialect[D],
    db: D,
    node_id: str,
    updates: Sequence[RunOutcome],
    releases: Sequence[tuple[int, str]],
    claims: Sequence[NewRun],
    now: str,
    fence: Fence | None = None,
) -> list[RunRecord | None]:
    """Update claimed runs, delete released ones, insert new claims (see Catalog.record_fires)."""
    if updates:
        query, extra = fenced("run_settle", fence)
        sql.each(db, query, [outcome_params(outcome) | extra for outcome in updates])
    if releases:
        query, extra = fenced("runs_release_claim", fence)
        sql.many(
            db,
            query,
            [{"task_id": t, "scheduled_time": at, "node_id": node_id} | extra for t, at in releases],
        )
    return fire(sql, db, claims, (), now, fence)


def start_claims(
    sql: CatalogDialect[D],
    db: D,
    node_id: str,
    run_ids: Sequence[int],
    at: str,
    fence: Fence | None = None,
) -> list[int]:
    """Start the claims of ``node_id`` among ``run_ids`` (see Catalog.start_claims) in one
    statement; the ids started, ascending."""
    params: dict[str, object] = {"run_ids": sql.array(sorted(set(run_ids))), "at": at, "node_id": node_id}
    if fence is None:
        rows = sql.rows(db, "runs_start_claims", params)
    else:
        rows = sql.rows(db, "runs_start_claims_fenced", params | fence_params(fence))
    return sorted(int(row["run_id"]) for row in rows)


#: Claims taken over are those from this many seconds before their task's next instant on (see
#: ClusterCoordination.take_over_claims).
TAKE_OVER_MARGIN_S = 60


def take_over_claims(sql: CatalogDialect[D], db: D, fence: Fence, task_ids: Sequence[int]) -> list[int]:
    """See ClusterCoordination.take_over_claims: the fence's live lease (its row locked until the
    commit), the deletion, then each task's next instant rewound to its earliest claim taken."""
    if not task_ids or sql.first(db, "lease_held", lease_params(fence)) is None:
        return []
    params = {
        "task_ids": sql.array(sorted(set(task_ids))),
        "margin": TAKE_OVER_MARGIN_S,
    } | fence_params(fence)
    earliest: dict[int, tuple[int, Any]] = {}
    for row in sql.rows(db, "runs_take_over_claims", params):
        task_id = int(row["task_id"])
        if task_id not in earliest or row["scheduled_time"] < earliest[task_id][1]:
            earliest[task_id] = (int(row["task_version"]), row["scheduled_time"])
    for task_id, (version, at) in earliest.items():
        sql.execute(db, "task_rewind_next_fire", {"task_id": task_id, "version": version, "at": at})
    return sorted(earliest)


def list_runs(
    sql: CatalogDialect[D],
    db: D,
    *,
    task_id: int | None,
    start: datetime | None,
    end: datetime | None,
    error_only: bool,
    root_task_id: int | None,
    limit: int | None,
) -> list[RunRecord]:
    """Runs newest first by (scheduled time, run id), through the statement of this shape of
    filters: with a task, an index on (task, scheduled time, run id) reads its runs in order, so a
    page, a time range or a page deep in a long history costs the rows it returns, not the history."""
    filters: dict[str, object] = {
        "task_id": task_id,
        "start": db_time_opt(start),
        "end": db_time_opt(end),
        "root_task_id": root_task_id,
    }
    params = {key: value for key, value in filters.items() if value is not None}
    query = sql.shaped("runs_list", [*params, *(["error_only"] if error_only else [])])
    params["limit"] = sql.limit(limit)
    return [run_record(row) for row in sql.rows(db, query, params)]


def last_per_task(sql: CatalogDialect[D], db: D, now: str) -> dict[int, tuple[str, datetime]]:
    rows = sql.rows(db, "runs_last_per_task", {"now": now})
    return {row["task_id"]: (row["state"], from_db_time(row["at"])) for row in rows}


@dataclass(frozen=True, slots=True)
class LostScope:
    """Who may settle, and what (see :meth:`Catalog.settle_lost_runs`): the epochs judged gone,
    the settler's own fence, the runs and graph runs the bulk steps are limited to."""

    epochs: Mapping[str, int] | None = None
    fence: Fence | None = None
    only: Sequence[int] | None = None
    graph_runs: Sequence[str] | None = None


def _settlable(sql: CatalogDialect[D], db: D, node_ids: Sequence[str], scope: LostScope) -> list[str]:
    """The nodes of ``node_ids`` whose runs may be settled now, by ``scope``'s conditions, checked
    (and their rows locked) in the settling transaction itself."""
    if scope.fence is not None and sql.first(db, "lease_held", lease_params(scope.fence)) is None:
        return []
    if scope.epochs is None:
        return list(node_ids)
    out = []
    for node_id in node_ids:
        epoch = scope.epochs.get(node_id)
        if epoch is None or sql.first(db, "node_epoch_gone", {"node_id": node_id, "epoch": epoch}):
            out.append(node_id)
    return out


def settle_lost(
    sql: CatalogDialect[D],
    db: D,
    node_ids: Sequence[str],
    now: str,
    message: str,
    unstarted: Sequence[UnstartedRun],
    committed: Sequence[RunOutcome] = (),
    keep: Sequence[int] = (),
    scope: LostScope | None = None,
) -> dict[str, LostRuns]:
    """See :meth:`Catalog.settle_lost_runs` (the steps are numbered as there)."""
    scope = scope or LostScope()
    node_ids = _settlable(sql, db, node_ids, scope)
    if not node_ids:
        return {}
    # failed, skipped, replanned, released, committed
    counts = {node_id: [0, 0, 0, 0, 0] for node_id in node_ids}
    owners = _owners(sql, db, [u.run_id for u in unstarted] + [o.run_id for o in committed], node_ids)
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
        counts[node_id][4] += sql.count(db, "runs_lost_committed", params)
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
            counts[node_id][1] += sql.count(db, "runs_lost_skip", params)
            continue
        row = sql.first(db, "runs_lost_delete", key)
        if row is None:
            continue
        if item.rewind:
            rewind = {"task_id": row["task_id"], "version": row["task_version"], "at": row["scheduled_time"]}
            sql.execute(db, "task_rewind_next_fire", rewind)
        counts[node_id][2 if item.rewind else 3] += 1
    kept = sql.array(keep)
    only = None if scope.only is None else sql.array(scope.only)
    graphs = None if scope.graph_runs is None else sql.array(scope.graph_runs)
    for node_id in node_ids:
        c = counts[node_id]
        params = {"node_id": node_id, "now": now, "message": message, "keep": kept, "only": only}
        c[3] += sql.count(db, "runs_drop_future_claims", params)  # 2.
        c[1] += sql.count(db, "runs_skip_lost_unstarted", params)  # 3.
        c[0] += sql.count(db, "runs_settle_lost", params)  # 4.
        sql.execute(db, "graph_runs_settle_lost", params | {"graph_runs": graphs})
    return {node_id: LostRuns(*c) for node_id, c in counts.items() if any(c)}


def _owners(sql: CatalogDialect[D], db: D, run_ids: Sequence[int], node_ids: Sequence[str]) -> dict[int, str]:
    """run id -> node id of those ``run_ids`` that belong to one of ``node_ids``."""
    if not run_ids:
        return {}
    wanted = set(node_ids)
    rows = sql.rows(db, "runs_nodes", {"run_ids": sql.array(run_ids)})
    return {row["run_id"]: row["node_id"] for row in rows if row["node_id"] in wanted}


def prune(sql: CatalogDialect[D], db: D, default_cutoff: str, per_task: Mapping[int, str]) -> int:
    """Prune every task at the default cutoff, except those with their own (pruned at theirs).
    What a run left beside it (its sub-tasks, its check_disk results) goes with it."""
    none = sql.array(())
    batches = [{"cutoff": default_cutoff, "task_id": None, "exempt": sql.array(per_task)}]
    batches += [{"cutoff": cut, "task_id": task_id, "exempt": none} for task_id, cut in per_task.items()]
    deleted = 0
    for params in batches:
        # the runs' own rows first: they find the runs by the same rule as runs_prune
        sql.execute(db, "storage_checks_prune", params)
        sql.execute(db, "subtasks_prune", params)
        deleted += sql.count(db, "runs_prune", params)
    sql.execute(db, "nodes_prune", {"cutoff": default_cutoff})
    return deleted
