"""A private, throwaway PostgreSQL server for tests.

:class:`PgServer` runs ``initdb`` and ``pg_ctl`` from the distribution's server binaries into a
temporary directory and starts a cluster on a free loopback port (trust authentication, ``fsync``
off: the data is disposable). ``initdb`` and ``pg_ctl`` refuse to run as root, so as root they run
through ``runuser -u postgres --`` and the directory is handed to that user.

The server listens on TCP ``127.0.0.1``, so other processes (cluster tests, a second tasksql node)
can use it through :attr:`PgServer.url`. Run this file to keep a server up by hand::

    python tests/pgserver.py        # prints the URL; Ctrl-C or SIGTERM stops and removes it

Binaries are found through ``$PG_BIN``, then ``pg_config --bindir``, then
``/usr/lib/postgresql/*/bin`` (highest version first). :func:`find_bindir` returns ``None`` when
there are none, so callers can skip with a clear reason.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

#: Seconds ``pg_ctl start`` may take before start-up counts as failed.
START_TIMEOUT = 60


class PgServerError(RuntimeError):
    """The server could not be set up or started; the message includes the server log's tail."""


def find_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``, or ``None`` when the server is not installed."""
    candidates: list[str] = []
    if os.environ.get("PG_BIN"):
        candidates.append(os.environ["PG_BIN"])
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(out.stdout.strip())

    def version(path: str) -> tuple[int, ...]:
        part = Path(path).parent.name
        return tuple(int(x) for x in part.split(".") if x.isdigit())

    candidates.extend(sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True))
    for c in candidates:
        if c and (Path(c) / "initdb").is_file() and (Path(c) / "pg_ctl").is_file():
            return Path(c)
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, kw_only=True)
class PgDatabase:
    """One database on a :class:`PgServer`."""

    name: str
    host: str
    port: int
    user: str

    @property
    def dsn(self) -> str:
        """A libpq key/value connection string."""
        return f"host={self.host} port={self.port} user={self.user} dbname={self.name}"

    @property
    def url(self) -> str:
        """A ``postgresql://`` URL (no password: the test server trusts loopback connections)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.name}"


class PgServer:
    """A running private PostgreSQL cluster; :meth:`stop` (or leaving the ``with`` block) removes it.

    :raises PgServerError: from :meth:`start` when ``initdb`` or ``pg_ctl`` fails, or when the
        binaries are missing (use :func:`find_bindir` first to skip instead).
    """

    user = "postgres"
    host = "127.0.0.1"

    def __init__(self, bindir: Path | None = None) -> None:
        found = bindir or find_bindir()
        if found is None:
            raise PgServerError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.bindir = found
        self.base = Path(tempfile.mkdtemp(prefix="tasksql-pg-"))
        self.data = self.base / "data"
        self.port = 0
        self._prefix: list[str] = []
        self._running = False
        self._lock = threading.Lock()

    # --- life cycle ------------------------------------------------------------------------------

    def start(self) -> PgServer:
        """initdb, then start on a free port (retried when another process takes the port first)."""
        if os.geteuid() == 0:
            # initdb and pg_ctl refuse to run as root: run them as the postgres user instead.
            shutil.chown(self.base, "postgres", "postgres")
            self._prefix = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "--no-sync", "-E", "UTF8")
        last: PgServerError | None = None
        for _ in range(3):
            self.port = free_port()
            try:
                self._start_once()
            except PgServerError as exc:
                last = exc
                continue
            self._running = True
            atexit.register(self.stop)
            return self
        raise last or PgServerError("could not start PostgreSQL")

    def _start_once(self, action: str = "start", mode: str = "fast") -> None:
        opts = " ".join(
            [
                f"-p {self.port}",
                f"-c listen_addresses={self.host}",
                f"-c unix_socket_directories={self.base}",
                "-c fsync=off",
                "-c full_page_writes=off",
                "-c synchronous_commit=off",
                "-c max_connections=200",
            ]
        )
        log = self.base / "server.log"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-m",
            mode,
            "-o",
            opts,
            "-l",
            str(log),
            "-w",
            "-t",
            str(START_TIMEOUT),
            action,
        )

    # --- outages (tests of what happens while the server is away) --------------------------------

    def restart(self, mode: str = "fast") -> None:
        """``pg_ctl restart -m MODE``: every connection is dropped; same port, same data."""
        self._start_once("restart", mode)

    def halt(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m MODE``, keeping the data: :meth:`resume` starts it again."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def resume(self) -> None:
        """Start the server stopped by :meth:`halt`, on the same port."""
        self._start_once()

    def stop(self) -> None:
        """Stop the server at once (``-m immediate``) and remove its directory. Idempotent."""
        with self._lock:
            if self._running:
                self._running = False
                subprocess.run(
                    [
                        *self._prefix,
                        str(self.bindir / "pg_ctl"),
                        "-D",
                        str(self.data),
                        "-m",
                        "immediate",
                        "stop",
                    ],
                    capture_output=True,
                    check=False,
                )
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, tool: str, *args: str) -> None:
        cmd = [*self._prefix, str(self.bindir / tool), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.base / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PgServerError(f"{tool} failed ({done.returncode}): {done.stderr.strip()}\n{tail}".strip())

    # --- databases -------------------------------------------------------------------------------

    @property
    def admin(self) -> PgDatabase:
        """The ``postgres`` maintenance database."""
        return PgDatabase(name="postgres", host=self.host, port=self.port, user=self.user)

    @property
    def dsn(self) -> str:
        return self.admin.dsn

    @property
    def url(self) -> str:
        return self.admin.url

    def new_database(self, name: str | None = None) -> PgDatabase:
        """CREATE DATABASE ``name`` (default: a fresh unique name) and return it."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return PgDatabase(name=name, host=self.host, port=self.port, user=self.user)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE ... WITH (FORCE): connections still open to it are terminated."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    @contextlib.contextmanager
    def database(self) -> Iterator[PgDatabase]:
        """A new database for the duration of the block, dropped afterwards."""
        db = self.new_database()
        try:
            yield db
        finally:
            self.drop_database(db.name)


def main() -> None:
    server = PgServer().start()
    print(server.url, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
