"""Fixtures shared by the whole test suite.

``pg_server`` starts one private PostgreSQL server per test session (see ``tests/pgserver.py``);
``pg_database`` gives each test its own database on it, dropped afterwards. Tests that use them
are skipped, with the reason, only when the PostgreSQL server binaries are not installed.
``mariadb_server`` and ``mariadb_database`` do the same with a private MariaDB server
(``tests/mariadbserver.py``), ``ch_server`` and ``ch_database`` with a private ClickHouse server
(``tests/clickhouseserver.py``), or with the user's server when ``TASKSQL_TEST_CLICKHOUSE_URL`` is
set.

``--catalog=postgres`` (or ``TASKSQL_TEST_CATALOG=postgres``) puts the catalog of every engine,
connection and ``tasksql`` process a test makes in a fresh schema on that server (see
``tests/catalog_choice.py``); tests marked ``sqlite_catalog`` are then skipped with their reason.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator

import pytest

from catalog_choice import BACKENDS, CATALOG_VARS
from clickhouseserver import URL_VAR as CH_URL_VAR
from clickhouseserver import ClickHouseDatabase, ClickHouseServer, GivenClickHouse, find_binary
from mariadbserver import MariaDBDatabase, MariaDBServer, find_binaries
from pgserver import PgDatabase, PgServer, find_bindir


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--catalog",
        choices=BACKENDS,
        default=os.environ.get("TASKSQL_TEST_CATALOG", "sqlite"),
        help="catalog of the tests' engines: the SQLite file of each data directory (default) or a"
        " fresh schema per test on a private PostgreSQL server (env TASKSQL_TEST_CATALOG)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sqlite_catalog(reason): the test is about the SQLite catalog file; skipped with --catalog=postgres",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("catalog") != "postgres":
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_catalog")
        if marker is not None:
            reason = marker.args[0] if marker.args else "the test is about the SQLite catalog file"
            item.add_marker(pytest.mark.skip(reason=f"SQLite catalog only: {reason}"))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A running private PostgreSQL server (``.url``, ``.dsn``, ``.new_database()``)."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) are not installed; set PG_BIN or install them"
        )
    with PgServer(bindir) as server:
        yield server


@pytest.fixture
def pg_database(pg_server: PgServer) -> Iterator[PgDatabase]:
    """A fresh, empty database on the session's server (``.url``, ``.dsn``), dropped after the test."""
    with pg_server.database() as db:
        yield db


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    """A running private MariaDB server (``.new_database()``, ``.run(sql)``)."""
    binaries = find_binaries()
    if binaries is None:
        pytest.skip(
            "MariaDB server binaries (mariadb-install-db, mariadbd) are not installed; apt-get install mariadb-server"
        )
    with MariaDBServer(binaries) as server:
        yield server


@pytest.fixture
def mariadb_database(mariadb_server: MariaDBServer) -> Iterator[MariaDBDatabase]:
    """A fresh, empty database on the session's MariaDB server (``.url`` with a password), dropped
    after the test."""
    with mariadb_server.database() as db:
        yield db


@pytest.fixture(scope="session")
def ch_server() -> Iterator[ClickHouseServer | GivenClickHouse]:
    """A running private ClickHouse server (``.new_database()``, ``.run(sql)``), or the server named by
    ``TASKSQL_TEST_CLICKHOUSE_URL`` when that is set (nothing is started then)."""
    given = os.environ.get(CH_URL_VAR)
    if given:
        yield GivenClickHouse(given)
        return
    if find_binary() is None:
        pytest.skip(
            f"no ClickHouse server is installed (apt-get install clickhouse-server) and {CH_URL_VAR} is not set"
        )
    with ClickHouseServer() as server:
        yield server


def _ch_database(server: ClickHouseServer | GivenClickHouse, scheme: str) -> Iterator[ClickHouseDatabase]:
    if scheme == "http" and not server.http_port:
        pytest.skip(f"the HTTP port of the server named by {CH_URL_VAR} is not known")
    db = dataclasses.replace(server.new_database(), scheme=scheme)
    yield db
    server.drop_database(db.name)


@pytest.fixture(params=["clickhouse", "http"])
def ch_database(
    request: pytest.FixtureRequest, ch_server: ClickHouseServer | GivenClickHouse
) -> Iterator[ClickHouseDatabase]:
    """A fresh, empty database on the session's ClickHouse server (``.url`` with a password, over
    the native protocol and over HTTP: each test runs once per transport), dropped after the test."""
    yield from _ch_database(ch_server, str(request.param))


@pytest.fixture
def ch_native_database(ch_server: ClickHouseServer | GivenClickHouse) -> Iterator[ClickHouseDatabase]:
    """As ``ch_database``, over the native protocol only (``clickhouse://``)."""
    yield from _ch_database(ch_server, "clickhouse")


@pytest.fixture
def ch_http_database(ch_server: ClickHouseServer | GivenClickHouse) -> Iterator[ClickHouseDatabase]:
    """As ``ch_database``, over the HTTP interface only (``http://``)."""
    yield from _ch_database(ch_server, "http")


@pytest.fixture(autouse=True)
def test_catalog(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """The catalog URL of the test's engines: ``None`` for the SQLite file of each data directory,
    else the session's PostgreSQL server, with ``TASKSQL_CATALOG`` and ``TASKSQL_CATALOG_SCHEMA`` (a
    fresh schema) set for the duration of the test."""
    for var in CATALOG_VARS:
        monkeypatch.delenv(var, raising=False)
    if request.config.getoption("catalog") != "postgres":
        return None
    server: PgServer = request.getfixturevalue("pg_server")
    monkeypatch.setenv("TASKSQL_CATALOG", server.url)
    monkeypatch.setenv("TASKSQL_CATALOG_SCHEMA", f"t_{uuid.uuid4().hex[:12]}")
    return server.url
