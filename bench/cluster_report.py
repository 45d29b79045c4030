"""The cluster benchmarks' figures as Markdown, beside the designs they are measured against.

:func:`render` turns the results of :func:`bench.cluster.run_all` into tables; :func:`write_section`
puts them into ``docs/benchmarks.md`` between :data:`BEGIN` and :data:`END`, a block inside the
hand-written notes section, so that a regeneration of the rest of the page (``python -m bench
all``) keeps it.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

BEGIN = "<!-- cluster:begin (written by python -m bench cluster --docs) -->"
END = "<!-- cluster:end -->"

#: The aims of the cluster (failover p99 under 5 s; a change acted on within 100 ms).
FAILOVER_AIM_S = 5.0
PROPAGATION_AIM_MS = 100.0

#: What the designs to beat cost the catalog per run, from their own documentation and source:
#: published or counted figures, not measured here.
DESIGNS: tuple[tuple[str, str, str], ...] = (
    (
        "Quartz, JDBC job store, clustered",
        "3 transactions per fire, each taking the row lock of `QRTZ_LOCKS` (`SELECT ... FOR UPDATE`): "
        "acquire the trigger (select, state to ACQUIRED, insert into `QRTZ_FIRED_TRIGGERS`), fire it "
        "(state, next fire time, fired record to EXECUTING), complete it (delete the fired record, state); "
        "about 10 statements",
        "`JobStoreSupport.acquireNextTriggers`, `triggersFired`, `triggeredJobComplete`, each in "
        "`executeInNonManagedTXLock(LOCK_TRIGGER_ACCESS, ...)` (the acquisition's lock is taken when "
        "`acquireTriggersWithinLock` is set or the batch is larger than 1)",
    ),
    (
        "Airflow, HA schedulers (2.x)",
        "at least 4 committed state changes per task instance (scheduled and queued by a scheduler, "
        "under `SELECT ... FOR UPDATE SKIP LOCKED` of the rows it examines and a lock of the pool rows; "
        "running and success by the task's runner), plus the DAG run's creation and its end",
        "Airflow documentation, *Scheduler: Running more than one scheduler* (the scheduling loop and its "
        "row locks), and the task instance life cycle",
    ),
)


def _ms(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.0f} ms"


def _s(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}"


def _error(part: Any) -> str | None:
    """Why a measurement has no figures (it failed, or was not run), or None."""
    if part is None:
        return "not run"
    return str(part["error"]) if isinstance(part, Mapping) and "error" in part else None


def failover_lines(part: Any) -> list[str]:
    if err := _error(part):
        return [f"Failover: not measured ({err})."]
    probe, every = part["probe"], part["all_tasks"]
    met = probe["p99_s"] < FAILOVER_AIM_S
    return [
        f"Failover: kill -9 of the node running a task, to that task's next run started on another node "
        f"({part['kills']} kills, three nodes, {part['tasks']} one-second tasks):",
        "",
        "| | p50 | p99 | max | aim |",
        "|---|---|---|---|---|",
        f"| the task | {_s(probe['p50_s'])} s | {_s(probe['p99_s'])} s | {_s(probe['max_s'])} s | "
        f"p99 under {FAILOVER_AIM_S:.0f} s: {'met' if met else '**not met**'} |",
        f"| the last of the killed node's tasks | {_s(every['p50_s'])} s | {_s(every['p99_s'])} s | "
        f"{_s(every['max_s'])} s | |",
    ]


def capacity_lines(parts: Any) -> list[str]:
    if err := _error(parts):
        return [f"Capacity: not measured ({err})."]
    lines = [
        "Capacity and the catalog's cost per run: one-second tasks (`SELECT 1` on each node's DuckDB), "
        "raised step by step; *sustained* is the last step with at most 1% of instants missed (a run "
        "that started a second or more late counts as missed). The costs are those of the highest "
        "sustained step, divided by the runs of the window:",
        "",
        "| nodes | runs/s sustained | catalog transactions per run: all (beyond the idle cluster) | "
        "statements per run: all (beyond idle) | catalog execution per run | "
        "catalog server CPU per run | nodes' CPU per run | idle cluster: transactions/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for part in parts:
        steps = [s for s in part["steps"] if s["rate"] == part["sustained"]] or part["steps"][:1]
        s = steps[0]
        sustained = (
            f"{part['sustained']:,}" if part["sustained"] else f"below {part['first_rate']:,} (first step)"
        )
        lines.append(
            f"| {part['nodes']} | {sustained} | "
            f"{s['xacts_per_run']:.2f} ({s['marginal_xacts_per_run']:.2f}) | "
            f"{s['statements_per_run']:.2f} ({s['marginal_statements_per_run']:.2f}) | "
            f"{s['catalog_exec_ms_per_run']:.3f} ms | {s['catalog_cpu_ms_per_run']:.3f} ms | "
            f"{s['nodes_cpu_ms_per_run']:.2f} ms | {part['idle']['xacts_per_s']:.1f} |"
        )
    lines += [
        "",
        "Every step:",
        "",
        "| nodes | tasks | ran | lag p99 | transactions/run | CPU of the catalog |",
    ]
    lines.append("|---|---|---|---|---|---|")
    for part in parts:
        for s in part["steps"]:
            lines.append(
                f"| {part['nodes']} | {s['rate']:,} | {s['ran_share']:.2%} | {_ms(s['lag_p99_ms'])} | "
                f"{s['xacts_per_run']:.2f} | {s['catalog_cpu_share']:.0%} of a core |"
            )
    counted = [s for part in parts for s in part["steps"] if "instants_run_twice" in s]
    if counted:
        twice = sum(s["instants_run_twice"] for s in counted)
        lines += [
            "",
            f"Instants with more than one first-attempt run, over every window: {twice} "
            "(the windows count the first attempts of scheduled instants in exactly as many seconds "
            "as each task has instants).",
        ]
    return lines


def propagation_lines(part: Any) -> list[str]:
    if err := _error(part):
        return [f"Change propagation: not measured ({err})."]
    rows = (
        ("CREATE through a node, to the task's placement (on any node)", part["create_to_placed"]),
        ("ALTER ... RESUME through a node that does not hold the task, to its first run on the holder",
         part["resume_to_first_run"]),
        ("ALTER ... SUSPEND through a node that does not hold the task, until its holder stopped firing "
         "(upper bound)", part["suspend_to_holder_stopped"]),
    )  # fmt: skip
    lines = [
        f"Change propagation ({part['samples']} tasks, `SCHEDULE = '{part['interval_ms']} MILLISECONDS'`, "
        f"times from sending the HTTP request; the RESUME's includes the first {part['interval_ms']} ms "
        "interval, the SUSPEND's is at most one interval more than the truth):",
        "",
        "| change | n | p50 | p99 | max | aim |",
        "|---|---|---|---|---|---|",
    ]
    for text, lag in rows:
        met = "" if not lag["n"] else ("met" if lag["p99_ms"] <= PROPAGATION_AIM_MS else "**not met**")
        lines.append(
            f"| {text} | {lag['n']} | {_ms(lag['p50_ms'])} | {_ms(lag['p99_ms'])} | "
            f"{_ms(lag['max_ms'])} | {PROPAGATION_AIM_MS:.0f} ms: {met or 'n/a'} |"
        )
    return lines


def design_lines(results: Mapping[str, Any]) -> list[str]:
    measured = "n/a"
    parts = results.get("capacity")
    if isinstance(parts, list) and parts and any(p["sustained"] for p in parts):
        ok = [s for p in parts for s in p["steps"] if s["ran_share"] >= 0.99]
        xacts = sorted(s["xacts_per_run"] for s in ok)
        stmts = sorted(s["statements_per_run"] for s in ok)
        measured = (
            f"{xacts[0]:.2f} to {xacts[-1]:.2f} transactions and {stmts[0]:.1f} to {stmts[-1]:.1f} "
            "statements per run, idle cluster included (fewer at higher rates: a node commits the "
            "bookkeeping of many runs in one transaction); measured above, every sustained step"
        )
    lines = [
        "The designs to beat, side by side. Their figures are **not measured here**: they are counted "
        "from each project's own documentation and source, as stated:",
        "",
        "| design | catalog round trips per run | source |",
        "|---|---|---|",
        f"| tasksql cluster (this run) | {measured} | measured |",
    ]
    lines += [f"| {name} | {cost} | {source} |" for name, cost, source in DESIGNS]
    return lines


def render(results: Mapping[str, Any]) -> str:
    """The cluster section's body (no heading)."""
    machine = results.get("machine", {})
    load = results.get("load", {})
    lines = [
        f"Measured {results.get('date', '?')} with `python -m bench cluster` (profile "
        f"{results.get('profile', '?')}; not part of `python -m bench all`, which compares tasksql with "
        "other schedulers on one machine) on "
        f"{machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
        f"{results.get('catalog', 'PostgreSQL')} (a private server, durable: fsync and synchronous_commit "
        "on; `pg_stat_statements` loaded). The nodes, the catalog's server and the measuring process share "
        f"the machine's {machine.get('cores', '?')} cores: with more nodes the nodes share the CPU rather "
        "than adding any, so the catalog's cost per run is what tells how the cluster scales. "
        f"Load average before and after: {load.get('before', '?')} and {load.get('after', '?')}"
        f"{' (the machine was loaded by other work)' if results.get('loaded') else ''}.",
        "",
        *failover_lines(results.get("failover")),
        "",
        *capacity_lines(results.get("capacity")),
        "",
        *propagation_lines(results.get("propagation")),
        "",
        *design_lines(results),
    ]
    # prose wrapped to the page's width; table rows stay whole
    return "\n".join(
        line
        if line.startswith("|")
        else textwrap.fill(line, 100, break_long_words=False, break_on_hyphens=False)
        for line in lines
    )


def write_section(results: Mapping[str, Any], path: Path) -> None:
    """Replace the block between :data:`BEGIN` and :data:`END` of ``path`` with :func:`render`; the
    block is added at the end of the notes section when the page has none yet."""
    text = path.read_text()
    block = f"{BEGIN}\n### A cluster of nodes on one PostgreSQL catalog\n\n{render(results)}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        notes_end = "<!-- notes:end -->"
        if notes_end not in text:
            raise ValueError(f"{path} has no notes section to hold the cluster figures")
        text = text.replace(notes_end, f"{block}\n{notes_end}", 1)
    path.write_text(text)
