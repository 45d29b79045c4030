"""The layout of a task graph for its SVG picture: one column per depth, the finalizer last.

Only geometry is computed here (boxes and edges in pixels); the template draws them, escaping
every name. Columns hold the tasks of one depth (longest path from the root), in key order.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasksql.server.web.data import Graph, task_key

BOX_W, BOX_H = 168, 44
GAP_X, GAP_Y = 56, 18
PAD = 12


@dataclass(frozen=True, slots=True, kw_only=True)
class Box:
    key: str
    label: str
    x: int
    y: int
    state: str | None
    role: str  # "root", "child", "finalizer"
    current: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int
    dashed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Picture:
    width: int
    height: int
    boxes: list[Box]
    edges: list[Edge]


def _label(name: str, limit: int = 22) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def layout(graph: Graph, current_key: str) -> Picture:
    """Boxes and edges of ``graph``; the box of ``current_key`` is marked current."""
    columns: dict[int, list[int]] = {}
    for i, m in enumerate(graph.members):
        columns.setdefault(m.depth, []).append(i)
    where: dict[int, tuple[int, int]] = {}
    boxes: list[Box] = []
    for depth, indexes in sorted(columns.items()):
        for row, i in enumerate(indexes):
            m = graph.members[i]
            x, y = PAD + depth * (BOX_W + GAP_X), PAD + row * (BOX_H + GAP_Y)
            where[m.record.id] = (x, y)
            role = "finalizer" if m.finalizer else "root" if i == 0 else "child"
            key = task_key(m.record)
            boxes.append(
                Box(key=key, label=_label(m.record.name.name), x=x, y=y, state=m.state, role=role,
                    current=key == current_key)
            )  # fmt: skip
    edges: list[Edge] = []
    for m in graph.members:
        x2, y2 = where[m.record.id]
        # a finalizer runs after the whole graph: drawn after its deepest tasks
        last = [o.record.id for o in graph.members if not o.finalizer and o.depth == m.depth - 1]
        sources = m.parents if not m.finalizer else last
        for parent in sources:
            x1, y1 = where[parent]
            edges.append(
                Edge(x1=x1 + BOX_W, y1=y1 + BOX_H // 2, x2=x2, y2=y2 + BOX_H // 2, dashed=m.finalizer)
            )
    width = PAD * 2 + (max(columns) + 1) * (BOX_W + GAP_X) - GAP_X
    height = PAD * 2 + max(len(v) for v in columns.values()) * (BOX_H + GAP_Y) - GAP_Y
    return Picture(width=width, height=height, boxes=boxes, edges=edges)
