"""Chaos in a cluster: three ``tasksql serve`` nodes on one private PostgreSQL catalog, faults at
random moments, and proof afterwards that each instant ran once and none was lost.

Fifty tasks run every second (every fifth with ``CATCH_UP = ALL``, the others with the default
``NONE``) and one graph (``g_root`` -> ``g_a``, ``g_b`` -> ``g_c``) every second. Every body takes
50 ms and writes its own task, run id and scheduled instant into the table ``hits`` of a PostgreSQL
warehouse (a second database on the same private server), so the bodies' own writes show what ran
and how often, and a fault often lands while bodies run. While they run, at random moments: a
random node is killed with SIGKILL and started again, one node is paused with SIGSTOP past its
lease (2.5 s) and continued, and the PostgreSQL server (catalog and warehouse) is restarted once
with ``pg_ctl restart``. Each fault comes after the previous one's window, so that part of the
time is judged strictly. Then the cluster is shown to run every task again, the tasks are
suspended, the runs get a minute to be settled (the reaper looks every 15 s), and the test proves,
from the history and from the bodies' writes (every problem found is reported at once):

* no (task, instant) has two first attempts in the history, and no body wrote an instant twice;
* a body wrote exactly for the runs recorded SUCCEEDED, but a body its node was paused in, which
  may commit when the node resumes after its run was settled FAILED (NODE_LOST), as
  docs/operations.md says of a paused node;
* every instant outside the outage windows (each fault's moments, widened by chaos_support.BEFORE_S
  and AFTER_S) ran, but one skipped (OVERLAP) behind a catch-up begun inside a window: a
  ``CATCH_UP = ALL`` task runs the instants it missed one after the other once the outage is over,
  and that chain may still be running at its next instants (:func:`caught_up_overlap` proves from
  the history that the run overlapped was executing then and descends from a window's instant);
  a ``CATCH_UP = ALL`` task has a settled row for every instant, windows or not;
* no run and no graph run is left SCHEDULED or EXECUTING; a graph run that succeeded ran each
  member once; graph runs succeed again after the last fault.

It runs ``TASKSQL_CHAOS_SECONDS`` of faults (60 by default, 25 with ``CI=true``: about a minute in
all), seeded by ``TASKSQL_CHAOS_SEED`` (random by default; printed, so a failure can be replayed).
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from chaos_support import (
    AFTER_S,
    BEFORE_S,
    Event,
    GraphRun,
    Hit,
    Node,
    Reader,
    Run,
    cli_sql,
    in_windows,
    log_excerpt,
    node_env,
    now,
    outage_windows,
    wait_for,
)

from pgserver import PgServer, find_bindir

#: Seconds of faults: 60 by default, 25 with CI=true (about a minute with the start-up, the
#: recovery and the checks; three faults: a kill, a pause, a restart of the server).
SECONDS = float(os.environ.get("TASKSQL_CHAOS_SECONDS") or (25 if os.environ.get("CI") == "true" else 60))
SEED = int(os.environ.get("TASKSQL_CHAOS_SEED") or random.randrange(1_000_000))

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.realtime,
    pytest.mark.postgres,
    pytest.mark.timeout(int(SECONDS) + 360),
]

TASKS = [f"t{i:02d}" for i in range(50)]
CATCH_UP_ALL = set(TASKS[::5])
GRAPH = ("g_root", "g_a", "g_b", "g_c")
BODY = (
    "INSERT INTO hits SELECT SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_NAME'),"
    " SYSTEM$TASK_RUNTIME_INFO('CURRENT_RUN_ID'), SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_SCHEDULED_TIME')"
    " FROM pg_sleep(0.05)"  # 50 ms: a kill often lands while bodies run
)
NODE_IDS = ("n1", "n2", "n3")
#: Seconds a paused node stays stopped: past its lease (2.5 s) and its takeover by another node.
PAUSE_S = 4.0


def tasks_script() -> str:
    parts = ["CREATE WAREHOUSE wh TYPE = postgres URL = '{url}';"]
    for t in TASKS:
        catch_up = " CATCH_UP = ALL" if t in CATCH_UP_ALL else ""
        parts.append(f"CREATE TASK {t} WAREHOUSE = wh SCHEDULE = '1 SECOND'{catch_up} AS {BODY};")
    parts += [
        f"CREATE TASK g_root WAREHOUSE = wh SCHEDULE = '1 SECOND' AS {BODY};",
        f"CREATE TASK g_a WAREHOUSE = wh AFTER g_root AS {BODY};",
        f"CREATE TASK g_b WAREHOUSE = wh AFTER g_root AS {BODY};",
        f"CREATE TASK g_c WAREHOUSE = wh AFTER g_a, g_b AS {BODY};",
        "SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('g_root');",
    ]
    parts += [f"ALTER TASK {t} RESUME;" for t in TASKS]
    return "\n".join(parts)


@pytest.fixture
def server() -> Iterator[PgServer]:
    """A PostgreSQL server of this test's own: it is restarted during the test."""
    if find_bindir() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    with PgServer() as pg:
        yield pg


