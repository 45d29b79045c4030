"""Cluster benchmarks: ``tasksql serve`` nodes on one private PostgreSQL catalog.

Four measurements, each on a fresh catalog database of the rig (bench/cluster_nodes.py), every
body a trivial ``SELECT 1`` on the node's own embedded DuckDB (the catalog is what is measured):

* **failover**: three nodes, a dozen one-second tasks; again and again, the node holding a probe
  task is killed with SIGKILL (at a random moment within the second) and the time from the kill
  to that task's next run *started on another node* is taken (and to the last of all the killed
  node's tasks); the node is started again and the cluster settles before the next kill;
* **capacity**: with 1, 2 and 3 nodes, the number of one-second tasks is raised step by step; each
  step measures a window: runs started within a second of their instant (the others, and SKIPPED
  instants, are missed), the catalog's transactions (``pg_stat_database``: commits + rollbacks),
  statements and their execution time (``pg_stat_statements``) and the CPU time of the catalog's
  server processes, each divided by the runs; the last step with at most 1% missed is what the
  node count sustains;
* **propagation**: three nodes; a task is created (``SCHEDULE = '50 MILLISECONDS'``, suspended)
  through one node's HTTP API, and the time from sending the request to the task's placement is
  taken (``placements.placed_at``); then it is resumed through a node that does not hold it, and
  the time to its first run on the holder is taken (it includes the first 50 ms interval); then it
  is suspended through that node, and the time until the holder stopped firing is bounded from
  above (the last instant that still fired after the request, plus one interval).

Figures are printed and returned as one JSON-ready dict; :mod:`bench.cluster_report` renders them.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from stats import Lag

from bench.cluster_nodes import ClusterRig, now, wait_for

NODE_IDS = ("n1", "n2", "n3")


@dataclass(frozen=True, kw_only=True, slots=True)
class ClusterProfile:
    name: str
    kills: int
    failover_tasks: int
    node_counts: tuple[int, ...]
    #: Numbers of one-second tasks, tried in order until more than 1% of instants are missed.
    rates: tuple[int, ...]
    window_s: int
    warmup_s: float
    samples: int


PROFILES = {
    "full": ClusterProfile(
        name="full",
        kills=20,
        failover_tasks=12,
        node_counts=(1, 2, 3),
        rates=(100, 200, 300, 400, 500, 600, 800, 1000, 1500, 2000),
        window_s=10,
        warmup_s=3.0,
        samples=20,
    ),
    "quick": ClusterProfile(
        name="quick",
        kills=5,
        failover_tasks=6,
        node_counts=(1, 3),
        rates=(100, 500, 1000),
        window_s=5,
        warmup_s=2.0,
        samples=5,
    ),
    "smoke": ClusterProfile(
        name="smoke",
        kills=1,
        failover_tasks=3,
        node_counts=(1, 2),
        rates=(20,),
        window_s=2,
        warmup_s=1.0,
        samples=2,
    ),
}


def _create(rig: ClusterRig, names: list[str], schedule: str = "1 SECOND", batch: int = 250) -> None:
    """CREATE and RESUME the tasks through n1's API, ``batch`` tasks per request."""
    node = rig.nodes["n1"]
    for i in range(0, len(names), batch):
        part = names[i : i + batch]
        node.sql(
            "\n".join(f"CREATE TASK {t} SCHEDULE = '{schedule}' AS SELECT 1;" for t in part)
            + "\n"
            + "\n".join(f"ALTER TASK {t} RESUME;" for t in part)
        )


def _all_placed(rig: ClusterRig, names: list[str]) -> bool:
    holders = rig.holders()
    return all(holders.get(t) for t in names)


def _started_since(rig: ClusterRig, names: list[str], since: datetime) -> bool:
    rows = rig.rows(
        "SELECT count(DISTINCT lower(name)) FROM tasksql.runs WHERE lower(name) = ANY(%s)"
        " AND scheduled_time > %s AND query_start_time IS NOT NULL",
        names,
        since,
    )
    return bool(rows) and int(rows[0][0]) == len(names)


# --- failover ---------------------------------------------------------------------------------------


