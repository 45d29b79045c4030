"""How long a run's state change takes to reach a client of the event stream.

    python -m bench.event_latency [--tasks 20] [--seconds 20] [--catalog postgresql://...]

Starts ``tasksql serve`` (a private data directory, a free port), opens ``GET /api/v1/events``,
creates ``--tasks`` tasks that run every second, and for each ``run`` event of a settled run takes
the time from the state change the run's row records (``completed_time``, stamped by the node just
before its outcome is written) to the event's arrival at the client (one machine: one clock), and
the part of it from the event's publication (its id) to its arrival. The
aim (issue: an event within 100 ms of the change on the node that made it) is checked here, not in
tests. Prints the percentiles as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp


async def _listen(url: str, seconds: float, lags: list[float], sends: list[float]) -> None:
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(f"{url}/api/v1/events") as resp:
        deadline = time.monotonic() + seconds
        kind, event_id = "", 0
        while time.monotonic() < deadline:
            try:
                raw = await asyncio.wait_for(resp.content.readline(), deadline - time.monotonic())
            except TimeoutError:
                return
            line = raw.decode().rstrip("\n")
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "run":
                arrived = datetime.now(UTC)
                data = json.loads(line[6:])
                if data["state"] in ("SUCCEEDED", "FAILED") and data["completed_time"]:
                    changed = datetime.fromisoformat(data["completed_time"])
                    lags.append((arrived - changed).total_seconds() * 1000)
                    # the id is the microsecond the server published the event
                    sent = datetime.fromtimestamp(event_id / 1e6, UTC)
                    sends.append((arrived - sent).total_seconds() * 1000)


def _sql(url: str, text: str) -> None:
    import urllib.request

    req = urllib.request.Request(
        f"{url}/api/v1/sql",
        data=json.dumps({"sql": text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=60) as answer:
        answer.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--catalog", default=None, help="a PostgreSQL catalog URL (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        env = {**os.environ, "TASKSQL_DATA": str(data), "TASKSQL_PORT": "0", "TASKSQL_LOG_LEVEL": "WARNING"}
        if args.catalog:
            env["TASKSQL_CATALOG"] = args.catalog
        proc = subprocess.Popen(
            [sys.executable, "-m", "tasksql", "serve"], env=env, stdout=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 60
            while not (data / "server.json").exists():
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("tasksql serve did not start")
                time.sleep(0.05)
            url = json.loads((data / "server.json").read_text())["url"]
            lags: list[float] = []
            sends: list[float] = []

            async def run() -> None:
                listener = asyncio.create_task(_listen(url, args.seconds, lags, sends))
                await asyncio.sleep(0.5)
                await asyncio.to_thread(
                    _sql,
                    url,
                    "; ".join(
                        f"CREATE TASK lag_{i} SCHEDULE 1 SECOND AS SELECT {i}" for i in range(args.tasks)
                    ),
                )
                await listener

            asyncio.run(run())
        finally:
            proc.terminate()
            proc.wait(60)
    if not lags:
        raise SystemExit("no run events arrived")
    lags.sort()
    pick = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))]  # noqa: E731
    print(
        json.dumps(
            {
                "events": len(lags),
                "p50_ms": round(statistics.median(lags), 2),
                "p95_ms": round(pick(0.95), 2),
                "p99_ms": round(pick(0.99), 2),
                "max_ms": round(lags[-1], 2),
                "aim_ms": 100,
                "published_to_client_p50_ms": round(statistics.median(sends), 2),
                "published_to_client_p95_ms": round(sorted(sends)[int(0.95 * (len(sends) - 1))], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
