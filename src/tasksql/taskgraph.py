"""Task graphs (AFTER and FINALIZE), as pure functions over task definitions: the rules a change
must keep (checked by the engine before it writes) and the index the graph relations read.

A graph is the connected set of tasks joined by AFTER edges, plus the finalizers attached to its root.
A task with no predecessors is a root; it carries the schedule. Rules (Snowflake's limits, enforced
with clear errors): acyclic; at most ``MAX_PREDECESSORS`` predecessors and ``MAX_CHILDREN`` children
per task; at most ``MAX_GRAPH_TASKS`` tasks per graph; a child has no schedule; a finalizer has no
schedule and no predecessors, names a root, and a root has at most one finalizer; a task's
predecessors belong to one graph (one root), unless the task joins graphs
(:mod:`tasksql.model.joins`): then its AFTER edges are not graph edges, it is a root of its own
graph, and only the cycle rule and the limits on predecessors and children count those edges.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Mapping

from tasksql.errors import GraphError, TaskNotFound
from tasksql.model import MAX_CHILDREN, MAX_GRAPH_TASKS, MAX_PREDECESSORS, QualifiedName, TaskDef
from tasksql.model.joins import graph_predecessors, joins_graphs


class Graph:
    """An index over a set of task definitions: children, predecessors, roots, finalizers.

    ``children`` follows graph edges only; ``joined`` lists, per task, the tasks that join graphs
    after it (their AFTER edge is no graph edge)."""

    def __init__(self, tasks: Mapping[QualifiedName, TaskDef]) -> None:
        self.tasks = dict(tasks)
        self.children: dict[QualifiedName, list[QualifiedName]] = defaultdict(list)
        self.joined: dict[QualifiedName, list[QualifiedName]] = defaultdict(list)
        self.finalizer_of: dict[QualifiedName, QualifiedName] = {}
        for name, task in sorted(self.tasks.items()):
            edges = self.joined if joins_graphs(task) else self.children
            for pred in task.after:
                edges[pred].append(name)
            if task.finalize is not None:
                self.finalizer_of.setdefault(task.finalize, name)

    def predecessors(self, name: QualifiedName) -> tuple[QualifiedName, ...]:
        return self.tasks[name].after

    def is_root(self, name: QualifiedName) -> bool:
        task = self.tasks[name]
        return not graph_predecessors(task) and task.finalize is None

    def dependents(self, name: QualifiedName) -> list[QualifiedName]:
        """Every task that runs after ``name``, directly or not, through any AFTER edge (tasks that
        join graphs included), in BFS order."""
        seen: dict[QualifiedName, None] = {}
        queue = deque([*self.children.get(name, ()), *self.joined.get(name, ())])
        while queue:
            n = queue.popleft()
            if n in seen or n == name:
                continue
            seen[n] = None
            queue.extend(self.children.get(n, ()))
            queue.extend(self.joined.get(n, ()))
        return list(seen)

    def descendants(self, name: QualifiedName) -> list[QualifiedName]:
        """Every task reachable through AFTER edges from ``name`` (not ``name``), in BFS order."""
        seen: dict[QualifiedName, None] = {}
        queue = deque(self.children.get(name, ()))
        while queue:
            n = queue.popleft()
            if n in seen:
                continue
            seen[n] = None
            queue.extend(self.children.get(n, ()))
        return list(seen)

    def roots_of(self, name: QualifiedName) -> set[QualifiedName]:
        """The roots from which ``name`` is reachable (itself if it is a root)."""
        task = self.tasks.get(name)
        if task is None:
            return set()
        if task.finalize is not None:
            return {task.finalize}
        out: set[QualifiedName] = set()
        seen: set[QualifiedName] = set()
        stack = [name]
        while stack:
            n = stack.pop()
            if n in seen or n not in self.tasks:
                continue
            seen.add(n)
            preds = graph_predecessors(self.tasks[n])
            if not preds:
                out.add(n)
            stack.extend(preds)
        return out

    def component(self, name: QualifiedName) -> set[QualifiedName]:
        """Every task connected to ``name`` through AFTER or FINALIZE edges, in either direction."""
        adj: dict[QualifiedName, set[QualifiedName]] = defaultdict(set)
        for n, t in self.tasks.items():
            for p in graph_predecessors(t):
                adj[n].add(p)
                adj[p].add(n)
            if t.finalize is not None:
                adj[n].add(t.finalize)
                adj[t.finalize].add(n)
        seen: set[QualifiedName] = set()
        stack = [name]
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            stack.extend(adj[n] - seen)
        return seen

    def topological(self, names: Iterable[QualifiedName]) -> list[QualifiedName]:
        """``names`` ordered so that every task comes after its predecessors within the set."""
        subset = set(names)
        indeg = {n: sum(1 for p in graph_predecessors(self.tasks[n]) if p in subset) for n in subset}
        ready = deque(sorted(n for n, d in indeg.items() if d == 0))
        out: list[QualifiedName] = []
        while ready:
            n = ready.popleft()
            out.append(n)
            for c in sorted(self.children.get(n, ())):
                if c in indeg:
                    indeg[c] -= 1
                    if indeg[c] == 0:
                        ready.append(c)
        return out

    def find_cycle(self, start: QualifiedName) -> list[QualifiedName] | None:
        """A cycle through predecessors reachable from ``start``, as a path ending where it began.

        Iterative depth-first search (graphs may be 1000 tasks deep)."""
        on_path: dict[QualifiedName, int] = {}
        path: list[QualifiedName] = []
        done: set[QualifiedName] = set()
        stack: list[tuple[QualifiedName, int]] = [(start, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                if node in on_path:
                    return [*path[on_path[node] :], node]
                if node in done or node not in self.tasks:
                    continue
                on_path[node] = len(path)
                path.append(node)
            preds = self.tasks[node].after
            if i < len(preds):
                stack.append((node, i + 1))
                stack.append((preds[i], 0))
            else:
                path.pop()
                del on_path[node]
                done.add(node)
        return None


def validate_change(tasks: Mapping[QualifiedName, TaskDef], changed: QualifiedName) -> None:
    """Check the graph rules for the graph containing ``changed``, after a change to it.

    ``tasks`` is every live task *with the change applied*. Raises :class:`TaskNotFound` when
    ``changed`` names a missing predecessor or finalizer root (code TASK_NOT_FOUND, message naming
    it), and :class:`GraphError` with codes GRAPH_CYCLE, TOO_MANY_PREDECESSORS, TOO_MANY_CHILDREN,
    GRAPH_TOO_LARGE, GRAPH_MULTIPLE_ROOTS, CHILD_WITH_SCHEDULE, FINALIZER_NOT_ROOT, DUPLICATE_FINALIZER.
    """
    task = tasks[changed]
    for pred in task.after:
        if pred not in tasks:
            raise TaskNotFound(f"predecessor task {pred} does not exist", code="TASK_NOT_FOUND")
    if len(task.after) > MAX_PREDECESSORS:
        raise GraphError(
            f"task {changed} has {len(task.after)} predecessors; at most {MAX_PREDECESSORS} are allowed",
            code="TOO_MANY_PREDECESSORS",
        )
    if task.after and task.schedule is not None:
        raise GraphError(
            f"task {changed} has predecessors (AFTER) and a SCHEDULE; a child task cannot have a schedule",
            code="CHILD_WITH_SCHEDULE",
        )
    graph = Graph(tasks)
    if task.finalize is not None:
        _check_finalizer(graph, changed, task.finalize)
    cycle = graph.find_cycle(changed)
    if cycle:
        raise GraphError(
            "AFTER would create a cycle: " + " -> ".join(str(n) for n in reversed(cycle)), code="GRAPH_CYCLE"
        )
    for pred in task.after:
        kids = [*graph.children.get(pred, []), *graph.joined.get(pred, [])]
        if len(kids) > MAX_CHILDREN:
            raise GraphError(
                f"task {pred} would have {len(kids)} children; at most {MAX_CHILDREN} are allowed",
                code="TOO_MANY_CHILDREN",
            )
    for member in [changed, *graph.descendants(changed)]:
        roots = graph.roots_of(member)
        if len(roots) > 1:
            names = ", ".join(sorted(str(r) for r in roots))
            raise GraphError(
                f"task {member} would run after tasks of several graphs (roots {names}); a task graph "
                "has one root. To run it once each of its predecessors has succeeded, whatever their "
                "graphs, as Databend does, set AFTER_ANY_GRAPH = TRUE (or write the task the Databend "
                "way: AFTER '<task>', '<task>' or WAREHOUSE = '<name>', names as strings)",
                code="GRAPH_MULTIPLE_ROOTS",
            )
    size = len(graph.component(changed))
    if size > MAX_GRAPH_TASKS:
        raise GraphError(
            f"the task graph of {changed} would have {size} tasks; at most {MAX_GRAPH_TASKS} are allowed",
            code="GRAPH_TOO_LARGE",
        )


def _check_finalizer(graph: Graph, name: QualifiedName, root: QualifiedName) -> None:
    if root not in graph.tasks:
        raise TaskNotFound(f"FINALIZE names task {root}, which does not exist", code="TASK_NOT_FOUND")
    if root == name:
        raise GraphError(f"task {name} cannot finalize itself", code="FINALIZER_NOT_ROOT")
    root_task = graph.tasks[root]
    if graph_predecessors(root_task) or root_task.finalize is not None:
        raise GraphError(f"FINALIZE must name a root task; {root} is not a root", code="FINALIZER_NOT_ROOT")
    existing = graph.finalizer_of.get(root)
    if existing is not None and existing != name:
        raise GraphError(f"root task {root} already has the finalizer {existing}", code="DUPLICATE_FINALIZER")
    if graph.children.get(name):
        raise GraphError(f"finalizer task {name} cannot have child tasks", code="FINALIZER_NOT_ROOT")
