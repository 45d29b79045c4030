"""Warehouse passwords given as ``PASSWORD = ENV 'VAR'`` or ``PASSWORD = FILE '/path'``, on the real
MariaDB and ClickHouse servers the tests start: the run logs in with them; the catalog holds the
variable's name or the file's path, never the password; no output shows it (SHOW WAREHOUSES,
``system.warehouses``, the HTTP API, logs, error messages); a missing variable or file, or a
wrong password, fails the run in one line; ``ALTER WAREHOUSE ... SET URL`` keeps where the password
is read from, and takes effect on a running scheduler without a restart; a stopped server fails
its tasks' runs without holding up another warehouse."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from clickhouseserver import ClickHouseDatabase
from mariadbserver import MariaDBDatabase, MariaDBServer
from pgserver import PgServer, find_bindir
from tasksql.engine import Engine
from tasksql.errors import RunFailed, TasksqlError
from tasksql.server.api import create_app
from tasksql.settings import Settings


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


def query(db: MariaDBDatabase, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(db.connect()) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


def bare_url(db: MariaDBDatabase) -> str:
    """The database's URL without its password."""
    return f"mysql://{db.user}@{db.host}:{db.port}/{db.name}"


def catalog_bytes(engine: Engine) -> bytes:
    """Every file of the data directory but the warehouse's (the catalog, its WAL, logs)."""
    out = b""
    for path in engine.data_dir.rglob("*"):
        if path.is_file() and not path.name.startswith("warehouse.duckdb"):
            out += path.read_bytes()
    return out


