"""Runs execute with their owner role's database rights on a PostgreSQL warehouse with a
ROLE_MAPPING (tasksql.warehouses.role_mapping), on a private PostgreSQL server: a task owned by a low
role cannot reach a high role's table through its body or its WHEN (the database refuses), a body
cannot switch its role back, an owner role the mapping does not name does not run, and the
connection is the login's again after each run."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import tasksql
from pgserver import PgDatabase
from security_matrix import BOOTSTRAP
from tasksql.connection import Connection
from tasksql.errors import TasksqlError, ValidationError
from tasksql.warehouses import role_mapping
from tasksql.warehouses.postgres import PostgresWarehouse

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_roles(pg_database: PgDatabase) -> Iterator[tuple[str, str, str]]:
    """A login role that holds (and inherits) db_low and db_high, the table low_t db_low may
    write, the table high_t only db_high may read: without the mapping, every task could read
    high_t through the login. Roles are cluster-wide: unique names."""
    tag = uuid.uuid4().hex[:8]
    login, low, high = f"tasksql_login_{tag}", f"db_low_{tag}", f"db_high_{tag}"
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {login} LOGIN")
        conn.execute(f"CREATE ROLE {low}")
        conn.execute(f"CREATE ROLE {high}")
        conn.execute(f"GRANT {low}, {high} TO {login}")
        conn.execute("CREATE TABLE low_t (who text)")
        conn.execute("CREATE TABLE high_t (secret text)")
        conn.execute("INSERT INTO high_t VALUES ('s3cret')")
        conn.execute(f"GRANT SELECT, INSERT ON low_t TO {low}, {high}")
        conn.execute(f"GRANT SELECT ON high_t TO {high}")
        conn.execute(f"GRANT USAGE, CREATE ON SCHEMA public TO {login}")  # marker table
    yield f"postgresql://{login}@{pg_database.host}:{pg_database.port}/{pg_database.name}", low, high
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        for role in (login, low, high):
            with contextlib.suppress(psycopg.Error):
                conn.execute(f"DROP OWNED BY {role} CASCADE")
        conn.execute("DROP TABLE IF EXISTS low_t, high_t")
        for role in (login, low, high):
            with contextlib.suppress(psycopg.Error):
                conn.execute(f"DROP ROLE {role}")


def _setup(url: str, low: str, high: str) -> str:
    grants = "".join(
        f"""CREATE ROLE {r}; GRANT EXECUTE TASK ON ACCOUNT TO ROLE {r};
