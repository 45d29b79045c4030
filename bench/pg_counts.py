"""What a PostgreSQL catalog costs per run, counted over a window (for :mod:`bench.cpu_per_run`).

Three counts, each from where it is exact:

* **client waits** (round trips): every time psycopg waits for the server on a connection of this
  process (:meth:`psycopg.Connection.wait`: one per ``execute``, one per pipelined batch), by the
  name of the thread that waited. Counted by wrapping that method in the measuring process only;
* **statements**: ``pg_stat_statements`` calls by query (each row of a pipelined ``executemany`` is
  one call), the most frequent ones listed;
* **transactions**: ``pg_stat_database.xact_commit`` of the catalog's database (explicit COMMITs
  and autocommitted statements alike) and the explicit ``COMMIT`` statements;

and the **server's CPU** (every process of the private cluster: backends, WAL writer,
checkpointer), read from ``/proc``: on a 2-core machine it competes with the scheduler.
"""

from __future__ import annotations

import collections
import os
import re
import threading
from pathlib import Path
from typing import Any

import psycopg

_WAITS: collections.Counter[str] = collections.Counter()
_lock = threading.Lock()


def count_waits() -> None:
    """Wrap :meth:`psycopg.Connection.wait` so that each wait is counted by thread name."""
    original = psycopg.Connection.wait
    if getattr(original, "_counted", False):
        return

    def wait(self: Any, gen: Any, *args: Any, **kwargs: Any) -> Any:
        name = re.sub(r"_\d+$", "", threading.current_thread().name)
        with _lock:
            _WAITS[name] += 1
        return original(self, gen, *args, **kwargs)

    wait._counted = True  # type: ignore[attr-defined]
    psycopg.Connection.wait = wait  # type: ignore[method-assign]


def waits() -> collections.Counter[str]:
    with _lock:
        return collections.Counter(_WAITS)


SETTINGS = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
    "pg_stat_statements.track_planning": "on",
}
"""Server settings the counts need (``pg_stat_statements`` loaded at start-up)."""


def explain_settings(ms: float) -> dict[str, str]:
    """Server settings that log the analyzed plan of every statement slower than ``ms``
    milliseconds (``auto_explain``, loaded with ``pg_stat_statements``)."""
    return {
        "shared_preload_libraries": "pg_stat_statements,auto_explain",
        "auto_explain.log_min_duration": f"{ms:g}",
        "auto_explain.log_analyze": "on",
        "auto_explain.log_buffers": "on",
        "auto_explain.log_nested_statements": "on",
    }


class ServerCounts:
    """Statements, transactions and CPU of the private server at ``url`` (data directory ``data``)."""

    def __init__(self, url: str, data: Path) -> None:
        self._url = url
        self._data = data
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def _cpu(self) -> float:
        """CPU seconds of the cluster's processes (the postmaster and its children) so far."""
        postmaster = int((self._data / "postmaster.pid").read_text().split()[0])
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(pid) == postmaster or int(fields[1]) == postmaster:
                # utime, stime, and the children's that ended (backends of closed connections)
                total += sum(int(x) for x in fields[11:15]) / tick
        return total

    @staticmethod
    def _scans(conn: psycopg.Connection[Any]) -> dict[str, tuple[int, int, int]]:
        """Per big table: rows read by sequential scans, rows updated, of which HOT (no index
        entry added: the new version fits in its page and no indexed column changed)."""
        rows = conn.execute(
            "SELECT relname, seq_tup_read, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
            "WHERE relname IN ('runs', 'tasks')"
        ).fetchall()
        return {str(name): (int(read), int(upd), int(hot)) for name, read, upd, hot in rows}

    def begin(self) -> None:
        with psycopg.connect(self._url, autocommit=True) as conn:
            self._scans0 = self._scans(conn)
            conn.execute("SELECT pg_stat_statements_reset()")
            row = conn.execute(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
            ).fetchone()
        assert row is not None
        self._xact = int(row[0])
        self._cpu0 = self._cpu()

    def read(self, *, top: int = 8) -> dict[str, Any]:
        """The counts since :meth:`begin`, read now (at the end of the window: what comes after,
        such as the scheduler's stop handing its tasks over, is not counted)."""
        cpu = self._cpu() - self._cpu0
        with psycopg.connect(self._url, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            row = conn.execute(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
            ).fetchone()
            scans = self._scans(conn)
            stmts = conn.execute(
                "SELECT query, calls, total_exec_time + total_plan_time FROM pg_stat_statements "
                "WHERE query NOT LIKE '%pg_stat%' ORDER BY calls DESC"
            ).fetchall()
            # per call of the costliest: rows, planning and execution (ms)
            detail = conn.execute(
                "SELECT query, calls, rows::float / greatest(calls, 1), "
                "total_plan_time / greatest(calls, 1), total_exec_time / greatest(calls, 1) "
                "FROM pg_stat_statements "
                "WHERE query NOT LIKE '%%pg_stat%%' ORDER BY total_exec_time + total_plan_time DESC LIMIT %s",
                (top,),
            ).fetchall()
        assert row is not None
        return {"cpu": cpu, "row": row, "scans": scans, "stmts": stmts, "detail": detail}

    def end(self, runs: int, *, top: int = 8, counts: dict[str, Any] | None = None) -> dict[str, Any]:
        """Per-run figures of ``counts`` (from :meth:`read`; read now when not given)."""
        got = self.read(top=top) if counts is None else counts
        cpu, row, scans, stmts, detail = (got[k] for k in ("cpu", "row", "scans", "stmts", "detail"))
        per = 1.0 / max(runs, 1)
        calls = sum(int(c) for _, c, _ in stmts)
        commits = sum(int(c) for q, c, _ in stmts if q.strip().upper() == "COMMIT")
        by_time = sorted(stmts, key=lambda s: -float(s[2]))
        return {
            "server_cpu_ms_per_run": round(cpu * 1000 * per, 3),
            "statements_per_run": round(calls * per, 2),
            # rows read by sequential scans of the two big tables (an index missed)
            "seq_rows_read_per_run": {
                k: round((v[0] - self._scans0.get(k, v)[0]) * per, 1) for k, v in scans.items()
            },
            # updates per run, and the share of them that added no index entry
            "updates_per_run_hot_share": {
                k: [
                    round((v[1] - self._scans0.get(k, v)[1]) * per, 2),
                    round((v[2] - self._scans0.get(k, v)[2]) / max(v[1] - self._scans0.get(k, v)[1], 1), 2),
                ]
                for k, v in scans.items()
            },
            "transactions_per_run": round((int(row[0]) - self._xact) * per, 3),
            "commit_statements_per_run": round(commits * per, 3),
            "top_statements_per_run": [
                [round(int(c) * per, 3), " ".join(q.split())[:90]] for q, c, _ in stmts[:top]
            ],
            # planning and execution in the server, per run (not parsing, protocol or commit)
            "statement_time_ms_per_run": round(sum(float(t) for _, _, t in stmts) * per, 3),
            "top_statement_time_ms_per_run": [
                [round(float(t) * per, 4), " ".join(q.split())[:90]] for q, _, t in by_time[:top]
            ],
            "top_statements_per_call_calls_rows_plan_ms_exec_ms": [
                [int(c), round(float(r), 1), round(float(p), 3), round(float(e), 3), " ".join(q.split())[:60]]
                for q, c, r, p, e in detail
            ],
        }
