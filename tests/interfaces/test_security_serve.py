"""Turning security on for an existing data directory, with real ``tasksql`` processes: ``serve``
refuses to start while no user holds ACCOUNTADMIN (one line saying how to fix it), starts once an
administrator exists and then answers only requests with a token; the setup workflow of seed 003,
as docs/security.md writes it, runs as written and gives alice her tasks and bob none."""

from __future__ import annotations

import getpass
import json
import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from interface_support import TASKSQL, clean_env, wait_for

import tasksql
from tasksql.client import find_server
from tasksql.errors import PermissionDenied

DOCS = Path(__file__).resolve().parents[2] / "docs" / "security.md"
BOOTSTRAP = "CREATE USER admin DEFAULT_ROLE = accountadmin; GRANT ROLE accountadmin TO USER admin"


def _cli(data: Path, *args: str, security: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**clean_env(), "TASKSQL_SECURITY": "on" if security else "off"}
    return subprocess.run(
        [*TASKSQL, "--data", str(data), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _json(done: subprocess.CompletedProcess[str]) -> object:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _bootstrap(data: Path) -> str:
    """The administrator, made with security off; its token."""
    done = _cli(data, "--format", "json", "sql", BOOTSTRAP, security=False)
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout.splitlines()[0])[0]["token"])


def _post_sql(url: str, sql: str, token: str | None) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        url + "/api/v1/sql", data=json.dumps({"sql": sql}).encode(), method="POST", headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.realtime
def test_serve_needs_an_accountadmin_then_starts_and_wants_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    refused = _cli(data, "serve", "--port", "0")
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert refused.returncode == 1 and len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert lines[0].startswith("error [NO_ACCOUNTADMIN]")
    assert "TASKSQL_SECURITY=off" in lines[0] and "GRANT ROLE accountadmin TO USER admin" in lines[0]
    assert find_server(data) is None

    token = _bootstrap(data)
    monkeypatch.setenv("TASKSQL_TOKEN", token)  # the client finds a secured server with a token only
    env = {**clean_env(), "TASKSQL_SECURITY": "on"}
    proc = subprocess.Popen(
        [*TASKSQL, "--data", str(data), "serve", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        wait_for(lambda: proc.poll() is not None or find_server(data) is not None, "a running server")
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        server = find_server(data)
        assert server is not None
        assert _post_sql(server.url, "SHOW ROLES", None)[0] == 401
        assert _post_sql(server.url, "SHOW ROLES", "tsq_not-a-token")[0] == 401
        status, answer = _post_sql(server.url, "CREATE ROLE analysts", token)
        assert status == 200, answer
        status, answer = _post_sql(server.url, "SHOW GRANTS TO USER admin", token)
        assert status == 200 and "accountadmin" in json.dumps(answer), answer
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _seed_003_script() -> str:
    """The SQL block of docs/security.md that follows "Seed 003's setup"."""
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(r"Seed 003's setup.*?```sql\n(.*?)```", text, re.S)
    assert found is not None, "docs/security.md lost the seed 003 setup"
    return found.group(1)


def test_the_seed_003_setup_of_the_docs_runs_as_written(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _bootstrap(data)
    script = tmp_path / "setup.sql"
    script.write_text(_seed_003_script(), encoding="utf-8")
    done = _cli(data, "--user", "admin", "sql", "-f", str(script))
    assert done.returncode == 0, done.stderr

    with tasksql.connect(data, owner="admin", security=True) as admin:
        admin.sql("CREATE USER bob")
    with tasksql.connect(data, owner="alice", security=True) as alice:
        alice.sql_all(
            "CREATE TASK mine SCHEDULE = '1 hour' AS SELECT 1; ALTER TASK mine RESUME; EXECUTE TASK mine"
        )
        assert alice.sql("SELECT name, owner, state FROM system.tasks").rows == [
            ("mine", "myrole", "started")
        ]
        assert alice.sql("SELECT count(*) FROM task_history()").rows == [(1,)]
    with tasksql.connect(data, owner="bob", security=True) as bob:
        assert bob.sql("SHOW TASKS").rows == []
        for sql in (
            "ALTER TASK mine SUSPEND",
            "EXECUTE TASK mine",
            "DROP TASK mine",
            "CREATE TASK b AS SELECT 1",
        ):
            with pytest.raises(PermissionDenied):
                bob.sql(sql)


def test_the_embedded_cli_acts_as_the_operating_systems_user(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _bootstrap(data)
    me = getpass.getuser().lower()
    refused = _cli(data, "sql", "SELECT 1")
    assert refused.returncode == 1 and "UNKNOWN_USER" in refused.stderr and me in refused.stderr
    assert _cli(data, "--user", "admin", "sql", f'CREATE USER "{me}"').returncode == 0
    refused = _cli(data, "sql", "SELECT 1")  # as itself, with only PUBLIC: no USAGE on the warehouse
    assert refused.returncode == 1 and f"(user {me})" in refused.stderr and "USAGE" in refused.stderr
