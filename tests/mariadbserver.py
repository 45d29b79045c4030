"""A private, throwaway MariaDB server for tests.

:class:`MariaDBServer` runs ``mariadb-install-db`` into a temporary directory and starts ``mariadbd``
on it, listening on a free loopback port and on a socket of its own (``fsync`` off, a small buffer
pool: the data is disposable). ``mariadbd`` refuses to run as root unless told which user to be, so
as root the directory is handed to the ``mysql`` user of Debian's package and the server runs with
``--user=mysql``.

The server is set up through its socket as ``root`` (no password, the socket's owner), which then
creates the login the tests use over TCP: :attr:`MariaDBServer.user` with :attr:`password`, allowed
everything. Run this file to keep a server up by hand::

    python tests/mariadbserver.py   # prints the URL; Ctrl-C or SIGTERM stops and removes it

:func:`find_binaries` returns ``None`` when the server is not installed (Debian: ``apt-get install
mariadb-server``), so callers can skip with a clear reason.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql

#: Seconds the server may take to accept connections before start-up counts as failed.
START_TIMEOUT = 60.0


class MariaDBServerError(RuntimeError):
    """The server could not be set up or started; the message includes the error log's tail."""


@dataclass(frozen=True)
class Binaries:
    install_db: Path
    server: Path


def find_binaries() -> Binaries | None:
    """``mariadb-install-db`` and ``mariadbd`` (or ``mysqld``), or ``None`` when not installed."""
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    server = next(
        (
            p
            for p in (
                shutil.which("mariadbd"),
                "/usr/sbin/mariadbd",
                "/usr/sbin/mysqld",
            )
            if p and Path(p).is_file()
        ),
        None,
    )
    if install is None or server is None:
        return None
    return Binaries(Path(install), Path(server))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, kw_only=True)
class MariaDBDatabase:
    """One database on a :class:`MariaDBServer`, reached over TCP with a password."""

    name: str
    host: str
    port: int
    user: str
    password: str

    @property
    def url(self) -> str:
        """A ``mysql://user:password@host:port/db`` URL."""
        return f"mysql://{self.user}:{self.password}@{self.host}:{self.port}/{self.name}"

    def connect(self, **kwargs: Any) -> pymysql.Connection[Any]:
        """A PyMySQL connection to this database (autocommit)."""
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=self.name,
            autocommit=True,
            **kwargs,
        )


class MariaDBServer:
    """A running private MariaDB server; :meth:`stop` (or leaving the ``with`` block) removes it.

    :raises MariaDBServerError: from :meth:`start` when set-up or start-up fails, or when the binaries
        are missing (use :func:`find_binaries` first to skip instead).
    """

    host = "127.0.0.1"
    user = "tasksql"
    password = "s3cret-pw"

    def __init__(self, binaries: Binaries | None = None) -> None:
        found = binaries or find_binaries()
        if found is None:
            raise MariaDBServerError(
                "MariaDB server binaries (mariadb-install-db, mariadbd) are not installed"
            )
        self.binaries = found
        self.base = Path(tempfile.mkdtemp(prefix="tasksql-mariadb-"))
        self.data = self.base / "data"
        self.socket = self.base / "mysqld.sock"
        self.log = self.base / "error.log"
        self.port = 0
        self._user_args: list[str] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    # --- life cycle ------------------------------------------------------------------------------

    def start(self) -> MariaDBServer:
        """Install the system tables, then start on a free port (retried when the port is taken)."""
        if os.geteuid() == 0:
            # mariadbd will not run as root without --user: run it as Debian's mysql user.
            shutil.chown(self.base, "mysql", "mysql")
            self._user_args = ["--user=mysql"]
        done = subprocess.run(
            [
                str(self.binaries.install_db),
                "--no-defaults",
                f"--datadir={self.data}",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
                "--skip-name-resolve",
                *self._user_args,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise MariaDBServerError(f"mariadb-install-db failed ({done.returncode}): {done.stderr.strip()}")
        last: MariaDBServerError | None = None
        for _ in range(3):
            self.port = free_port()
            try:
                self._start_once()
            except MariaDBServerError as exc:
                last = exc
                continue
            atexit.register(self.stop)
            self._create_login()
            return self
        raise last or MariaDBServerError("could not start MariaDB")

    def _start_once(self) -> None:
        cmd = [
            str(self.binaries.server),
            "--no-defaults",
            f"--datadir={self.data}",
            f"--socket={self.socket}",
            f"--port={self.port}",
            f"--bind-address={self.host}",
            f"--pid-file={self.base / 'mysqld.pid'}",
            f"--log-error={self.log}",
            "--skip-name-resolve",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=32M",
            "--innodb-log-file-size=16M",
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-doublewrite=0",
            "--max-connections=300",
            "--character-set-server=utf8mb4",
            *self._user_args,
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise MariaDBServerError(f"mariadbd exited ({proc.returncode}):\n{self._log_tail()}")
            try:
                self._root().close()
            except pymysql.err.OperationalError:
                time.sleep(0.05)  # not accepting connections yet
                continue
            self._proc = proc
            return
        proc.kill()
        proc.wait()
        raise MariaDBServerError(
            f"mariadbd did not accept connections in {START_TIMEOUT:g} s\n{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""

    def _root(self) -> pymysql.Connection[Any]:
        """root over the server's socket (authenticated as the socket's owner)."""
        return pymysql.connect(unix_socket=str(self.socket), user="root", autocommit=True, connect_timeout=5)

    def _create_login(self) -> None:
        with contextlib.closing(self._root()) as conn, conn.cursor() as cur:
            for host in ("127.0.0.1", "localhost"):
                cur.execute(f"CREATE USER '{self.user}'@'{host}' IDENTIFIED BY '{self.password}'")
                cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{self.user}'@'{host}' WITH GRANT OPTION")

    def stop(self) -> None:
        """Kill the server and remove its directory. Idempotent."""
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> MariaDBServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- logins and databases --------------------------------------------------------------------

    def admin(self) -> pymysql.Connection[Any]:
        """A connection as the tests' login, with no default database (autocommit)."""
        return pymysql.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, autocommit=True
        )

    def run(self, *statements: str) -> None:
        """Run ``statements`` as the tests' login (CREATE USER, GRANT, ...)."""
        with contextlib.closing(self.admin()) as conn, conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)

    def new_database(self, name: str | None = None) -> MariaDBDatabase:
        """CREATE DATABASE ``name`` (default: a fresh unique name) and return it."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self.run(f"CREATE DATABASE `{name}`")
        return MariaDBDatabase(
            name=name, host=self.host, port=self.port, user=self.user, password=self.password
        )

    def drop_database(self, name: str) -> None:
        self.run(f"DROP DATABASE IF EXISTS `{name}`")

    @contextlib.contextmanager
    def database(self) -> Iterator[MariaDBDatabase]:
        """A new database for the duration of the block, dropped afterwards."""
        db = self.new_database()
        try:
            yield db
        finally:
            self.drop_database(db.name)


def main() -> None:
    server = MariaDBServer().start()
    print(server.new_database("tasksql").url, flush=True)
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