GRANT USAGE ON WAREHOUSE pg TO ROLE {r}; GRANT USAGE ON DATABASE tasksql TO ROLE {r};
GRANT USAGE ON SCHEMA tasksql.public TO ROLE {r}; GRANT CREATE TASK ON SCHEMA tasksql.public TO ROLE {r};
CREATE USER {u} DEFAULT_ROLE = {r}; GRANT ROLE {r} TO USER {u};
"""
        for r, u in (("low", "lo"), ("high", "hi"), ("unmapped", "um"))
    )
    return (
        f"CREATE WAREHOUSE pg TYPE = postgres URL = '{url}' MAX_CONCURRENCY = 1 "
        f"ROLE_MAPPING = (low = '{low}', 'HIGH' = '{high}');\n{grants}"
    )


@pytest.fixture
def data(tmp_path: Path, pg_roles: tuple[str, str, str]) -> Path:
    path = tmp_path / "data"
    with tasksql.connect(path) as conn:
        conn.sql_all(BOOTSTRAP)
        conn.sql_all(_setup(*pg_roles))
    return path


def _as(data: Path, user: str) -> Connection:
    return tasksql.connect(data, owner=user, security=True)


def _run_error(conn: Connection, sql: str) -> str:
    with pytest.raises(TasksqlError) as caught:
        conn.sql_all(sql)
    return f"{caught.value.code}: {caught.value.message}"


def test_a_low_task_cannot_reach_a_high_table(data: Path, pg_database: PgDatabase) -> None:
    with _as(data, "lo") as lo:
        lo.sql_all("CREATE TASK steal WAREHOUSE = pg AS INSERT INTO low_t SELECT secret FROM high_t")
        err = _run_error(lo, "EXECUTE TASK steal")
        assert "permission denied for table high_t" in err
        # its own table it may write, and the database sees the mapped role
        lo.sql_all("CREATE TASK mine WAREHOUSE = pg AS INSERT INTO low_t SELECT current_user")
        lo.sql_all("EXECUTE TASK mine")
        # a WHEN runs as the owner role too
        lo.sql_all(
            "CREATE TASK peek WAREHOUSE = pg WHEN (SELECT count(*) FROM high_t) > 0 AS INSERT INTO low_t VALUES ('x')"
        )
        assert "permission denied for table high_t" in _run_error(lo, "EXECUTE TASK peek")
    with _as(data, "hi") as hi:
        # the same connection (MAX_CONCURRENCY 1) is the login's again: the high role reads its table
        hi.sql_all("CREATE TASK copy WAREHOUSE = pg AS INSERT INTO low_t SELECT secret FROM high_t")
        hi.sql_all("EXECUTE TASK copy")
    with psycopg.connect(pg_database.dsn) as conn:
        rows = sorted(r[0] for r in conn.execute("SELECT who FROM low_t").fetchall())
    low = rows[0]
    assert low.startswith("db_low_") and rows == sorted([low, "s3cret"])


def test_the_connection_is_the_logins_again_after_a_run(pg_roles: tuple[str, str, str]) -> None:
    url, low, _ = pg_roles

    async def check() -> None:
        wh = PostgresWarehouse("pg", url, max_concurrency=1)
        await wh.open()
        try:
            for transactional in (False, True):
                result = await wh.run_body(
                    ["SELECT current_user"],
                    transactional=transactional,
                    session_params=role_mapping.role_params("postgres", low),
                )
                assert result.last is not None and result.last.rows == [(low,)]
                after = await wh.execute("SELECT current_user = session_user")
                assert after.rows == [(True,)]
        finally:
            await wh.close()

    asyncio.run(check())


def test_a_body_cannot_switch_its_role_back(data: Path) -> None:
    with _as(data, "lo") as lo:
        for n, body in enumerate(
            (
                "RESET ROLE",
                "SET ROLE NONE",
                "SELECT set_config('role', 'none', false)",
                "BEGIN SET LOCAL ROLE postgres; INSERT INTO low_t SELECT secret FROM high_t; END",
                "DO $$ BEGIN EXECUTE 'SET ROLE postgres'; END $$",
            )
        ):
            lo.sql_all(f"CREATE TASK sw{n} WAREHOUSE = pg AS {body}")
            assert "ROLE_CHANGE_REFUSED" in _run_error(lo, f"EXECUTE TASK sw{n}"), body
        # a column called role is no role change
        lo.sql_all("CREATE TASK col WAREHOUSE = pg AS SELECT who AS role FROM low_t ORDER BY role")
        lo.sql_all("EXECUTE TASK col")


def test_an_owner_role_the_mapping_does_not_name_does_not_run(data: Path) -> None:
    with _as(data, "um") as um:
        um.sql_all("CREATE TASK t WAREHOUSE = pg AS SELECT 1")
        err = _run_error(um, "EXECUTE TASK t")
        assert "ROLE_NOT_MAPPED" in err or "maps no database role for the owner role unmapped" in err
        assert "ALTER WAREHOUSE pg SET ROLE_MAPPING" in err


def test_role_mapping_is_shown_altered_and_refused_where_no_rights_exist(
    data: Path, pg_roles: tuple[str, str, str]
) -> None:
    _, low, high = pg_roles
    with tasksql.connect(data, owner="admin", security=True) as admin:
        shown = admin.sql("SELECT role_mapping FROM system.warehouses WHERE name = 'pg'").rows
        assert shown == [(f"low={low}, high={high}",)]
        admin.sql("ALTER WAREHOUSE pg SET ROLE_MAPPING = (low = 'db_other')")
        row = next(r for r in admin.sql("SHOW WAREHOUSES").rows if r[0] == "pg")
        assert row[-1] == "low=db_other"
        with pytest.raises(TasksqlError) as caught:
            admin.sql("CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///x.db' ROLE_MAPPING = (low = 'x')")
        assert caught.value.code == "ROLE_MAPPING_UNSUPPORTED"
        assert "GRANT USAGE ON WAREHOUSE" in caught.value.message
        with pytest.raises(ValidationError) as bad:
            admin.sql("ALTER WAREHOUSE pg SET ROLE_MAPPING = (low = 'a', LOW = 'b')")
        assert bad.value.code == "DUPLICATE_CLAUSE"
