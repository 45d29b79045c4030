"""A cluster under measurement: a private PostgreSQL catalog and ``tasksql serve`` node processes.

:class:`ClusterRig` starts the catalog's server (durable like a user's server, with
``pg_stat_statements`` loaded so that the catalog's statements can be counted), gives each
measurement a fresh catalog database, starts and kills nodes, sends SQL to one node's HTTP API and
reads the catalog, its counters and its server's CPU time. Everything it started is stopped and
removed by :meth:`ClusterRig.close` (also on Ctrl-C: the harness turns signals into
KeyboardInterrupt).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import psycopg

from bench.procinfo import cpu_seconds
from bench.servers import PgServer

T = TypeVar("T")
TASKSQL = [sys.executable, "-m", "tasksql"]


def wait_for(probe: Callable[[], T | None], *, timeout: float, what: str, every: float = 0.02) -> T:
    """Poll ``probe`` until it returns something true; RuntimeError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def now() -> datetime:
    return datetime.now(UTC)


class Node:
    """One ``tasksql serve --node-id ID --port 0`` process with its own data directory."""

    def __init__(self, node_id: str, data: Path, env: dict[str, str]) -> None:
        self.node_id, self.data, self.env = node_id, data, env
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data.parent / f"{node_id}.log"
        self.start()

    def start(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            (self.data / "server.json").unlink()
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [*TASKSQL, "--data", str(self.data), "serve", "--node-id", self.node_id, "--port", "0"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )

    @property
    def url(self) -> str | None:
        """The API's URL once the server wrote it (None before)."""
        if self.proc is None or self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-1500:]
            raise RuntimeError(f"node {self.node_id} is not running; log tail:\n{tail}")
        try:
            info = json.loads((self.data / "server.json").read_text())
        except (OSError, ValueError):
            return None
        return str(info["url"]) if info.get("pid") == self.proc.pid else None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def sql(self, text: str) -> list[dict[str, Any]]:
        """``POST /api/v1/sql`` to this node; its results (RuntimeError with the message on failure)."""
        url = wait_for(lambda: self.url, timeout=60, what=f"{self.node_id}'s API")
        request = urllib.request.Request(
            f"{url.rstrip('/')}/api/v1/sql",
            data=json.dumps({"sql": text}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=300) as answer:
                body = json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
        if not body.get("ok"):
            raise RuntimeError(f"{self.node_id} refused the SQL: {body.get('error', body)}")
        return list(body["results"])


@dataclass(frozen=True)
class Counters:
    """The catalog database's counters at one moment (see :meth:`ClusterRig.counters`)."""

    at: float
    xacts: int
    statements: int
    exec_ms: float
    server_cpu_s: float

    def minus(self, before: Counters) -> dict[str, float]:
        return {
            "seconds": self.at - before.at,
            "xacts": self.xacts - before.xacts,
            "statements": self.statements - before.statements,
            "exec_ms": self.exec_ms - before.exec_ms,
            "server_cpu_s": self.server_cpu_s - before.server_cpu_s,
        }


class ClusterRig:
    """The private catalog server and the nodes of the current measurement (see the module)."""

    def __init__(self) -> None:
        self.server = PgServer(
            {"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track": "all"},
            durable=True,
        ).start()
        self.base = Path(tempfile.mkdtemp(prefix="tasksql-cluster-bench-"))
        self.nodes: dict[str, Node] = {}
        self.db = ""
        with psycopg.connect(self.server.dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            row = conn.execute("SHOW server_version").fetchone()
        self.version = f"PostgreSQL {row[0] if row else '?'}"
        self._conn: psycopg.Connection[Any] | None = None

    # --- life cycle ----------------------------------------------------------------------------------

    def fresh(self, node_ids: list[str]) -> None:
        """Stop every node, then a new catalog database and ``node_ids`` started on it, all live."""
        self.stop_nodes()
        self.db = f"cat_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.server.dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db}"')
        if self._conn is not None:
            self._conn.close()
        self._conn = psycopg.connect(self._dsn(), autocommit=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSQL_")}
        url = f"postgresql://{self.server.user}@{self.server.host}:{self.server.port}/{self.db}"
        env.update(TASKSQL_CATALOG=url, TASKSQL_CATALOG_SCHEMA="tasksql", TASKSQL_LOG_LEVEL="WARNING")
        run_dir = self.base / self.db
        for node_id in node_ids:
            self.nodes[node_id] = Node(node_id, run_dir / node_id, env)
        self.wait_live(set(node_ids))

    def wait_live(self, node_ids: set[str], timeout: float = 60) -> None:
        def live() -> bool:
            for node_id in node_ids:
                _ = self.nodes[node_id].url  # raises when the process died
            return node_ids <= self.live_nodes()

        wait_for(live, timeout=timeout, what=f"nodes {sorted(node_ids)} to be live", every=0.05)

    def stop_nodes(self) -> None:
        for node in self.nodes.values():
            node.stop()
        self.nodes = {}

    def close(self) -> None:
        try:
            self.stop_nodes()
        finally:
            for node in self.nodes.values():
                node.kill()
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
            self.server.stop()
            import shutil

            shutil.rmtree(self.base, ignore_errors=True)

    def _dsn(self) -> str:
        return f"host={self.server.host} port={self.server.port} user={self.server.user} dbname={self.db}"

    # --- reading the catalog -------------------------------------------------------------------------

    def rows(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        assert self._conn is not None, "no catalog yet: call fresh()"
        try:
            return self._conn.execute(query, params).fetchall()  # type: ignore[arg-type]
        except psycopg.errors.UndefinedTable:  # the nodes have not created the tables yet
            return []

    def live_nodes(self) -> set[str]:
        return {
            r[0]
            for r in self.rows(
                "SELECT node_id FROM tasksql.nodes"
                " WHERE lease_state = 'live' AND lease_until > clock_timestamp()"
            )
        }

    def holders(self) -> dict[str, str | None]:
        """Task name -> the live node holding its placement (None: nobody)."""
        rows = self.rows(
            "SELECT lower(t.name), n.node_id FROM tasksql.placements p"
            " JOIN tasksql.tasks t ON t.id = p.task_id"
            " LEFT JOIN tasksql.nodes n ON n.node_id = p.node_id AND n.epoch = p.epoch"
            " AND n.lease_state IN ('live', 'draining')"
        )
        return {str(name): node for name, node in rows}

    def counters(self) -> Counters:
        """Transactions committed and rolled back in the catalog's database (``pg_stat_database``),
        its statements and their execution time (``pg_stat_statements``), and the CPU time of every
        process of the catalog's server (the postmaster, its live children and those it reaped)."""
        with psycopg.connect(self.server.dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            xacts = conn.execute(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", (self.db,)
            ).fetchone()
            stmts = conn.execute(
                "SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0) FROM pg_stat_statements s"
                " JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s",
                (self.db,),
            ).fetchone()
        assert xacts is not None and stmts is not None
        return Counters(
            at=time.monotonic(),
            xacts=int(xacts[0]),
            statements=int(stmts[0]),
            exec_ms=float(stmts[1]),
            server_cpu_s=self._server_cpu(),
        )

    def _server_cpu(self) -> float:
        postmaster = int((self.server.data / "postmaster.pid").read_text().split()[0])
        total = _cpu_with_reaped(postmaster)
        for entry in os.listdir("/proc"):
            if entry.isdigit() and _ppid(int(entry)) == postmaster:
                with contextlib.suppress(OSError):
                    total += cpu_seconds(int(entry))
        return total


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def _cpu_with_reaped(pid: int) -> float:
    """The process's own CPU time and that of the children it has waited for."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / tick
