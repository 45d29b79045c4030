"""Users, roles and privileges through the Python API (tasksql.connect) on a real data directory:
every statement of the matrix (tests/security_matrix.py) succeeds for a role that has each
privilege it needs and is refused, changing nothing, for roles that each lack one; who sees what;
escalation attempts; a node does not start with security on and no ACCOUNTADMIN; the audit log."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import ModuleType

import pytest

import tasksql
from security_matrix import BOOTSTRAP, CASES, ELSEWHERE, Variant, variants
from tasksql.connection import Connection
from tasksql.errors import ConfigError, PermissionDenied, TasksqlError
from tasksql.sql import parse
from tasksql.sql import statements as st
from tasksql.sql import statements_security as ss


def _open(data: Path, user: str, *, security: bool = True) -> Connection:
    return tasksql.connect(data, owner=user, security=security)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data directory with an administrator, set up while security was off."""
    path = tmp_path / "data"
    with tasksql.connect(path) as conn:
        conn.sql_all(BOOTSTRAP)
    return path


def test_every_statement_needs_each_of_its_privileges(data: Path) -> None:
    cases = variants()
    with _open(data, "admin") as admin:
        for v in cases:
            admin.sql_all(";\n".join(v.setup_sql))
    failures: list[str] = []
    for v in cases:
        with _open(data, v.user) as conn:
            try:
                conn.sql_all(v.sql)
                ok, why = v.allowed, "succeeded"
            except PermissionDenied as err:
                ok, why = not v.allowed, err.message
                # the refusal names a privilege (or a role the user lacks) and the object
                assert "lacks" in err.message or "has not been granted" in err.message, err.message
            except TasksqlError as err:
                ok, why = False, f"{err.code}: {err.message}"
        if not ok:
            failures.append(f"{v.sql!r} with {list(v.grants)}: {why}")
    assert not failures, "\n".join(failures)


def test_the_matrix_has_every_statement_of_the_language() -> None:
    def kinds(module: ModuleType) -> set[str]:
        return {
            name
            for name, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, st.Statement) and cls is not st.Statement and cls.__module__ == module.__name__
        }

    language = kinds(st) | kinds(ss)
    covered = {type(s).__name__ for case in CASES for s in parse(Variant(case, "x", "r", "u", (), True).sql)}
    assert language - covered == set(ELSEWHERE), "statements missing from tests/security_matrix.py"


def test_a_refused_statement_changes_nothing(data: Path) -> None:
    with _open(data, "admin") as admin:
        admin.sql_all("CREATE ROLE low; CREATE USER bob DEFAULT_ROLE = low; GRANT ROLE low TO USER bob")
        admin.sql_all("CREATE TASK t SCHEDULE = '1 minute' AS SELECT 1")
    with _open(data, "bob") as bob, pytest.raises(PermissionDenied) as caught:
        bob.sql_all("DROP TASK t")
    assert caught.value.code == "PERMISSION_DENIED"
    assert "OWNERSHIP" in caught.value.message and "tasksql.public.t" in caught.value.message
    with _open(data, "admin") as admin:
        assert [r[1] for r in admin.sql("SHOW TASKS").rows] == ["t"]