def failover(rig: ClusterRig, profile: ClusterProfile, rng: random.Random) -> dict[str, Any]:
    """Kill -9 of the node holding a probe task, to that task's next run elsewhere (see the module)."""
    rig.fresh(list(NODE_IDS))
    names = [f"f{i}" for i in range(profile.failover_tasks)]
    _create(rig, names)
    wait_for(lambda: _all_placed(rig, names), timeout=30, what="every task placed")
    created = now()
    wait_for(lambda: _started_since(rig, names, created), timeout=30, what="every task running")
    probe_s: list[float] = []
    all_s: list[float] = []
    for k in range(profile.kills):
        probe = names[k % len(names)]
        holders = rig.holders()
        victim = holders[probe]
        assert victim is not None
        its = [t for t, n in holders.items() if n == victim]
        time.sleep(rng.uniform(0.0, 1.0))  # a random moment within the tasks' second
        killed_at = now()
        rig.nodes[victim].kill()

        def elsewhere(its: list[str] = its, victim: str = victim, killed_at: datetime = killed_at) -> Any:
            rows = rig.rows(
                "SELECT lower(name), min(query_start_time) FROM tasksql.runs WHERE lower(name) = ANY(%s)"
                " AND node_id <> %s AND scheduled_time > %s AND query_start_time IS NOT NULL GROUP BY 1",
                its,
                victim,
                killed_at,
            )
            firsts = dict(rows)
            return firsts if len(firsts) == len(its) else None

        firsts = wait_for(elsewhere, timeout=60, what=f"{victim}'s tasks to run on another node")
        probe_s.append((firsts[probe] - killed_at).total_seconds())
        all_s.append(max((at - killed_at).total_seconds() for at in firsts.values()))
        print(
            f"[cluster] failover {k + 1}/{profile.kills}: kill -9 {victim} ({len(its)} tasks): "
            f"{probe} ran elsewhere after {probe_s[-1]:.2f} s, all after {all_s[-1]:.2f} s",
            flush=True,
        )
        rig.nodes[victim].start()
        rig.wait_live({victim})
        wait_for(lambda: _all_placed(rig, names), timeout=30, what="every task placed again")
    return {
        "kills": profile.kills,
        "tasks": len(names),
        "probe": _seconds(probe_s),
        "all_tasks": _seconds(all_s),
        "probe_s": [round(s, 3) for s in probe_s],
    }


def _seconds(values: list[float]) -> dict[str, float]:
    lag = Lag.of(values)
    return {"n": lag.n, "p50_s": lag.p50, "p99_s": lag.p99, "max_s": lag.max}


# --- capacity and catalog cost ----------------------------------------------------------------------


def capacity(rig: ClusterRig, profile: ClusterProfile, nodes: int) -> dict[str, Any]:
    """Runs per second sustained by ``nodes`` nodes, and the catalog's cost per run (see the module)."""
    node_ids = list(NODE_IDS[:nodes])
    rig.fresh(node_ids)
    # the catalog's cost of the cluster itself (leases, claims, heartbeats), with no task
    before = rig.counters()
    time.sleep(profile.window_s)
    idle = rig.counters().minus(before)
    steps: list[dict[str, Any]] = []
    created: list[str] = []
    for rate in profile.rates:
        more = [f"r{i}" for i in range(len(created), rate)]
        _create(rig, more)
        created += more
        wait_for(lambda c=list(created): _all_placed(rig, c), timeout=120, what=f"{rate} tasks placed")
        time.sleep(profile.warmup_s)
        cpu_before = {n: _node_cpu(rig, n) for n in node_ids}
        before = rig.counters()
        lo = now()
        time.sleep(profile.window_s)
        # the runs counted are those of exactly window_s seconds: the sleep overshoots (by tens of
        # milliseconds on a loaded machine), and a window that long holds an instant more of the
        # tasks whose phase falls in the overshoot (seen as up to 100.10% ran)
        hi = lo + timedelta(seconds=profile.window_s)
        delta = rig.counters().minus(before)
        node_cpu = sum(_node_cpu(rig, n) - cpu_before[n] for n in node_ids)
        time.sleep(1.5)  # runs of the window's last instants are recorded
        step = _step(rig, rate, lo, hi, profile.window_s, delta, node_cpu, idle)
        steps.append(step)
        print(
            f"[cluster] {nodes} node(s), {rate} tasks/s: {step['ran_share']:.2%} ran, lag p99 "
            f"{step['lag_p99_ms']:.0f} ms; per run: {step['xacts_per_run']:.2f} transactions, "
            f"{step['statements_per_run']:.2f} statements, "
            f"catalog CPU {step['catalog_cpu_ms_per_run']:.3f} ms",
            flush=True,
        )
        if step["ran_share"] < 0.99:
            break
    sustained = [s["rate"] for s in steps if s["ran_share"] >= 0.99]
    return {
        "nodes": nodes,
        "idle": {
            "xacts_per_s": idle["xacts"] / idle["seconds"],
            "statements_per_s": idle["statements"] / idle["seconds"],
        },
        "steps": steps,
        "sustained": max(sustained, default=0),
        "first_rate": profile.rates[0],
    }


