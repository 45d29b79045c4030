"""The rules of docs/security.md beyond single privileges, through the Python API with security on:
Ocient's maintenance tasks need the System Administrator role (SYSADMIN) to be created and
cancelled; every task of a graph has one owner (CREATE ... AFTER, ALTER ... ADD AFTER, GRANT
OWNERSHIP moving the whole graph); VoltDB's AS USER names an enabled user that is the caller
(unless MANAGE GRANTS), and is checked again at each run."""

from __future__ import annotations

from pathlib import Path

import pytest

import tasksql
from security_matrix import BOOTSTRAP
from tasksql.connection import Connection
from tasksql.errors import PermissionDenied

CREATOR = """CREATE ROLE {r}; GRANT EXECUTE TASK ON ACCOUNT TO ROLE {r};
GRANT USAGE ON WAREHOUSE "default" TO ROLE {r}; GRANT USAGE ON DATABASE tasksql TO ROLE {r};
GRANT USAGE ON SCHEMA tasksql.public TO ROLE {r}; GRANT CREATE TASK ON SCHEMA tasksql.public TO ROLE {r};
CREATE USER {u} DEFAULT_ROLE = {r}; GRANT ROLE {r} TO USER {u};"""


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """alice (role a) and bob (role b) may each create and run tasks; ops (role ops) as well, and
    holds the System Administrator role."""
    path = tmp_path / "data"
    with tasksql.connect(path) as conn:
        conn.sql_all(BOOTSTRAP)
        for role, user in (("a", "alice"), ("b", "bob"), ("ops", "ops")):
            conn.sql_all(CREATOR.format(r=role, u=user))
        conn.sql_all('GRANT ROLE "System Administrator" TO USER ops')
    return path


def _as(data: Path, user: str) -> Connection:
    return tasksql.connect(data, owner=user, security=True)


def test_maintenance_tasks_need_the_system_administrator_role(data: Path) -> None:
    with _as(data, "alice") as alice, pytest.raises(PermissionDenied) as caught:
        alice.sql("CREATE TASK fix TYPE rebuild LOCATION SYSTEM")
    assert "System Administrator role (SYSADMIN)" in caught.value.message
    with _as(data, "ops") as ops:
        ops.sql('USE ROLE "System Administrator"')
        ops.sql("CREATE TASK fix TYPE rebuild LOCATION SYSTEM")
        ops.sql("GRANT OPERATE ON TASK fix TO ROLE a")
        ops.sql("CANCEL TASK fix")  # the owner, with SYSADMIN
    with _as(data, "alice") as alice:
        # OPERATE is not enough to cancel a maintenance task
        with pytest.raises(PermissionDenied) as caught:
            alice.sql("CANCEL TASK fix")
        assert "CANCEL TASK of a maintenance task" in caught.value.message


def test_every_task_of_a_graph_has_one_owner(data: Path) -> None:
    with _as(data, "alice") as alice:
        alice.sql_all(
            "CREATE TASK root SCHEDULE = '1 hour' AS SELECT 1; CREATE TASK child AFTER root AS SELECT 2"
        )
    with _as(data, "bob") as bob:
        bob.sql("CREATE TASK other SCHEDULE = '1 hour' AS SELECT 3")
        with pytest.raises(PermissionDenied) as caught:
            bob.sql("CREATE TASK mine AFTER root AS SELECT 4")
        assert "one owner" in caught.value.message and "role a" in caught.value.message
        bob.sql("CREATE TASK lone AS SELECT 5")
        with pytest.raises(PermissionDenied) as caught:
            bob.sql("ALTER TASK lone ADD AFTER root")
        assert "one owner" in caught.value.message
    with _as(data, "admin") as admin:
        # the account administrator is held to it too: a child of alice's root is alice's role's
        with pytest.raises(PermissionDenied):
            admin.sql("CREATE TASK admins_child AFTER root AS SELECT 6")
        admin.sql("GRANT OWNERSHIP ON TASK root TO ROLE b")
        owners = dict(admin.sql("SELECT name, owner FROM system.tasks WHERE name IN ('root', 'child')").rows)
        assert owners == {"root": "b", "child": "b"}


def test_as_user_is_the_caller_and_is_checked_at_each_run(data: Path) -> None:
    with _as(data, "alice") as alice:
        with pytest.raises(PermissionDenied) as caught:
            alice.sql("CREATE TASK t ON SCHEDULE EVERY 10 MINUTES AS USER bob AS SELECT 1")
        assert "MANAGE GRANTS" in caught.value.message
        with pytest.raises(PermissionDenied):
            alice.sql("CREATE TASK t ON SCHEDULE EVERY 10 MINUTES AS USER nobody AS SELECT 1")
        alice.sql("CREATE TASK t ON SCHEDULE EVERY 10 MINUTES AS USER alice AS SELECT 1")
        alice.sql("EXECUTE TASK t")
    with _as(data, "admin") as admin:
        admin.sql("ALTER USER alice SET DISABLED = TRUE")
        admin.sql("EXECUTE TASK t")  # the run is recorded SKIPPED
        rows = admin.sql(
            "SELECT state, error_code, error_message FROM task_history() WHERE name = 't' ORDER BY run_id"
        ).rows
    assert rows[0][0] == "SUCCEEDED"
    assert rows[-1][:2] == ("SKIPPED", "PRIVILEGE_REVOKED") and "AS USER alice" in rows[-1][2]


def test_snowflakes_execute_as_user_is_checked_as_as_user_is(data: Path) -> None:
    """docs.snowflake.com/en/sql-reference/sql/create-task (EXECUTE AS USER) and alter-task (SET /
    UNSET EXECUTE AS USER): the same user a VoltDB task names with AS USER, with the same checks at
    CREATE and at ALTER; a refused ALTER changes nothing."""
    with _as(data, "alice") as alice:
        with pytest.raises(PermissionDenied) as caught:
            alice.sql("CREATE TASK s SCHEDULE = '10 MINUTES' EXECUTE AS USER bob AS SELECT 1")
        assert "MANAGE GRANTS" in caught.value.message
        alice.sql("CREATE TASK s SCHEDULE = '10 MINUTES' EXECUTE AS USER alice AS SELECT 1")
        assert "EXECUTE AS USER alice" in alice.sql("SHOW CREATE TASK s").rows[0][-1]
        with pytest.raises(PermissionDenied):
            alice.sql("ALTER TASK s SET EXECUTE AS USER bob")
        with pytest.raises(PermissionDenied):
            alice.sql("ALTER TASK s SET EXECUTE AS USER nobody")
        assert "EXECUTE AS USER alice" in alice.sql("SHOW CREATE TASK s").rows[0][-1]
        alice.sql("ALTER TASK s UNSET EXECUTE AS USER")
        assert "AS USER" not in alice.sql("SHOW CREATE TASK s").rows[0][-1]
    with _as(data, "admin") as admin:
        admin.sql("ALTER TASK s SET EXECUTE AS USER bob")  # MANAGE GRANTS
        shown = admin.sql("SHOW CREATE TASK s").rows[0][-1]
    assert "EXECUTE AS USER bob" in shown
