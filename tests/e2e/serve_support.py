"""Running ``tasksql serve`` and ``tasksql sql`` as real processes, for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

TASKSQL = [sys.executable, "-m", "tasksql"]


def env(**extra: str) -> dict[str, str]:
    out = dict(os.environ)
    out.update({"TASKSQL_LOG_LEVEL": "INFO", **extra})
    return out


class ServerProcess:
    """``tasksql --data DIR serve --port 0`` in a child process."""

    def __init__(self, data: Path, *, wait: bool = True, **extra_env: str) -> None:
        """Start the server; with ``wait`` (the default) return once it serves (else call
        :meth:`started`, so that several servers start at once)."""
        self.data = data
        self.log = data.parent / f"serve-{time.monotonic_ns()}.log"
        data.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen(
            [*TASKSQL, "--data", str(data), "serve", "--port", "0"],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env(**extra_env),
        )
        self.url = ""
        if wait:
            self.started()

    def started(self) -> str:
        """Wait until the server serves; its URL."""
        if not self.url:
            self.url = wait_for(self._started, timeout=60, what=f"the server to start (log: {self.log})")
        return self.url

    def _started(self) -> str | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"the server exited with {self.proc.returncode}: {self.log.read_text()}")
        try:
            info = json.loads((self.data / "server.json").read_text())
        except (OSError, ValueError):
            return None
        return str(info["url"]) if info.get("pid") == self.proc.pid else None

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._log_file.close()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        return self.wait()

    def kill(self) -> None:
        self.proc.kill()
        self.wait()


def sql(data: Path, text: str, *, fmt: str = "json", check: bool = True) -> list[list[dict[str, Any]]]:
    """Run ``tasksql --format json sql TEXT``; one list of row objects per result set."""
    done = subprocess.run(
        [*TASKSQL, "--data", str(data), "--format", fmt, "sql", text],
        capture_output=True,
        text=True,
        env=env(),
        timeout=120,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"tasksql sql failed ({done.returncode}): {done.stderr}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def api_sql(url: str, text: str) -> list[list[dict[str, Any]]]:
    """``POST /api/v1/sql`` to the server at ``url`` (no process to start, unlike :func:`sql`); one
    list of row objects per result set, as :func:`sql` gives them."""
    request = urllib.request.Request(
        f"{url}/api/v1/sql",
        data=json.dumps({"sql": text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=120) as answer:
        body = json.loads(answer.read())
    if not body.get("ok"):
        raise AssertionError(f"POST /api/v1/sql failed: {body}")
    return [[dict(zip(r["columns"], row, strict=True)) for row in r["rows"]] for r in body["results"]]


def wait_for(probe: Callable[[], T | None], *, timeout: float, what: str, every: float = 0.2) -> T:
    """Poll ``probe`` until it returns something other than None/False, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)
