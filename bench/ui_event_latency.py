"""How long a run's state change takes to show on an open page of the web UI.

    python -m bench.ui_event_latency [--seconds 20] [--load 20]

Starts ``tasksql serve`` (a private data directory, a free port) with a task ``lat`` that runs
every second and ``--load`` other tasks that do too, and after two seconds opens the task page of
``lat`` in Debian's Chromium (Playwright) for ``--seconds``. The page records when each ``run``
event of a settled run arrives (its EventSource) and when the run's row first shows its final
state (a MutationObserver); afterwards
the runs' ``completed_time`` (stamped by the node just before the outcome is written) is read from
the API. One machine, one clock: for each run, change -> event at the page, event -> row shown,
and change -> row shown. The aim (issue: an event reaches an open page within 100 ms of the run's
state change) is checked here, not in tests. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"

#: Runs in the page before any script of it: records event arrivals and rows that show a final state.
RECORDER = """
window.__arrivals = {}; window.__shown = {};
const Native = window.EventSource;
window.EventSource = function (url, opts) {
  const source = new Native(url, opts);
  source.addEventListener("run", (e) => {
    const d = JSON.parse(e.data);
    if (d.state === "SUCCEEDED" && !(d.run_id in window.__arrivals)) window.__arrivals[d.run_id] = Date.now();
  });
  return source;
};
window.EventSource.CLOSED = Native.CLOSED;
new MutationObserver(() => {
  const now = Date.now();
  for (const row of document.querySelectorAll("#history-table tr[data-run-id]")) {
    const id = row.dataset.runId;
    const state = row.querySelector(".state");
    if (!(id in window.__shown) && state && state.textContent === "SUCCEEDED") window.__shown[id] = now;
  }
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


def _call(url: str, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=60) as answer:
        return json.loads(answer.read())


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    median = round(statistics.median(values), 1)
    return {"p50": median, "p95": _pct(values, 0.95), "max": round(max(values), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--load", type=int, default=20, help="other tasks running every second")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        env = {**os.environ, "TASKSQL_DATA": str(data), "TASKSQL_PORT": "0", "TASKSQL_LOG_LEVEL": "WARNING"}
        command = [sys.executable, "-m", "tasksql", "serve"]
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not (data / "server.json").exists():
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("tasksql serve did not start")
                time.sleep(0.05)
            url = json.loads((data / "server.json").read_text())["url"]
            sql = "CREATE TASK lat SCHEDULE 1 SECOND AS SELECT 1; ALTER TASK lat RESUME;" + "".join(
                f"CREATE TASK load_{i} SCHEDULE 1 SECOND AS SELECT {i}; ALTER TASK load_{i} RESUME;"
                for i in range(args.load)
            )
            _call(url, "POST", "/api/v1/sql", {"sql": sql})
            time.sleep(2)  # the steady state: every task running
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
                page = browser.new_page()
                page.add_init_script(RECORDER)
                page.goto(f"{url}/task?name=tasksql.public.lat")
                page.wait_for_function("document.documentElement.dataset.live === 'events'")
                opened = datetime.now(UTC)
                time.sleep(args.seconds)
                arrivals = page.evaluate("window.__arrivals")
                shown = page.evaluate("window.__shown")
                browser.close()
            runs = _call(url, "GET", "/api/v1/tasks/lat/runs?limit=1000")["runs"]
        finally:
            proc.terminate()
            proc.wait(60)
    to_event, to_row, event_to_row, no_event = [], [], [], []
    for run in runs:
        rid = str(run["run_id"])
        if run["state"] != "SUCCEEDED" or not run["completed_time"]:
            continue
        if datetime.fromisoformat(run["scheduled_time"]) < opened:
            continue  # before the page followed the events
        changed = datetime.fromisoformat(run["completed_time"]).astimezone(UTC).timestamp() * 1000
        if rid in arrivals:
            to_event.append(arrivals[rid] - changed)
        if rid in shown:
            to_row.append(shown[rid] - changed)
        if rid in arrivals and rid in shown:
            event_to_row.append(shown[rid] - arrivals[rid])
        elif rid in shown:
            no_event.append(shown[rid] - changed)
    if not to_row:
        raise SystemExit("no run showed on the page")
    print(
        json.dumps(
            {
                "runs": len(to_row),
                "load_tasks": args.load,
                "change_to_event_at_page_ms": _summary(to_event),
                "event_to_row_shown_ms": _summary(event_to_row),
                "change_to_row_shown_ms": _summary(to_row),
                # rows that showed without their run's final event (a refresh for another event)
                "shown_without_event": len(no_event),
                "shown_without_event_ms": _summary(no_event),
                "aim_ms": 100,
                "load_average": os.getloadavg(),
            }
        )
    )


if __name__ == "__main__":
    main()
