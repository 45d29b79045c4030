"""A private, throwaway ClickHouse server for tests.

:class:`ClickHouseServer` writes a configuration into a temporary directory (its data, logs, a user
``tasksql`` with a password, only 127.0.0.1) and starts ``clickhouse-server`` on it, with a free
loopback port for the native protocol and another for HTTP. Debian's ``clickhouse-server`` package
(18.16) is what the suite runs against (or, with ``TASKSQL_TEST_CLICKHOUSE_URL`` set, a server the
user runs: :class:`GivenClickHouse`); an official ``clickhouse`` binary (``clickhouse server``)
is used when Debian's is missing. The server runs as the user running the tests (root included).

Run this file to keep a server up by hand::

    python tests/clickhouseserver.py   # prints the URL; Ctrl-C or SIGTERM stops and removes it

:func:`find_binary` returns ``None`` when no server is installed (Debian: ``apt-get install
clickhouse-server``), so callers can skip with a clear reason.
"""

from __future__ import annotations

import atexit
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

#: Seconds the server may take to accept connections before start-up counts as failed.
START_TIMEOUT = 60.0


class ClickHouseServerError(RuntimeError):
    """The server could not be started; the message includes the error log's tail."""


def find_binary() -> list[str] | None:
    """The command that starts a server (without its options), or ``None`` when not installed."""
    for path in (shutil.which("clickhouse-server"), "/usr/sbin/clickhouse-server"):
        if path and Path(path).is_file():
            return [path]
    found = shutil.which("clickhouse")
    return [found, "server"] if found else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, kw_only=True)
class ClickHouseDatabase:
    """One database on a :class:`ClickHouseServer`; :attr:`url` names it over the native protocol
    or, with ``scheme`` ``http``, over the HTTP interface (``http_port``). :meth:`client` is native."""

    name: str
    host: str
    port: int
    user: str
    password: str
    http_port: int = 0
    scheme: str = "clickhouse"

    @property
    def url(self) -> str:
        """A ``clickhouse://user:password@host:port/db`` URL, or ``http://...:http_port/db``."""
        port = self.http_port if self.scheme == "http" else self.port
        return f"{self.scheme}://{self.user}:{self.password}@{self.host}:{port}/{self.name}"

    def client(self) -> Any:
        """A clickhouse-driver client on this database."""
        from clickhouse_driver import Client

        return Client(
            host=self.host, port=self.port, user=self.user, password=self.password, database=self.name
        )


_CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{base}/server.log</log><errorlog>{base}/error.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>{tcp}</tcp_port>
  <http_port>{http}</http_port>
  <path>{base}/data/</path>
  <tmp_path>{base}/tmp/</tmp_path>
  <user_files_path>{base}/user_files/</user_files_path>
  <format_schema_path>{base}/format_schemas/</format_schema_path>
  <users_config>{base}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <timezone>UTC</timezone>
</yandex>
"""

_USERS = """<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users>
    <{user}>
      <password>{password}</password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile><quota>default</quota>
    </{user}>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
  </interval></default></quotas>
</yandex>
"""


class ClickHouseServer:
    """A running private ClickHouse server; :meth:`stop` (or leaving the ``with`` block) removes it.

    :raises ClickHouseServerError: from :meth:`start` when start-up fails, or when no server binary
        is installed (use :func:`find_binary` first to skip instead).
    """

    host = "127.0.0.1"
    user = "tasksql"
    password = "s3cret-ch"

    def __init__(self, command: list[str] | None = None) -> None:
        found = command or find_binary()
        if found is None:
            raise ClickHouseServerError("no ClickHouse server binary (clickhouse-server) is installed")
        self.command = found
        self.base = Path(tempfile.mkdtemp(prefix="tasksql-clickhouse-"))
        self.port = 0
        self.http_port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def start(self) -> ClickHouseServer:
        """Start on free ports (retried when a port is taken meanwhile)."""
        for sub in ("data", "tmp", "user_files", "format_schemas"):
            (self.base / sub).mkdir(exist_ok=True)
        (self.base / "users.xml").write_text(
            _USERS.format(user=self.user, password=escape(self.password)), encoding="utf-8"
        )
        last: ClickHouseServerError | None = None
        for _ in range(3):
            self.port, self.http_port = free_port(), free_port()
            try:
                self._start_once()
            except ClickHouseServerError as exc:
                last = exc
                continue
            atexit.register(self.stop)
            return self
        raise last or ClickHouseServerError("could not start ClickHouse")

    def _start_once(self) -> None:
        config = self.base / "config.xml"
        config.write_text(
            _CONFIG.format(base=escape(str(self.base)), tcp=self.port, http=self.http_port), encoding="utf-8"
        )
        proc = subprocess.Popen(
            [*self.command, f"--config-file={config}"],
            cwd=self.base,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ClickHouseServerError(
                    f"clickhouse-server exited ({proc.returncode}):\n{self._log_tail()}"
                )
            try:
                self.run("SELECT 1")
            except Exception:  # not accepting connections yet
                time.sleep(0.05)
                continue
            self._proc = proc
            return
        proc.kill()
        proc.wait()
        raise ClickHouseServerError(
            f"clickhouse-server did not answer in {START_TIMEOUT:g} s\n{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        log = self.base / "error.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""

    def stop(self) -> None:
        """Kill the server and remove its directory. Idempotent."""
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> ClickHouseServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run(self, sql: str) -> list[tuple[Any, ...]]:
        """Run one statement as the tests' login; its rows."""
        from clickhouse_driver import Client

        client = Client(
            host=self.host, port=self.port, user=self.user, password=self.password, connect_timeout=2
        )
        try:
            return list(client.execute(sql))
        finally:
            client.disconnect()

    def new_database(self, name: str | None = None) -> ClickHouseDatabase:
        """CREATE DATABASE ``name`` (default: a fresh unique name) and return it."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self.run(f"CREATE DATABASE `{name}`")
        return ClickHouseDatabase(
            name=name,
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            http_port=self.http_port,
        )

    def drop_database(self, name: str) -> None:
        self.run(f"DROP DATABASE IF EXISTS `{name}`")


#: A ClickHouse server of the user's to test against instead of a private one:
#: ``clickhouse://user:password@host:9000/database`` (the database is not used; each test gets a
#: fresh ``t_...`` database, dropped afterwards).
URL_VAR = "TASKSQL_TEST_CLICKHOUSE_URL"


class GivenClickHouse:
    """A ClickHouse server the user runs (named by :data:`URL_VAR`), with the same test interface as
    :class:`ClickHouseServer`; nothing is started or stopped."""

    def __init__(self, url: str) -> None:
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(url)
        if parts.scheme not in ("clickhouse", "clickhouses") or not parts.hostname:
            raise ClickHouseServerError(
                f"{URL_VAR} must be clickhouse://user:password@host:9000/database (the native port)"
            )
        self.host = parts.hostname
        self.port = parts.port or 9000
        self.user = unquote(parts.username or "default")
        self.password = unquote(parts.password or "")
        self.http_port = 0  # unknown: the tests over HTTP are skipped

    run = ClickHouseServer.run
    new_database = ClickHouseServer.new_database
    drop_database = ClickHouseServer.drop_database


def main() -> None:
    server = ClickHouseServer().start()
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
