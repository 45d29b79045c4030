"""Runs execute with their owner role's database rights on a MariaDB warehouse with a ROLE_MAPPING
(SET ROLE before the run, SET ROLE NONE after it), on a private MariaDB server. The login holds no
rights of its own on the tables (a MariaDB role's privileges add to the login's): a low role's task
writes its table and cannot read the high role's, the high role's task can, and the connection has
no role again after each run."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

import tasksql
from mariadbserver import MariaDBDatabase
from security_matrix import BOOTSTRAP
from tasksql.connection import Connection
from tasksql.errors import TasksqlError
from tasksql.warehouses import role_mapping
from tasksql.warehouses.mysql import MySQLWarehouse


@pytest.fixture
def my_roles(mariadb_database: MariaDBDatabase) -> Iterator[tuple[str, str, str]]:
    tag = uuid.uuid4().hex[:8]
    login, low, high, db = f"login_{tag}", f"db_low_{tag}", f"db_high_{tag}", mariadb_database.name
    conn = mariadb_database.connect()
    try:
        with conn.cursor() as cur:
            for sql in (
                f"CREATE ROLE {low}",
                f"CREATE ROLE {high}",
                f"CREATE USER '{login}'@'%' IDENTIFIED BY 'pw'",
                f"GRANT {low} TO '{login}'@'%'",
                f"GRANT {high} TO '{login}'@'%'",
                f"GRANT SHOW VIEW ON `{db}`.* TO '{login}'@'%'",  # to connect to the database
                "CREATE TABLE low_t (who VARCHAR(100))",
                "CREATE TABLE high_t (secret VARCHAR(100))",
                "INSERT INTO high_t VALUES ('s3cret')",
                f"GRANT SELECT, INSERT ON `{db}`.low_t TO {low}",
                f"GRANT SELECT, INSERT ON `{db}`.low_t TO {high}",
                f"GRANT SELECT ON `{db}`.high_t TO {high}",
            ):
                cur.execute(sql)
        url = f"mysql://{login}:pw@{mariadb_database.host}:{mariadb_database.port}/{db}"
        yield url, low, high
    finally:
        with conn.cursor() as cur:
            for sql in (f"DROP USER '{login}'@'%'", f"DROP ROLE {low}", f"DROP ROLE {high}"):
                with contextlib.suppress(pymysql.MySQLError):
                    cur.execute(sql)
        conn.close()


@pytest.fixture
def data(tmp_path: Path, my_roles: tuple[str, str, str]) -> Path:
    url, low, high = my_roles
    grants = "".join(
        f"""CREATE ROLE {r}; GRANT EXECUTE TASK ON ACCOUNT TO ROLE {r};
GRANT USAGE ON WAREHOUSE my TO ROLE {r}; GRANT USAGE ON DATABASE tasksql TO ROLE {r};
GRANT USAGE ON SCHEMA tasksql.public TO ROLE {r}; GRANT CREATE TASK ON SCHEMA tasksql.public TO ROLE {r};
CREATE USER {u} DEFAULT_ROLE = {r}; GRANT ROLE {r} TO USER {u};
"""
        for r, u in (("low", "lo"), ("high", "hi"))
    )
    path = tmp_path / "data"
    with tasksql.connect(path) as conn:
        conn.sql_all(BOOTSTRAP)
        conn.sql_all(
            f"CREATE WAREHOUSE my TYPE = mysql URL = '{url}' MAX_CONCURRENCY = 1 "
            f"ROLE_MAPPING = (low = '{low}', high = '{high}');\n{grants}"
        )
    return path


def _as(data: Path, user: str) -> Connection:
    return tasksql.connect(data, owner=user, security=True)


def test_a_low_task_cannot_reach_a_high_table(data: Path, mariadb_database: MariaDBDatabase) -> None:
    with _as(data, "lo") as lo:
        lo.sql_all("CREATE TASK mine WAREHOUSE = my AS INSERT INTO low_t SELECT CURRENT_ROLE()")
        lo.sql_all("EXECUTE TASK mine")
        lo.sql_all("CREATE TASK steal WAREHOUSE = my AS INSERT INTO low_t SELECT secret FROM high_t")
        with pytest.raises(TasksqlError) as caught:
            lo.sql_all("EXECUTE TASK steal")
        assert "high_t" in caught.value.message and "denied" in caught.value.message
        lo.sql_all("CREATE TASK sw WAREHOUSE = my AS SET ROLE NONE")
        with pytest.raises(TasksqlError) as caught:
            lo.sql_all("EXECUTE TASK sw")
        assert "ROLE_CHANGE_REFUSED" in caught.value.message
    with _as(data, "hi") as hi:
        hi.sql_all("CREATE TASK copy WAREHOUSE = my AS INSERT INTO low_t SELECT secret FROM high_t")
        hi.sql_all("EXECUTE TASK copy")
    conn = mariadb_database.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT who FROM low_t ORDER BY who")
        rows = [r[0] for r in cur.fetchall()]
    conn.close()
    assert len(rows) == 2 and rows[0].startswith("db_low_") and rows[1] == "s3cret"


def test_the_session_has_no_role_after_a_run(my_roles: tuple[str, str, str]) -> None:
    url, low, _ = my_roles

    async def check() -> None:
        wh = MySQLWarehouse("my", url, max_concurrency=1)
        await wh.open()
        try:
            for transactional in (False, True):
                result = await wh.run_body(
                    ["SELECT CURRENT_ROLE()"],
                    transactional=transactional,
                    session_params=role_mapping.role_params("mysql", low),
                )
                assert result.last is not None and result.last.rows == [(low,)]
                assert (await wh.execute("SELECT CURRENT_ROLE()")).rows == [(None,)]
        finally:
            await wh.close()

    asyncio.run(check())
