"""How long the server takes to answer the web UI's big pages.

    python -m bench.ui_pages [--tasks 10000] [--runs 100000] [--repeat 20]

Fills a private data directory through an engine in this process: ``--tasks`` tasks (hourly,
half of them started, a comment each) and one task, ``big``, with ``--runs`` runs in its history
(one every 5 s, ending an hour ago, every tenth FAILED, written through the catalog's own ``fire`` and
``settle_later``). Then starts ``tasksql serve`` on it and asks each page ``--repeat`` times over
loopback (after two unmeasured asks), timing request sent to whole page received: the tasks page
(first page, a late page, searches, a state filter), the task page of ``big`` (first page, a page
deep in its history by cursor, its history filtered by state, errors only and a time range), the
runs page (all tasks, and ``big``'s), and the API's history route for comparison. The aim (issue:
under 200 ms on the server) is checked here, not in tests. Prints one JSON line per page, then a
summary line.
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
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

AIM_MS = 200.0
BIG = "big"
STEP = timedelta(seconds=5)  # between two runs of big: 100,000 runs in under six days


async def fill(data: Path, tasks: int, runs: int, first: datetime) -> None:
    """The tasks and the big task's history, written before the server starts."""
    from tasksql.engine import Engine
    from tasksql.model import QualifiedName, RunState, ScheduledFrom
    from tasksql.model.run import NewRun, RunOutcome
    from tasksql.settings import Settings

    async with Engine(Settings.load(data_dir=data)) as engine:
        batch = 500
        for start in range(0, tasks, batch):
            sql = ";\n".join(
                f"CREATE TASK t_{i:05d} SCHEDULE 60 MINUTES COMMENT = 'bench task {i}' AS SELECT {i}"
                for i in range(start, min(tasks, start + batch))
            )
            await engine.execute(sql)
        for start in range(0, tasks, batch * 2):  # every other task started
            names = range(start, min(tasks, start + batch * 2), 2)
            await engine.execute(";".join(f"ALTER TASK t_{i:05d} RESUME" for i in names))
        await engine.execute(f"CREATE TASK {BIG} SCHEDULE 1 MINUTE COMMENT = 'the long history' AS SELECT 1")
        rec = await engine.catalog.get_task(engine.resolve(QualifiedName.of(BIG)))
        assert rec is not None
        chunk = 5000
        for start in range(0, runs, chunk):
            new = []
            for i in range(start, min(runs, start + chunk)):
                at = first + STEP * i
                new.append(
                    NewRun(
                        task_id=rec.id,
                        task_version=rec.version,
                        name=BIG,
                        database_name=rec.name.database or "tasksql",
                        schema_name=rec.name.schema or "public",
                        scheduled_time=at,
                        state=RunState.EXECUTING,
                        scheduled_from=ScheduledFrom.SCHEDULE,
                        query_start_time=at + timedelta(milliseconds=20),
                        query_text="SELECT 1",
                    )
                )
            stored = await engine.catalog.fire(new, [])
            ends = []
            for run in stored:
                assert run is not None
                failed = (run.scheduled_time - first) // STEP % 10 == 9
                outcome = RunOutcome(
                    run_id=run.run_id,
                    state=RunState.FAILED if failed else RunState.SUCCEEDED,
                    completed_time=run.scheduled_time + timedelta(milliseconds=420),
                    error_code="100038" if failed else None,
                    error_message="bench: a failing run" if failed else None,
                )
                ends.append(engine.catalog.settle_later(outcome))
            await asyncio.gather(*ends)


def start_server(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {
        **os.environ,
        "TASKSQL_DATA": str(data),
        "TASKSQL_PORT": "0",
        "TASKSQL_LOG_LEVEL": "WARNING",
        "TASKSQL_HISTORY_RETENTION_DAYS": "30",
    }
    proc = subprocess.Popen([sys.executable, "-m", "tasksql", "serve"], env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            info = json.loads((data / "server.json").read_text())
            if info.get("pid") == proc.pid:
                return proc, str(info["url"])
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("tasksql serve did not start")
        time.sleep(0.1)


async def time_page(session: aiohttp.ClientSession, url: str, repeat: int) -> dict[str, Any]:
    times: list[float] = []
    size = status = 0
    for i in range(repeat + 2):
        began = time.perf_counter()
        async with session.get(url) as resp:
            body = await resp.read()
            status = resp.status
        took = (time.perf_counter() - began) * 1000
        size = len(body)
        if i >= 2:
            times.append(took)
    times.sort()
    return {
        "status": status,
        "bytes": size,
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
        "max_ms": round(times[-1], 1),
    }


def _next_cursor(html: str) -> str | None:
    marker = 'rel="next" href="'
    at = html.find(marker)
    if at < 0:
        return None
    href = html[at + len(marker) : html.index('"', at + len(marker))].replace("&amp;", "&")
    return urllib.parse.parse_qs(urllib.parse.urlsplit(href).query).get("cursor", [None])[0]


async def measure(url: str, tasks: int, repeat: int, day: datetime) -> list[dict[str, Any]]:
    big = urllib.parse.quote(f"tasksql.public.{BIG}")
    task = f"/task?name={big}"
    pages = {
        "tasks: first page": "/",
        "tasks: a late page": f"/?offset={max(0, tasks - 100)}",
        "tasks: search (one match)": f"/?q=t_{max(0, tasks - 7):05d}",
        "tasks: search (many)": "/?q=bench+task+1",
        "tasks: started only": "/?state=started",
        "task page: first page of history": task,
        "task page: history filtered by state": task + "&state=FAILED",
        "task page: errors only": task + "&errors=1",
        "task page: time range (an hour)": task
        + f"&since={day:%Y-%m-%dT%H:%M}&until={day + timedelta(hours=1):%Y-%m-%dT%H:%M}",
        "runs: every task": "/runs",
        "runs: one task": f"/runs?task={big}",
        "API: task history, 100 runs": f"/api/v1/tasks/{big}/runs?limit=100",
    }
    out = []
    async with aiohttp.ClientSession() as session:
        # a page deep in the history: follow the cursor 50 pages (5,000 runs) down
        async with session.get(url + task) as resp:
            html = await resp.text()
        deep = None
        for _ in range(50):
            cursor = _next_cursor(html)
            if cursor is None:
                break
            deep = cursor
            async with session.get(url + task + "&cursor=" + urllib.parse.quote(cursor)) as resp:
                html = await resp.text()
        if deep is not None:
            pages["task page: history page 51 (cursor)"] = task + "&cursor=" + urllib.parse.quote(deep)
        for name, path in pages.items():
            result = await time_page(session, url + path, repeat)
            out.append({"page": name, "path": path, **result})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        began = time.monotonic()
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        first = now - timedelta(hours=1) - STEP * args.runs
        asyncio.run(fill(data, args.tasks, args.runs, first))
        filled = time.monotonic() - began
        proc, url = start_server(data)
        try:
            results = asyncio.run(measure(url, args.tasks, args.repeat, first + (now - first) / 2))
        finally:
            proc.terminate()
            proc.wait(60)
    for r in results:
        print(json.dumps(r))
    worst = max(r["p50_ms"] for r in results)
    print(
        json.dumps(
            {
                "tasks": args.tasks + 1,
                "runs_of_big": args.runs,
                "fill_s": round(filled, 1),
                "worst_p50_ms": worst,
                "aim_ms": AIM_MS,
                "load_average": os.getloadavg(),
            }
        )
    )


if __name__ == "__main__":
    main()
