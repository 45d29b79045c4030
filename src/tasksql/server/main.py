"""``tasksql serve``: the scheduler and the HTTP API in one asyncio process.

Start-up: take the data directory's lock (:mod:`tasksql.datadir`; a directory that another process
owns is refused, naming that process), bind the API's address (a taken port or a foreign address
is refused before anything else starts: no catalog opened, no node joined), open the engine
(catalog, embedded DuckDB file), start the scheduler (which settles runs left by a crashed
predecessor), serve the API on the bound sockets, then write ``<data>/server.json`` so that
``tasksql sql``, ``tasksql shell`` and ``tasksql.connect()`` send their statements here. The lock
is held until the process ends. SIGINT and SIGTERM stop it cleanly: no new runs, in-flight runs
get the grace period, the rest are cancelled and recorded CANCELLED, exit code 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import signal
import socket
import sys
from dataclasses import replace
from pathlib import Path

from aiohttp import web

from tasksql import __version__, datadir, logs
from tasksql.client import API_PREFIX, SERVER_FILE, catalog_identity, remove_stale_server_file
from tasksql.datadir import DirectoryLock
from tasksql.engine import Engine
from tasksql.errors import ConfigError, TasksqlError, WarehouseError
from tasksql.server import auth, runtime
from tasksql.server import web as web_ui
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
        self._lock: DirectoryLock | None = None
        self._sockets: list[socket.socket] = []
        self.url: str | None = None
        #: the API token made by this start (printed once; only its digest is kept), if any
        self.new_token: str | None = None

    async def start(self, *, demo: bool = False) -> None:
        """Own the data directory, bind the address, open the engine, start the scheduler, serve the
        API, write server.json.

        :raises DataDirBusy: another process owns the directory (named, with its pid and command).
        :raises ConfigError: the directory, the embedded DuckDB file or the address cannot be used.
        """
        data_dir = datadir.prepare(Path(self.settings.data_dir))
        # the lock comes first: nothing may open the catalog or the DuckDB file of a directory that
        # another process owns (a second server would fail every run on DuckDB's own file lock)
        self._lock = await datadir.acquire_async(data_dir, datadir.SERVER, on_wait=log.warning)
        try:
            remove_stale_server_file(data_dir)
            if auth.token_required(self.settings):  # off loopback: the first start makes the token
                self.new_token = auth.ensure_token(data_dir)
            self._sockets = self._bind()
            self._advertise()
            await self.engine.open()
            await self._open_warehouse()
            if demo:
                await self.engine.execute(DEMO_SQL)
            await self.engine.start_scheduler()
            app = create_app(self.engine)
            web_ui.add_routes(app, self.engine)  # the pages at / (docs/ui.md)
            self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await self._runner.setup()
            await self._listen()
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
            "data_dir": str(data_dir.resolve()),
            "catalog": catalog_identity(self.settings.catalog_url, self.settings.catalog_schema),
        }
        tmp = data_dir / (SERVER_FILE + ".tmp")
        tmp.write_text(json.dumps(info))
        tmp.replace(data_dir / SERVER_FILE)

    def _advertise(self) -> None:
        """Settle the address the other nodes of a cluster reach this API at (the ``node_address``
        setting, else ``http://host:port`` as bound; for a wildcard host, the address this machine's
        name resolves to: the API accepts requests naming an address they arrived on), so that the
        node records it when it joins."""
        if self.settings.node_address is not None or not self._sockets:
            return
        port = int(self._sockets[0].getsockname()[1])
        host = self.settings.host
        if host in ("", "0.0.0.0", "::"):
            try:
                host = socket.gethostbyname(socket.gethostname())
            except OSError:
                host = socket.gethostname()
        if ":" in host:
            host = f"[{host}]"
        self.settings = replace(self.settings, node_address=f"http://{host}:{port}")
        self.engine.settings = self.settings

    async def _open_warehouse(self) -> None:
        """Open the embedded DuckDB file now: held by another program, it must stop the start-up,
        not fail every run that uses the default warehouse."""
        try:
            await self.engine.warehouses.duckdb.open()
        except WarehouseError as err:
            raise ConfigError(f"{err.message}; close the program that holds it, then start again") from None

    def _bind(self) -> list[socket.socket]:
        """Sockets bound to the API's address and listening (one per address the host name has, as
        asyncio's own server binds them); connections wait in their backlog until :meth:`_listen`.

        :raises ConfigError: the port is taken (``PORT_IN_USE``) or the address cannot be used
            (``CANNOT_LISTEN``); no socket is left open.
        """
        host, port = self.settings.host, self.settings.port
        bound: list[socket.socket] = []
        try:
            infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
            seen: set[tuple[int, object]] = set()
            for family, kind, proto, _, address in infos:
                if (family, address) in seen:
                    continue
                seen.add((family, address))
                sock = socket.socket(family, kind, proto)
                bound.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
                sock.listen(128)
                sock.setblocking(False)
        except OSError as exc:
            for sock in bound:
                sock.close()
            raise self._cannot_listen(exc) from None
        return bound

    async def _listen(self) -> None:
        """Serve the API on the sockets :meth:`_bind` made."""
        assert self._runner is not None
        sockets, self._sockets = self._sockets, []
        for sock in sockets:
            await web.SockSite(self._runner, sock, shutdown_timeout=2.0).start()

    def _cannot_listen(self, exc: OSError) -> ConfigError:
        """The one-line error of an address that cannot be bound."""
        host, port = self.settings.host, self.settings.port
        if exc.errno == errno.EADDRINUSE:
            return ConfigError(
                f"port {port} on {host} is already in use; stop what listens there, or pick another"
                " port with --port PORT or TASKSQL_PORT (0 = any free port)",
                code="PORT_IN_USE",
            )
        reason = exc.strerror or str(exc)
        return ConfigError(
            f"cannot listen on {host}:{port}: {reason}; check --host and --port"
            " (or TASKSQL_HOST and TASKSQL_PORT)",
            code="CANNOT_LISTEN",
        )

    def _bound_port(self) -> int:
        assert self._runner is not None
        for site in self._runner.sites:
            server = getattr(site, "_server", None)
            if server is not None and server.sockets:
                return int(server.sockets[0].getsockname()[1])
        return self.settings.port

    async def stop(self) -> None:
        """Stop listening, stop the engine (in-flight runs get the grace period), give up the lock."""
        try:
            with contextlib.suppress(OSError, ValueError):
                path = Path(self.settings.data_dir) / SERVER_FILE
                info = json.loads(path.read_text())
                if info.get("pid") == os.getpid():
                    path.unlink()
            for sock in self._sockets:  # bound, never served: start-up failed before it listened
                sock.close()
            self._sockets = []
            if self._runner is not None:
                await self._runner.cleanup()
                self._runner = None
            await self.engine.close()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None


def _configure_logging(level: str) -> None:
    logs.configure(level, sys.stderr)  # one line per record: control characters escaped


async def _serve(settings: Settings, demo: bool) -> int:
    server = Server(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runtime.tune_interpreter(settings)  # this process is the server's own: see server/runtime.py
    if not await _start_unless_stopped(server, stop, demo):
        return 0
    runtime.freeze_startup_heap(settings)
    log.info(
        "tasksql %s serving %s at %s (node %s)",
        __version__,
        settings.data_dir,
        server.url,
        settings.effective_node_id,
    )
    api = f"{server.url}{API_PREFIX}"
    print(
        f"tasksql {__version__}: web UI at {server.url}/, HTTP API at {api}"
        f"  (data: {settings.data_dir}; Ctrl-C stops)",
        flush=True,
    )
    if server.new_token is not None:
        print(
            f"API token (shown once; send it as Authorization: Bearer, or log in at {server.url}/login;"
            f" `tasksql token new` replaces it): {server.new_token}",
            flush=True,
        )
    elif auth.token_required(settings):
        print("every route needs the API token (`tasksql token new` makes a new one)", flush=True)
    try:
        await stop.wait()
    finally:
        log.info("stopping: in-flight runs get %.0f s", settings.grace_period_s)
        await server.stop()
        runtime.unfreeze()
    log.info("stopped")
    return 0


async def _start_unless_stopped(server: Server, stop: asyncio.Event, demo: bool) -> bool:
    """Start ``server``; a signal during start-up (which may wait for the directory) abandons it."""
    starting = asyncio.ensure_future(server.start(demo=demo))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait((starting, stopping), return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if starting.done():
        starting.result()  # raises what start-up raised
        return True
    starting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await starting
    return False


def serve_forever(settings: Settings, *, demo: bool = False) -> int:
    """Run until SIGINT/SIGTERM; return the process exit code."""
    _configure_logging(settings.log_level)
    try:
        return asyncio.run(_serve(settings, demo))
    except TasksqlError:
        raise
