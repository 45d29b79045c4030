"""MySQL/MariaDB warehouses through the engine, on a real MariaDB server the tests start: CREATE
WAREHOUSE (the password never shown), tasks that run there (a body, INTO, a system table read from
the body, a timeout that stops the query in the server), and a warehouse that cannot be reached."""

from __future__ import annotations

import contextlib
import shlex
import subprocess
import sys
import time
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mariadbserver import MariaDBDatabase
from tasksql.engine import Engine, Result
from tasksql.errors import RunFailed
from tasksql.model import RunState
from tasksql.settings import Settings
from tasksql.warehouses.registry import MYSQL_REQUIREMENT


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


async def one(engine: Engine, sql: str) -> Result:
    return (await engine.execute(sql))[-1]


def query(db: MariaDBDatabase, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(db.connect()) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


@pytest.fixture
async def shop(engine: Engine, mariadb_database: MariaDBDatabase) -> MariaDBDatabase:
    query(mariadb_database, "CREATE TABLE orders (id INT PRIMARY KEY, amount DECIMAL(10,2))")
    query(mariadb_database, "CREATE TABLE totals (n INT, total DECIMAL(10,2), note VARCHAR(40))")
    await engine.execute(f"CREATE WAREHOUSE shop TYPE = mariadb URL = '{mariadb_database.url}'")
    return mariadb_database


async def test_the_warehouse_is_listed_without_its_password(engine: Engine, shop: MariaDBDatabase) -> None:
    rows = {r[0]: r for r in (await one(engine, "SHOW WAREHOUSES")).rows}
    assert rows["shop"][1] == "mysql"
    assert rows["shop"][2] == f"mysql://tasksql:***@127.0.0.1:{shop.port}/{shop.name}"
    assert shop.password not in repr((await one(engine, "SELECT * FROM system.warehouses")).rows)


async def test_a_task_runs_its_body_and_into_on_the_server(engine: Engine, shop: MariaDBDatabase) -> None:
    await engine.execute(
        "CREATE TASK fill WAREHOUSE = shop AS BEGIN"
        " INSERT INTO orders VALUES (1, 10.50), (2, 4.25);"
        " UPDATE orders SET amount = amount * 2 WHERE id = 2;"
        " END"
    )
    await engine.execute(
        "CREATE TASK sum_up WAREHOUSE = shop SCHEDULE = '1 MINUTE' INTO totals"
        ' AS SELECT count(*) AS n, sum(amount) AS total, "done" AS note FROM orders'
    )
    [ran] = await engine.execute("EXECUTE TASK fill")
    assert ran.as_dicts()[0]["status"] == "Task fill ran: SUCCEEDED."
    await engine.execute("EXECUTE TASK sum_up")
    assert query(shop, "SELECT n, total, note FROM totals") == [(2, 19.0, "done")]
    runs = {r.name: r for r in await engine.catalog.list_runs()}
    assert runs["fill"].state is RunState.SUCCEEDED
    assert runs["sum_up"].state is RunState.SUCCEEDED


async def test_a_body_reads_a_system_table(engine: Engine, shop: MariaDBDatabase) -> None:
    query(shop, "CREATE TABLE seen (name VARCHAR(100))")
    await engine.execute(
        "CREATE TASK look WAREHOUSE = shop AS INSERT INTO seen SELECT name FROM system.tasks"
    )
    await engine.execute("EXECUTE TASK look")
    assert query(shop, "SELECT name FROM seen") == [("look",)]


async def test_a_timeout_stops_the_query_in_the_server(engine: Engine, shop: MariaDBDatabase) -> None:
    await engine.execute("CREATE TASK slow WAREHOUSE = shop USER_TASK_TIMEOUT_MS = 300 AS SELECT SLEEP(3600)")
    started = time.monotonic()
    with pytest.raises(RunFailed) as info:
        await engine.execute("EXECUTE TASK slow")
    assert time.monotonic() - started < 3.0
    assert "timeout" in info.value.message
    running = query(
        shop,
        "SELECT id FROM information_schema.processlist WHERE info LIKE '%SLEEP(3600)%' AND id <> CONNECTION_ID()",
    )
    assert running == []


async def test_an_unreachable_server_fails_the_run_in_one_line(engine: Engine, shop: MariaDBDatabase) -> None:
    await engine.execute("CREATE WAREHOUSE gone TYPE = mysql URL = 'mysql://etl:hunter2@127.0.0.1:1/shop'")
    await engine.execute("CREATE TASK t WAREHOUSE = gone AS INSERT INTO orders VALUES (9, 1)")
    with pytest.raises(RunFailed) as info:
        await engine.execute("EXECUTE TASK t")
    message = info.value.message
    assert "cannot connect to mysql://etl:***@127.0.0.1:1/shop" in message
    assert "hunter2" not in message and "\n" not in message
    # the other warehouse is not held up
    await engine.execute("CREATE TASK ok WAREHOUSE = shop AS INSERT INTO orders VALUES (3, 1)")
    await engine.execute("EXECUTE TASK ok")
    assert query(shop, "SELECT id FROM orders") == [(3,)]


_WITHOUT_PYMYSQL = """
import sys
sys.modules["pymysql"] = None  # as if the driver were not installed: importing it fails
import tasksql
db = tasksql.connect(sys.argv[1])
try:
    db.sql("CREATE WAREHOUSE shop TYPE = mysql URL = 'mysql://etl:s3cret@127.0.0.1:1/shop'")
except tasksql.TasksqlError as err:
    print(err.code)
    print(err.message)
print([row[0] for row in db.sql("SHOW WAREHOUSES").rows])
db.close()
"""


@pytest.mark.sqlite_catalog("runs tasksql in a child process on its own data directory")
def test_create_warehouse_without_the_driver_names_the_install_command(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_PYMYSQL, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    code, message, warehouses = proc.stdout.splitlines()
    assert code == "DRIVER_MISSING"
    assert message.startswith("warehouse shop (mysql://etl:***@127.0.0.1:1/shop): TYPE = mysql needs")
    assert message.endswith(f"; install it with: {shlex.quote(sys.executable)} -m pip install 'PyMySQL>=1.1'")
    assert "s3cret" not in proc.stdout + proc.stderr
    assert warehouses == "['default']"


def test_the_install_command_installs_the_extra_of_the_package() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert pyproject["project"]["optional-dependencies"]["mysql"] == [MYSQL_REQUIREMENT]
