"""This node's share of fanned-out runs (:class:`SubtaskWorker`): it takes the sub-tasks written for
it (see :mod:`tasksql.scheduler.fanout`), executes each against its own warehouse (the maintenance
statements of :func:`tasksql.scheduler.maintenance.statements`; a check_disk checks object by object,
:mod:`tasksql.scheduler.check_disk`, its progress the objects checked; a rebuild rebuilds step by step,
:mod:`tasksql.scheduler.rebuild`, its progress the steps done; a rebalance also hands over the
tasks its sub-task names), and settles them.

It looks for new sub-tasks every :data:`LOOK_EVERY_S`, and at once when poked (a catalog change
notice, a fan-out of this node); at each look it also cancels the statements of its sub-tasks that
were cancelled meanwhile (CANCEL TASK on any node, or the run's own end). When it starts, the
sub-tasks its node had RUNNING died with the previous process: they are settled FAILED (NODE_LOST).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping

from tasksql.catalog.base import Catalog
from tasksql.clock import Clock
from tasksql.errors import QueryCancelled, TasksqlError
from tasksql.model import MaintenanceBody, MaintenanceKind, effective_timeout_ms, effective_warehouse
from tasksql.model.subtask import Subtask, SubtaskState
from tasksql.scheduler.body import prepare
from tasksql.scheduler.check_disk import Who, run_check_disk
from tasksql.scheduler.deps import WarehouseProvider
from tasksql.scheduler.rebuild import run_rebuild
from tasksql.warehouses.base import CancelToken

log = logging.getLogger("tasksql.scheduler")

#: How often the worker looks for sub-tasks when nothing pokes it.
LOOK_EVERY_S = 0.5

#: Moves the tasks (task id -> node id) this node holds to other nodes; returns the ids moved.
Mover = Callable[[Mapping[int, str]], Awaitable[list[int]]]


class SubtaskWorker:
    """See the module. ``mover`` is None when the node is not a cluster member."""

    def __init__(
        self,
        catalog: Catalog,
        warehouses: WarehouseProvider,
        *,
        node_id: str,
        clock: Clock,
        mover: Callable[[], Mover | None],
    ) -> None:
        self._catalog = catalog
        self._warehouses = warehouses
        self._node_id = node_id
        self._clock = clock
        self._mover = mover
        self._poke = asyncio.Event()
        #: The sub-tasks executing here: their asyncio tasks and cancel tokens.
        self._running: dict[int, tuple[asyncio.Task[None], CancelToken]] = {}

    @property
    def running(self) -> int:
        """How many sub-tasks are executing here now (a cancelled one until it has stopped)."""
        return len(self._running)

    def poke(self) -> None:
        """Look for sub-tasks now rather than at the next round."""
        self._poke.set()

    async def start(self) -> None:
        """Settle the sub-tasks the previous process of this node left RUNNING."""
        lost = await self._catalog.settle_lost_subtasks(now=self._clock.now(), restarted=self._node_id)
        if lost:
            log.warning(
                "node %s: %d sub-task(s) of its previous process settled NODE_LOST", self._node_id, len(lost)
            )

    async def loop(self, stopping: Callable[[], bool]) -> None:
        """Look for sub-tasks until ``stopping()``; a failed look is retried at the next round."""
        while not stopping():
            try:
                await self.look()
            except TasksqlError as exc:
                log.debug("node %s could not look for sub-tasks: %s", self._node_id, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), LOOK_EVERY_S)
            self._poke.clear()

    async def look(self) -> None:
        """Take this node's new sub-tasks (each starts at once) and cancel the statements of the
        running ones that were settled elsewhere (cancelled)."""
        if self._running:
            still = {
                s.subtask_id for s in await self._catalog.list_subtasks(node_id=self._node_id, open_only=True)
            }
            for subtask_id, (_, token) in list(self._running.items()):
                if subtask_id not in still:
                    token.cancel("cancelled: its sub-task was cancelled")
        for sub in await self._catalog.take_subtasks(self._node_id, now=self._clock.now()):
            token = CancelToken()
            task = asyncio.create_task(self._execute(sub, token), name=f"tasksql-subtask-{sub.subtask_id}")
            self._running[sub.subtask_id] = (task, token)
            task.add_done_callback(self._forget(sub.subtask_id))

    def _forget(self, subtask_id: int) -> Callable[[asyncio.Task[None]], None]:
        def forget(_: asyncio.Task[None]) -> None:
            self._running.pop(subtask_id, None)

        return forget

    async def stop(self, grace: float) -> None:
        """Let the running sub-tasks finish within ``grace`` seconds, then cancel them."""
        tasks = [t for t, _ in self._running.values()]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task, token in list(self._running.values()):
            if task in pending:
                token.cancel("cancelled: the node stopped")
        if pending:
            await asyncio.wait(pending, timeout=grace)

    async def _execute(self, sub: Subtask, token: CancelToken) -> None:
        state, code, message, done = SubtaskState.SUCCEEDED, None, None, None
        try:
            done = await self._work(sub, token)
        except QueryCancelled as err:
            state, code, message = SubtaskState.CANCELLED, "CANCELLED", err.message
        except TasksqlError as err:
            state, code, message = SubtaskState.FAILED, err.code, err.message
        except Exception as err:  # a driver's bug is still the sub-task's outcome, never a crash
            log.exception("sub-task %s failed unexpectedly", sub.subtask_id)
            state, code, message = SubtaskState.FAILED, "INTERNAL_ERROR", f"{type(err).__name__}: {err}"
        try:
            await self._catalog.settle_subtask(
                sub.subtask_id,
                state,
                now=self._clock.now(),
                items_done=done,
                error_code=code,
                error_message=message,
            )
        except TasksqlError as exc:  # the run's node settles it NODE_LOST should this node be lost
            log.warning("could not settle sub-task %s: %s", sub.subtask_id, exc)

    async def _work(self, sub: Subtask, token: CancelToken) -> int | None:
        """Run the sub-task's statements (and moves); the items done, if it has any."""
        record = await self._catalog.get_task_by_id(sub.task_id)
        if record is None:
            raise TasksqlError(f"task {sub.task_name} was dropped", code="TASK_NOT_FOUND")
        task = record.definition
        warehouse = await self._warehouses.get(effective_warehouse(task))
        body = task.body
        if isinstance(body, MaintenanceBody) and body.kind is MaintenanceKind.CHECK_DISK:
            who = Who(run_id=sub.run_id, task_id=sub.task_id, task_name=sub.task_name, node_id=self._node_id)

            async def progress(done: int, total: int) -> None:
                await self._catalog.progress_subtask(sub.subtask_id, done, total)

            checked = await run_check_disk(
                body,
                warehouse,
                effective_warehouse(task),
                self._catalog,
                who=who,
                clock=self._clock,
                token=token,
                progress=progress,
            )
            return len(checked)
        if isinstance(body, MaintenanceBody) and body.kind is MaintenanceKind.REBUILD:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + effective_timeout_ms(task) / 1000.0

            async def steps_done(done: int, total: int) -> None:
                await self._catalog.progress_subtask(sub.subtask_id, done, total)

            await run_rebuild(
                body,
                warehouse,
                effective_warehouse(task),
                token=token,
                progress=steps_done,
                remaining=lambda: max(0.001, deadline - loop.time()),
            )
            return None  # its progress says the steps done
        prepared = prepare(task, warehouse.dialect)
        await warehouse.run_body(
            list(prepared.statements),
            transactional=False,
            timeout=effective_timeout_ms(task) / 1000.0,
            token=token,
        )
        if not (isinstance(body, MaintenanceBody) and body.kind is MaintenanceKind.REBALANCE and sub.detail):
            return None
        moves = {int(k): str(v) for k, v in json.loads(sub.detail).get("moves", {}).items()}
        mover = self._mover()
        if not moves or mover is None:
            return 0
        moved = 0
        for task_id, receiver in sorted(moves.items()):  # one at a time: progress as it goes
            if token.cancelled:
                raise QueryCancelled(token.reason or "cancelled")
            moved += len(await mover({task_id: receiver}))
            await self._catalog.progress_subtask(sub.subtask_id, moved)
        return moved
