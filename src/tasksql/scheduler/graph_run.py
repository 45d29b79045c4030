"""One run of a task graph, as a pure state machine (no I/O, no clock).

A graph run is pinned: it is built from the definitions of every member task at the moment the root
starts (:class:`Member`), and later DDL does not change it. It answers one question each time a
member's run ends: which runs start now, which tasks are recorded SKIPPED without running, and
whether the graph run is over.

Rules (Snowflake's, with Databend's DAGs):

- a child starts when every one of its predecessors is *done*: SUCCEEDED, or SKIPPED because its
  own WHEN was false;
- a predecessor that FAILED or was CANCELLED (or could not run) *blocks* its descendants: they are
  recorded SKIPPED with the reason (``PREDECESSOR_FAILED``) and never run;
- a member that is suspended is recorded SKIPPED (``TASK_SUSPENDED``) and blocks its descendants
  (the root itself may be suspended: EXECUTE TASK runs it anyway);
- if the root's WHEN is false, the graph run ends SKIPPED: nothing else runs;
- the finalizer (the task with FINALIZE = root) runs after every other member is settled, whatever
  their outcome; then the graph run ends: FAILED if any run failed (the first failure is reported),
  else CANCELLED if any was cancelled, else SUCCEEDED.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from tasksql.model import QualifiedName, RunState, ScheduledFrom, TaskDef, TaskState

OK_SKIP_CODES = frozenset({"CONDITION_FALSE"})
_FAILED = frozenset({RunState.FAILED, RunState.FAILED_AND_AUTO_SUSPENDED})


@dataclass(frozen=True, slots=True)
class Member:
    """A task of the graph as pinned when the graph run started."""

    task_id: int
    version: int
    definition: TaskDef
    state: TaskState

    @property
    def name(self) -> QualifiedName:
        return self.definition.name


@dataclass(frozen=True, slots=True)
class Skip:
    task_id: int
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class End:
    state: str  # SUCCEEDED | FAILED | CANCELLED | SKIPPED
    first_error_task: str | None = None
    first_error_code: str | None = None
    first_error_message: str | None = None


@dataclass(slots=True)
class Step:
    start: list[int] = field(default_factory=list)
    skip: list[Skip] = field(default_factory=list)
    end: End | None = None


@dataclass(slots=True)
class _Settled:
    state: RunState
    code: str | None
    message: str | None


class GraphRun:
    """The progress of one graph run. ``members`` maps task id to its pinned :class:`Member`."""

    def __init__(
        self,
        *,
        group_id: str,
        root_id: int,
        members: Mapping[int, Member],
        graph_version: int,
        scheduled_time: datetime,
        config: str | None = None,
        attempt: int = 1,
        scheduled_from: ScheduledFrom = ScheduledFrom.SCHEDULE,
    ) -> None:
        self.group_id = group_id
        self.scheduled_from = scheduled_from
        self.root_id = root_id
        self.members = dict(members)
        self.graph_version = graph_version
        self.scheduled_time = scheduled_time
        self.config = config
        self.attempt = attempt
        by_name = {m.name: m.task_id for m in self.members.values()}
        self.preds: dict[int, list[int]] = {
            t: [by_name[p] for p in m.definition.after if p in by_name] for t, m in self.members.items()
        }
        self.children: dict[int, list[int]] = {t: [] for t in self.members}
        for t, ps in self.preds.items():
            for p in ps:
                self.children[p].append(t)
        root_name = self.members[root_id].name
        self.finalizer: int | None = next(
            (t for t, m in self.members.items() if m.definition.finalize == root_name), None
        )
        self.settled: dict[int, _Settled] = {}
        self.running: set[int] = set()
        self.return_values: dict[int, str | None] = {}
        self._failures: list[tuple[int, str | None, str | None]] = []

    # --- queries ---------------------------------------------------------------------------------

    @property
    def root_running(self) -> bool:
        return self.root_id in self.running

    def member(self, task_id: int) -> Member:
        return self.members[task_id]

    def predecessor_values(self) -> dict[str, str | None]:
        """Return values of settled members, by qualified and by bare name (lookups search ancestors)."""
        out: dict[str, str | None] = {}
        for task_id, value in self.return_values.items():
            name = self.members[task_id].name
            out[str(name)] = value
            out.setdefault(name.name, value)
        return out

    def _ok(self, task_id: int) -> bool:
        s = self.settled.get(task_id)
        return s is not None and (
            s.state is RunState.SUCCEEDED or (s.state is RunState.SKIPPED and s.code in OK_SKIP_CODES)
        )

    def _blocked(self, task_id: int) -> bool:
        s = self.settled.get(task_id)
        return s is not None and not self._ok(task_id)

    # --- transitions -----------------------------------------------------------------------------

    def begin(self, prior: Mapping[int, RunState] | None = None) -> Step:
        """Start the graph run. ``prior`` (for RETRY LAST) holds the members that already succeeded
        in earlier attempts; they are not run again."""
        step = Step()
        for task_id, state in (prior or {}).items():
            if task_id in self.members and state is RunState.SUCCEEDED:
                self.settled[task_id] = _Settled(state, None, None)
        if self.root_id not in self.settled:
            self._launch(self.root_id, step, root=True)
            return step
        self._advance(step)
        return step

    def done(
        self,
        task_id: int,
        state: RunState,
        *,
        code: str | None = None,
        message: str | None = None,
        return_value: str | None = None,
    ) -> Step:
        """A member's run ended (a final outcome, after any retries)."""
        self.running.discard(task_id)
        self.settled[task_id] = _Settled(state, code, message)
        self.return_values[task_id] = return_value
        if state in _FAILED or state is RunState.CANCELLED:
            self._failures.append((task_id, code, message))
        step = Step()
        if task_id == self.root_id and state is RunState.SKIPPED and code in OK_SKIP_CODES:
            step.end = End("SKIPPED")  # the root's WHEN was false: the whole graph run is skipped
            return step
        self._advance(step)
        return step

    def _launch(self, task_id: int, step: Step, *, root: bool = False) -> None:
        member = self.members[task_id]
        if not root and member.state is not TaskState.STARTED:
            self._skip(task_id, "TASK_SUSPENDED", f"skipped: task {member.name} is suspended", step)
            return
        self.running.add(task_id)
        step.start.append(task_id)

    def _skip(self, task_id: int, code: str, message: str, step: Step) -> None:
        self.settled[task_id] = _Settled(RunState.SKIPPED, code, message)
        step.skip.append(Skip(task_id, code, message))

    def _advance(self, step: Step) -> None:
        """Start every member whose predecessors are done; skip every member that can no longer run;
        then the finalizer, then the end."""
        changed = True
        while changed:
            changed = False
            for task_id in self._pending():
                preds = self.preds[task_id]
                blocker = next((p for p in preds if self._blocked(p)), None)
                if blocker is not None:
                    name = self.members[blocker].name
                    self._skip(
                        task_id,
                        "PREDECESSOR_FAILED",
                        f"skipped: predecessor {name} did not succeed in this graph run",
                        step,
                    )
                    changed = True
                elif preds and all(self._ok(p) for p in preds):
                    self._launch(task_id, step)
                    changed = True
        if self.running or self._pending():
            return
        fin = self.finalizer
        if fin is not None and fin not in self.settled:
            self._launch(fin, step)
            if self.running:
                return
        step.end = self._end()

    def _pending(self) -> list[int]:
        return [
            t
            for t in self.members
            if t not in self.settled and t not in self.running and t not in (self.root_id, self.finalizer)
        ]

    def _end(self) -> End:
        failed = [f for f in self._failures if self.settled[f[0]].state in _FAILED]
        if failed:
            task_id, code, message = failed[0]
            return End("FAILED", str(self.members[task_id].name), code, message)
        if self._failures:
            task_id, code, message = self._failures[0]
            return End("CANCELLED", str(self.members[task_id].name), code, message)
        return End("SUCCEEDED")


def graph_members(
    root_id: int,
    member: Callable[[int], tuple[int, TaskDef, TaskState] | None],
    children_of: Callable[[QualifiedName], Iterable[int]],
    finalizer_of: Callable[[QualifiedName], int | None],
) -> dict[int, Member]:
    """The members of ``root_id``'s graph: the root, every task reachable through AFTER, and the
    root's finalizer. ``member(id)`` gives (version, definition, state) of a live task (None when it
    is gone); ``children_of(name)`` the ids of tasks AFTER ``name``; ``finalizer_of(name)`` the id of
    the task that finalizes ``name``. Work is proportional to the graph, not to the catalog."""
    root = member(root_id)
    if root is None:
        return {}
    out: dict[int, Member] = {root_id: Member(root_id, root[0], root[1], root[2])}
    queue = [root_id]
    for t in queue:
        for c in children_of(out[t].name):
            got = member(c)
            if c not in out and got is not None:
                out[c] = Member(c, got[0], got[1], got[2])
                queue.append(c)
    fin = finalizer_of(root[1].name)
    got_fin = member(fin) if fin is not None else None
    if fin is not None and got_fin is not None and fin not in out:
        out[fin] = Member(fin, got_fin[0], got_fin[1], got_fin[2])
    return out