async def test_a_password_from_the_environment_logs_in_and_is_never_stored_or_shown(
    engine: Engine,
    mariadb_database: MariaDBDatabase,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("SHOP_PW", mariadb_database.password)
    query(mariadb_database, "CREATE TABLE orders (id INT)")
    await engine.execute(
        f"CREATE WAREHOUSE shop TYPE = mysql URL = '{bare_url(mariadb_database)}' PASSWORD = ENV 'SHOP_PW'"
    )
    await engine.execute("CREATE TASK fill WAREHOUSE = shop AS INSERT INTO orders VALUES (1)")
    await engine.execute("EXECUTE TASK fill")
    assert query(mariadb_database, "SELECT id FROM orders") == [(1,)]

    shown = (await engine.execute("SHOW WAREHOUSES LIKE 'shop'"))[-1].as_dicts()[0]["url"]
    assert shown == f"{bare_url(mariadb_database)}?password_env=SHOP_PW"
    seen = repr((await engine.execute("SELECT * FROM system.warehouses"))[-1].rows)
    async with TestClient(TestServer(create_app(engine))) as client:
        resp = await client.post(
            "/api/v1/sql", json={"sql": "SHOW WAREHOUSES; SELECT * FROM system.warehouses"}
        )
        api = await resp.text()
    assert resp.status == 200 and "password_env=SHOP_PW" in api
    for text in (seen, api, caplog.text):
        assert mariadb_database.password not in text
    assert mariadb_database.password.encode() not in catalog_bytes(engine)


async def test_a_password_from_a_file_logs_in(
    engine: Engine, mariadb_database: MariaDBDatabase, tmp_path: Path
) -> None:
    secret = tmp_path / "shop.pw"
    secret.write_text(mariadb_database.password + "\n")
    query(mariadb_database, "CREATE TABLE orders (id INT)")
    await engine.execute(
        f"CREATE WAREHOUSE shop TYPE = mariadb URL = '{bare_url(mariadb_database)}' PASSWORD = FILE '{secret}'"
    )
    await engine.execute("CREATE TASK fill WAREHOUSE = shop AS INSERT INTO orders VALUES (2)")
    await engine.execute("EXECUTE TASK fill")
    assert query(mariadb_database, "SELECT id FROM orders") == [(2,)]
    assert mariadb_database.password.encode() not in catalog_bytes(engine)


async def test_a_clickhouse_password_from_the_environment(
    engine: Engine, ch_database: ClickHouseDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVENTS_PW", ch_database.password)
    url = f"clickhouse://{ch_database.user}@{ch_database.host}:{ch_database.port}/{ch_database.name}"
    await engine.execute(
        f"CREATE WAREHOUSE events TYPE = clickhouse URL = '{url}' PASSWORD = ENV 'EVENTS_PW'"
    )
    rows = (await engine.execute("CREATE TASK t WAREHOUSE = events AS SELECT 1; EXECUTE TASK t"))[-1]
    assert rows.as_dicts()[0]["status"] == "Task t ran: SUCCEEDED."
    assert ch_database.password.encode() not in catalog_bytes(engine)


async def test_a_missing_variable_or_file_or_a_wrong_password_fails_the_run_in_one_line(
    engine: Engine, mariadb_database: MariaDBDatabase, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("NOT_SET_PW", raising=False)
    url = bare_url(mariadb_database)
    await engine.execute(f"CREATE WAREHOUSE a TYPE = mysql URL = '{url}' PASSWORD = ENV 'NOT_SET_PW'")
    await engine.execute(
        f"CREATE WAREHOUSE b TYPE = mysql URL = '{url}' PASSWORD = FILE '{tmp_path / 'none.pw'}'"
    )
    monkeypatch.setenv("WRONG_PW", "wr0ng-s3cret")
    await engine.execute(f"CREATE WAREHOUSE c TYPE = mysql URL = '{url}' PASSWORD = ENV 'WRONG_PW'")
    expected = {
        "a": "its password is read from the environment variable NOT_SET_PW, which is not set",
        "b": f"its password is read from the file {tmp_path / 'none.pw'}, which cannot be read",
        "c": f"cannot connect to mysql://{mariadb_database.user}:***@",
    }
    for name, text in expected.items():
        await engine.execute(f"CREATE TASK t_{name} WAREHOUSE = {name} AS SELECT 1")
        with pytest.raises(RunFailed) as info:
            await engine.execute(f"EXECUTE TASK t_{name}")
        message = info.value.message
        assert text in message and "\n" not in message and "wr0ng-s3cret" not in message, message


@pytest.mark.parametrize(
    ("statement", "error"),
    [
        ("CREATE WAREHOUSE w TYPE = mysql URL = 'mysql://u@h/db' PASSWORD = 'hunter2'", "PASSWORD takes ENV"),
        (
            "CREATE WAREHOUSE w TYPE = sqlite URL = 'sqlite:w.db' PASSWORD = ENV 'X'",
            "TYPE = sqlite has no password",
        ),
        ("CREATE WAREHOUSE w TYPE = mysql PASSWORD = ENV 'X'", "PASSWORD needs a URL"),
        (
            "CREATE WAREHOUSE w TYPE = mysql URL = 'mysql://u:hunter2@h/db' PASSWORD = ENV 'X'",
            "has a password and",
        ),
        ("CREATE WAREHOUSE w TYPE = nosuch URL = 'mysql://u@h/db'", "unknown warehouse TYPE 'nosuch'"),
        ("CREATE WAREHOUSE w TYPE = postgres URL = 'http://u:hunter2@h/db'", "expected postgresql://"),
        ("CREATE WAREHOUSE w TYPE = postgres URL = 'postgresql://u:hunter2@h:port/db'", "is not a number"),
        ("CREATE WAREHOUSE w TYPE = postgres URL = 'postgresql://u:hunter2@h/db?nope=1'", '"nope"'),
        ("CREATE WAREHOUSE w TYPE = postgres URL = 'not a url'", "neither a URL"),
        ("CREATE WAREHOUSE w TYPE = mysql URL = 'mysql://u:hunter2@h:x/db'", "does not parse"),
        ("CREATE WAREHOUSE w TYPE = clickhouse URL = 'ftp://u:hunter2@h/db'", "expected clickhouse://"),
    ],
)
async def test_bad_input_is_one_clear_error_at_create_and_changes_nothing(
    engine: Engine, statement: str, error: str
) -> None:
    before = (await engine.execute("SHOW WAREHOUSES"))[-1].rows
    with pytest.raises(TasksqlError) as info:
        await engine.execute(statement)
    assert error in info.value.message and "\n" not in info.value.message
    assert "hunter2" not in str(info.value)
    assert (await engine.execute("SHOW WAREHOUSES"))[-1].rows == before


@pytest.mark.realtime
async def test_set_url_keeps_where_the_password_is_read_and_a_running_scheduler_uses_it_at_once(
    tmp_path: Path, mariadb_server: MariaDBServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with mariadb_server.database() as first, mariadb_server.database() as second:
        monkeypatch.setenv("SHOP_PW", first.password)
        for db in (first, second):
            query(db, "CREATE TABLE ticks (n INT)")
        async with Engine(Settings.load(data_dir=tmp_path / "data")) as engine:
            await engine.start_scheduler()
            await engine.execute(
                f"CREATE WAREHOUSE shop TYPE = mysql URL = '{bare_url(first)}' PASSWORD = ENV 'SHOP_PW'"
            )
            await engine.execute(
                "CREATE TASK tick WAREHOUSE = shop SCHEDULE = '1 SECOND' AS INSERT INTO ticks VALUES (1)"
            )
            await engine.execute("ALTER TASK tick RESUME")
            await _until(lambda: query(first, "SELECT count(*) FROM ticks")[0][0] >= 1)
            await engine.execute(f"ALTER WAREHOUSE shop SET URL = '{bare_url(second)}'")
            shown = (await engine.execute("SHOW WAREHOUSES LIKE 'shop'"))[-1].as_dicts()[0]["url"]
            assert shown == f"{bare_url(second)}?password_env=SHOP_PW"
            await _until(lambda: query(second, "SELECT count(*) FROM ticks")[0][0] >= 1)
            settled = query(first, "SELECT count(*) FROM ticks")[0][0]
            await _until(lambda: query(second, "SELECT count(*) FROM ticks")[0][0] >= 3)
            assert (
                query(first, "SELECT count(*) FROM ticks")[0][0] <= settled + 1
            )  # at most one run in flight


@pytest.mark.realtime
async def test_a_stopped_server_fails_its_runs_without_holding_up_another_warehouse(
    engine: Engine, mariadb_database: MariaDBDatabase
) -> None:
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries are not installed")
    query(mariadb_database, "CREATE TABLE orders (id INT)")
    await engine.execute(f"CREATE WAREHOUSE shop TYPE = mysql URL = '{mariadb_database.url}'")
    await engine.execute("CREATE TASK ok WAREHOUSE = shop AS INSERT INTO orders VALUES (1)")
    with PgServer(bindir) as pg:
        db = pg.new_database()
        await engine.execute(f"CREATE WAREHOUSE gone TYPE = postgres URL = '{db.url}?connect_timeout=2'")
        await engine.execute("CREATE TASK down WAREHOUSE = gone AS SELECT 1")
        await engine.execute("EXECUTE TASK down")  # reachable first
        pg.halt()
        with pytest.raises(RunFailed) as info:
            await engine.execute("EXECUTE TASK down")
        assert "cannot connect to postgresql://" in info.value.message or "connection" in info.value.message
        assert "\n" not in info.value.message
        # the halted server's task and the other warehouse's task at once: the other is not held up
        started = time.monotonic()
        down = asyncio.ensure_future(engine.execute("EXECUTE TASK down"))
        await engine.execute("EXECUTE TASK ok")
        assert time.monotonic() - started < 2.0
        with pytest.raises(RunFailed):
            await down
    assert query(mariadb_database, "SELECT id FROM orders") == [(1,)]


async def _until(check: object, timeout: float = 60.0) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@pytest.mark.realtime
async def test_a_server_that_stopped_answering_does_not_hold_up_another_warehouse(
    engine: Engine, mariadb_database: MariaDBDatabase
) -> None:
    """A server paused with SIGSTOP takes connections but never answers: its run waits for the
    URL's connect_timeout and fails in one line, while a run on another warehouse goes through."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries are not installed")
    query(mariadb_database, "CREATE TABLE orders (id INT)")
    await engine.execute(f"CREATE WAREHOUSE shop TYPE = mysql URL = '{mariadb_database.url}'")
    await engine.execute("CREATE TASK ok WAREHOUSE = shop AS INSERT INTO orders VALUES (1)")
    await engine.execute("EXECUTE TASK ok")  # the warehouse open, its marker table made
    with PgServer(bindir) as pg:
        db = pg.new_database()
        await engine.execute(f"CREATE WAREHOUSE frozen TYPE = postgres URL = '{db.url}?connect_timeout=3'")
        await engine.execute("CREATE TASK stuck WAREHOUSE = frozen AS SELECT 1")
        postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGSTOP)
        try:
            stuck = asyncio.ensure_future(engine.execute("EXECUTE TASK stuck"))
            await asyncio.sleep(0.2)  # the stuck run is waiting for the server by now
            await engine.execute("EXECUTE TASK ok")
            assert not stuck.done(), "the other warehouse's run waited for the stuck one"
            assert query(mariadb_database, "SELECT id FROM orders") == [(1,), (1,)]
            with pytest.raises(RunFailed) as info:
                await stuck
            assert "cannot connect to postgresql://" in info.value.message
            assert "\n" not in info.value.message
        finally:
            os.kill(postmaster, signal.SIGCONT)
