"""Job bodies for work on several nodes (see :mod:`tasksql.catalog.fanout`): RUN ON HOSTS runs,
sub-tasks and moved placements. Plain functions of a dialect and its handle, run inside the
writer's group transaction (or by a reader)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from tasksql.catalog.cluster_rows import fence_params, lease_params
from tasksql.catalog.dialect import CatalogDialect
from tasksql.catalog.fanout import LiveNode
from tasksql.catalog.rows import Row, from_db_time, from_db_time_opt, new_run_params, record_from_new
from tasksql.catalog.writer import D
from tasksql.model.cluster import Fence
from tasksql.model.run import NewRun, RunRecord
from tasksql.model.subtask import NewSubtask, Subtask, SubtaskState


def subtask_record(row: Row) -> Subtask:
    """The :class:`Subtask` of a ``subtasks`` row."""
    return Subtask(
        subtask_id=int(row["subtask_id"]),
        run_id=int(row["run_id"]),
        task_id=int(row["task_id"]),
        task_name=row["task_name"],
        node_id=row["node_id"],
        task_type=row["task_type"],
        location=row["location"],
        state=SubtaskState(row["state"]),
        items_done=int(row["items_done"]),
        items_total=int(row["items_total"]),
        detail=row["detail"],
        created_at=from_db_time(row["created_at"]),
        started_at=from_db_time_opt(row["started_at"]),
        completed_time=from_db_time_opt(row["completed_time"]),
        error_code=row["error_code"],
        error_message=row["error_message"],
    )


def live_node(row: Row) -> LiveNode:
    served = row["warehouses"]
    return LiveNode(
        node_id=row["node_id"],
        epoch=int(row["epoch"]),
        warehouses=None if served is None else tuple(json.loads(served)),
        cluster_id=row["cluster_id"],
    )


def fire_on_host(sql: CatalogDialect[D], db: D, run: NewRun, fence: Fence) -> RunRecord | None:
    mine = replace(run, node_id=fence.node_id)
    row = sql.first(db, "host_run_insert_fenced", new_run_params(mine) | fence_params(fence))
    return None if row is None else record_from_new(int(row["run_id"]), mine)


def create_subtasks(
    sql: CatalogDialect[D],
    db: D,
    run: RunRecord,
    task_type: str,
    location: str,
    subtasks: Sequence[NewSubtask],
    now: str,
) -> list[Subtask]:
    out: list[Subtask] = []
    for item in subtasks:
        params: dict[str, Any] = {
            "run_id": run.run_id,
            "task_id": run.task_id,
            "task_name": run.name,
            "node_id": item.node_id,
            "task_type": task_type,
            "location": location,
            "items_total": max(0, item.items_total),
            "detail": item.detail,
            "now": now,
        }
        row = sql.first(db, "subtask_insert", params)
        assert row is not None
        out.append(subtask_record(row))
    return out


def move_placements(sql: CatalogDialect[D], db: D, fence: Fence, moves: Mapping[int, str]) -> list[int]:
    if not moves or sql.first(db, "lease_held", lease_params(fence)) is None:
        return []
    moved: list[int] = []
    for task_id, target in sorted(moves.items()):
        if target == fence.node_id:
            continue
        params = {"task_id": task_id, "target": target} | fence_params(fence)
        if sql.first(db, "placement_move", params) is not None:
            moved.append(task_id)
    if moved:
        # the instants the holder claimed and never started go to the new holder (as a release)
        rows = sql.rows(db, "runs_hand_over", {"node_id": fence.node_id, "task_ids": sql.array(moved)})
        earliest: dict[int, tuple[int, Any]] = {}
        for row in rows:
            task_id = int(row["task_id"])
            if task_id not in earliest or row["scheduled_time"] < earliest[task_id][1]:
                earliest[task_id] = (int(row["task_version"]), row["scheduled_time"])
        for task_id, (version, at) in earliest.items():
            sql.execute(db, "task_rewind_next_fire", {"task_id": task_id, "version": version, "at": at})
    return moved
