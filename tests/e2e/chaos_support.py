"""What the cluster chaos test uses: its node processes, the faults it injects, and how it reads and
judges what happened.

A fault is an :class:`Event` with the wall-clock moments it began and ended (a kill -9 and the
restart of that node, a SIGSTOP and its SIGCONT, a ``pg_ctl restart``). Instants near a fault may
be missed by design (a killed node's tasks wait for its lease to run out and for another node's
next claim), so each event opens a window (:func:`outage_windows`) from :data:`BEFORE_S` before it
began to an allowance after it ended; an instant outside every window must have run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psycopg

T = TypeVar("T")
TASKSQL = [sys.executable, "-m", "tasksql"]

#: A run in flight when a fault began, the instant before it, may fail or be lost.
BEFORE_S = 1.5
#: After a fault ended, until every instant runs again: a killed or paused node's lease (2.5 s) runs
#: out, the next claim of another node (every 0.5 s) takes its tasks, which fire from their next
#: instant (the failover limit is 5 s); after a restart of the catalog's server, the nodes
#: reconnect with a backoff of up to 2 s and their leases may have run out meanwhile (rejoin,
#: claims again).
AFTER_S = {"kill": 5.0, "pause": 5.0, "pg_restart": 7.0}


def wait_for(probe: Callable[[], T | None], *, timeout: float, what: str, every: float = 0.2) -> T:
    """Poll ``probe`` until it returns something true, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Event:
    """A fault injected: ``kill`` (of ``node``, ended by its restart), ``pause`` (SIGSTOP until
    SIGCONT) or ``pg_restart`` (``pg_ctl restart`` of the server holding catalog and warehouse)."""

    kind: str
    node: str | None
    began: datetime
    ended: datetime

    def window(self) -> tuple[datetime, datetime]:
        return self.began - timedelta(seconds=BEFORE_S), self.ended + timedelta(seconds=AFTER_S[self.kind])

    def __str__(self) -> str:
        what = f"{self.kind} {self.node}" if self.node else self.kind
        return f"{what} {self.began:%H:%M:%S.%f}..{self.ended:%H:%M:%S.%f}"


def outage_windows(events: Iterable[Event]) -> list[tuple[datetime, datetime]]:
    return [e.window() for e in events]


def in_windows(at: datetime, windows: Iterable[tuple[datetime, datetime]]) -> bool:
    return any(lo <= at <= hi for lo, hi in windows)


class Node:
    """``tasksql --data DIR serve --node-id ID --port 0``; restarted in the same directory, its log
    appended to."""

    def __init__(self, node_id: str, data: Path, env: dict[str, str]) -> None:
        self.node_id, self.data, self.env = node_id, data, env
        self.log = data.parent / f"{node_id}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.paused = False
        self.terminating = False
        self.start()

    def start(self) -> None:
        self.terminating = False
        with self.log.open("a") as out:
            out.write(f"--- start at {now().isoformat()}\n")
            out.flush()
            self.proc = subprocess.Popen(
                [*TASKSQL, "--data", str(self.data), "serve", "--node-id", self.node_id, "--port", "0"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self) -> bool:
        if not self.running:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"node {self.node_id} exited unasked; log tail:\n{tail}")
        return True

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.paused = False

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def terminate(self, timeout: float = 60, *, wait: bool = True) -> int | None:
        """SIGTERM (a clean drain), once; the exit code (None without ``wait``)."""
        assert self.proc is not None
        if self.paused:
            self.resume()
        if not self.terminating:
            self.proc.send_signal(signal.SIGTERM)
            self.terminating = True
        return self.proc.wait(timeout=timeout) if wait else None


def log_excerpt(nodes: Iterable[Node], run_ids: Iterable[int], limit: int = 20) -> list[str]:
    """The nodes' log lines about these runs, and about leases lost and joins (the logs themselves
    may be gone when the failure is read: pytest keeps few temporary directories)."""
    needles = [f"run {i} " for i in run_ids]
    out = []
    for node in nodes:
        for line in node.log.read_text(errors="replace").splitlines():
            if any(n in line for n in needles) or "lease" in line or "joined the cluster" in line:
                out.append(f"{node.node_id}: {line}")
    return out[-limit:]


