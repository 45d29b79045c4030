"""WarehouseRegistry: definitions to open warehouses, cached by name, re-created when changed."""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import sys
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.errors import QueryCancelled, WarehouseError
from tasksql.model import WarehouseDef, WarehouseType
from tasksql.warehouses.base import CancelToken
from tasksql.warehouses.duckdb import DuckDBWarehouse
from tasksql.warehouses.registry import POSTGRES_REQUIREMENT, WarehouseRegistry, install_command, shown_url
from tasksql.warehouses.sqlite import SQLiteWarehouse

from .support import SLOW, until


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[WarehouseRegistry]:
    reg = WarehouseRegistry(tmp_path)
    yield reg
    await reg.close_all()


async def test_default_warehouse_is_the_data_directory_duckdb(
    registry: WarehouseRegistry, tmp_path: Path
) -> None:
    w = await registry.get(WarehouseDef(name="default"))
    assert isinstance(w, DuckDBWarehouse)
    assert w.database is registry.duckdb
    assert (w.name, w.dialect, w.type) == ("default", "duckdb", WarehouseType.DUCKDB)
    await w.execute("CREATE TABLE t AS SELECT 1 AS a")
    assert (tmp_path / "warehouse.duckdb").exists()


async def test_named_duckdb_warehouses_are_pools_over_the_same_data(registry: WarehouseRegistry) -> None:
    default = await registry.get(WarehouseDef(name="default"))
    etl = await registry.get(WarehouseDef(name="etl", max_concurrency=2))
    assert etl is not default
    assert etl.max_concurrency == 2
    await default.execute("CREATE TABLE t AS SELECT 5 AS a")
    assert (await etl.execute("SELECT a FROM t")).rows == [(5,)]


async def test_same_definition_same_warehouse(registry: WarehouseRegistry) -> None:
    a = await registry.get(WarehouseDef(name="etl", max_concurrency=3, comment="x"))
    b = await registry.get(WarehouseDef(name="etl", max_concurrency=3, comment="x"))
    assert a is b
    both = await asyncio.gather(*(registry.get(WarehouseDef(name="fresh")) for _ in range(5)))
    assert all(w is both[0] for w in both)


async def test_changed_definition_gets_a_new_warehouse_and_the_old_one_finishes_first(
    registry: WarehouseRegistry,
) -> None:
    old = await registry.get(WarehouseDef(name="etl", max_concurrency=1))
    token = CancelToken()
    running = asyncio.create_task(old.execute(SLOW["duckdb"], token=token))
    assert await until(lambda: old.running == 1)
    new = await registry.get(WarehouseDef(name="etl", max_concurrency=4))
    assert new is not old and new.max_concurrency == 4
    assert (await new.execute("SELECT 1")).rows == [(1,)]
    await asyncio.sleep(0.2)
    assert old.running == 1  # retired, not killed: what it runs goes on
    token.cancel()
    with pytest.raises(QueryCancelled):
        await running

    async def old_is_closed() -> bool:
        try:
            await old.execute("SELECT 1")
        except WarehouseError as exc:
            return exc.code == "WAREHOUSE_CLOSED"
        return False

    for _ in range(200):
        if await old_is_closed():
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail("the retired warehouse was not closed")


async def test_sqlite_warehouses_by_absolute_and_relative_url(
    registry: WarehouseRegistry, tmp_path: Path
) -> None:
    absolute = await registry.get(
        WarehouseDef(name="abs", type=WarehouseType.SQLITE, url=f"sqlite://{tmp_path}/abs.db")
    )
    relative = await registry.get(WarehouseDef(name="rel", type=WarehouseType.SQLITE, url="sqlite:rel.db"))
    assert isinstance(absolute, SQLiteWarehouse) and isinstance(relative, SQLiteWarehouse)
    assert absolute.path == tmp_path / "abs.db"
    assert relative.path == tmp_path / "rel.db"
    await relative.execute("CREATE TABLE t (a INTEGER)")
    assert (tmp_path / "rel.db").exists()


async def test_sqlite_url_option_synchronous_applies_to_every_connection(
    registry: WarehouseRegistry, tmp_path: Path
) -> None:
    default = await registry.get(WarehouseDef(name="d", type=WarehouseType.SQLITE, url="sqlite:d.db"))
    relaxed = await registry.get(
        WarehouseDef(name="n", type=WarehouseType.SQLITE, url="sqlite:n.db?synchronous=NORMAL")
    )
    assert isinstance(relaxed, SQLiteWarehouse) and relaxed.path == tmp_path / "n.db"
    assert (await default.execute("PRAGMA synchronous")).rows == [(2,)]  # SQLite's FULL
    # several connections at once: each one of them is set
    results = await asyncio.gather(*(relaxed.execute("PRAGMA synchronous") for _ in range(6)))
    assert {r.rows[0][0] for r in results} == {1}  # NORMAL