@pytest.fixture
def nodes() -> Iterator[dict[str, Node]]:
    started: dict[str, Node] = {}
    yield started
    for node in started.values():
        node.kill()


class Chaos:
    """The faults, at random moments, for ``seconds``; each one recorded as an :class:`Event`."""

    def __init__(self, server: PgServer, nodes: dict[str, Node], reader: Reader, rng: random.Random) -> None:
        self.server, self.nodes, self.reader, self.rng = server, nodes, reader, rng
        self.events: list[Event] = []

    def run(self, seconds: float) -> None:
        started = time.monotonic()
        # the pause and the server's restart each come once, at a random moment of their part of the run
        pause_at: float | None = self.rng.uniform(0.15, 0.35) * seconds
        restart_at: float | None = self.rng.uniform(0.45, 0.7) * seconds
        while (elapsed := time.monotonic() - started) < seconds - 2:
            if pause_at is not None and elapsed >= pause_at:
                self.pause(self.rng.choice(NODE_IDS))
                pause_at = None
            elif restart_at is not None and elapsed >= restart_at:
                self.restart_server()
                restart_at = None
            else:
                self.kill(self.rng.choice(NODE_IDS))
            self.check_nodes()
            # the next fault comes after this one's window (so that some instants are judged
            # outside every window), at a moment chosen by chance
            time.sleep(AFTER_S[self.events[-1].kind] + BEFORE_S + self.rng.uniform(3.0, 8.0))
            self.check_nodes()
        # a short run still has each kind of fault once
        if pause_at is not None:
            self.pause(self.rng.choice(NODE_IDS))
        if restart_at is not None:
            self.restart_server()

    def check_nodes(self) -> None:
        for node in self.nodes.values():
            node.check_alive()

    def kill(self, node_id: str) -> None:
        node = self.nodes[node_id]
        began = now()
        node.kill()
        time.sleep(self.rng.uniform(0.2, 3.0))  # down for a while, then started again
        node.start()
        self.events.append(Event("kill", node_id, began, now()))

    def pause(self, node_id: str) -> None:
        node = self.nodes[node_id]
        began = now()
        node.pause()
        try:
            # stopped until another node took its tasks over (its lease ran out), and a while longer
            try:
                wait_for(
                    lambda: (
                        node_id not in self.reader.live_nodes()
                        and None not in (p := self.reader.placements()).values()
                        and node_id not in p.values()
                    ),
                    timeout=20,
                    what=f"{node_id}'s tasks to be taken over while it is paused",
                )
            except AssertionError as exc:
                raise AssertionError(f"{exc}; {self.reader.cluster_state()}") from None
            time.sleep(max(0.0, PAUSE_S - (now() - began).total_seconds()))
        finally:
            node.resume()
        self.events.append(Event("pause", node_id, began, now()))

    def restart_server(self) -> None:
        began = now()
        self.server.restart()
        self.events.append(Event("pg_restart", None, began, now()))


def expected_instants(first: datetime, since: datetime, until: datetime) -> list[datetime]:
    """A one-second schedule's instants in [since, until], anchored at its first instant ``first``."""
    step = timedelta(seconds=1)
    k = max(0, int((since - first) / step))
    out = []
    while (at := first + k * step) <= until:
        if at >= since:
            out.append(at)
        k += 1
    return out