def node_env(catalog_url: str) -> dict[str, str]:
    """The nodes' environment: the shared catalog, nothing of the caller's TASKSQL_* settings but
    TASKSQL_CLUSTER_CLAIMS (to run the nodes with cluster claims on or off)."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("TASKSQL_") or k == "TASKSQL_CLUSTER_CLAIMS"
    }
    env.update(TASKSQL_CATALOG=catalog_url, TASKSQL_CATALOG_SCHEMA="tasksql", TASKSQL_LOG_LEVEL="INFO")
    return env


def cli_sql(env: dict[str, str], data: Path, text: str) -> None:
    """``tasksql sql TEXT`` on the shared catalog (retried while the catalog's server is away)."""
    deadline = time.monotonic() + 60
    while True:
        done = subprocess.run(
            [*TASKSQL, "--data", str(data), "sql", text],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )
        if done.returncode == 0:
            return
        if "CATALOG_UNAVAILABLE" not in done.stderr or time.monotonic() > deadline:
            raise AssertionError(f"tasksql sql failed: {done.stderr}")
        time.sleep(0.5)


@dataclass(frozen=True)
class Run:
    run_id: int
    name: str
    scheduled_time: datetime
    scheduled_from: str
    attempt_number: int
    state: str
    node_id: str | None
    error_code: str | None
    error_message: str | None
    graph_run_group_id: str | None
    query_start_time: datetime | None
    completed_time: datetime | None

    def __str__(self) -> str:
        span = ""
        if self.query_start_time is not None:
            end = f"{self.completed_time:%H:%M:%S.%f}" if self.completed_time else "..."
            span = f" [{self.query_start_time:%H:%M:%S.%f}..{end}]"
        return (
            f"run {self.run_id} {self.name}@{self.scheduled_time:%H:%M:%S.%f} {self.state} on {self.node_id}"
            f"{span} ({self.error_code}: {self.error_message})"
        )


@dataclass(frozen=True)
class GraphRun:
    group_id: str
    scheduled_time: datetime
    state: str
    node_id: str | None
    first_error_code: str | None
    first_error_message: str | None


@dataclass(frozen=True)
class Hit:
    """A body's own write: its task, run id and scheduled instant."""

    task: str
    run_id: int
    scheduled: datetime


class Reader:
    """Reads of the catalog (schema ``tasksql``) and of the warehouse table ``hits``, each on a
    fresh connection, retried while the server is restarting."""

    def __init__(self, catalog_dsn: str, warehouse_dsn: str) -> None:
        self.catalog_dsn, self.warehouse_dsn = catalog_dsn, warehouse_dsn

    def _rows(self, dsn: str, query: str) -> list[tuple[Any, ...]]:
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
                    return conn.execute(query).fetchall()  # type: ignore[arg-type]
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def catalog(self, query: str) -> list[tuple[Any, ...]]:
        return self._rows(self.catalog_dsn, query)

    def live_nodes(self) -> set[str]:
        try:
            rows = self.catalog(
                "SELECT node_id FROM tasksql.nodes WHERE lease_state = 'live' AND lease_until > clock_timestamp()"
            )
        except psycopg.errors.UndefinedTable:  # no node has created the catalog's tables yet
            return set()
        return {r[0] for r in rows}

    def placements(self) -> dict[str, str | None]:
        """Task name -> the live node holding it (None: an orphan)."""
        rows = self.catalog(
            "SELECT t.name, n.node_id FROM tasksql.placements p JOIN tasksql.tasks t ON t.id = p.task_id"
            " LEFT JOIN tasksql.nodes n ON n.node_id = p.node_id AND n.epoch = p.epoch"
            " AND n.lease_state IN ('live', 'draining')"
        )
        return {str(name).lower(): node for name, node in rows}

    def cluster_state(self) -> str:
        """The nodes' leases and load, who holds how many tasks, and the catalog's sessions that hold
        locks or wait: what a failed takeover is read from."""
        nodes = self.catalog(
            "SELECT node_id, epoch, lease_state, round(extract(epoch FROM lease_until - clock_timestamp())::numeric, 1),"
            " running, capacity FROM tasksql.nodes ORDER BY node_id"
        )
        held = self.catalog(
            "SELECT coalesce(n.node_id, 'orphan'), count(*) FROM tasksql.placements p"
            " LEFT JOIN tasksql.nodes n ON n.node_id = p.node_id AND n.epoch = p.epoch"
            " AND n.lease_state IN ('live', 'draining') GROUP BY 1 ORDER BY 1"
        )
        sessions = self.catalog(
            "SELECT application_name, state, wait_event_type, left(query, 60) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND (state = 'idle in transaction' OR wait_event_type = 'Lock')"
        )
        return (
            f"nodes (id, epoch, lease, s left, running, slots): {nodes}; held: {held}; sessions: {sessions}"
        )

    def runs(self) -> list[Run]:
        rows = self.catalog(
            "SELECT run_id, lower(name), scheduled_time, scheduled_from, attempt_number, state, node_id,"
            " error_code, error_message, graph_run_group_id, query_start_time, completed_time"
            " FROM tasksql.runs ORDER BY scheduled_time, run_id"
        )
        return [Run(*r) for r in rows]

    def graph_runs(self) -> list[GraphRun]:
        rows = self.catalog(
            "SELECT graph_run_group_id, scheduled_time, state, node_id, first_error_code, first_error_message"
            " FROM tasksql.graph_runs ORDER BY scheduled_time"
        )
        return [GraphRun(*r) for r in rows]

    def open_runs(self) -> tuple[list[Run], list[GraphRun]]:
        runs = [r for r in self.runs() if r.state in ("SCHEDULED", "EXECUTING")]
        return runs, [g for g in self.graph_runs() if g.state == "EXECUTING"]

    def hits(self) -> list[Hit]:
        rows = self._rows(self.warehouse_dsn, "SELECT task, run_id, scheduled FROM hits")
        return [Hit(str(t).rsplit(".", 1)[-1].lower(), int(r), instant(str(s))) for t, r, s in rows]


def instant(text: str) -> datetime:
    """A scheduled instant as the bodies write it (ISO text, UTC when it names no zone)."""
    at = datetime.fromisoformat(text.replace(" ", "T"))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