@pytest.mark.parametrize(
    ("kind", "url", "message"),
    [
        (WarehouseType.SQLITE, "sqlite:x.db?synchronus=normal", "unknown URL option 'synchronus'"),
        (WarehouseType.SQLITE, "sqlite:x.db?synchronous=sometimes", "expected one of extra, full"),
        (WarehouseType.SQLITE, "sqlite:x.db?synchronous=off&synchronous=full", "given twice"),
        (WarehouseType.DUCKDB, "duckdb:x.duckdb?threads=4", "unknown URL option 'threads' (known: none)"),
    ],
)
async def test_bad_url_options_are_refused(
    registry: WarehouseRegistry, tmp_path: Path, kind: WarehouseType, url: str, message: str
) -> None:
    with pytest.raises(WarehouseError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        await registry.get(WarehouseDef(name="x", type=kind, url=url))
    assert info.value.code == "INVALID_URL"
    assert not (tmp_path / "x.db").exists() and not (tmp_path / "x.duckdb").exists()


async def test_a_duckdb_url_is_a_separate_database(registry: WarehouseRegistry, tmp_path: Path) -> None:
    default = await registry.get(WarehouseDef(name="default"))
    other = await registry.get(WarehouseDef(name="other", url="duckdb:other.duckdb"))
    await default.execute("CREATE TABLE only_default (a INTEGER)")
    assert await other.table_columns("only_default") is None
    assert (tmp_path / "other.duckdb").exists()


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (None, "TYPE = clickhouse needs a URL (clickhouse://user@host:9000/db)"),
        ("http://etl:pw@h:8123/db?compression=zstd", "compression is an option of the native"),
        ("clickhouse://etl:pw@h/db?fast=yes", "unknown option 'fast'"),
    ],
)
def test_a_clickhouse_url_no_run_could_use_is_refused_before_it_is_stored(
    registry: WarehouseRegistry, url: str | None, why: str
) -> None:
    with pytest.raises(WarehouseError) as info:
        registry.check(WarehouseDef(name="x", type=WarehouseType.CLICKHOUSE, url=url))
    assert info.value.code == "INVALID_URL"
    assert why in info.value.message and ":pw@" not in info.value.message


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (None, "TYPE = mysql needs a URL (mysql://user@host:3306/db)"),
        ("x://h/db", "expected mysql://user@host:3306/database, not x:"),
        ("mysql://etl:pw@h/", "names no database"),
        ("mysql://etl:pw@h/db?fast=yes", "unknown option 'fast'"),
    ],
)
def test_a_mysql_url_no_run_could_use_is_refused_before_it_is_stored(
    registry: WarehouseRegistry, url: str | None, why: str
) -> None:
    with pytest.raises(WarehouseError) as info:
        registry.check(WarehouseDef(name="x", type=WarehouseType.MYSQL, url=url))
    assert info.value.code == "INVALID_URL"
    assert why in info.value.message and ":pw@" not in info.value.message


@pytest.mark.parametrize("kind", [WarehouseType.SQLITE, WarehouseType.POSTGRES, WarehouseType.MYSQL])
async def test_file_and_server_types_need_a_url(registry: WarehouseRegistry, kind: WarehouseType) -> None:
    with pytest.raises(WarehouseError):
        await registry.get(WarehouseDef(name="x", type=kind))


async def test_a_failed_open_is_not_cached(registry: WarehouseRegistry, tmp_path: Path) -> None:
    d = WarehouseDef(name="lite", type=WarehouseType.SQLITE, url=f"sqlite:///{tmp_path}/later/x.db")
    with pytest.raises(WarehouseError):
        await registry.get(d)
    (tmp_path / "later").mkdir()
    w = await registry.get(d)
    assert (await w.execute("SELECT 1")).rows == [(1,)]


async def test_discard_closes_the_warehouse(registry: WarehouseRegistry) -> None:
    w = await registry.get(WarehouseDef(name="etl"))
    await registry.discard("etl")
    assert await until(lambda: w.running == 0)
    for _ in range(100):
        try:
            await w.execute("SELECT 1")
        except WarehouseError:
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail("a discarded warehouse still runs statements")
    again = await registry.get(WarehouseDef(name="etl"))
    assert again is not w


async def test_close_all(tmp_path: Path) -> None:
    reg = WarehouseRegistry(tmp_path)
    w = await reg.get(WarehouseDef(name="default"))
    token = CancelToken()
    running = asyncio.create_task(w.execute(SLOW["duckdb"], token=token))
    assert await until(lambda: w.running == 1)
    await reg.close_all()
    with pytest.raises(WarehouseError):
        await running
    assert not reg.duckdb.is_open
    with pytest.raises(WarehouseError) as info:
        await reg.get(WarehouseDef(name="default"))
    assert info.value.code == "WAREHOUSE_CLOSED"


