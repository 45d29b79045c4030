"""Private database servers for the peers: PostgreSQL with pg_cron, MariaDB with its event scheduler.

Each server gets its own data directory under a new temporary directory, listens on a free
non-standard loopback port (and a socket inside that directory), and never touches the system's
services or their data. :meth:`stop` stops the server and removes the directory; it is idempotent
and registered with :mod:`atexit`, and the harness also calls it from ``finally`` blocks so that
Ctrl-C and SIGTERM leave nothing behind.

The PostgreSQL side reuses ``tests/pgserver.py`` (initdb and pg_ctl as the ``postgres`` OS user
when running as root, since the server refuses root).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import REPO_DIR


class ServerError(RuntimeError):
    """A private server could not be set up or started; the message carries its log's tail."""


def _load_pgserver() -> ModuleType:
    if "pgserver" in sys.modules:
        return sys.modules["pgserver"]
    # tests/ is not a package and must not go on sys.path (its sub-packages would shadow names),
    # so the one module needed from it is loaded by path.
    spec = importlib.util.spec_from_file_location("pgserver", REPO_DIR / "tests" / "pgserver.py")
    if spec is None or spec.loader is None:
        raise ServerError("tests/pgserver.py not found")
    module = importlib.util.module_from_spec(spec)
    sys.modules["pgserver"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


pgserver = _load_pgserver()


class PgServer(pgserver.PgServer):  # type: ignore[misc,name-defined]
    """A private PostgreSQL cluster with extra server settings (``-c name=value`` at start-up).

    :raises ServerError: from :meth:`start` or :meth:`restart` when the server does not come up.
    """

    def __init__(self, settings: Mapping[str, str] | None = None, *, durable: bool = False) -> None:
        super().__init__()
        self.settings = dict(settings or {})
        #: Keep PostgreSQL's defaults for durability (fsync, full_page_writes, synchronous_commit
        #: on) instead of turning them off as the peers' throwaway servers do.
        self.durable = durable

    def start(self) -> PgServer:
        try:
            super().start()
        except pgserver.PgServerError as exc:
            self.stop()
            raise ServerError(str(exc)) from None
        return self

    def _start_once(self) -> None:
        # Same options as tests/pgserver.py, plus this server's settings.
        opts = [
            f"-p {self.port}",
            f"-c listen_addresses={self.host}",
            f"-c unix_socket_directories={self.base}",
            "-c max_connections=200",
        ]
        if not self.durable:
            opts += ["-c fsync=off", "-c full_page_writes=off", "-c synchronous_commit=off"]
        opts.extend(f"-c {name}={value}" for name, value in self.settings.items())
        log = self.base / "server.log"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", " ".join(opts), "-l", str(log), "-w", "-t", "60", "start"
        )

    def restart(self) -> float:
        """Stop (fast) and start again on the same port; returns the seconds until it accepted connections."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        t0 = time.perf_counter()
        try:
            self._start_once()
        except pgserver.PgServerError as exc:
            raise ServerError(str(exc)) from None
        return time.perf_counter() - t0

    def backend_pids(self, backend_type: str) -> list[int]:
        """PIDs of this cluster's processes of one ``pg_stat_activity.backend_type``."""
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE backend_type = %s", (backend_type,)
            ).fetchall()
        return [int(r[0]) for r in rows]


