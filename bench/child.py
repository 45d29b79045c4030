"""Entry point of the child processes that run in-process schedulers (tasksql, APScheduler).

    python -m bench.child <peer> <workload> '<json keyword arguments>'

Each measurement of an in-process scheduler runs in a fresh interpreter, so that memory figures
start from a clean process and one run's threads or caches cannot slow the next. The result is
printed as one JSON line prefixed with :data:`MARKER`; anything else on stdout is ignored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import bench  # noqa: F401  (puts bench/ on sys.path for stats and tasksql_bench)
from bench.variants import BY_NAME, Variant

MARKER = "BENCH-RESULT "


def _tasksql(workload: str, kwargs: dict[str, Any], variant: Variant) -> Awaitable[Any]:
    """The variant's workload; the harness passes a PostgreSQL catalog's URL as ``catalog_url``."""
    from bench.peers import tasksql_side

    if workload in ("steady", "burst", "ramp"):
        if variant.warehouse != "duckdb":
            kwargs = {**kwargs, "warehouse": variant.warehouse}
        if not variant.completion_markers:
            kwargs = {**kwargs, "completion_markers": False}
    calls: dict[str, Callable[..., Awaitable[Any]]] = {
        "steady": tasksql_side.steady,
        "burst": tasksql_side.burst,
        "ramp": tasksql_side.ramp,
        "scale": tasksql_side.scale,
        "scale_create": tasksql_side.scale_create,
        "timeout": tasksql_side.timeout,
        "graphs": tasksql_side.graphs,
    }
    return calls[workload](**kwargs)


def _apscheduler(kind: str, workload: str, kwargs: dict[str, Any]) -> Awaitable[Any]:
    from bench.peers import aps

    # A job cancelled by shutdown at the end of a window is logged with a traceback: not a result.
    logging.getLogger("apscheduler").setLevel(logging.CRITICAL)
    if workload == "steady":
        return aps.periodic(kind, burst=False, **kwargs)
    if workload == "burst":
        return aps.periodic(kind, burst=True, **kwargs)
    if workload == "ramp":
        return aps.ramp(kind, **kwargs)
    if workload == "scale":
        return aps.scale(kind, **kwargs)
    raise SystemExit(f"unknown workload {workload!r}")


def main(argv: list[str]) -> int:
    peer, workload, raw = argv
    kwargs = json.loads(raw)
    if peer in BY_NAME:
        coro = _tasksql(workload, kwargs, BY_NAME[peer])
    elif peer.startswith("apscheduler-"):
        coro = _apscheduler(peer.removeprefix("apscheduler-"), workload, kwargs)
    else:
        raise SystemExit(f"unknown peer {peer!r}")
    result = asyncio.run(_cancellable(coro))
    print(MARKER + json.dumps(result, default=str), flush=True)
    return 0


async def _cancellable(coro: Awaitable[Any]) -> Any:
    """Await ``coro``; SIGTERM or SIGINT cancel it, so that its ``finally`` blocks clean up."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    return await coro


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