@pytest.mark.postgres
async def test_postgres_warehouse(registry: WarehouseRegistry, pg_database: object) -> None:
    url = pg_database.url  # type: ignore[attr-defined]
    w = await registry.get(WarehouseDef(name="pg", type=WarehouseType.POSTGRES, url=url, max_concurrency=2))
    assert (w.dialect, w.max_concurrency) == ("postgres", 2)
    assert (await w.execute("SELECT current_database()")).rows == [(url.rsplit("/", 1)[1],)]


# --- refused before it is stored: WarehouseRegistry.check -----------------------------------------


@pytest.mark.parametrize(
    ("d", "code"),
    [
        (WarehouseDef(name="x", type=WarehouseType.SQLITE), "INVALID_URL"),
        (WarehouseDef(name="x", type=WarehouseType.POSTGRES), "INVALID_URL"),
        (WarehouseDef(name="x", type=WarehouseType.SQLITE, url="postgres://h/db"), "INVALID_URL"),
        (WarehouseDef(name="x", type=WarehouseType.SQLITE, url="sqlite:///x.db?fast=yes"), "INVALID_URL"),
        (WarehouseDef(name="x", type=WarehouseType.DUCKDB, url="duckdb:x.duckdb?threads=2"), "INVALID_URL"),
    ],
)
def test_check_refuses_what_no_run_could_open(
    registry: WarehouseRegistry, d: WarehouseDef, code: str
) -> None:
    with pytest.raises(WarehouseError) as info:
        registry.check(d)
    assert info.value.code == code


def test_check_accepts_runnable_definitions_without_opening_them(
    registry: WarehouseRegistry, tmp_path: Path
) -> None:
    for d in (
        WarehouseDef(name="default"),
        WarehouseDef(name="f", url="duckdb:other.duckdb"),
        WarehouseDef(name="l", type=WarehouseType.SQLITE, url="sqlite:///nowhere/yet/x.db?synchronous=off"),
        WarehouseDef(name="p", type=WarehouseType.POSTGRES, url="postgresql://u:pw@127.0.0.1:1/x"),
    ):
        registry.check(d)
    assert list(tmp_path.iterdir()) == []  # nothing was opened or created


def test_postgres_requirement_is_the_extra_of_the_package() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    # the extra also brings pglast (PostgreSQL's parser, for body checks at CREATE); the driver is the
    # requirement whose absence refuses a warehouse
    assert POSTGRES_REQUIREMENT in pyproject["project"]["optional-dependencies"]["postgres"]


def test_install_command_installs_into_this_interpreter() -> None:
    command = install_command(POSTGRES_REQUIREMENT)
    assert command == f"{shlex.quote(sys.executable)} -m pip install 'psycopg[binary,pool]>=3.2'"


_WITHOUT_PSYCOPG = """
import sys
sys.modules["psycopg"] = None  # as if the driver were not installed: importing it fails
import tasksql
db = tasksql.connect(sys.argv[1])
try:
    db.sql("CREATE WAREHOUSE pg TYPE = postgres URL = 'postgresql://app:s3cret@127.0.0.1:1/x'")
except tasksql.TasksqlError as err:
    print(err.code)
    print(err.message)
print([row[0] for row in db.sql("SHOW WAREHOUSES").rows])
db.close()
"""


@pytest.mark.sqlite_catalog("hides psycopg, which a PostgreSQL catalog needs as well")
def test_create_warehouse_without_the_driver_fails_at_once_naming_the_install_command(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_PSYCOPG, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    code, message, warehouses = proc.stdout.splitlines()
    assert code == "DRIVER_MISSING"
    assert message.startswith("warehouse pg (postgresql://app:***@127.0.0.1:1/x): TYPE = postgres needs")
    assert message.endswith(
        f"; install it with: {shlex.quote(sys.executable)} -m pip install 'psycopg[binary,pool]>=3.2'"
    )
    assert "s3cret" not in proc.stdout + proc.stderr
    assert warehouses == "['default']"  # pg was not stored


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://app:pw@h:5432/db?sslmode=require&password=x&sslpassword=y",
            "postgresql://app:***@h:5432/db?sslmode=require&password=***&sslpassword=***",
        ),
        (
            "sqlite:///srv/data/events2024abcdefghijk.db?synchronous=normal",
            "sqlite:///srv/data/events2024abcdefghijk.db?synchronous=normal",
        ),
        ("host=h password=s3cret dbname=x", "host=h password=*** dbname=x"),
        ("duckdb:other.duckdb", "duckdb:other.duckdb"),
    ],
)
def test_shown_url_hides_credentials_and_keeps_settings_and_paths(url: str, shown: str) -> None:
    assert shown_url(url) == shown
