"""Before and after on the same machine in the same run: ``python -m bench compare REV [workloads]``.

The revision ``REV`` is checked out into a temporary git worktree (``git worktree add --detach``),
removed again at the end, also on Ctrl-C. Nothing is installed: both sides use this virtual
environment, and each side's child processes run that side's own harness (``python -m
bench.child`` with the side's tree as working directory and ``PYTHONPATH=<tree>/src``), so each
revision is measured by the harness code written for its own API. "After" is this working tree as it
is (uncommitted changes included) unless ``--after REV`` names a second revision.

The sides take turns: for every workload size the two run one after the other, the first side
alternating from round to round (A B, then B A, ...), so that a machine whose load drifts slows
both alike. Each figure is printed per round and as the ratio of the medians (after / before).
Only tasksql's variants are compared (by default the SQLite-catalog rows of docs/benchmarks.md).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import REPO_DIR
from bench.peers.inproc import InProcessPeer
from bench.runner import Suite
from bench.servers import CatalogServer
from bench.tables import LABELS, burst_metric, ramp_summary
from bench.variants import BY_NAME

#: What ``compare`` measures when ``--peers`` is not given: the SQLite-catalog rows.
DEFAULT_PEERS = ("tasksql", "tasksql-sqlite")


class CompareError(RuntimeError):
    """A revision that cannot be checked out, or a peer that is not a tasksql variant."""


@dataclass(frozen=True, slots=True)
class Side:
    """One side of the comparison: a source tree, and how it is named in the output."""

    label: str
    root: Path
    commit: str


def resolve(rev: str) -> str:
    """The full commit id of ``rev``; :class:`CompareError` when git does not know it."""
    done = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if done.returncode != 0:
        raise CompareError(f"git does not know the revision {rev!r}; name a commit, tag or branch")
    return done.stdout.strip()


@contextmanager
def worktree(rev: str) -> Iterator[Side]:
    """``rev`` checked out (detached) in a temporary worktree, removed when the block ends."""
    commit = resolve(rev)
    base = Path(tempfile.mkdtemp(prefix="tasksql-bench-compare-"))
    path = base / commit[:12]
    done = _git("worktree", "add", "--detach", str(path), commit)
    if done.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise CompareError(f"git worktree add failed: {done.stderr.strip()}")
    try:
        yield Side(label=f"{rev} ({commit[:8]})", root=path, commit=commit)
    finally:
        _git("worktree", "remove", "--force", str(path))
        shutil.rmtree(base, ignore_errors=True)
        _git("worktree", "prune")


def working_tree() -> Side:
    head = _git("rev-parse", "HEAD").stdout.strip()
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no").stdout.strip())
    label = f"work tree ({head[:8]}{' + changes' if dirty else ''})"
    return Side(label=label, root=REPO_DIR, commit=head)


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=REPO_DIR, capture_output=True, text=True, check=False)


class CompareSuite(Suite):
    """A :class:`Suite` that keeps every round's result (a list per peer and size) instead of one."""

    def record(self, workload: str, peer: str, key: str, value: dict[str, Any]) -> None:
        if workload not in getattr(self._by_name.get(peer), "workloads", ()):
            return
        per_key = self.results["workloads"].setdefault(workload, {}).setdefault(peer, {})
        per_key.setdefault(key, []).append(value)
        self.save()
        print(f"[compare] {workload:<8} {peer:<34} {key:<6} {_brief(workload, value)}", flush=True)


def peer_name(variant: str, side: int) -> str:
    return f"{variant}@{'before' if side == 0 else 'after'}"


def make_peers(variants: list[str], sides: tuple[Side, Side]) -> list[InProcessPeer]:
    """Two peers per variant (before, after), each running its side's harness and tasksql."""
    unknown = [v for v in variants if v not in BY_NAME]
    if unknown:
        raise CompareError(f"only tasksql's variants can be compared, not {', '.join(unknown)}")
    catalog = CatalogServer()
    peers = []
    for variant in variants:
        for i, side in enumerate(sides):
            peers.append(
                InProcessPeer(
                    peer_name(variant, i),
                    kind=variant,
                    root=side.root,
                    env={"PYTHONPATH": str(side.root / "src")},
                    catalog=catalog if BY_NAME[variant].pg_catalog else None,
                )
            )
    return peers


def run(
    suite: CompareSuite,
    workloads: list[str],
    rounds: int,
    functions: Mapping[str, Callable[[Suite], None]],
) -> None:
    """``rounds`` rounds of every workload, the sides' order swapped from one round to the next."""
    pairs = [suite.peers[i : i + 2] for i in range(0, len(suite.peers), 2)]
    for r in range(rounds):
        suite.peers = [p for pair in pairs for p in (pair if r % 2 == 0 else pair[::-1])]
        print(f"[compare] round {r + 1} of {rounds}", flush=True)
        for workload in workloads:
            functions[workload](suite)


# --- the side-by-side text -------------------------------------------------------------------------

