"""docs/benchmarks.md from one results JSON: tables, plots, aims, findings, methodology.

The document is generated whole, except the section between :data:`NOTES_BEGIN` and
:data:`NOTES_END`, which is written by hand (the explanation of a run's results) and carried over
from the existing file when the report is regenerated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench import plots
from bench.aims import aims_lines, missed_lines
from bench.methodology import HOW_TO_RUN, INTRO, METHOD, WORKLOAD_TEXT, windows_text
from bench.tables import (
    LABELS,
    Notes,
    burst_cell,
    burst_metric,
    graphs_table,
    periodic_table,
    ramp_summary,
    ramp_table,
    scale_table,
    steady_cell,
    timeout_table,
)

NOTES_BEGIN = "<!-- notes:begin (hand-written; kept when the report is regenerated) -->"
NOTES_END = "<!-- notes:end -->"
IMG = "img"


def render_tables(results: Mapping[str, Any]) -> str:
    """The per-workload tables (with footnotes) as Markdown."""
    notes = Notes()
    lines: list[str] = []
    workloads = results.get("workloads", {})
    for name, title in (
        ("steady", "1. Steady"),
        ("burst", "2. Burst"),
        ("ramp", "3. Ramp"),
        ("scale", "4. Scale"),
        ("timeout", "5. Timeout"),
        ("graphs", "6. Graphs"),
    ):
        if name in workloads:
            lines += [f"### {title}", "", *_table_for(name, workloads[name], notes), ""]
    lines += notes.lines("")
    return "\n".join(lines)


def _table_for(name: str, workload: Mapping[str, Any], notes: Notes) -> list[str]:
    if name == "steady":
        return periodic_table(workload, notes, steady_cell, lambda r: r.get("p99_ms"))
    if name == "burst":
        return periodic_table(workload, notes, burst_cell, burst_metric)
    if name == "ramp":
        return ramp_table(workload, notes)
    if name == "scale":
        return scale_table(workload, notes)
    if name == "timeout":
        return timeout_table(workload, notes)
    return graphs_table(workload, notes)


def write_report(results: Mapping[str, Any], path: Path) -> None:
    """Write ``path`` and its plots (``img/`` beside it), keeping the hand-written notes section."""
    images = plots.write_all(results, path.parent / IMG)
    kept = _kept_notes(path)
    notes = Notes()
    workloads = results.get("workloads", {})
    out: list[str] = [*INTRO, "", _run_line(results), "", *HOW_TO_RUN, ""]
    out += ["## Summary", "", *aims_lines(workloads), "", *_findings(workloads), ""]
    out += [NOTES_BEGIN, *kept, NOTES_END, ""]
    out += _machine(results)
    for name, title in (
        ("steady", "1. Steady"),
        ("burst", "2. Burst"),
        ("ramp", "3. Ramp"),
        ("scale", "4. Scale"),
        ("timeout", "5. Timeout"),
        ("graphs", "6. Graphs (tasksql only)"),
    ):
        out += [f"## {title}", "", *WORKLOAD_TEXT[name], ""]
        if name in workloads:
            out += [*_table_for(name, workloads[name], notes), ""]
        else:
            out += ["Not part of this run.", ""]
        out += [f"![{name}]({IMG}/{img})\n" for img in images if img.startswith(name)]
    out += [*METHOD, "", windows_text(results.get("profile_settings", {})), ""]
    out += notes.lines("")
    path.write_text("\n".join(out).rstrip() + "\n")


def _kept_notes(path: Path) -> list[str]:
    if not path.exists():
        return ["", "(No notes on this run yet.)", ""]
    text = path.read_text()
    if NOTES_BEGIN not in text or NOTES_END not in text:
        return ["", "(No notes on this run yet.)", ""]
    return text.split(NOTES_BEGIN, 1)[1].split(NOTES_END, 1)[0].strip("\n").split("\n")


def _run_line(results: Mapping[str, Any]) -> str:
    minutes = float(results.get("duration_s", 0)) / 60
    date = str(results.get("date", "?"))
    cmd = "python -m bench all" + (" --quick" if results.get("profile") == "quick" else "")
    interrupted = " It was interrupted before the end." if results.get("interrupted") else ""
    return (
        f"> **These figures come from ONE run** of `{cmd}` started {date} (UTC), "
        f"{minutes:.0f} minutes, profile `{results.get('profile')}`, on the machine described below, "
        f"which other work shared at the time. Treat differences of less than about 2x as noise.{interrupted}"
    )


def _machine(results: Mapping[str, Any]) -> list[str]:
    m = results.get("machine", {})
    lines = ["## Machine, versions and settings", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in m.items()]
    lines += ["", "| peer | version | settings |", "|---|---|---|"]
    for peer, info in results.get("peers", {}).items():
        if "error" in info:
            lines.append(f"| {LABELS.get(peer, peer)} | unavailable | {info['error']} |")
            continue
        settings = "; ".join(f"`{k}` = {v}" for k, v in info.get("settings", {}).items())
        lines.append(f"| {LABELS.get(peer, peer)} | {info.get('version', '?')} | {settings} |")
    return [*lines, ""]


def _get(workloads: Mapping[str, Any], *path: str) -> Any:
    node: Any = workloads
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


#: The variants compared with the peers in the summary: the default setup, and the same with the
#: catalog on PostgreSQL.
COMPARED = ("tasksql", "tasksql-pg")


def _findings(workloads: Mapping[str, Any]) -> list[str]:
    """Plain sentences for every aim missed and every comparison tasksql loses (lower lag, higher
    rate, less memory...), for the default setup and its PostgreSQL-catalog variant."""
    behind: list[str] = missed_lines(workloads)
    for own_peer in COMPARED:
        name = LABELS.get(own_peer, own_peer)
        for workload, label, key_fn in (
            ("steady", "steady p99 start lag", lambda r: r.get("p99_ms")),
            ("burst", "burst: time until the last run started (median)", burst_metric),
        ):
            for size, own in (_get(workloads, workload, own_peer) or {}).items():
                best = _best_peer(workloads.get(workload, {}), size, key_fn, lower=True)
                value = key_fn(own) if {"error", "pending"}.isdisjoint(own) else None
                if best and value is not None and value > best[1]:
                    behind.append(
                        f"- {label}, {_tasks(size)}: {name} {value:,.1f} ms, "
                        f"{LABELS.get(best[0], best[0])} {best[1]:,.1f} ms."
                    )
                if value is not None and own.get("ran_share", 1) < 0.99:
                    behind.append(
                        f"- {workload}, {_tasks(size)}: {name} ran only {own['ran_share']:.1%} of instants."
                    )
        behind += _ramp_finding(workloads, own_peer)
        behind += _scale_findings(workloads, own_peer)
    if not behind:
        return ["tasksql met every aim and is ahead of the best peer in every comparison of this run."]
    return ["Where tasksql is behind its aims or the best peer in this run:", "", *behind]


def _best_peer(
    workload: Mapping[str, Any], size: str, key_fn: Any, *, lower: bool
) -> tuple[str, float] | None:
    candidates = []
    for peer, per in workload.items():
        result = per.get(size)
        if peer.startswith("tasksql") or not result or {"error", "unsupported", "shared"} & set(result):
            continue
        value = key_fn(result)
        if value is None or math.isnan(value) or result.get("ran_share", 1) < 0.99:
            continue
        candidates.append((peer, float(value)))
    if not candidates:
        return None
    return min(candidates, key=lambda c: c[1]) if lower else max(candidates, key=lambda c: c[1])


def _ramp_finding(workloads: Mapping[str, Any], own_peer: str) -> list[str]:
    ramp = workloads.get("ramp", {})
    own = _get(ramp, own_peer, "ramp")
    if not own or "steps" not in own:
        return []
    own_best, _ = ramp_summary(own)
    peers = {
        p: ramp_summary(r["ramp"])[0]
        for p, r in ramp.items()
        if not p.startswith("tasksql") and "steps" in r.get("ramp", {})
    }
    if not peers:
        return []
    best = max(peers, key=peers.__getitem__)
    if peers[best] > own_best:
        own_text = f"{own_best:,.0f} runs/s" if own_best else "less than the first step"
        return [
            f"- ramp: {LABELS.get(own_peer, own_peer)} sustained {own_text}, "
            f"{LABELS.get(best, best)} {peers[best]:,.0f} runs/s."
        ]
    return []


def _scale_findings(workloads: Mapping[str, Any], own_peer: str) -> list[str]:
    out = []
    scale = workloads.get("scale", {})
    for size, own in (scale.get(own_peer) or {}).items():
        if "error" in own:
            continue
        for metric, label, unit in (("load_s", "load time", "s"), ("rss_growth_mb", "memory growth", "MB")):
            best = _best_peer(scale, size, lambda r, m=metric: r.get(m), lower=True)
            if best and round(own[metric], 2) > round(best[1], 2):
                name = LABELS.get(own_peer, own_peer)
                out.append(
                    f"- scale, {_tasks(size)}, {label}: {name} {own[metric]:,.2f} {unit}, "
                    f"{LABELS.get(best[0], best[0])} {max(best[1], 0.01):,.2f} {unit}"
                    f"{' or less' if best[1] < 0.01 else ''}."
                )
    return out


def _tasks(size: str) -> str:
    n = int(size)
    return "1 task" if n == 1 else f"{n:,} tasks"