def key(at: datetime) -> datetime:
    """Instants compared to the millisecond (the bodies write them as text)."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def test_cluster_under_chaos_runs_each_instant_once_and_misses_none_outside_the_outages(
    tmp_path: Path, server: PgServer, nodes: dict[str, Node]
) -> None:
    print(f"chaos: {SECONDS:.0f} s, seed {SEED} (TASKSQL_CHAOS_SEED={SEED} replays the same choices)")
    began = now()
    catalog = server.new_database("catalog")
    warehouse = server.new_database("warehouse")
    with psycopg.connect(warehouse.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE hits (task text, run_id bigint, scheduled text)")
    env = node_env(catalog.url)
    reader = Reader(catalog.dsn, warehouse.dsn)
    admin = tmp_path / "admin"

    for node_id in NODE_IDS:
        nodes[node_id] = Node(node_id, tmp_path / node_id, env)
    wait_for(
        lambda: all(n.check_alive() for n in nodes.values()) and reader.live_nodes() == set(NODE_IDS),
        timeout=60,
        what="three live nodes",
    )
    cli_sql(env, admin, tasks_script().replace("{url}", warehouse.url))
    scheduled = [*TASKS, "g_root"]

    def succeeded_after(since: datetime) -> bool:
        done = {r.name for r in reader.runs() if r.state == "SUCCEEDED" and r.scheduled_time > since}
        return done >= {*scheduled, *GRAPH}

    created = now()
    wait_for(lambda: succeeded_after(created), timeout=30, what="a run of every task")
    steady_from = now()

    chaos = Chaos(server, nodes, reader, random.Random(SEED))
    try:
        chaos.run(SECONDS)
    finally:
        for event in chaos.events:
            print("fault:", event)
    chaos_end = now()
    print(
        f"phases: start-up {(steady_from - began).total_seconds():.1f} s, faults {(chaos_end - steady_from).total_seconds():.1f} s"
    )
    # the cluster recovers: every task and the graph succeed again, after the last fault's window
    last_window = max(hi for _, hi in outage_windows(chaos.events))
    checked_until = max(chaos_end, last_window) + timedelta(seconds=2)
    wait_for(lambda: succeeded_after(checked_until), timeout=40, what="every task to run again")

    # drain: no new instants, then every run settled (a killed node's runs by the reaper, which
    # looks every 15 s); what is still open afterwards is judged below with the rest
    cli_sql(env, admin, "\n".join(f"ALTER TASK {t} SUSPEND;" for t in scheduled))
    with contextlib.suppress(AssertionError):
        wait_for(lambda: reader.open_runs() == ([], []), timeout=60, what="every run to be settled")
    open_runs, open_graphs = reader.open_runs()
    for node in nodes.values():  # all drain at once
        node.terminate(wait=False)
    for node in nodes.values():
        assert node.terminate() == 0, f"{node.node_id} did not stop cleanly: {node.log}"
    print(f"phases: recovery and drain {(now() - chaos_end).total_seconds():.1f} s")

    runs, hits, graph_runs = reader.runs(), reader.hits(), reader.graph_runs()
    print(f"runs: {len(runs)}, body writes: {len(hits)}, graph runs: {len(graph_runs)}")
    print(
        "states:", dict(Counter(r.state for r in runs)), "errors:", dict(Counter(r.error_code for r in runs))
    )
    print("graph runs:", dict(Counter(g.state for g in graph_runs)))
    unsettled = []
    if open_runs:
        unsettled = [
            "runs left unsettled: " + "; ".join(map(str, open_runs[:10])),
            "their nodes' logs:",
            *log_excerpt(nodes.values(), [r.run_id for r in open_runs[:10]]),
        ]
    problems = [
        *unsettled,
        *([f"graph runs left EXECUTING: {open_graphs[:10]}"] if open_graphs else []),
        *twice_problems(runs, hits),
        *body_problems(runs, hits, chaos.events),
        *missed_problems(runs, hits, scheduled, steady_from, checked_until, chaos.events),
        *graph_problems(runs, hits, graph_runs, chaos.events, steady_from),
    ]
    assert not problems, (
        f"seed {SEED}; faults: " + "; ".join(map(str, chaos.events)) + "\n" + "\n".join(problems)
    )


def twice_problems(runs: list[Run], hits: list[Hit]) -> list[str]:
    """No instant twice: first attempts in the history, members of a graph run, the bodies' writes."""
    out = []
    firsts = Counter(
        (r.name, r.scheduled_time) for r in runs if r.scheduled_from == "SCHEDULE" and r.attempt_number == 1
    )
    if twice := [k for k, n in firsts.items() if n > 1]:
        out.append(f"instants with two first attempts: {twice[:10]}")
    members = Counter(
        (r.name, r.graph_run_group_id) for r in runs if r.graph_run_group_id and r.name != "g_root"
    )
    if twice := [k for k, n in members.items() if n > 1]:
        out.append(f"graph members that ran twice in one graph run: {twice[:10]}")
    written = Counter((h.task, key(h.scheduled)) for h in hits)
    if twice_hits := [k for k, n in written.items() if n > 1]:
        out.append(
            "instants whose body ran twice: "
            + "; ".join(
                f"{task}@{at:%H:%M:%S.%f}: runs {[h.run_id for h in hits if (h.task, key(h.scheduled)) == (task, at)]}"
                for task, at in twice_hits[:10]
            )
        )
    return out


