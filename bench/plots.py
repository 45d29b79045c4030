"""PNG plots for docs/benchmarks.md (matplotlib, installed into the venv when missing).

* ``steady-lag.png``: start lag distribution (from the stored quantiles) per peer, one panel per size;
* ``burst-lag.png``: the same for bursts;
* ``steady-p99.png``: p99 start lag against the number of tasks;
* ``ramp.png``: runs per second achieved and share of instants that ran, against the target rate.

Every function returns the file names it wrote (relative to the image directory); a plot with no
data is skipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bench import install
from bench.tables import LABELS, peers_in

COLORS = {
    "tasksql": "#1f77b4",
    "tasksql-pg": "#aec7e8",
    "tasksql-sqlite": "#17becf",
    "tasksql-sqlite-pg": "#9edae5",
    "tasksql-at-least-once": "#7f7f7f",
    "pg_cron": "#8c564b",
    "mariadb": "#d62728",
    "apscheduler-asyncio": "#2ca02c",
    "apscheduler-background": "#9467bd",
}


def _pyplot() -> Any:
    install.ensure_pip("matplotlib", "matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_all(results: Mapping[str, Any], directory: Path) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    workloads = results.get("workloads", {})
    written: list[str] = []
    figures: tuple[tuple[str, Callable[[Any], Any]], ...] = (
        ("steady-lag.png", lambda p: _lag_panels(p, workloads.get("steady", {}), "steady")),
        ("burst-lag.png", lambda p: _lag_panels(p, workloads.get("burst", {}), "burst")),
        ("steady-p99.png", lambda p: _p99_by_size(p, workloads.get("steady", {}))),
        ("ramp.png", lambda p: _ramp(p, workloads.get("ramp", {}))),
    )
    plt = _pyplot()
    for name, fn in figures:
        fig = fn(plt)
        if fig is None:
            continue
        fig.savefig(directory / name, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(name)
    return written


def _has_quantiles(result: Mapping[str, Any] | None) -> bool:
    return bool(result) and bool(result.get("quantiles_ms"))  # type: ignore[union-attr]


def _lag_panels(plt: Any, workload: Mapping[str, Mapping[str, Any]], title: str) -> Any:
    sizes = sorted(
        {k for per in workload.values() for k, r in per.items() if _has_quantiles(r) and int(k) >= 100},
        key=int,
    )
    if not sizes:
        return None
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 3.6), squeeze=False, sharey=True)
    for ax, size in zip(axes[0], sizes, strict=True):
        for peer in peers_in(workload):
            result = workload[peer].get(size)
            if result is None or not _has_quantiles(result):
                continue
            q = [max(v, 0.01) for v in result["quantiles_ms"]]  # log axis: clamp 0 and clock-skew negatives
            share = [100 * i / (len(q) - 1) for i in range(len(q))]
            label = f"{LABELS.get(peer, peer)} ({result['ran_share'] * 100:.0f}% ran)"
            ax.plot(q, share, label=label, color=COLORS.get(peer), linewidth=1.6)
        ax.set_xscale("log")
        ax.set_title(f"{title}, {int(size):,} tasks")
        ax.set_xlabel("start lag (ms, log scale)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    axes[0][0].set_ylabel("runs started within that lag (%)")
    fig.tight_layout()
    return fig


def _p99_by_size(plt: Any, workload: Mapping[str, Mapping[str, Any]]) -> Any:
    fig, ax = plt.subplots(figsize=(6, 3.8))
    drawn = False
    for peer in peers_in(workload):
        points = sorted(
            (int(k), r["p99_ms"])
            for k, r in workload[peer].items()
            if "p99_ms" in r and not math.isnan(r["p99_ms"])
        )
        if points:
            drawn = True
            ax.plot(
                *zip(*points, strict=True), marker="o", label=LABELS.get(peer, peer), color=COLORS.get(peer)
            )
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("tasks, each due every second")
    ax.set_ylabel("p99 start lag (ms)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _ramp(plt: Any, workload: Mapping[str, Mapping[str, Any]]) -> Any:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    drawn = False
    for peer in peers_in(workload):
        steps = (workload[peer].get("ramp") or {}).get("steps")
        if not steps:
            continue
        drawn = True
        rates = [s["target_rate"] for s in steps]
        color = COLORS.get(peer)
        label = LABELS.get(peer, peer)
        ax1.plot(rates, [s["achieved_rate"] for s in steps], marker="o", label=label, color=color)
        ax2.plot(rates, [100 * s["ran_share"] for s in steps], marker="o", label=label, color=color)
    if not drawn:
        plt.close(fig)
        return None
    top = max(max(line.get_xdata()) for line in ax1.get_lines())
    ax1.plot([0, top], [0, top], linestyle=":", color="grey", label="target")
    ax1.set_xlabel("target runs per second")
    ax1.set_ylabel("runs per second that started")
    ax2.axhline(99, linestyle=":", color="grey")
    ax2.set_xlabel("target runs per second")
    ax2.set_ylabel("instants that ran (%)")
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