def _node_cpu(rig: ClusterRig, node_id: str) -> float:
    from bench.procinfo import cpu_seconds

    proc = rig.nodes[node_id].proc
    assert proc is not None
    return cpu_seconds(proc.pid)


def _step(
    rig: ClusterRig,
    rate: int,
    lo: datetime,
    hi: datetime,
    window_s: int,
    delta: dict[str, float],
    node_cpu_s: float,
    idle: dict[str, float],
) -> dict[str, Any]:
    # first attempts of scheduled instants only (a retry or a manual run is no instant)
    first = "scheduled_from = 'SCHEDULE' AND attempt_number = 1"
    rows = rig.rows(
        "SELECT extract(epoch FROM query_start_time - scheduled_time) * 1000 FROM tasksql.runs"
        f" WHERE scheduled_time >= %s AND scheduled_time < %s AND state = 'SUCCEEDED' AND {first}",
        lo,
        hi,
    )
    lags = [float(r[0]) for r in rows]
    ran = sum(1 for lag in lags if lag < 1000)
    # a one-second task has exactly window_s instants in a half-open window of window_s seconds
    expected = rate * window_s
    # a task with more runs than instants in the window would mean a schedule that moved: shown
    extra = rig.rows(
        "SELECT lower(name), count(*), min(scheduled_time), max(scheduled_time) FROM tasksql.runs"
        f" WHERE scheduled_time >= %s AND scheduled_time < %s AND state = 'SUCCEEDED' AND {first}"
        " GROUP BY 1 HAVING count(*) > %s ORDER BY 2 DESC",
        lo,
        hi,
        window_s,
    )
    # an instant with two first attempts (whatever their state) would be a run twice: the UNIQUE
    # fence makes it impossible, and the count shows it
    doubles = rig.rows(
        "SELECT count(*) FROM (SELECT task_id, scheduled_time FROM tasksql.runs"
        f" WHERE scheduled_time >= %s AND scheduled_time < %s AND {first} AND host_node IS NULL"
        " GROUP BY 1, 2 HAVING count(*) > 1) d",
        lo,
        hi,
    )
    # the catalog's work of the window, divided by the runs that ran in it (SKIPPED rows are not runs)
    per = max(len(lags), 1)
    lag = Lag.of(lags)
    return {
        "rate": rate,
        "expected": expected,
        "ran": ran,
        "ran_share": ran / expected,
        "lag_p50_ms": lag.p50,
        "lag_p99_ms": lag.p99,
        "runs_in_window": len(lags),
        "tasks_with_more_runs_than_instants": len(extra),
        "instants_run_twice": int(doubles[0][0]),
        "more_runs_examples": [
            f"{n}: {c} runs, {a.isoformat()} .. {b.isoformat()}" for n, c, a, b in extra[:3]
        ],
        "xacts_per_run": delta["xacts"] / per,
        # less what the cluster costs with no task at all (leases, claims, heartbeats, polling)
        "marginal_xacts_per_run": (delta["xacts"] - idle["xacts"] / idle["seconds"] * delta["seconds"]) / per,
        "marginal_statements_per_run": (
            delta["statements"] - idle["statements"] / idle["seconds"] * delta["seconds"]
        )
        / per,
        "statements_per_run": delta["statements"] / per,
        "catalog_exec_ms_per_run": delta["exec_ms"] / per,
        "catalog_cpu_ms_per_run": 1000 * delta["server_cpu_s"] / per,
        "catalog_cpu_share": delta["server_cpu_s"] / delta["seconds"],
        "nodes_cpu_ms_per_run": 1000 * node_cpu_s / per,
    }


# --- change propagation -----------------------------------------------------------------------------

INTERVAL_MS = 50