#: The longest a body can run before it commits (50 ms of pg_sleep, on a loaded machine).
BODY_S = timedelta(seconds=1)


def paused_mid_body(run: Run, events: list[Event]) -> bool:
    """Whether ``run`` was in its body when its node was paused past its lease, and was settled
    FAILED (NODE_LOST) meanwhile: its body may commit when the node resumes, after its run was
    settled (docs/operations.md, "Running a cluster", failover: a paused node's outcomes are
    refused, its bodies' effects are not)."""
    return (
        run.state == "FAILED"
        and run.error_code == "NODE_LOST"
        and run.query_start_time is not None
        and any(
            e.kind == "pause"
            and e.node == run.node_id
            and e.began - BODY_S <= run.query_start_time <= e.began
            for e in events
        )
    )


def body_problems(runs: list[Run], hits: list[Hit], events: list[Event]) -> list[str]:
    """A body wrote once, and exactly for the runs recorded SUCCEEDED (but a body its node was
    paused in, see :func:`paused_mid_body`)."""
    out = []
    by_id = {r.run_id: r for r in runs}
    hit_ids = Counter(h.run_id for h in hits)
    if more := [(i, n) for i, n in hit_ids.items() if n > 1]:
        out.append(f"runs whose body wrote more than once: {more[:10]}")
    succeeded = {r.run_id for r in runs if r.state == "SUCCEEDED"}
    late = {i for i in set(hit_ids) - succeeded if i in by_id and paused_mid_body(by_id[i], events)}
    print(f"bodies committed after their paused node's run was settled NODE_LOST: {len(late)}")
    if not_recorded := sorted(set(hit_ids) - succeeded - late):
        out.append(
            "bodies that committed but whose run is not SUCCEEDED: "
            + "; ".join(str(by_id.get(i, i)) for i in not_recorded[:10])
        )
    if no_body := sorted(succeeded - set(hit_ids)):
        out.append(
            "SUCCEEDED runs whose body wrote nothing: " + "; ".join(str(by_id[i]) for i in no_body[:10])
        )
    return out


def missed_problems(
    runs: list[Run],
    hits: list[Hit],
    scheduled: list[str],
    since: datetime,
    until: datetime,
    events: list[Event],
) -> list[str]:
    """Every instant outside the outage windows ran; with CATCH_UP = ALL every instant has its row."""
    windows = outage_windows(events)
    rows_of: dict[str, dict[datetime, Run]] = defaultdict(dict)
    for r in runs:
        if r.scheduled_from == "SCHEDULE" and r.attempt_number == 1:
            rows_of[r.name][key(r.scheduled_time)] = r
    ran = {(h.task, key(h.scheduled)) for h in hits}
    runs_of: dict[str, list[Run]] = defaultdict(list)
    for r in runs:
        runs_of[r.name].append(r)
    missed: list[str] = []
    no_row: list[str] = []
    checked = excused = overlapped = 0
    for task in scheduled:
        for at in expected_instants(min(rows_of[task]), since, until):
            row = rows_of[task].get(at)
            checked += 1
            excused += in_windows(at, windows)
            if (task, at) not in ran and not in_windows(at, windows):
                if row is not None and caught_up_overlap(row, runs_of[task], windows) is not None:
                    overlapped += 1
                else:
                    near = [
                        str(r)
                        for r in runs_of[task]
                        if at - 3 * PERIOD <= r.scheduled_time < at and r is not row
                    ]
                    missed.append(f"{task}@{at:%H:%M:%S.%f}: {row or 'no row'} (the runs before it: {near})")
            if task in CATCH_UP_ALL and row is None:
                no_row.append(f"{task}@{at:%H:%M:%S.%f}")
    print(
        f"instants checked: {checked}, of which in an outage window: {excused}, not run: {len(missed)};"
        f" skipped (OVERLAP) behind a catch-up begun in a window: {overlapped}"
    )
    out = []
    if checked - excused < checked // 10:
        out.append(f"the outage windows leave too few instants to judge ({checked - excused} of {checked})")
    if missed:
        out.append(
            f"{len(missed)} instants outside the outage windows did not run: " + "; ".join(missed[:15])
        )
    if no_row:
        out.append(f"CATCH_UP = ALL instants without a row: {no_row[:15]}")
    return out


