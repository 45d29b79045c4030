"""Graph runs inside the scheduler: starting them, advancing them, retrying them.

:class:`GraphCoordinator` holds the graph runs active on this node. When a root's instant fires it
pins the graph (:func:`~tasksql.scheduler.graph_run.graph_members`, from the cache's graph index),
finds or creates its graph version, and the root's run row and the graph run row are inserted in one
transaction. When a member's run ends, :meth:`GraphCoordinator.step` asks the pure
:class:`~tasksql.scheduler.graph_run.GraphRun` what follows and writes, in ONE catalog transaction,
the outcome, the runs that start (children, the finalizer), the rows of members that will not run
(SKIPPED with the reason) and the end of the graph run. It starts nothing itself: it returns the
runs to start (:class:`Launch`), which the caller starts right after that commit.

On a cluster member those writes carry the node's fence: a member's run is inserted (and so
started) only while the node's epoch holds the root's placement, and its outcome and the graph
run's end only while the lease is live. A graph run that cannot go on here (the lease or the root's
placement is gone) is given up (:meth:`GraphCoordinator.step` returns None): it ends FAILED if the
lease still allows, and the member's outcome is recorded on its own; what the node cannot write any
more is settled by whoever settles its runs (see :mod:`~tasksql.scheduler.takeover`).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from tasksql.catalog.base import Catalog
from tasksql.clock import Clock
from tasksql.errors import CatalogError, TasksqlError, ValidationError
from tasksql.model import (
    OverlapPolicy,
    QualifiedName,
    RunState,
    ScheduledFrom,
    Spelling,
    TaskDef,
    TaskRecord,
    TaskState,
    effective_overlap,
)
from tasksql.model.cluster import Fence, Placement
from tasksql.model.outbox import OutboxItem
from tasksql.model.run import GraphRunEnd, NewGraphRun, NewRun, RunOutcome, RunRecord, TaskRuntime
from tasksql.scheduler import outcomes
from tasksql.scheduler.cache import TaskCache
from tasksql.scheduler.entry import Entry
from tasksql.scheduler.graph_run import GraphRun, Member, Skip, Step, graph_members
from tasksql.scheduler.membership import FenceRef, lease_lost, not_placed_here

log = logging.getLogger("tasksql.scheduler")

#: The error of a graph run given up by a node that lost its lease or the root's placement.
GIVEN_UP_CODE = "NODE_LOST"
GIVEN_UP_MESSAGE = "node {node} lost the placement of the graph's root during the graph run"
#: The error of a graph run given up because a step of it could not be written (see GraphCoordinator.step).
NOT_RECORDED_CODE = "GRAPH_NOT_RECORDED"
NOT_RECORDED_MESSAGE = "node {node} could not record a step of the graph run: {error}"


@dataclass(frozen=True, slots=True)
class Launch:
    """A run of a graph run to start now: ``run`` of ``entry``'s task, pinned to ``definition``."""

    entry: Entry
    run: RunRecord
    definition: TaskDef
    graph: GraphRun