def propagation(rig: ClusterRig, profile: ClusterProfile) -> dict[str, Any]:
    """CREATE through one node to the task's placement; RESUME and SUSPEND through a node that does
    not hold the task, to its holder's first run and to its holder's last run (see the module)."""
    rig.fresh(list(NODE_IDS))
    placed_ms: list[float] = []
    resume_ms: list[float] = []
    suspend_ms: list[float] = []
    interval = timedelta(milliseconds=INTERVAL_MS)
    for k in range(profile.samples):
        name = f"p{k}"
        via = NODE_IDS[k % len(NODE_IDS)]
        sent = now()
        rig.nodes[via].sql(f"CREATE TASK {name} SCHEDULE = '{INTERVAL_MS} MILLISECONDS' AS SELECT 1;")

        def placed(name: str = name) -> Any:
            rows = rig.rows(
                "SELECT p.placed_at, p.node_id FROM tasksql.placements p JOIN tasksql.tasks t"
                " ON t.id = p.task_id WHERE lower(t.name) = %s AND p.node_id IS NOT NULL",
                name,
            )
            return rows[0] if rows else None

        placed_at, holder = wait_for(placed, timeout=30, what=f"{name} placed")
        placed_ms.append(max(0.0, (placed_at - sent).total_seconds() * 1000))
        other = NODE_IDS[(NODE_IDS.index(holder) + 1 + k % 2) % len(NODE_IDS)]  # never the holder
        sent = now()
        rig.nodes[other].sql(f"ALTER TASK {name} RESUME;")

        def first_run(name: str = name) -> Any:
            rows = rig.rows("SELECT min(query_start_time) FROM tasksql.runs WHERE lower(name) = %s", name)
            return rows[0][0] if rows else None

        resume_ms.append(
            (wait_for(first_run, timeout=30, what=f"{name}'s first run") - sent).total_seconds() * 1000
        )
        sent = now()
        rig.nodes[other].sql(f"ALTER TASK {name} SUSPEND;")
        time.sleep(1.0)  # well past any instant the holder could still fire
        rows = rig.rows(
            "SELECT max(scheduled_time) FROM tasksql.runs WHERE lower(name) = %s AND scheduled_time >= %s"
            " AND query_start_time IS NOT NULL",
            name,
            sent,
        )
        last = rows[0][0] if rows and rows[0][0] is not None else None
        bound = (last - sent + interval) if last is not None else interval
        suspend_ms.append(bound.total_seconds() * 1000)
        print(
            f"[cluster] change {k + 1}/{profile.samples}: CREATE via {via}, placed on {holder} after "
            f"{placed_ms[-1]:.0f} ms; RESUME via {other}: first run after {resume_ms[-1]:.0f} ms; "
            f"SUSPEND via {other}: holder stopped within {suspend_ms[-1]:.0f} ms",
            flush=True,
        )
    return {
        "samples": profile.samples,
        "interval_ms": INTERVAL_MS,
        "create_to_placed": Lag.of(placed_ms).as_dict(),
        "resume_to_first_run": Lag.of(resume_ms).as_dict(),
        "suspend_to_holder_stopped": Lag.of(suspend_ms).as_dict(),
    }


#: The measurements, in the order they run.
PARTS = ("failover", "capacity", "propagation")


def run_all(profile: ClusterProfile, seed: int = 1, parts: tuple[str, ...] = PARTS) -> dict[str, Any]:
    """The measurements named by ``parts`` (default: every one) on one rig; the results (a failed
    measurement: ``{"error": ...}``)."""
    rig = ClusterRig()
    results: dict[str, Any] = {"profile": profile.name, "settings": asdict(profile), "catalog": rig.version}
    try:
        for name, call in (
            ("failover", lambda: failover(rig, profile, random.Random(seed))),
            ("capacity", lambda: [capacity(rig, profile, n) for n in profile.node_counts]),
            ("propagation", lambda: propagation(rig, profile)),
        ):
            if name not in parts:
                continue
            t0 = time.monotonic()
            try:
                results[name] = call()
            except (RuntimeError, AssertionError, OSError) as exc:
                results[name] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0]}"}
                print(f"[cluster] {name} failed: {results[name]['error']}", flush=True)
            print(f"[cluster] {name}: {time.monotonic() - t0:.0f} s", flush=True)
    finally:
        rig.close()
    return results