#: A skip for OVERLAP is decided while the node still counts the run it overlapped as running,
#: which it does until that run's outcome is handed to the catalog, a moment after the run's
#: recorded end.
OVERLAP_SLACK = timedelta(seconds=0.5)
#: The tasks' schedule: a run that started a period or more after its instant was a catch-up run.
PERIOD = timedelta(seconds=1)


def caught_up_overlap(row: Run, task_runs: list[Run], windows: list[tuple[datetime, datetime]]) -> Run | None:
    """The run that ``row`` (the first attempt of an instant outside every outage window that did
    not run) was skipped behind, when that skip is legitimate: ``row`` is SKIPPED with OVERLAP, the
    task's run that started last before the skip was decided was still executing then, and it
    belongs to a catch-up chain that began inside an outage window (its instant is in a window, or
    it started late, a period or more after its instant, right behind such a run, and so on). None
    otherwise: the instant was missed."""
    if row.state != "SKIPPED" or row.error_code != "OVERLAP":
        return None
    decided = row.completed_time or row.scheduled_time
    started = sorted(
        (r for r in task_runs if r.run_id != row.run_id and r.query_start_time is not None),
        key=lambda r: r.query_start_time or decided,
    )
    before = [r for r in started if r.query_start_time is not None and r.query_start_time <= decided]
    if not before:
        return None
    overlapped = before[-1]
    if overlapped.completed_time is not None and overlapped.completed_time + OVERLAP_SLACK < decided:
        return None  # it had ended: the skip overlapped nothing
    link: Run | None = overlapped
    while link is not None and link.query_start_time is not None:
        if in_windows(link.scheduled_time, windows):
            return overlapped
        if link.query_start_time - link.scheduled_time < PERIOD:
            return None  # an on-time run: no catch-up chain behind it
        earlier = [
            r
            for r in started
            if r.query_start_time is not None and r.query_start_time < link.query_start_time
        ]
        link = earlier[-1] if earlier else None
    return None


def graph_problems(
    runs: list[Run], hits: list[Hit], graph_runs: list[GraphRun], events: list[Event], since: datetime
) -> list[str]:
    """A graph run that succeeded ran every member once, with its body; graph runs succeed again
    after the last fault."""
    out = []
    hit_ids = {h.run_id for h in hits}
    member_runs: dict[str, dict[str, Run]] = defaultdict(dict)
    for r in runs:
        if r.graph_run_group_id:
            member_runs[r.graph_run_group_id][r.name] = r
    for g in graph_runs:
        mine = member_runs[g.group_id]
        if g.state == "SUCCEEDED" and (
            set(mine) != set(GRAPH)
            or not all(m.state == "SUCCEEDED" and m.run_id in hit_ids for m in mine.values())
        ):
            out.append(
                f"graph run {g.group_id} SUCCEEDED without each member's body once: {list(map(str, mine.values()))}"
            )
    last_window_end = max((hi for _, hi in outage_windows(events)), default=since)
    if not any(g.state == "SUCCEEDED" and g.scheduled_time > last_window_end for g in graph_runs):
        out.append("no graph run succeeded after the last fault's window")
    if missing := {*TASKS, *GRAPH} - {h.task for h in hits}:
        out.append(f"tasks whose body never wrote: {sorted(missing)}")
    return out
