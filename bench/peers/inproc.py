"""Peers that schedule inside a Python process (tasksql, APScheduler): each measurement in a child.

:class:`InProcessPeer` runs ``python -m bench.child <peer> <workload> <json>`` in its own session
(so a Ctrl-C in the terminal reaches only the harness), waits with a time limit, and parses the
result line. :meth:`InProcessPeer.close` (and any exception, including KeyboardInterrupt) stops a
child still running: SIGTERM, which the child turns into a cancellation so its own clean-up runs,
then SIGKILL after a grace period.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import subprocess
import sys
from typing import Any

from bench import REPO_DIR, install
from bench.child import MARKER
from bench.peers import failed, unsupported

#: Seconds a child gets, after SIGTERM, to clean up before it is killed.
TERM_GRACE = 15.0


class InProcessPeer:
    """One in-process scheduler, measured in child processes."""

    def __init__(self, name: str, *, workloads: tuple[str, ...] | None = None) -> None:
        self.name = name
        if workloads is not None:
            #: The workloads this peer takes part in (all when the attribute is absent).
            self.workloads = workloads
        self._proc: subprocess.Popen[str] | None = None

    def open(self) -> None:
        if self.name.startswith("apscheduler"):
            from bench.peers import aps

            install.ensure_pip(aps.REQUIREMENT, "apscheduler")

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            _terminate(proc)

    def describe(self) -> dict[str, Any]:
        if self.name.startswith("tasksql"):
            warehouse = (
                "SQLite file (MAX_CONCURRENCY = 4)"
                if self.name == "tasksql-sqlite"
                else "embedded DuckDB (default)"
            )
            return {
                "version": f"tasksql {importlib.metadata.version('tasksql')} (commit {_git_commit()})",
                "settings": {
                    "engine": "bench/tasksql_bench.py: engine and scheduler in the measuring process",
                    "catalog": "SQLite file (default)",
                    "warehouse": warehouse,
                    "history": "every run recorded in the catalog",
                },
            }
        from bench.peers import aps

        return {"version": aps.version(), "settings": aps.settings(self.name.removeprefix("apscheduler-"))}

    def run(self, workload: str, limit: float, **kwargs: Any) -> dict[str, Any]:
        """Run one workload in a child; its result, or :func:`failed` with the reason."""
        if not self.name.startswith("tasksql") and workload in ("timeout", "graphs"):
            return unsupported(
                "APScheduler cannot stop a running job" if workload == "timeout" else "no task graphs"
            )
        cmd = [sys.executable, "-m", "bench.child", self.name, workload, json.dumps(kwargs)]
        self._proc = proc = subprocess.Popen(
            cmd,
            cwd=REPO_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            _terminate(proc)
            return failed(f"{self.name} {workload} did not finish within {limit:.0f} s")
        finally:
            if proc.poll() is None:  # KeyboardInterrupt and friends
                _terminate(proc)
            self._proc = None
        for line in reversed(out.splitlines()):
            if line.startswith(MARKER):
                result: dict[str, Any] = json.loads(line.removeprefix(MARKER))
                return result
        return failed(f"{self.name} {workload} exited {proc.returncode}: {err.strip()[-1500:]}")


def _terminate(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=TERM_GRACE)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def _git_commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_DIR, capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "unknown"
