"""The per-workload Markdown tables: peers side by side, and tasksql's ratio to the best peer.

Every function takes the ``results["workloads"][<workload>]`` mapping (peer -> key -> value) and
returns Markdown lines. Cells of workloads a peer cannot express say so with a footnote mark; the
footnotes (the reasons) are collected by :class:`Notes`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.variants import VARIANTS

LABELS = {
    **{v.name: v.label for v in VARIANTS},
    "pg_cron": "pg_cron",
    "mariadb": "MariaDB events",
    "apscheduler-asyncio": "APScheduler (asyncio)",
    "apscheduler-background": "APScheduler (background)",
}
ORDER = tuple(LABELS)

Result = Mapping[str, Any]
Workload = Mapping[str, Mapping[str, Result]]


@dataclass
class Notes:
    """Footnotes: one number per distinct text."""

    texts: list[str] = field(default_factory=list)

    def mark(self, text: str) -> str:
        if text not in self.texts:
            self.texts.append(text)
        return f"[^{self.texts.index(text) + 1}]"

    def lines(self, prefix: str) -> list[str]:
        return [f"[^{i + 1}]: {text}" for i, text in enumerate(self.texts)] if self.texts else []


def _own(peer: str) -> bool:
    """tasksql itself or a variant of it (never the "best peer")."""
    return peer.startswith("tasksql")


def peers_in(workload: Workload) -> list[str]:
    return [p for p in ORDER if p in workload] + sorted(p for p in workload if p not in ORDER)


def number(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if abs(value) >= 99.5:
        return f"{value:,.0f}"
    if value != 0 and abs(value) < 0.5 * 10**-digits:
        return f"<{10**-digits:g}"
    return f"{value:.{digits}f}"


def share(value: float) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return "100%" if value >= 1 else f"{value * 100:.1f}%"


def special(result: Result | None, notes: Notes) -> str | None:
    """The cell text for a result without figures (missing, unsupported, failed, pending)."""
    if result is None:
        return "not run"
    if "unsupported" in result:
        return "cannot" + notes.mark(str(result["unsupported"]))
    if "error" in result:
        # a child's error ends with its traceback: the last line names the cause
        lines = str(result["error"]).strip().splitlines() or ["?"]
        return "failed" + notes.mark(lines[-1] if len(lines) == 1 else f"{lines[0]} ... {lines[-1].strip()}")
    if "pending" in result:
        return "not yet measured"
    if "shared" in result:
        return "as background" + notes.mark(str(result["shared"]))
    return None


def ratio_cell(tasksql: float | None, peers: Mapping[str, float], *, lower_is_better: bool) -> str:
    """``0.25x vs MariaDB events (ahead)``: tasksql's figure divided by the best peer's."""
    usable = {p: v for p, v in peers.items() if v is not None and not math.isnan(v)}
    if tasksql is None or math.isnan(tasksql) or not usable:
        return "n/a"
    best = min(usable, key=usable.__getitem__) if lower_is_better else max(usable, key=usable.__getitem__)
    if usable[best] == 0:
        return f"n/a ({LABELS.get(best, best)}: below the resolution)"
    value = tasksql / usable[best]
    ahead = value < 1 if lower_is_better else value > 1
    verdict = "ahead" if ahead else ("level" if value == 1 else "**behind**")
    shown = f"{value:.2g}" if value < 10 else f"{value:,.0f}"
    return f"{shown}x vs {LABELS.get(best, best)} ({verdict})"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out.extend("| " + " | ".join(row) + " |" for row in rows)
    return out


def _keys(workload: Workload) -> list[str]:
    keys = {k for per_peer in workload.values() for k in per_peer}
    return sorted(keys, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))


def periodic_table(
    workload: Workload,
    notes: Notes,
    cell: Callable[[Result], str],
    metric: Callable[[Result], float | None],
    *,
    first: str = "tasks",
) -> list[str]:
    """Rows per size, columns per peer, and tasksql's ratio on ``metric`` (lower is better).

    A peer that ran fewer than 99% of its instants does not count as the best peer.
    """
    peers = peers_in(workload)
    rows = []
    for key in _keys(workload):
        row = [f"{int(key):,}" if key.isdigit() else key]
        values: dict[str, float] = {}
        for peer in peers:
            result = workload[peer].get(key)
            text = special(result, notes)
            if text is None:
                assert result is not None
                text = cell(result)
                value = metric(result)
                if not _own(peer) and value is not None and result.get("ran_share", 1.0) >= 0.99:
                    values[peer] = value
            row.append(text)
        own = workload.get("tasksql", {}).get(key)
        own_value = metric(own) if own and special(own, notes) is None else None
        row.append(ratio_cell(own_value, values, lower_is_better=True) if "tasksql" in peers else "n/a")
        rows.append(row)
    return _table([first, *(LABELS.get(p, p) for p in peers), "tasksql / best peer"], rows)


def steady_cell(r: Result) -> str:
    return (
        f"{number(r['p50_ms'])} / {number(r['p99_ms'])} / {number(r['max_ms'])} ms, {share(r['ran_share'])}"
    )


def burst_cell(r: Result) -> str:
    last = r.get("burst_last_start") or {}
    return (
        f"last {number(last.get('p50_ms', math.nan))} / {number(last.get('max_ms', math.nan))} ms, "
        f"p99 {number(r['p99_ms'])} ms, {share(r['ran_share'])}"
    )


def burst_metric(r: Result) -> float | None:
    last = r.get("burst_last_start") or {}
    value = last.get("p50_ms")
    return float(value) if value is not None else None


def ramp_summary(result: Result) -> tuple[float, str]:
    """(highest rate sustained, text of the first failing step) of a ramp result."""
    steps = result.get("steps", [])
    passed = [s for s in steps if s["ran_share"] >= 0.99]
    best = float(max((s["target_rate"] for s in passed), default=0))
    failing = next((s for s in steps if s["ran_share"] < 0.99), None)
    fail_text = (
        f"{failing['target_rate']:,}/s ran {share(failing['ran_share'])}"
        if failing
        else "none (top of the ramp)"
    )
    return best, fail_text


def ramp_table(workload: Workload, notes: Notes) -> list[str]:
    peers = peers_in(workload)
    sustained: dict[str, float] = {}
    rows: list[list[str]] = [
        ["highest rate with at most 1% missed"],
        ["first rate missing more"],
        ["p99 lag there"],
    ]
    for peer in peers:
        result = workload[peer].get("ramp")
        text = special(result, notes)
        if text is not None:
            for row in rows:
                row.append(text)
            continue
        assert result is not None
        best, fail_text = ramp_summary(result)
        sustained[peer] = best
        at_best = next((s for s in result["steps"] if s["target_rate"] == best), None)
        rows[0].append(f"{best:,.0f} runs/s" if best else "below the first step")
        rows[1].append(fail_text)
        rows[2].append(f"{number(at_best['p99_ms'])} ms" if at_best else "n/a")
    own = sustained.pop("tasksql", None)
    sustained = {p: v for p, v in sustained.items() if not _own(p)}
    rows[0].append(ratio_cell(own, sustained, lower_is_better=False))
    rows[1].append("")
    rows[2].append("")
    return _table(["", *(LABELS.get(p, p) for p in peers), "tasksql / best peer"], rows)


def scale_table(workload: Workload, notes: Notes) -> list[str]:
    peers = peers_in(workload)
    rows = []
    for key in _keys(workload):
        for metric, label, unit in (
            ("register_s", "create", "s"),
            ("load_s", "load", "s"),
            ("rss_growth_mb", "memory growth", "MB"),
        ):
            row = [f"{int(key):,}", label]
            values: dict[str, float] = {}
            for peer in peers:
                result = workload[peer].get(key)
                text = special(result, notes)
                if text is None:
                    assert result is not None
                    value = float(result[metric])
                    # Zero is a clamped difference below the measurement's resolution.
                    text = f"{number(value, 2) if value > 0 else '<0.01'} {unit}"
                    if not _own(peer):
                        values[peer] = value
                row.append(text)
            own = workload.get("tasksql", {}).get(key)
            own_value = float(own[metric]) if own and special(own, notes) is None else None
            row.append(ratio_cell(own_value, values, lower_is_better=True))
            rows.append(row)
    return _table(["tasks", "", *(LABELS.get(p, p) for p in peers), "tasksql / best peer"], rows)


def timeout_table(workload: Workload, notes: Notes) -> list[str]:
    peers = peers_in(workload)
    databases = ("duckdb", "sqlite", "postgresql", "mariadb")
    names = {"duckdb": "DuckDB", "sqlite": "SQLite", "postgresql": "PostgreSQL", "mariadb": "MariaDB"}
    rows = []
    for db in databases:
        row = [names[db]]
        values: dict[str, float] = {}
        own_value: float | None = None
        for peer in peers:
            result = workload[peer].get("timeout")
            text = special(result, notes)
            if text is None:
                assert result is not None
                lag = result.get(db)
                if lag is None:
                    text = "—"
                else:
                    text = f"{number(lag['p50_ms'])} / {number(lag['max_ms'])} ms"
                    if "via" in lag:
                        text += notes.mark(f"{LABELS.get(peer, peer)}: {lag['via']}")
                    if peer == "tasksql":
                        own_value = float(lag["p50_ms"])
                    else:
                        values[peer] = float(lag["p50_ms"])
            row.append(text)
        row.append(ratio_cell(own_value, values, lower_is_better=True) if values else "")
        rows.append(row)
    return _table(["database", *(LABELS.get(p, p) for p in peers), "tasksql / best peer"], rows)


def graphs_table(workload: Workload, notes: Notes) -> list[str]:
    """Rows per graph shape (and per variant of tasksql, when more than one ran): child start lag (a
    child's start - its last predecessor's end), the graph run's total time and the sum of its
    bodies (medians over the graph runs)."""
    own = [p for p in peers_in(workload) if _own(p) and "graphs" in workload[p]]
    if not own:
        return ["tasksql: not run."]
    several = len(own) > 1
    names = {"chain_100": "chain of 100", "fanout_1_100_1": "fan-out 1 -> 100 -> 1"}
    rows = []
    for peer in own:
        result = workload[peer]["graphs"]
        first = [LABELS.get(peer, peer)] if several else []
        text = special(result, notes)
        if text is not None:
            if not several:
                return [f"tasksql: {text}."]
            rows.append([*first, text, "", "", "", ""])
            continue
        for shape, r in result.items():
            if not isinstance(r, Mapping):
                continue  # bookkeeping such as wall_s
            if "child_start_lag" not in r:
                rows.append([*first, names.get(shape, shape), _flat(r), "", "", ""])
                continue
            lag = r["child_start_lag"]
            rows.append(
                [
                    *first,
                    names.get(shape, shape),
                    str(r.get("graph_runs", "?")),
                    f"{number(lag['p50_ms'])} / {number(lag['p99_ms'])} / {number(lag['max_ms'])} ms",
                    f"{number(r.get('graph_run_ms_p50', math.nan))} ms",
                    f"{number(r.get('sum_of_bodies_ms_p50', math.nan))} ms",
                ]
            )
    header = [
        "graph",
        "graph runs",
        "child start lag p50 / p99 / max",
        "graph run (p50)",
        "sum of bodies (p50)",
    ]
    return _table(["variant", *header] if several else header, rows)


def _flat(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_flat(v)}" for k, v in value.items())
    if isinstance(value, float):
        return number(value)
    return str(value)