class CatalogServer:
    """The private PostgreSQL server that holds the catalogs of the PostgreSQL-catalog variants of
    tasksql: started on first use, shared by every such variant of a run (each measurement makes
    its own schema in it), durable like a user's server. :meth:`stop` is idempotent.

    :raises ServerError: from :attr:`url` when the server does not come up.
    """

    def __init__(self) -> None:
        self._server: PgServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """``postgresql://postgres@127.0.0.1:<port>/postgres``, starting the server if needed."""
        with self._lock:
            if self._server is None:
                self._server = PgServer(durable=True).start()
            return str(self._server.url)

    def version(self) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return f"PostgreSQL {row[0] if row else '?'}"

    def stop(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.stop()


def pgcron_settings(
    *, background_workers: bool, max_running_jobs: int, base: str | None = None
) -> dict[str, str]:
    """Server settings for pg_cron (see docs/benchmarks.md for why each is set)."""
    settings = {
        "shared_preload_libraries": "pg_cron",
        "cron.database_name": "postgres",
        "cron.use_background_workers": "on" if background_workers else "off",
        "cron.max_running_jobs": str(max_running_jobs),
        "cron.log_run": "off",
        "cron.log_statement": "off",
        "cron.log_min_messages": "error",
        # pg_cron caps max_running_jobs at max_connections (libpq mode) or max_worker_processes - 1.
        "max_connections": str(max_running_jobs + 50),
        "max_worker_processes": str(max_running_jobs + 8 if background_workers else 8),
    }
    if base is not None:
        settings["cron.host"] = base
    return settings


class MariaDBServer:
    """A private MariaDB server: ``mariadb-install-db`` into a temp dir, ``mariadbd`` on a free port.

    The server runs as the ``mysql`` OS user (``--user=mysql``, the directory is handed to it);
    root connects over the socket without a password. :meth:`stop` shuts it down (SIGTERM, then
    SIGKILL after 20 s) and removes the directory.

    :raises ServerError: from :meth:`start` when the binaries are missing or the server does not come up.
    """

    def __init__(self, settings: Mapping[str, str] | None = None) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="tasksql-mariadb-"))
        self.data = self.base / "data"
        self.socket = self.base / "mariadb.sock"
        self.port = 0
        self.settings = dict(settings or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._user = "mysql" if os.geteuid() == 0 else ""

    @property
    def log(self) -> Path:
        return self.base / "error.log"

    def start(self) -> MariaDBServer:
        """Create the data directory and start the server; returns when it accepts connections."""
        installer = shutil.which("mariadb-install-db")
        daemon = shutil.which("mariadbd") or (
            "/usr/sbin/mariadbd" if Path("/usr/sbin/mariadbd").exists() else None
        )
        if installer is None or daemon is None:
            raise ServerError("MariaDB server binaries (mariadb-install-db, mariadbd) are not installed")
        self._daemon = daemon
        if self._user:
            shutil.chown(self.base, self._user, self._user)
        atexit.register(self.stop)
        user = [f"--user={self._user}"] if self._user else []
        done = subprocess.run(
            [installer, "--no-defaults", *user, f"--datadir={self.data}", "--skip-test-db",
             "--auth-root-authentication-method=normal"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            self.stop()
            raise ServerError(f"mariadb-install-db failed: {done.stderr.strip()[-1500:]}")
        self.port = pgserver.free_port()
        self.start_time = self._launch()
        return self

    def _launch(self) -> float:
        user = [f"--user={self._user}"] if self._user else []
        args = [
            self._daemon, "--no-defaults", *user, f"--datadir={self.data}", f"--socket={self.socket}",
            f"--port={self.port}", "--bind-address=127.0.0.1", f"--pid-file={self.base / 'mariadb.pid'}",
            f"--log-error={self.log}", "--skip-log-bin",
            *(f"--{k}={v}" for k, v in self.settings.items()),
        ]  # fmt: skip
        t0 = time.perf_counter()
        # Its own session: Ctrl-C in the terminal goes to the harness, which stops the server itself.
        self._proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServerError(f"mariadbd exited ({self._proc.returncode}): {self._log_tail()}")
            try:
                self.connect().close()
                return time.perf_counter() - t0
            except Exception:
                time.sleep(0.02)
        raise ServerError(f"mariadbd did not accept connections within 60 s: {self._log_tail()}")

    def restart(self) -> float:
        """Shut down and start again; returns the seconds until it accepted connections."""
        self._shutdown()
        return self._launch()

    def connect(self, database: str | None = None, **kwargs: Any) -> Any:
        """A PyMySQL connection as root over the socket (autocommit)."""
        import pymysql

        return pymysql.connect(
            unix_socket=str(self.socket), user="root", database=database, autocommit=True, **kwargs
        )

    @property
    def pid(self) -> int:
        return self._proc.pid if self._proc else 0

    def version(self) -> str:
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            return str(cur.fetchone()[0])

    def _shutdown(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop(self) -> None:
        """Stop the server and remove its directory. Idempotent."""
        with self._lock:
            self._shutdown()
            shutil.rmtree(self.base, ignore_errors=True)

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-1500:] if self.log.exists() else ""

    def __enter__(self) -> MariaDBServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
