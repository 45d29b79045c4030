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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench import REPO_DIR, install
from bench.child import MARKER
from bench.peers import failed, unsupported
from bench.servers import CatalogServer
from bench.variants import BY_NAME

#: Seconds a child gets, after SIGTERM, to clean up before it is killed.
TERM_GRACE = 15.0


class InProcessPeer:
    """One in-process scheduler, measured in child processes.

    ``kind``: what the child runs (a tasksql variant of :mod:`bench.variants`, or
    ``apscheduler-<kind>``); ``name`` (the key of its results) by default. ``root``: the source tree
    whose ``bench.child`` runs (``bench compare`` points it at a worktree of another revision),
    ``env``: variables added to the child's environment. ``catalog``: the server of a
    PostgreSQL-catalog variant's catalogs (its URL is passed to the child as ``catalog_url``).
    """

    def __init__(
        self,
        name: str,
        *,
        workloads: tuple[str, ...] | None = None,
        kind: str | None = None,
        root: Path = REPO_DIR,
        env: Mapping[str, str] | None = None,
        catalog: CatalogServer | None = None,
    ) -> None:
        self.name = name
        self.kind = kind or name
        self.variant = BY_NAME.get(self.kind)
        if workloads is None and self.variant is not None:
            workloads = self.variant.workloads
        if workloads is not None:
            #: The workloads this peer takes part in (all when the attribute is absent).
            self.workloads = workloads
        self.root = root
        self.env = dict(env or {})
        if self.variant is not None and self.variant.pg_catalog and catalog is None:
            catalog = CatalogServer()
        self.catalog = catalog
        self._proc: subprocess.Popen[str] | None = None

    @property
    def is_tasksql(self) -> bool:
        return self.variant is not None

    def open(self) -> None:
        if self.kind.startswith("apscheduler"):
            from bench.peers import aps

            install.ensure_pip(aps.REQUIREMENT, "apscheduler")
        if self.catalog is not None:
            self.catalog.url  # noqa: B018  (starts the server: an unavailable one fails here, once)

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            _terminate(proc)
        if self.catalog is not None:
            self.catalog.stop()

    def describe(self) -> dict[str, Any]:
        if self.variant is not None:
            version = f"tasksql {importlib.metadata.version('tasksql')} (commit {_git_commit(self.root)})"
            if self.catalog is not None:
                version += f", catalog on {self.catalog.version()}"
            return {"version": version, "settings": self.variant.describe(), "source": self._source()}
        from bench.peers import aps

        return {"version": aps.version(), "settings": aps.settings(self.kind.removeprefix("apscheduler-"))}

    def _child_env(self) -> dict[str, str]:
        """This process's environment without ``TASKSQL_*`` (a variant's catalog, warehouse and
        settings are the harness's choice, not whatever the shell had set), plus ``env``."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("TASKSQL_")}
        return {**inherited, **self.env}

    def _source(self) -> str:
        """Where this peer's children import tasksql from (a check that ``env`` took effect)."""
        done = subprocess.run(
            [sys.executable, "-c", "import tasksql; print(tasksql.__file__)"],
            cwd=self.root,
            env=self._child_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip() or f"import failed: {done.stderr.strip()[-300:]}"

    def run(self, workload: str, limit: float, **kwargs: Any) -> dict[str, Any]:
        """Run one workload in a child; its result, or :func:`failed` with the reason."""
        if not self.is_tasksql and workload in ("timeout", "graphs"):
            return unsupported(
                "APScheduler cannot stop a running job" if workload == "timeout" else "no task graphs"
            )
        if self.catalog is not None and workload != "timeout":
            kwargs = {**kwargs, "catalog_url": self.catalog.url}
        cmd = [sys.executable, "-m", "bench.child", self.kind, workload, json.dumps(kwargs)]
        self._proc = proc = subprocess.Popen(
            cmd,
            cwd=self.root,
            env=self._child_env(),
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


def _git_commit(root: Path = REPO_DIR) -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "unknown"
