"""Notices and explicit transactions through a real ``tasksql serve``: the sql route carries each
result's notices (also those of the results before a failure), the client and the CLI show them
(the server's scheduler is live, so no "no scheduler" notice); a client's BEGIN holds its own
connection in the server until its COMMIT or ROLLBACK, or until it closes."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from serve_support import TASKSQL, ServerProcess, env

from catalog_choice import catalog_env
from tasksql.client import API_PREFIX, find_server
from tasksql.connection import Connection
from tasksql.errors import QueryFailed, ValidationError
from tasksql.settings import Settings
from tasksql.shell.loop import Shell

pytestmark = pytest.mark.realtime

INTO_NOTICE = "INTO table {table} does not exist in warehouse default yet"


def cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TASKSQL, "--data", str(data), *args],
        capture_output=True,
        text=True,
        env=env(),
        timeout=120,
        check=False,
    )


def connect(data: Path) -> Connection:
    conn = Connection(Settings.load(env=catalog_env(), data_dir=data))
    assert conn.remote
    return conn


def test_notices_travel_through_the_server(tmp_path: Path, spawn: Callable[..., ServerProcess]) -> None:
    data = tmp_path / "data"
    server = spawn(data)
    done = cli(
        data, "--format", "json", "sql", "CREATE TASK later SCHEDULE 1s INTO later_rows AS SELECT 1 AS x"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ['[{"status": "Task later successfully created."}]']
    [notice] = done.stderr.splitlines()  # the server's scheduler is live: no "no scheduler" notice
    assert notice.startswith("notice: task later: " + INTO_NOTICE.format(table="later_rows"))
    with connect(data) as conn:
        [task] = conn.sql("SHOW TASKS").as_dicts()
        assert (task["state"], task["scheduler"]) == ("started", "live")
        [result] = conn.sql_all("ALTER TASK later SET INTO = other_rows")
        assert len(result.notices) == 1 and INTO_NOTICE.format(table="other_rows") in result.notices[0]
        # the results before a failure keep their notices
        with pytest.raises(QueryFailed) as caught:
            conn.sql_all(
                "CREATE TASK third SCHEDULE 1s INTO third_rows AS SELECT 1 AS x; SELECT * FROM nosuch"
            )
        [before] = caught.value.partial_results
        assert INTO_NOTICE.format(table="third_rows") in before.notices[0]
        # the shell prints them on its error stream, after the result
        out, err = io.StringIO(), io.StringIO()
        shell = Shell(conn, "csv", out=out, err=err, interactive=False)
        assert shell.run_script("ALTER TASK later SET INTO = shell_rows;", interactive=False)
        assert out.getvalue().startswith("status\n") and "notice" not in out.getvalue()
        assert err.getvalue().startswith("notice: task later: " + INTO_NOTICE.format(table="shell_rows"))
    # the wire form: one list of notices per result
    remote = find_server(data)
    assert remote is not None
    answer = remote.request(
        "POST", f"{API_PREFIX}/sql", {"sql": "SELECT 1 AS a; ALTER TASK later SET INTO = w"}
    )
    assert [len(r["notices"]) for r in answer["results"]] == [0, 1]
    assert "in_transaction" not in answer  # only a request naming a session hears of transactions
    assert server.stop() == 0


def test_a_clients_transaction_is_its_own(tmp_path: Path, spawn: Callable[..., ServerProcess]) -> None:
    data = tmp_path / "data"
    server = spawn(data)
    with connect(data) as a, connect(data) as b:
        a.sql("CREATE TABLE t (x INT)")
        a.sql("BEGIN")
        a.sql("INSERT INTO t VALUES (1)")
        assert a.in_transaction and not b.in_transaction
        assert a.sql("SELECT count(*) FROM t").rows == [(1,)]
        assert b.sql("SELECT count(*) FROM t").rows == [(0,)]
        with pytest.raises(ValidationError) as refused:
            a.sql("CREATE TASK inside SCHEDULE 1 HOURS AS SELECT 1")
        assert refused.value.code == "NOT_IN_TRANSACTION"
        assert a.in_transaction  # a refused statement leaves the transaction as it was
        a.sql("COMMIT")
        assert not a.in_transaction
        assert b.sql("SELECT count(*) FROM t").rows == [(1,)]
        b.sql("BEGIN; DELETE FROM t")
        assert b.in_transaction
    # closing a connection rolled back what it left open
    done = cli(data, "--format", "csv", "sql", "SELECT count(*) AS n FROM t")
    assert done.stdout == "n\n1\n", done.stderr
    # tasksql sql through the server: a script's open transaction ends with it
    done = cli(data, "sql", "BEGIN; INSERT INTO t VALUES (2)")
    assert done.returncode == 1 and "error [TRANSACTION_NOT_ENDED]" in done.stderr
    done = cli(data, "--format", "csv", "sql", "SELECT count(*) AS n FROM t")
    assert done.stdout == "n\n1\n", done.stderr
    assert server.stop() == 0