Metric = tuple[str, Callable[[Mapping[str, Any]], float | None]]


def _at(*path: str) -> Callable[[Mapping[str, Any]], float | None]:
    def get(result: Mapping[str, Any]) -> float | None:
        node: Any = result
        for key in path:
            if not isinstance(node, Mapping) or key not in node:
                return None
            node = node[key]
        return float(node) if isinstance(node, int | float) else None

    return get


def _sustained(result: Mapping[str, Any]) -> float | None:
    return ramp_summary(result)[0] if "steps" in result else None


def _metrics(workload: str, sample: Mapping[str, Any]) -> list[Metric]:
    if workload == "steady":
        return [(f"lag {q} (ms)", _at(f"{q}_ms")) for q in ("p50", "p99", "max")] + [
            ("share ran", _at("ran_share"))
        ]
    if workload == "burst":
        return [
            ("last start, median (ms)", burst_metric),
            ("last start, worst (ms)", _at("burst_last_start", "max_ms")),
            ("lag p99 (ms)", _at("p99_ms")),
            ("share ran", _at("ran_share")),
        ]
    if workload == "ramp":
        return [("runs/s sustained", _sustained)]
    if workload == "scale":
        return [
            ("create (s)", _at("register_s")),
            ("load (s)", _at("load_s")),
            ("memory (MB)", _at("rss_growth_mb")),
        ]
    if workload == "timeout":
        return [(f"{db} stop p50 (ms)", _at(db, "p50_ms")) for db in ("duckdb", "sqlite", "postgresql")]
    shapes = [k for k, v in sample.items() if isinstance(v, Mapping) and "child_start_lag" in v]
    out: list[Metric] = []
    for shape in shapes:
        out += [
            (f"{shape}: child lag p50 (ms)", _at(shape, "child_start_lag", "p50_ms")),
            (f"{shape}: child lag p99 (ms)", _at(shape, "child_start_lag", "p99_ms")),
            (f"{shape}: graph run p50 (ms)", _at(shape, "graph_run_ms_p50")),
        ]
    return out


def _value(v: float | None) -> str:
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}" if abs(v) < 1 else f"{v:.1f}"


def _share(v: float) -> str:
    return f"{v:.1%}"


def _brief(workload: str, value: Mapping[str, Any]) -> str:
    if "error" in value or "unsupported" in value:
        return str(value.get("error") or value.get("unsupported"))[:200]
    parts = [f"{name} {_value(get(value))}" for name, get in _metrics(workload, value)[:3]]
    return "; ".join(parts)


def render(results: Mapping[str, Any]) -> str:
    """Markdown tables: per workload, variant and size, each figure per round and after / before."""
    sides = results.get("sides", ["before", "after"])
    sources = {p.rsplit("@", 1)[1]: info.get("source", "?") for p, info in results.get("peers", {}).items()}
    lines = [
        f"before: {sides[0]}, tasksql from {sources.get('before', '?')}",
        f"after:  {sides[1]}, tasksql from {sources.get('after', '?')}",
        "",
    ]
    for workload, per_peer in results.get("workloads", {}).items():
        variants = sorted({p.rsplit("@", 1)[0] for p in per_peer}, key=list(BY_NAME).index)
        for variant in variants:
            before = per_peer.get(peer_name(variant, 0), {})
            after = per_peer.get(peer_name(variant, 1), {})
            for key in sorted(set(before) | set(after), key=lambda k: (not k.isdigit(), k.zfill(9))):
                lines += _block(workload, variant, key, before.get(key, []), after.get(key, []))
    return "\n".join(lines)


def _block(workload: str, variant: str, key: str, before: list[Any], after: list[Any]) -> list[str]:
    size = f", {int(key):,} tasks" if key.isdigit() else ""
    out = [f"### {workload}{size}: {LABELS.get(variant, variant)}", ""]
    failures = [r for r in before + after if "error" in r or "unsupported" in r or "pending" in r]
    good_before = [r for r in before if r not in failures]
    good_after = [r for r in after if r not in failures]
    sample = (good_before or good_after or [{}])[0]
    out += ["| | before | after | after / before |", "|---|---|---|---|"]
    for name, get in _metrics(workload, sample):
        b = [v for v in map(get, good_before) if v is not None]
        a = [v for v in map(get, good_after) if v is not None]
        ratio = "-"
        if a and b and statistics.median(b) != 0:
            ratio = f"{statistics.median(a) / statistics.median(b):.2f}"
        shown = _share if name == "share ran" else _value
        out.append(
            f"| {name} | {', '.join(map(shown, b)) or '-'} | {', '.join(map(shown, a)) or '-'} | {ratio} |"
        )
    for r in failures:
        side = "before" if any(r is x for x in before) else "after"
        out.append(
            f"\n{side} failed: {str(r.get('error') or r.get('unsupported') or r.get('pending'))[:500]}"
        )
    return [*out, ""]