def test_callers_see_only_their_tasks_and_history(data: Path) -> None:
    setup = """
USE ROLE accountadmin;
CREATE ROLE taskadmin; CREATE ROLE myrole; CREATE ROLE other;
GRANT EXECUTE TASK ON ACCOUNT TO ROLE taskadmin;
GRANT ROLE taskadmin TO ROLE myrole;
GRANT USAGE ON WAREHOUSE "default" TO ROLE myrole; GRANT USAGE ON WAREHOUSE "default" TO ROLE other;
GRANT USAGE ON DATABASE tasksql TO ROLE myrole; GRANT USAGE ON SCHEMA tasksql.public TO ROLE myrole;
GRANT CREATE TASK ON SCHEMA tasksql.public TO ROLE myrole;
CREATE USER alice DEFAULT_ROLE = myrole; GRANT ROLE myrole TO USER alice;
CREATE USER bob DEFAULT_ROLE = other; GRANT ROLE other TO USER bob;
CREATE TASK admins_task AS SELECT 1;
"""
    with _open(data, "admin") as admin:
        admin.sql_all(setup)
    with _open(data, "alice") as alice:
        alice.sql_all("CREATE TASK mine AS SELECT 1; EXECUTE TASK mine")
        assert [r[1] for r in alice.sql("SHOW TASKS").rows] == ["mine"]
        assert alice.sql("SELECT name, owner FROM system.tasks").rows == [("mine", "myrole")]
        assert {r[0] for r in alice.sql("SELECT name FROM task_history()").rows} == {"mine"}
    with _open(data, "bob") as bob:
        assert bob.sql("SHOW TASKS").rows == []
        assert bob.sql("SELECT count(*) FROM system.task_history").rows == [(0,)]
        for sql in ("EXECUTE TASK mine", "ALTER TASK mine SUSPEND", "DESCRIBE TASK mine"):
            with pytest.raises(PermissionDenied):
                bob.sql(sql)
        # bob sees his own audit lines only
        assert {r[0] for r in bob.sql("SELECT DISTINCT user_name FROM system.audit_log").rows} == {"bob"}
    with _open(data, "admin") as admin:
        assert {r[1] for r in admin.sql("SHOW TASKS").rows} == {"mine", "admins_task"}
        audit = admin.sql(
            "SELECT user_name, role_name, outcome, error_code FROM system.audit_log WHERE statement = 'EXECUTE TASK mine'"
        ).rows
        assert ("alice", "myrole", "SUCCEEDED", None) in audit
        assert ("bob", "other", "FAILED", "PERMISSION_DENIED") in audit


def test_escalation_attempts_are_refused(data: Path) -> None:
    with _open(data, "admin") as admin:
        admin.sql_all(
            "CREATE ROLE low; CREATE USER eve DEFAULT_ROLE = low; GRANT ROLE low TO USER eve;"
            "GRANT CREATE ROLE ON ACCOUNT TO ROLE low; CREATE ROLE r2; GRANT ROLE r2 TO ROLE low"
        )
    with _open(data, "eve") as eve:
        for sql in (
            "GRANT ROLE accountadmin TO USER eve",
            "GRANT ROLE securityadmin TO ROLE low",
            "GRANT EXECUTE TASK ON ACCOUNT TO ROLE low",
            "GRANT MANAGE GRANTS ON ACCOUNT TO ROLE low",
            "USE ROLE accountadmin",
            "ALTER USER eve SET DEFAULT_ROLE = accountadmin",
            "GRANT ROLE r2 TO ROLE low",  # r2 is not eve's to grant
        ):
            with pytest.raises(PermissionDenied):
                eve.sql(sql)
        # a role eve made is hers to grant, but never to itself or in a cycle
        eve.sql("CREATE ROLE mine")
        with pytest.raises(TasksqlError) as caught:
            eve.sql("GRANT ROLE mine TO ROLE mine")
        assert caught.value.code == "ROLE_CYCLE"
    with _open(data, "admin") as admin:
        assert admin.sql("SHOW GRANTS TO USER eve").rows[0][3] == "low"
        assert len(admin.sql("SHOW GRANTS TO USER eve").rows) == 1


def test_a_node_does_not_start_without_an_accountadmin(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _open(tmp_path / "fresh", "anyone")
    assert caught.value.code == "NO_ACCOUNTADMIN"
    assert "TASKSQL_SECURITY=off" in caught.value.message


def test_an_unknown_user_is_refused_by_name(data: Path) -> None:
    with _open(data, "mallory") as conn, pytest.raises(PermissionDenied) as caught:
        conn.sql("SELECT 1")
    assert caught.value.code == "UNKNOWN_USER" and "mallory" in caught.value.message


def test_with_security_off_every_caller_is_accountadmin(data: Path) -> None:
    with _open(data, "nobody", security=False) as conn:
        conn.sql_all("CREATE TASK t AS SELECT 1; GRANT OWNERSHIP ON TASK t TO ROLE sysadmin")
        assert conn.sql("SHOW ROLES").rows[0][1:3] == ("accountadmin", "Y")
        assert [r[1] for r in conn.sql("SHOW TASKS").rows] == ["t"]
