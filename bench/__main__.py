"""Command line of the benchmark harness.

    python -m bench all                         # every workload, every peer; writes docs/benchmarks.md
    python -m bench steady burst --quick        # some workloads, short windows
    python -m bench all --peers tasksql,mariadb
    python -m bench report [results.json]       # rewrite docs/benchmarks.md and plots from results
    python -m bench compare REV [workloads] --quick   # REV's tasksql and this tree's, taking turns
    python -m bench cluster [--quick] [--docs]  # tasksql nodes on one PostgreSQL catalog (bench/cluster.py)
    python -m bench cluster propagation         # only some of its parts: failover, capacity, propagation
    python -m bench move [--rows N] [pairs]     # rows between warehouses with INTO (bench/move.py)

Raw results go to ``bench/results/<date>-<profile>.json`` (and ``latest.json``). The Markdown
report and plots are written for a full run of all workloads, or with ``--docs``. Ctrl-C or
SIGTERM stop the run; every server and child process it started is stopped and removed first.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from bench import BENCH_DIR, REPO_DIR
from bench.compare import DEFAULT_PEERS
from bench.profiles import FULL, PROFILES, QUICK, Profile
from bench.runner import PEER_CHOICES, WORKLOADS, Suite, make_peers

RESULTS_DIR = BENCH_DIR / "results"
DOCS = REPO_DIR / "docs" / "benchmarks.md"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "what",
        nargs="+",
        help="'all', 'report [results.json]', 'compare REV [workloads]', 'cluster [parts]', or workloads: "
        + ", ".join(WORKLOADS),
    )
    parser.add_argument("--quick", action="store_true", help="short windows and fewer sizes")
    parser.add_argument("--profile", choices=sorted(PROFILES), help="explicit profile (overrides --quick)")
    parser.add_argument(
        "--peers",
        help=f"comma-separated subset of {','.join(PEER_CHOICES)} "
        f"(default: all; compare: {','.join(DEFAULT_PEERS)})",
    )
    parser.add_argument("--rounds", type=int, default=2, help="compare: rounds of each side (default 2)")
    parser.add_argument("--after", metavar="REV", help="compare: this revision instead of the work tree")
    parser.add_argument(
        "--out", type=Path, help="results JSON path (default: bench/results/<date>-<profile>.json)"
    )
    docs = parser.add_mutually_exclusive_group()
    docs.add_argument("--docs", action="store_true", help="write docs/benchmarks.md and plots after the run")
    docs.add_argument("--no-docs", action="store_true", help="never write docs/benchmarks.md")
    return parser


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM and SIGHUP take the same path as Ctrl-C: KeyboardInterrupt runs every finally block.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["move"]:
        from bench.move import main as move

        return move(argv[1:])
    args = _parser().parse_args(argv)
    if args.what[0] == "cluster":
        return _cluster(args)
    if args.what[0] == "report":
        source = Path(args.what[1]) if len(args.what) > 1 else RESULTS_DIR / "latest.json"
        return _write_docs(json.loads(source.read_text()))
    comparing = args.what[0] == "compare"
    if comparing and len(args.what) < 2:
        _parser().error("compare needs a revision: python -m bench compare REV [workloads]")
    if args.rounds < 1:
        _parser().error("--rounds must be at least 1")
    named = args.what[2:] if comparing else args.what
    workloads = list(WORKLOADS) if named in ([], ["all"]) else named
    unknown = [w for w in workloads if w not in WORKLOADS]
    default_peers = ",".join(DEFAULT_PEERS if comparing else PEER_CHOICES)
    peers = [p.strip() for p in (args.peers or default_peers).split(",") if p.strip()]
    bad_peers = [p for p in peers if p not in PEER_CHOICES]
    if unknown or bad_peers:
        _parser().error(f"unknown workload or peer: {', '.join(unknown + bad_peers)}")
    profile = PROFILES[args.profile] if args.profile else (QUICK if args.quick else FULL)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")

    # Explicitly, also for SIGINT: a process started in the background inherits SIGINT ignored.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    if comparing:
        out = args.out or RESULTS_DIR / f"{stamp}-compare-{profile.name}.json"
        return _compare(args.what[1], args.after, workloads, peers, profile, args.rounds, out)
    out = args.out or RESULTS_DIR / f"{stamp}-{profile.name}.json"

    from bench.workloads import WORKLOAD_FUNCTIONS

    suite = Suite(make_peers(peers), profile, out)
    suite.results["workload_list"] = workloads
    print(f"[bench] profile {profile.name}: {', '.join(workloads)} for {', '.join(peers)}; results: {out}")
    try:
        for workload in workloads:
            WORKLOAD_FUNCTIONS[workload](suite)
    except KeyboardInterrupt:
        print("\n[bench] interrupted: stopping and removing everything started", file=sys.stderr, flush=True)
        suite.results["interrupted"] = True
        return 130
    finally:
        suite.close()
        suite.save()
        if out.parent == RESULTS_DIR:
            shutil.copyfile(out, RESULTS_DIR / "latest.json")
    print(f"[bench] done in {suite.results['duration_s']:.0f} s; results: {out}")
    full_run = profile is FULL and workloads == list(WORKLOADS)
    if (full_run or args.docs) and not args.no_docs:
        return _write_docs(suite.results)
    from bench.report import render_tables

    print(render_tables(suite.results))
    return 0


def _compare(
    before: str,
    after: str | None,
    workloads: list[str],
    peers: list[str],
    profile: Profile,
    rounds: int,
    out: Path,
) -> int:
    from bench import compare
    from bench.workloads import WORKLOAD_FUNCTIONS

    suite: compare.CompareSuite | None = None
    try:
        with compare.worktree(before) as old, contextlib.ExitStack() as stack:
            new = stack.enter_context(compare.worktree(after)) if after else compare.working_tree()
            sides = (old, new)
            suite = compare.CompareSuite(compare.make_peers(peers, sides), profile, out)
            suite.results.update(compare="before / after", rounds=rounds, sides=[s.label for s in sides])
            suite.results["workload_list"] = workloads
            print(
                f"[compare] profile {profile.name}, {rounds} rounds: {', '.join(workloads)} for "
                f"{', '.join(peers)}\n[compare] before: {old.label}\n[compare] after:  {new.label}",
                flush=True,
            )
            try:
                compare.run(suite, workloads, rounds, WORKLOAD_FUNCTIONS)
            finally:
                suite.close()
                suite.save()
    except compare.CompareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\n[compare] interrupted: stopped and removed everything started", file=sys.stderr, flush=True)
        return 130
    print(f"[compare] done in {suite.results['duration_s']:.0f} s; results: {out}\n")
    print(compare.render(suite.results))
    return 0


def _cluster(args: argparse.Namespace) -> int:
    from bench import cluster_cli

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    profile = args.profile or ("quick" if args.quick else "full")
    docs = None if args.no_docs or not args.docs else DOCS
    parts = tuple(args.what[1:]) or cluster_cli.cluster.PARTS
    return cluster_cli.main(profile, args.out, RESULTS_DIR, docs, parts)


def _write_docs(results: dict[str, object]) -> int:
    from bench.report import write_report

    write_report(results, DOCS)
    print(f"[bench] wrote {DOCS.relative_to(REPO_DIR)} and its plots")
    return 0


if __name__ == "__main__":
    sys.exit(main())
