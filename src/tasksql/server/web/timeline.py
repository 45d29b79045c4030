"""The run timeline of a task, as seed diagrams of a batch window draw it: per run, the time it
queued (scheduled instant to start) and the time it ran (start to end), against its scheduled
instant.

Each run is one row; x = 0 is the run's scheduled instant, so rows compare directly, and the
window (the time between two scheduled instants, when the task has a fixed one) is drawn as a line:
a run whose bars cross it overlapped its next instant. Only geometry is computed here; the
template draws it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tasksql.model.run import RunRecord

ROW_H, BAR_H = 22, 14
LABEL_W, PLOT_W, PAD = 150, 520, 8


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    run_id: int
    label: str
    y: int
    queued_x: float
    queued_w: float
    run_x: float
    run_w: float
    state: str
    queued_s: float
    ran_s: float | None
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeline:
    width: int
    height: int
    plot_x: int
    plot_w: int
    scale_s: float
    window_x: float | None
    window_s: float | None
    ticks: list[tuple[float, str]]
    bars: list[Bar]


def seconds_text(s: float) -> str:
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 120:
        return f"{s:.1f} s" if s < 10 else f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def build(runs: Sequence[RunRecord], now: datetime, window_s: float | None) -> Timeline | None:
    """The timeline of ``runs`` (newest first, as history lists them); None without a started run."""
    rows: list[tuple[RunRecord, float, float | None]] = []
    for r in runs:
        if r.query_start_time is None:
            continue
        queued = max((r.query_start_time - r.scheduled_time).total_seconds(), 0.0)
        end = r.completed_time or now
        elapsed = max((end - r.query_start_time).total_seconds(), 0.0)
        ended_or_running = r.completed_time is not None or r.state.value == "EXECUTING"
        rows.append((r, queued, elapsed if ended_or_running else None))
    if not rows:
        return None
    longest = max(q + (took or 0.0) for _, q, took in rows)
    scale = max(longest, window_s or 0.0, 0.001) * 1.05
    px = PLOT_W / scale
    bars = []
    for i, (r, queued, ran) in enumerate(rows):
        ran_s = ran or 0.0
        text = f"run {r.run_id} {r.state.value}: queued {seconds_text(queued)}"
        text += f", ran {seconds_text(ran_s)}" if ran is not None else ""
        bars.append(
            Bar(run_id=r.run_id, label=r.scheduled_time.strftime("%m-%d %H:%M:%S"), y=PAD + i * ROW_H,
                queued_x=LABEL_W, queued_w=queued * px, run_x=LABEL_W + queued * px,
                run_w=max(ran_s * px, 1.0), state=r.state.value, queued_s=queued, ran_s=ran, text=text)
        )  # fmt: skip
    ticks = [(LABEL_W + scale * f * px, seconds_text(scale * f)) for f in (0.0, 0.25, 0.5, 0.75)]
    return Timeline(
        width=LABEL_W + PLOT_W + PAD,
        height=PAD * 2 + len(rows) * ROW_H + 16,
        plot_x=LABEL_W,
        plot_w=PLOT_W,
        scale_s=scale,
        window_x=LABEL_W + window_s * px if window_s else None,
        window_s=window_s,
        ticks=ticks,
        bars=bars,
    )
