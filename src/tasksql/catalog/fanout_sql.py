""":class:`~tasksql.catalog.fanout.FanoutCoordination` written once over the named queries of
both backends (:class:`SqlFanout`, a base of :class:`~tasksql.catalog.sql_catalog.SqlCatalog`);
the job bodies are in :mod:`tasksql.catalog.jobs.fanout`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from tasksql.catalog.fanout import LiveNode
from tasksql.catalog.grouped import GroupCommitCatalog
from tasksql.catalog.jobs import fanout as jobs
from tasksql.catalog.rows import db_time, task_record
from tasksql.catalog.writer import D
from tasksql.errors import CatalogError
from tasksql.model import TaskRecord
from tasksql.model.cluster import Fence
from tasksql.model.run import NewRun, RunRecord
from tasksql.model.subtask import NewSubtask, Subtask, SubtaskState


class SqlFanout(GroupCommitCatalog[D]):
    """See :class:`~tasksql.catalog.fanout.FanoutCoordination`."""

    async def fire_on_host(self, run: NewRun, fence: Fence) -> RunRecord | None:
        sql = self._sql
        record = await self._write(lambda db: jobs.fire_on_host(sql, db, run, fence), hold=True)
        if record is not None:
            self.observers.runs_inserted([record])
        return record

    async def list_host_tasks(self) -> list[TaskRecord]:
        sql = self._sql
        return await self._read(lambda db: [task_record(r) for r in sql.rows(db, "tasks_on_hosts", {})])

    async def set_node_cluster(self, node_id: str, cluster_id: str) -> None:
        sql, params = self._sql, {"node_id": node_id, "cluster_id": cluster_id}
        await self._write(lambda db: sql.execute(db, "node_cluster_set", params))

    async def live_nodes(self) -> list[LiveNode]:
        sql = self._sql
        return await self._read(lambda db: [jobs.live_node(r) for r in sql.rows(db, "fanout_nodes", {})])

    async def create_subtasks(
        self,
        run: RunRecord,
        *,
        task_type: str,
        location: str,
        subtasks: Sequence[NewSubtask],
        now: datetime,
    ) -> list[Subtask]:
        sql, items, stamp = self._sql, tuple(subtasks), db_time(now)
        return await self._write(
            lambda db: jobs.create_subtasks(sql, db, run, task_type, location, items, stamp), durable=True
        )

    async def take_subtasks(self, node_id: str, *, now: datetime) -> list[Subtask]:
        sql, params = self._sql, {"node_id": node_id, "now": db_time(now)}
        return await self._write(
            lambda db: [jobs.subtask_record(r) for r in sql.rows(db, "subtasks_take", params)]
        )

    async def progress_subtask(
        self, subtask_id: int, items_done: int, items_total: int | None = None
    ) -> bool:
        total = None if items_total is None else max(0, items_total)
        sql = self._sql
        params = {"subtask_id": subtask_id, "items_done": max(0, items_done), "items_total": total}
        return await self._write(lambda db: sql.first(db, "subtask_progress", params) is not None)

    async def settle_subtask(
        self,
        subtask_id: int,
        state: SubtaskState,
        *,
        now: datetime,
        items_done: int | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> bool:
        if not state.settled:
            raise CatalogError(f"a sub-task cannot be settled {state.value}", code="INVALID_ARGUMENT")
        sql = self._sql
        params = {
            "subtask_id": subtask_id,
            "state": state.value,
            "now": db_time(now),
            "items_done": items_done,
            "error_code": error_code,
            "error_message": error_message,
        }
        return await self._write(lambda db: sql.first(db, "subtask_settle", params) is not None, durable=True)

    async def cancel_subtasks(
        self, *, task_id: int | None = None, run_id: int | None = None, now: datetime, reason: str
    ) -> list[int]:
        if task_id is None and run_id is None:
            return []
        sql = self._sql
        params = {"task_id": task_id, "run_id": run_id, "now": db_time(now), "reason": reason}
        return await self._write(
            lambda db: sorted(int(r["subtask_id"]) for r in sql.rows(db, "subtasks_cancel", params)),
            durable=True,
        )

    async def settle_lost_subtasks(self, *, now: datetime, restarted: str | None = None) -> list[int]:
        sql, params = self._sql, {"now": db_time(now), "node_id": restarted}
        return await self._write(
            lambda db: sorted(int(r["subtask_id"]) for r in sql.rows(db, "subtasks_settle_lost", params))
        )

    async def list_subtasks(
        self,
        *,
        run_id: int | None = None,
        task_id: int | None = None,
        node_id: str | None = None,
        open_only: bool = False,
    ) -> list[Subtask]:
        sql = self._sql
        params = {"run_id": run_id, "task_id": task_id, "node_id": node_id, "open": int(open_only)}
        return await self._read(
            lambda db: [jobs.subtask_record(r) for r in sql.rows(db, "subtasks_list", params)]
        )

    async def move_placements(self, fence: Fence, moves: Mapping[int, str]) -> list[int]:
        sql, wanted = self._sql, dict(moves)
        # a change: every node claims at once, so the new holder starts firing within a round trip
        return await self._write(
            lambda db: jobs.move_placements(sql, db, fence, wanted), durable=True, changes=True
        )