class GraphCoordinator:
    """The graph runs of one node: the active ones, by group id and by root.

    :param cache: the scheduler's entries and graph index (read only).
    :param fence: the fence the writes of member runs carry (a cluster member's; unfenced when
        empty).
    """

    def __init__(
        self, catalog: Catalog, cache: TaskCache, *, clock: Clock, node_id: str, fence: FenceRef | None = None
    ) -> None:
        self._catalog = catalog
        self._fence = fence or FenceRef()
        self._cache = cache
        self._clock = clock
        self._node_id = node_id
        #: active graph runs by group id (read by EXECUTE TASK, which waits for one to end)
        self.active: dict[str, GraphRun] = {}
        self._by_root: dict[int, set[str]] = defaultdict(set)
        self._versions: dict[tuple[int, str], int] = {}

    # --- membership ------------------------------------------------------------------------------

    def _member(self, task_id: int) -> tuple[int, TaskDef, TaskState] | None:
        entry = self._cache.entries.get(task_id)
        if entry is None:
            return None
        return entry.record.version, entry.task, entry.record.state

    def is_root(self, entry: Entry) -> bool:
        """True for a task that others run after (or that has a finalizer) and has no predecessors."""
        return self._cache.is_root(entry)

    def coordinated_tasks(self) -> set[int]:
        """The task ids of the members of the graph runs active on this node (a draining member
        keeps their placements, see :meth:`ClusterMember.drain`)."""
        return {task_id for g in self.active.values() for task_id in g.members}

    def running_count(self, entry: Entry) -> int:
        """How many runs of this root count against its overlap policy."""
        groups = [self.active[g] for g in self._by_root.get(entry.record.id, ())]
        if effective_overlap(entry.task) is OverlapPolicy.ALLOW_CHILD_OVERLAP:
            return sum(1 for g in groups if g.root_running)
        return len(groups)

    async def prepare(
        self,
        entry: Entry,
        *,
        scheduled_time: datetime,
        config: str | None = None,
        attempt: int = 1,
        group_id: str | None = None,
        scheduled_from: ScheduledFrom = ScheduledFrom.SCHEDULE,
    ) -> GraphRun:
        """Pin the graph of ``entry`` (a root) for a graph run starting now."""
        members = graph_members(
            entry.record.id, self._member, self._cache.children_of, self._cache.finalizer_of
        )
        versions = {t: m.version for t, m in members.items()}
        key = (entry.record.id, repr(sorted(versions.items())))
        version = self._versions.get(key)
        if version is None:
            version = await self._catalog.graph_version(entry.record.id, versions)
            self._versions[key] = version
        merged = merge_config(entry.task.config, config)
        return GraphRun(
            group_id=group_id or uuid.uuid4().hex,
            root_id=entry.record.id,
            members=members,
            graph_version=version,
            scheduled_time=scheduled_time,
            config=merged,
            attempt=attempt,
            scheduled_from=scheduled_from,
        )

    def new_graph_run(
        self,
        g: GraphRun,
        entry: Entry,
        *,
        scheduled_from: ScheduledFrom,
        now: datetime,
        root_run_index: int | None,
    ) -> NewGraphRun:
        name = entry.task.name
        return NewGraphRun(
            graph_run_group_id=g.group_id,
            root_task_id=g.root_id,
            root_task_name=name.name,
            database_name=name.database or "",
            schema_name=name.schema or "",
            graph_version=g.graph_version,
            scheduled_from=scheduled_from,
            scheduled_time=g.scheduled_time,
            query_start_time=now,
            attempt_number=g.attempt,
            config=g.config,
            node_id=self._node_id,
            root_run_index=root_run_index,
        )

    def tag(self, run: NewRun, g: GraphRun) -> NewRun:
        """``run`` as a run of graph run ``g``."""
        return replace(
            run,
            graph_run_group_id=g.group_id,
            root_task_id=g.root_id,
            graph_version=g.graph_version,
            config=g.config,
            attempt_number=g.attempt,
        )

    def activate(self, g: GraphRun) -> None:
        """``g`` started on this node (its root's run row is committed)."""
        self.active[g.group_id] = g
        self._by_root[g.root_id].add(g.group_id)

    def _deactivate(self, g: GraphRun) -> None:
        self.active.pop(g.group_id, None)
        groups = self._by_root.get(g.root_id)
        if groups is not None:
            groups.discard(g.group_id)
            if not groups:
                del self._by_root[g.root_id]

    # --- member runs -----------------------------------------------------------------------------

    def _member_run(
        self,
        g: GraphRun,
        task_id: int,
        state: RunState,
        now: datetime,
        *,
        code: str | None = None,
        message: str | None = None,
    ) -> NewRun:
        member = g.member(task_id)
        entry = self._cache.entries.get(task_id)
        record = entry.record if entry is not None else _stub_record(member, now)
        run = outcomes.new_run(
            record,
            scheduled_time=g.scheduled_time,
            state=state,
            scheduled_from=g.scheduled_from,
            node_id=self._node_id,
            now=now,
            error_code=code,
            error_message=message,
            definition=member.definition,
            version=member.version,
        )
        return self.tag(run, g)

    def _resolve_dropped(self, g: GraphRun, step: Step) -> Step:
        """Members started by ``step`` whose task was dropped since the graph run began are settled
        SKIPPED (TASK_DROPPED) instead; that may settle more members, so repeat until stable."""
        merged = Step(skip=list(step.skip), end=step.end)
        pending = list(step.start)
        while pending:
            task_id = pending.pop(0)
            if task_id in self._cache.entries:
                merged.start.append(task_id)
                continue
            name = g.member(task_id).name
            more = g.done(
                task_id,
                RunState.SKIPPED,
                code="TASK_DROPPED",
                message=f"skipped: task {name} was dropped during the graph run",
            )
            merged.skip.append(
                Skip(task_id, "TASK_DROPPED", f"skipped: task {name} was dropped during the graph run")
            )
            pending.extend(more.start)
            merged.skip.extend(more.skip)
            merged.end = more.end or merged.end
        return merged

    def _rows_for(self, g: GraphRun, step: Step, now: datetime) -> list[NewRun]:
        """Rows of the members settled without running (first: they were decided first), then of the
        members that start; :meth:`_launch` relies on this order."""
        rows = [
            self._member_run(g, s.task_id, RunState.SKIPPED, now, code=s.code, message=s.message)
            for s in step.skip
        ]
        return rows + [self._member_run(g, t, RunState.EXECUTING, now) for t in step.start]

    def _end(self, g: GraphRun, step: Step, now: datetime) -> GraphRunEnd | None:
        if step.end is None:
            return None
        e = step.end
        return GraphRunEnd(
            graph_run_group_id=g.group_id,
            state=e.state,
            completed_time=now,
            first_error_task_name=e.first_error_task,
            first_error_code=e.first_error_code,
            first_error_message=e.first_error_message,
        )

    async def step(
        self,
        rec: RunRecord,
        outcome: RunOutcome,
        runtime: TaskRuntime | None,
        notifications: Sequence[OutboxItem] = (),
        *,
        settled: bool = False,
    ) -> list[Launch] | None:
        """Settle a member's run and advance its graph run; the runs to start now. None when the
        run belongs to no active graph run of this node, or the graph run was given up here (the
        node holds no lease, the fence refused the member's outcome or a run of the step (the
        lease or the root's placement is gone), or the step's write failed with an error other
        than an outage: the graph run ends FAILED, GRAPH_NOT_RECORDED): the caller settles the
        run alone, as any refused outcome (kept, written again under the next lease or dropped
        once the run is known settled, and the lease checked at once). ``settled``: the run's row
        was settled by its body's own transaction (a warehouse in the catalog's database), so the
        step's write of the outcome is a no-op, not a refusal."""
        g = self.active.get(rec.graph_run_group_id or "")
        if g is None or rec.task_id not in g.members:
            return None
        if self._fence.withheld:
            self._deactivate(g)  # its row is settled with the node's other runs left open
            return None
        fence = self._fence.current
        now = self._clock.now()
        step = g.done(
            rec.task_id,
            outcome.state,
            code=outcome.error_code,
            message=outcome.error_message,
            return_value=outcome.return_value,
        )
        step = self._resolve_dropped(g, step)
        rows = self._rows_for(g, step, now)
        end = self._end(g, step, now)
        try:
            if fence is None or settled:
                records = await self._catalog.settle_graph_step(
                    outcome, runtime, rows, end, notifications, fence=fence
                )
            else:
                # the step follows from the outcome: if the fence refuses the outcome (the lease is
                # gone, or the run was settled elsewhere, by the node that took it over), nothing
                # of the step is written and the graph run cannot go on from it here
                written = await self._catalog.settle_graph_member(
                    outcome, runtime, rows, end, notifications, fence=fence
                )
                if written is None:
                    log.info(
                        "the outcome of run %s of graph run %s was refused (this node's lease is gone, "
                        "or the run was settled elsewhere): the graph run is given up here",
                        rec.run_id,
                        g.group_id,
                    )
                    await self.give_up(g)
                    return None
                records = written
        except Exception as exc:  # not CancelledError
            # Not an outage (the catalog waits that out): an error that would come again, or a
            # bug. The step is not written and its graph state has moved on, so the graph run
            # cannot go on: left active, it would keep the member's outcome unwritten and the
            # root skipped as overlapping until the node lost its lease. It ends FAILED with the
            # reason, and the caller settles the member's outcome alone.
            (log.warning if isinstance(exc, TasksqlError) else log.exception)(
                "could not record a step of graph run %s (given up): %s", g.group_id, exc
            )
            self._deactivate(g)
            await self._end_given_up(
                g, fence, NOT_RECORDED_CODE, NOT_RECORDED_MESSAGE.format(node=self._node_id, error=exc)
            )
            return None
        if fence is not None and (None in records or self._fence.current != fence):
            await self.give_up(g)
            return None
        if step.end is not None:
            self._deactivate(g)
        return self._launches(g, step, records)

    async def give_up(self, g: GraphRun) -> None:
        """A fenced write of graph run ``g`` was refused (the lease or the root's placement is
        gone): it cannot go on here. It ends FAILED while the lease allows (else it is settled with
        the node's other runs left open); the runs it started go on and are recorded alone."""
        self._deactivate(g)
        fence = self._fence.current
        if fence is None:
            return
        await self._end_given_up(g, fence, GIVEN_UP_CODE, GIVEN_UP_MESSAGE.format(node=self._node_id))

    async def _end_given_up(self, g: GraphRun, fence: Fence | None, code: str, message: str) -> None:
        """End graph run ``g``, given up here, FAILED with ``code`` (under ``fence``); a failure is logged."""
        end = GraphRunEnd(
            graph_run_group_id=g.group_id,
            state="FAILED",
            completed_time=self._clock.now(),
            first_error_code=code,
            first_error_message=message,
        )
        try:
            await self._catalog.settle_graph_step(None, None, [], end, fence=fence)
        except TasksqlError as exc:
            log.warning("could not end graph run %s, given up on this node: %s", g.group_id, exc)

    def _launches(self, g: GraphRun, step: Step, records: list[RunRecord | None]) -> list[Launch]:
        out: list[Launch] = []
        for task_id, rec in zip(step.start, records[len(step.skip) :], strict=True):
            entry = self._cache.entries.get(task_id)
            if rec is not None and entry is not None:
                out.append(Launch(entry, rec, g.member(task_id).definition, g))
        return out

    # --- manual graph runs -----------------------------------------------------------------------

    async def _holds(self, entry: Entry, fence: Fence) -> bool:
        """Whether ``fence`` holds the placement of ``entry``'s task (a root), as read now."""
        placed = await _placement_of(self._catalog, entry.record.id)
        return placed is not None and (placed.node_id, placed.epoch) == (fence.node_id, fence.epoch)

    async def _not_here(self, entry: Entry, fence: Fence) -> CatalogError:
        """Why a manual graph run of ``entry`` (a root) was not written under ``fence``: this node's
        lease is gone, or another node (or none) holds the root."""
        placed = await _placement_of(self._catalog, entry.record.id)
        if placed is not None and placed.node_id == fence.node_id:
            return lease_lost(self._node_id)  # its own placement, of this epoch or an earlier one
        if self._fence.current != fence:
            return lease_lost(self._node_id)
        return not_placed_here(str(entry.task.name), None if placed is None else placed.node_id)

    async def execute(self, entry: Entry, *, config: str | None) -> tuple[RunRecord | None, list[Launch]]:
        """EXECUTE TASK on a root: a whole graph run now; the root's run and what to start."""
        now = self._clock.now()
        g = await self.prepare(
            entry, scheduled_time=now, config=config, scheduled_from=ScheduledFrom.EXECUTE_TASK
        )
        busy = (
            self.running_count(entry) > 0
            and effective_overlap(entry.task) is not OverlapPolicy.ALLOW_ALL_OVERLAP
        )
        if busy:
            run = outcomes.new_run(
                entry.record,
                scheduled_time=now,
                state=RunState.SKIPPED,
                scheduled_from=ScheduledFrom.EXECUTE_TASK,
                node_id=self._node_id,
                now=now,
                error_code="OVERLAP",
                error_message="skipped: the previous graph run was still executing",
            )
            fence = self._fence.current
            if fence is None:
                [rec] = await self._catalog.fire([run], [])
            elif (rec := await self._catalog.fire_leased(run, fence)) is None:
                raise lease_lost(self._node_id)
            return rec, []
        g.begin()
        run = self.tag(
            outcomes.new_run(
                entry.record,
                scheduled_time=now,
                state=RunState.EXECUTING,
                scheduled_from=ScheduledFrom.EXECUTE_TASK,
                node_id=self._node_id,
                now=now,
                config=g.config,
            ),
            g,
        )
        graph = self.new_graph_run(
            g, entry, scheduled_from=ScheduledFrom.EXECUTE_TASK, now=now, root_run_index=0
        )
        fence = self._fence.current
        [rec] = await self._catalog.fire([run], [], [graph], fence=fence)
        if rec is None:
            if fence is not None:  # nothing was written: say why
                raise await self._not_here(entry, fence)
            return None, []
        self.activate(g)
        return rec, [Launch(entry, rec, g.member(g.root_id).definition, g)]

    async def retry_last(self, entry: Entry) -> tuple[RunRecord | None, list[Launch]]:
        """EXECUTE TASK root RETRY LAST: continue the last graph run from its failed tasks, when it
        FAILED or was CANCELLED and the graph has not changed since; the run to report (the first
        that starts) and what to start."""
        shown = entry.task.name
        last = await self._catalog.list_graph_runs(root_task_id=entry.record.id, limit=1)
        if not last:
            raise ValidationError(f"task {shown} has no graph run to retry", code="NOTHING_TO_RETRY")
        previous = last[0]
        if previous.state not in ("FAILED", "CANCELLED"):
            raise ValidationError(
                f"the last graph run of {shown} is {previous.state}; "
                "RETRY LAST retries a FAILED or CANCELLED one",
                code="NOTHING_TO_RETRY",
            )
        if previous.graph_run_group_id in self.active:
            raise ValidationError(f"the last graph run of {shown} is still running", code="NOTHING_TO_RETRY")
        now = self._clock.now()
        g = await self.prepare(
            entry,
            scheduled_time=previous.scheduled_time,
            config=None,
            attempt=previous.attempt_number + 1,
            group_id=previous.graph_run_group_id,
            scheduled_from=ScheduledFrom.RETRY,
        )
        g.config = previous.config
        if g.graph_version != previous.graph_version:
            raise ValidationError(
                f"the graph of {shown} changed since its last graph run (version {previous.graph_version}, "
                f"now {g.graph_version}); RETRY LAST needs the same graph: run EXECUTE TASK {shown} instead",
                code="GRAPH_CHANGED",
            )
        prior: dict[int, RunState] = {}
        for run in await self._catalog.graph_run_runs(previous.graph_run_group_id):
            prior[run.task_id] = run.state
        fence = self._fence.current
        if fence is not None and not await self._holds(entry, fence):
            raise await self._not_here(entry, fence)
        step = self._resolve_dropped(g, g.begin(prior=prior))
        rows = self._rows_for(g, step, now)
        graph = self.new_graph_run(g, entry, scheduled_from=ScheduledFrom.RETRY, now=now, root_run_index=None)
        records = await self._catalog.fire(rows, [], [graph], fence=fence)
        if fence is not None and None in records:
            # the lease or the root's placement was lost since the check: the graph run cannot go
            # on here (ended FAILED while the lease allows, else settled with the node's runs)
            self.activate(g)
            await self.give_up(g)
            raise await self._not_here(entry, fence)
        self.activate(g)
        launches = self._launches(g, step, records)
        if step.end is not None:
            await self._catalog.settle_graph_step(None, None, [], self._end(g, step, now))
            self._deactivate(g)
        started = records[len(step.skip) :]
        first = next((r for r in started if r is not None), next((r for r in records if r is not None), None))
        return first, launches


async def _placement_of(catalog: Catalog, task_id: int) -> Placement | None:
    return next((p for p in await catalog.list_placements() if p.task_id == task_id), None)


def merge_config(base: str | None, override: str | None) -> str | None:
    """Snowflake's USING CONFIG: the override's keys replace the root's CONFIG keys for one graph run."""
    if override is None:
        return base
    if base is None:
        return override
    a, b = json.loads(base), json.loads(override)
    if isinstance(a, dict) and isinstance(b, dict):
        return json.dumps({**a, **b})
    return override


def _stub_record(member: Member, now: datetime) -> TaskRecord:
    """A record for the run row of a member whose task was dropped from the cache meanwhile."""
    return TaskRecord(
        id=member.task_id,
        definition=member.definition,
        version=member.version,
        state=member.state,
        spelling=Spelling.SNOWFLAKE,
        owner="",
        created_on=now,
        last_committed_on=now,
    )


__all__ = ["GraphCoordinator", "Launch", "QualifiedName", "merge_config"]
