"""``tasksql serve``: the scheduler and the HTTP API in one asyncio process.

Start-up: open the engine (catalog, warehouses), start the scheduler (which settles runs left by a
crashed predecessor), bind the API, then write ``<data>/server.json`` so that ``tasksql sql`` and
``tasksql shell`` send their statements here. SIGINT and SIGTERM stop it cleanly: no new runs,
in-flight runs get the grace period, the rest are cancelled and recorded CANCELLED, exit code 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path

from aiohttp import web

from tasksql import __version__, logs, runtime
from tasksql.client import SERVER_FILE, find_server
from tasksql.engine import Engine
from tasksql.errors import ConfigError, TasksqlError
from tasksql.server.api import create_app
from tasksql.settings import Settings

log = logging.getLogger("tasksql.server")

DEMO_SQL = """
CREATE STREAM IF NOT EXISTS demo_ticks (task string, note string);
CREATE TASK IF NOT EXISTS demo_tick
  SCHEDULE 2s
  TIMEOUT 1s
  INTO demo_ticks
  AS SELECT 'demo_tick' AS task, 'node ' || node_id || ' is ' || node_state AS note FROM system.cluster;
"""


class Server:
    """A running server: engine + scheduler + HTTP site. Use :meth:`start` / :meth:`stop`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = Engine(settings)
        self._runner: web.AppRunner | None = None
        self.url: str | None = None

    async def start(self, *, demo: bool = False) -> None:
        data_dir = Path(self.settings.data_dir)
        existing = find_server(data_dir)
        if existing is not None:
            raise ConfigError(
                f"a tasksql server (pid {existing.pid}) already serves {data_dir} at {existing.url}"
            )
        await self.engine.open()
        try:
            if demo:
                await self.engine.execute(DEMO_SQL)
            await self.engine.start_scheduler()
            self._runner = web.AppRunner(create_app(self.engine), access_log=None, handle_signals=False)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.settings.host, self.settings.port, shutdown_timeout=2.0)
            await site.start()
        except BaseException:
            await self.stop()
            raise
        port = self._bound_port()
        self.url = f"http://{self.settings.host}:{port}"
        info = {
            "url": self.url,
            "pid": os.getpid(),
            "node_id": self.settings.effective_node_id,
            "version": __version__,
        }
        tmp = data_dir / (SERVER_FILE + ".tmp")
        tmp.write_text(json.dumps(info))
        tmp.replace(data_dir / SERVER_FILE)

    def _bound_port(self) -> int:
        assert self._runner is not None
        for site in self._runner.sites:
            server = getattr(site, "_server", None)
            if server is not None and server.sockets:
                return int(server.sockets[0].getsockname()[1])
        return self.settings.port

    async def stop(self) -> None:
        with contextlib.suppress(OSError):
            path = Path(self.settings.data_dir) / SERVER_FILE
            info = json.loads(path.read_text())
            if info.get("pid") == os.getpid():
                path.unlink()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.engine.close()


def _configure_logging(level: str) -> None:
    logs.configure(level, sys.stderr)  # one line per record: control characters escaped


async def _serve(settings: Settings, demo: bool) -> int:
    server = Server(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runtime.tune_interpreter(settings)  # this process is the server's own: see tasksql.runtime
    await server.start(demo=demo)
    runtime.freeze_startup_heap(settings)
    log.info(
        "tasksql %s serving %s at %s (node %s)",
        __version__,
        settings.data_dir,
        server.url,
        settings.effective_node_id,
    )
    print(
        f"tasksql {__version__}: API and web UI at {server.url}  (data: {settings.data_dir}; Ctrl-C stops)",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        log.info("stopping: in-flight runs get %.0f s", settings.grace_period_s)
        await server.stop()
        runtime.unfreeze()
    log.info("stopped")
    return 0


def serve_forever(settings: Settings, *, demo: bool = False) -> int:
    """Run until SIGINT/SIGTERM; return the process exit code."""
    _configure_logging(settings.log_level)
    try:
        return asyncio.run(_serve(settings, demo))
    except TasksqlError:
        raise
