"""``python -m bench cluster``: the cluster benchmarks (bench/cluster.py), their results file and,
with ``--docs``, their section of docs/benchmarks.md.

They are not part of ``python -m bench all``: that suite compares tasksql with other schedulers on
the same workloads, while these measure a cluster of tasksql nodes alone (for the designs they are
compared with, the figures are published ones; see bench/cluster_report.py).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from stats import machine

from bench import cluster, cluster_report


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def main(
    profile_name: str,
    out: Path | None,
    results_dir: Path,
    docs: Path | None,
    parts: tuple[str, ...] = cluster.PARTS,
) -> int:
    """Run the cluster measurements ``parts`` (default: every one) of the profile; 130 when
    interrupted (Ctrl-C, SIGTERM); 2 for an unknown part, or ``docs`` with only some parts (the
    section is written from a whole run)."""
    unknown = [p for p in parts if p not in cluster.PARTS]
    if unknown:
        print(f"[cluster] unknown part {unknown[0]!r}; the parts are {', '.join(cluster.PARTS)}")
        return 2
    if docs is not None and set(parts) != set(cluster.PARTS):
        print("[cluster] --docs writes the section from a run of every part; run without parts")
        return 2
    profile = cluster.PROFILES[profile_name]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = out or results_dir / f"{stamp}-cluster-{profile.name}.json"
    before = os.getloadavg()[0]
    results: dict[str, object] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load": {"before": _load()},
        # other work running before this began: a 1-minute load average of 1 or more
        "loaded": before >= 1.0,
    }
    print(f"[cluster] profile {profile.name}; results: {out}", flush=True)
    try:
        results.update(cluster.run_all(profile, parts=parts))
    except KeyboardInterrupt:
        print("\n[cluster] interrupted: stopped and removed everything started", flush=True)
        return 130
    results["load"] = {"before": results["load"]["before"], "after": _load()}  # type: ignore[index]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str))
    print(cluster_report.render(results))
    if docs is not None:
        cluster_report.write_section(results, docs)
        print(f"[cluster] wrote the cluster section of {docs}")
    return 0
