"""The aims tasksql is measured against, and the summary table that says which a run met.

Each aim is stated for the variants it concerns (bench/variants.py): the aims set for the embedded
SQLite catalog, with the default DuckDB warehouse and with a SQLite file warehouse; and the aims set
for the catalog on a local PostgreSQL, with the same two warehouses. A variant that did not run, or
a workload that was not part of the run, leaves its row out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.tables import LABELS, ramp_summary

#: (measured text, met), or None when the run has no figure for it.
Verdict = tuple[str, bool] | None

SQLITE_CATALOG = ("tasksql", "tasksql-sqlite")
PG_CATALOG = ("tasksql-pg", "tasksql-sqlite-pg")


def _get(workloads: Mapping[str, Any], *path: str) -> Any:
    node: Any = workloads
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def burst_within(limit_ms: float) -> Callable[[Mapping[str, Any], str], Verdict]:
    """Every run of every instant of a burst of 1,000 started within ``limit_ms`` of the instant."""

    def check(workloads: Mapping[str, Any], peer: str) -> Verdict:
        burst = _get(workloads, "burst", peer, "1000")
        if not burst or "burst_last_start" not in burst:
            return None
        last = burst["burst_last_start"]
        text = (
            f"last start {last['p50_ms']:,.0f} ms median, {last['max_ms']:,.0f} ms worst; "
            f"{burst['ran_share']:.1%} ran"
        )
        return text, last["max_ms"] <= limit_ms and burst["ran_share"] >= 1

    return check


def steady_p99(limit_ms: float, *, strict: bool) -> Callable[[Mapping[str, Any], str], Verdict]:
    """1,000 one-second tasks: every instant ran and the p99 start lag is under (``strict``) or at
    most ``limit_ms``."""

    def check(workloads: Mapping[str, Any], peer: str) -> Verdict:
        steady = _get(workloads, "steady", peer, "1000")
        if not steady or "p99_ms" not in steady:
            return None
        p99 = steady["p99_ms"]
        ok = (p99 < limit_ms if strict else p99 <= limit_ms) and steady["ran_share"] >= 1
        return f"p99 {p99:,.1f} ms, {steady['ran_share']:.2%} ran", ok

    return check


def runs_per_second(rate: int) -> Callable[[Mapping[str, Any], str], Verdict]:
    """The ramp sustained ``rate`` trivial runs per second (history recorded: tasksql always does)."""

    def check(workloads: Mapping[str, Any], peer: str) -> Verdict:
        ramp = _get(workloads, "ramp", peer, "ramp")
        if not ramp or "steps" not in ramp:
            return None
        best, _ = ramp_summary(ramp)
        first = ramp["steps"][0]["target_rate"] if ramp["steps"] else 0
        text = f"{best:,.0f} runs/s sustained" if best else f"below {first:,} runs/s (the first step)"
        return text, best >= rate

    return check


@dataclass(frozen=True, slots=True)
class Aim:
    text: str
    variants: tuple[str, ...]
    check: Callable[[Mapping[str, Any], str], Verdict]


AIMS: tuple[Aim, ...] = (
    Aim("a burst of 1,000 all started within 50 ms", SQLITE_CATALOG, burst_within(50)),
    Aim(
        "1,000 steady one-second tasks: p99 under 5 ms, nothing missed",
        SQLITE_CATALOG,
        steady_p99(5, strict=True),
    ),
    Aim("at least 3,000 trivial runs per second", SQLITE_CATALOG, runs_per_second(3000)),
    Aim(
        "PostgreSQL catalog: 1,000 one-second tasks, every instant run, p99 start lag at most 10 ms",
        PG_CATALOG,
        steady_p99(10, strict=False),
    ),
    Aim(
        "PostgreSQL catalog: at least 2,000 trivial runs per second with history recorded",
        PG_CATALOG,
        runs_per_second(2000),
    ),
    Aim("PostgreSQL catalog: a burst of 1,000 all started within 200 ms", PG_CATALOG, burst_within(200)),
)


def verdicts(workloads: Mapping[str, Any]) -> list[tuple[Aim, str, str, bool]]:
    """(aim, variant, measured, met) for every aim and variant the run has figures for."""
    out = []
    for aim in AIMS:
        for peer in aim.variants:
            verdict = aim.check(workloads, peer)
            if verdict is not None:
                out.append((aim, peer, *verdict))
    return out


def aims_lines(workloads: Mapping[str, Any]) -> list[str]:
    """The summary's table of aims: measured figure and met / not met per variant."""
    rows = verdicts(workloads)
    if not rows:
        return ["No tasksql figures for the aims in this run."]
    lines = ["Aims for tasksql:", "", "| aim | variant | measured | |", "|---|---|---|---|"]
    lines += [
        f"| {aim.text} | {LABELS.get(peer, peer)} | {measured} | {'met' if ok else '**not met**'} |"
        for aim, peer, measured, ok in rows
    ]
    return lines


def missed_lines(workloads: Mapping[str, Any]) -> list[str]:
    """One line per aim a variant did not meet, for the summary's list of where tasksql is behind."""
    return [
        f"- aim not met, {LABELS.get(peer, peer)}: {aim.text} (measured: {measured})."
        for aim, peer, measured, ok in verdicts(workloads)
        if not ok
    ]
