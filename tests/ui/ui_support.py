"""A real ``tasksql serve`` process and Debian's Chromium, for the web UI's browser tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        return "Debian's Chromium is not installed (apt-get install chromium; scripts/test.sh does it)"
    return None


def wait_for(check: Callable[[], T | None], *, timeout: float, what: str) -> T:
    """Poll ``check`` until it returns a value other than None (or False)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class Server:
    """``tasksql --data DIR serve --port 0`` in a child process, with a small JSON API client."""

    def __init__(self, data: Path, env: dict[str, str] | None = None) -> None:
        self.data = data
        data.mkdir(parents=True, exist_ok=True)
        self.log = data.parent / "serve.log"
        self._log_file = self.log.open("w")
        env = {**os.environ, "TASKSQL_LOG_LEVEL": "INFO", **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tasksql", "--data", str(data), "serve", "--port", "0"],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self.url = wait_for(self._started, timeout=30, what=f"the server to start (log: {self.log})")

    def _started(self) -> str | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"the server exited with {self.proc.returncode}: {self.log.read_text()}")
        try:
            info = json.loads((self.data / "server.json").read_text())
        except (OSError, ValueError):
            return None
        return str(info["url"]) if info.get("pid") == self.proc.pid else None

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One API request (no Origin: as curl sends it); the status and the decoded JSON."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def sql(self, text: str) -> list[dict[str, Any]]:
        status, body = self.call("POST", "/api/v1/sql", {"sql": text})
        assert status == 200, body
        return list(body["results"])

    def task(self, key: str) -> dict[str, Any]:
        status, body = self.call("GET", "/api/v1/tasks/" + urllib.parse.quote(key, safe=""))
        assert status == 200, body
        return dict(body["properties"])

    def runs(self, key: str) -> list[dict[str, Any]]:
        path = "/api/v1/tasks/" + urllib.parse.quote(key, safe="") + "/runs?limit=1000"
        status, body = self.call("GET", path)
        assert status == 200, body
        return list(body["runs"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()


def task_url(base: str, key: str) -> str:
    return f"{base}/task?{urllib.parse.urlencode({'name': key})}"
