"""Running the workloads for the chosen peers, and keeping the raw results.

:func:`run_suite` measures workload by workload, peer by peer, in the order of
:data:`WORKLOADS`, so that no two systems ever run at the same time. Servers start when a peer is
first used and are all stopped (data directories removed) when the suite ends, also when it ends
by an exception or KeyboardInterrupt. Results are written to the JSON file after every
measurement, so an interrupted run keeps what it measured.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from stats import machine

from bench.peers import failed
from bench.peers.inproc import InProcessPeer
from bench.peers.mariadb import MariaDB
from bench.peers.pgcron import PgCron
from bench.profiles import Profile
from bench.servers import CatalogServer
from bench.variants import ALL_WORKLOADS, BY_NAME, VARIANTS

WORKLOADS = ALL_WORKLOADS
#: Peer names accepted by ``--peers``: tasksql's variants (bench/variants.py: the default setup, a
#: SQLite file warehouse, the catalog on PostgreSQL, completion markers off), then the other
#: systems; ``apscheduler`` means both of its schedulers.
PEER_CHOICES = (*(v.name for v in VARIANTS), "pg_cron", "mariadb", "apscheduler")


class Peer(Protocol):
    """What the suite needs of every peer; workloads call the peer classes' own methods."""

    name: str

    def open(self) -> None: ...
    def close(self) -> None: ...
    def describe(self) -> dict[str, Any]: ...


def make_peers(choices: list[str]) -> list[Peer]:
    """The peer objects for ``--peers`` names, in report order (tasksql first)."""
    peers: list[Peer] = []
    catalog = CatalogServer()  # one server for every PostgreSQL-catalog variant of the run
    for choice in PEER_CHOICES:
        if choice not in choices:
            continue
        if choice in BY_NAME:
            peers.append(InProcessPeer(choice, catalog=catalog if BY_NAME[choice].pg_catalog else None))
        elif choice == "pg_cron":
            peers.append(PgCron())
        elif choice == "mariadb":
            peers.append(MariaDB())
        else:
            peers.extend(InProcessPeer(f"apscheduler-{kind}") for kind in ("asyncio", "background"))
    return peers


class Suite:
    """One run: the peers, the profile, the results so far and where they are saved."""

    def __init__(self, peers: list[Peer], profile: Profile, out: Path) -> None:
        # Any: each workload calls the workload methods of the concrete peer classes.
        self.peers: list[Any] = list(peers)
        self.profile = profile
        self.out = out
        self.started = time.monotonic()
        self.results: dict[str, Any] = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "profile": profile.name,
            "profile_settings": asdict(profile),
            "machine": machine(),
            "peers": {},
            "workloads": {},
        }
        self._opened: set[str] = set()
        self._by_name = {p.name: p for p in peers}

    # --- bookkeeping ---------------------------------------------------------------------------------

    def save(self) -> None:
        self.results["duration_s"] = round(time.monotonic() - self.started, 1)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(json.dumps(self.results, indent=1, default=str))

    def record(self, workload: str, peer: str, key: str, value: dict[str, Any]) -> None:
        if workload not in getattr(self._by_name.get(peer), "workloads", WORKLOADS):
            return
        self.results["workloads"].setdefault(workload, {}).setdefault(peer, {})[key] = value
        self.save()
        _print_line(workload, peer, key, value)

    def ensure_open(self, peer: Any) -> bool:
        """Open the peer on first use; False (recorded) when it cannot be started."""
        if peer.name in self._opened:
            return True
        try:
            peer.open()
            self.results["peers"][peer.name] = peer.describe()
        except Exception as exc:  # an unavailable peer must not stop the other measurements
            self.results["peers"][peer.name] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"[bench] {peer.name} unavailable: {exc}", flush=True)
            return False
        finally:
            self._opened.add(peer.name)
        return True

    def available(self, peer: Any) -> bool:
        return self.ensure_open(peer) and "error" not in self.results["peers"].get(peer.name, {})

    def measure(self, workload: str, peer: Any, key: str, call: Callable[[], dict[str, Any]]) -> None:
        if workload not in getattr(peer, "workloads", WORKLOADS):
            return
        if not self.available(peer):
            self.record(workload, peer.name, key, failed(self.results["peers"][peer.name]["error"]))
            return
        t0 = time.monotonic()
        try:
            value = call()
            value["wall_s"] = round(time.monotonic() - t0, 1)
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            traceback.print_exc()
            value = failed(f"{type(exc).__name__}: {exc}")
        self.record(workload, peer.name, key, value)

    def close(self) -> None:
        for peer in self.peers:
            try:
                peer.close()
            except Exception as exc:  # keep closing the others
                print(f"[bench] stopping {peer.name} failed: {exc}", flush=True)


def _print_line(workload: str, peer: str, key: str, value: dict[str, Any]) -> None:
    if {"unsupported", "error", "pending", "shared"} & set(value):
        text = value.get("unsupported") or value.get("error") or value.get("pending") or value.get("shared")
    elif "p99_ms" in value and "ran_share" in value:
        text = (
            f"p50 {value['p50_ms']:.1f} p99 {value['p99_ms']:.1f} max {value['max_ms']:.1f} ms, "
            f"ran {value['ran_share']:.1%}"
        )
    elif "steps" in value:
        text = " ".join(f"{s['target_rate']}:{s['ran_share']:.1%}" for s in value["steps"])
    else:
        text = json.dumps({k: v for k, v in value.items() if not isinstance(v, list)}, default=str)[:300]
    print(f"[bench] {workload:<8} {peer:<22} {key:<10} {text}", flush=True)


def child_limit(seconds: float, warmup: float, n: int = 0) -> float:
    """Time limit for one child measurement: generous, only there to stop a hung child."""
    return 3 * (seconds + warmup) + 120 + n / 50
