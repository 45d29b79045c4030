"""``--catalog`` and ``tasksql catalog copy`` as a user runs them: real ``tasksql`` processes, an
embedded catalog with tasks, versions, a graph, history from a scheduler that ran, an integration
and a warehouse, moved to a private PostgreSQL server and back to a new file; the engine opened on
each copy shows the same tasks, descriptions, history and versions.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tasksql
from pgserver import PgServer
from tasksql.cli import main

pytestmark = pytest.mark.postgres

PASSWORD = "s3cr3t-pw"

#: The copy's source is the embedded catalog of a data directory (the target is PostgreSQL anyway).
embedded_source = pytest.mark.sqlite_catalog("copies the SQLite catalog of a data directory")

#: What the engine shows of a catalog; a copy must show exactly the same.
VIEWS = (
    "SHOW TASKS",
    "DESCRIBE TASK root",
    "DESCRIBE TASK child",
    "DESCRIBE TASK broken",
    "SELECT * FROM task_history() ORDER BY scheduled_time, name, attempt_number",
    "SELECT * FROM system.task_versions ORDER BY name, version",
    "SELECT * FROM system.graph_runs ORDER BY scheduled_time",
    "SHOW WAREHOUSES",
    "SHOW NOTIFICATION INTEGRATIONS",
    "SHOW SECRETS",
    "DESCRIBE NOTIFICATION INTEGRATION slack",
)
#: The value of the secret the catalog keeps (a copy carries it and never prints it).
SLACK_SECRET = "T0COPY/B0COPY/XXCOPYSECRET"


class Ran:
    """What a ``tasksql`` command printed and how it exited."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def tasksql_cli(*args: str, env: dict[str, str] | None = None) -> Ran:
    """``tasksql ARGS`` in this process (click's runner: the whole command, no process start-up)."""
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def tasksql_process(*args: str, env: dict[str, str] | None = None) -> Ran:
    """``tasksql ARGS`` as a process of its own."""
    done = subprocess.run(
        [sys.executable, "-m", "tasksql", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def pg_url(server: PgServer) -> str:
    """The server's URL with a password in it (trust authentication ignores it): it must never show."""
    return server.url.replace("@", f":{PASSWORD}@", 1)


#: Shown values computed from the time of the query (a suspended task's next instant is "if resumed
#: now"), not read from the catalog.
NOW_DEPENDENT = {"next_scheduled_time"}


def views(con: Any) -> dict[str, list[tuple[Any, ...]]]:
    shown: dict[str, list[tuple[Any, ...]]] = {}
    for query in VIEWS:
        result = con.sql(query)
        keep = [i for i, column in enumerate(result.columns) if column not in NOW_DEPENDENT]
        rows = [tuple(row[i] for i in keep) for row in result.rows]
        shown[query] = [row for row in rows if not (query.startswith("DESCRIBE") and row[0] in NOW_DEPENDENT)]
    return shown


def assert_same(got: dict[str, list[tuple[Any, ...]]], expected: dict[str, list[tuple[Any, ...]]]) -> None:
    """Equal views, or an error that names the query and its first differing rows."""
    for query in VIEWS:
        diff = [(a, b) for a, b in zip(got[query], expected[query], strict=False) if a != b]
        assert got[query] == expected[query], (
            f"{query}: {diff[:3] or (len(got[query]), len(expected[query]))}"
        )


def wait_for(condition: Any, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[tuple[Path, dict[str, list[tuple[Any, ...]]]]]:
    """A data directory whose SQLite catalog has everything a copy carries, and what it shows."""
    data = tmp_path / "data"
    with tasksql.connect(data) as con:
        con.sql_all(
            f"""
            CREATE TABLE ticks (n INTEGER);
            CREATE NOTIFICATION INTEGRATION hook ENABLED = FALSE WEBHOOK = (url = 'https://hooks.example/abc');
            CREATE SECRET slack_url TYPE = GENERIC_STRING SECRET_STRING = '{SLACK_SECRET}';
            CREATE NOTIFICATION INTEGRATION slack TYPE = WEBHOOK ENABLED = FALSE
              WEBHOOK_URL = 'https://hooks.slack.com/services/SNOWFLAKE_WEBHOOK_SECRET' WEBHOOK_SECRET = slack_url;
            CREATE WAREHOUSE side TYPE = sqlite URL = 'sqlite:side.db' MAX_CONCURRENCY = 2 COMMENT = 'aside';
            CREATE TASK root SCHEDULE = '1 SECOND' AS INSERT INTO ticks VALUES (1);
            CREATE TASK child AFTER root AS INSERT INTO ticks VALUES (2);
            ALTER TASK child MODIFY AS INSERT INTO ticks VALUES (3);
            CREATE TASK broken SCHEDULE = '1 SECOND' ERROR_INTEGRATION = hook AS SELECT CAST('x' AS INTEGER);
            CREATE TASK gone SCHEDULE = '1 HOUR' AS SELECT 1;
            DROP TASK gone;
            ALTER TASK child RESUME;
            ALTER TASK root RESUME;
            ALTER TASK broken RESUME;
            """
        )
        con.start()
        wait_for(
            lambda: (
                len(con.sql("SELECT * FROM task_history() WHERE name = 'child' AND state = 'SUCCEEDED'")) >= 1
                and len(
                    con.sql("SELECT * FROM task_history() WHERE name = 'broken' AND state LIKE 'FAILED%'")
                )
                >= 1
            ),
            "runs of the graph and a failed run",
        )
        con.sql("ALTER TASK root SUSPEND; ALTER TASK broken SUSPEND")
        con.stop()
        shown = views(con)
    assert all(shown.values()), shown
    yield data, shown


@embedded_source
def test_copy_to_postgresql_and_back_shows_the_same_catalog(
    embedded: tuple[Path, dict[str, list[tuple[Any, ...]]]], pg_server: PgServer, tmp_path: Path
) -> None:
    data, shown = embedded
    url, schema = pg_url(pg_server), f"moved_{uuid.uuid4().hex[:8]}"

    copied = tasksql_process(
        "--data", str(data), "--format", "csv", "catalog", "copy", "--to", url, "--to-schema", schema
    )

    assert copied.returncode == 0, copied.stderr
    counts = dict(line.split(",") for line in copied.stdout.splitlines()[1:])
    assert copied.stdout.splitlines()[0] == "copied,rows"
    assert int(counts["tasks"]) == 4 and int(counts["task versions"]) == 5 and int(counts["runs"]) >= 3
    assert (
        int(counts["graph runs"]) >= 1 and int(counts["integrations"]) == 2 and int(counts["warehouses"]) == 2
    )
    assert int(counts["secrets"]) == 1
    assert copied.stderr.startswith(f"copied the catalog {data / 'catalog.db'} to the catalog postgresql://")
    assert PASSWORD not in copied.stdout + copied.stderr and "***" in copied.stderr
    assert SLACK_SECRET not in copied.stdout + copied.stderr

    with tasksql.connect(data, catalog_url=url, catalog_schema=schema) as con:
        assert_same(views(con), shown)
        # a new task gets a fresh id (above the dropped one's)
        con.sql("CREATE TASK newer SCHEDULE = '1 HOUR' AS SELECT 1")
        ids = dict(con.sql("SELECT name, id FROM system.tasks").rows)
        assert ids["newer"] == max(ids.values()) == 5

    # and back, from PostgreSQL into a new SQLite file (the global --catalog after the command)
    back = tmp_path / "back"
    back.mkdir()
    returned = tasksql_cli(
        "--data",
        str(data),
        "catalog",
        "copy",
        "--catalog",
        url,
        "--to",
        str(back / "catalog.db"),
        env={"TASKSQL_CATALOG_SCHEMA": schema},
    )
    assert returned.returncode == 0, returned.stderr
    assert PASSWORD not in returned.stdout + returned.stderr
    with tasksql.connect(back) as con:
        again = views(con)
        assert again["SHOW TASKS"] != shown["SHOW TASKS"]  # the task created on PostgreSQL came along
        con.sql("DROP TASK newer")
        assert_same(views(con), shown)

    # a second copy into the target (it has content now) is refused and changes nothing ...
    refused = tasksql_cli("--data", str(data), "catalog", "copy", "--to", url, "--to-schema", schema)
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert (
        "is not empty (warehouses: 1, integrations: 2, secrets: 1, tasks: 5, task versions: 6," in line
        and "--force" in line
        and PASSWORD not in line
    )
    # ... unless forced: then the target holds exactly the source
    forced = tasksql_cli(
        "--data", str(data), "catalog", "copy", "--to", url, "--to-schema", schema, "--force"
    )
    assert forced.returncode == 0, forced.stderr
    with tasksql.connect(data, catalog_url=url, catalog_schema=schema) as con:
        assert_same(views(con), shown)


@embedded_source
def test_a_running_server_stops_the_copy(
    embedded: tuple[Path, dict[str, list[tuple[Any, ...]]]], pg_server: PgServer, tmp_path: Path
) -> None:
    data, _ = embedded
    url, schema = pg_url(pg_server), f"live_{uuid.uuid4().hex[:8]}"
    env = {"TASKSQL_CATALOG_SCHEMA": schema}
    assert (
        tasksql_cli("--data", str(data), "catalog", "copy", "--to", url, "--to-schema", schema).returncode
        == 0
    )
    plain = tmp_path / "plain.db"  # a catalog file in no data directory
    assert tasksql_cli("--data", str(data), "catalog", "copy", "--to", str(plain)).returncode == 0

    # a server on the PostgreSQL catalog, in the data directory of the embedded one: it owns the
    # directory (and with it catalog.db), and it joins the cluster of the PostgreSQL catalog (live)
    server = subprocess.Popen(
        [sys.executable, "-m", "tasksql", "--catalog", url, "--data", str(data), "serve", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
    )
    try:
        with tasksql.connect(tmp_path / "peek", catalog_url=url, catalog_schema=schema) as con:
            running = f"SELECT * FROM system.cluster WHERE pid = {server.pid} AND node_state = 'live'"
            wait_for(lambda: len(con.sql(running)) or server.poll() is not None, "the server's node")
        assert server.poll() is None, "the server did not start"
        from_file = tasksql_cli("--data", str(data), "catalog", "copy", "--to", str(tmp_path / "x.db"))
        from_pg = tasksql_cli("--catalog", url, "catalog", "copy", "--to", str(tmp_path / "y.db"), env=env)
        into_pg = tasksql_cli(
            "catalog", "copy", "--from", str(plain), "--to", url, "--to-schema", schema, "--force", env=env
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)

    assert from_file.returncode == 1
    [line] = from_file.stderr.splitlines()
    assert (
        f"data directory {data} is in use by pid {server.pid} (tasksql " in line and "stop it first" in line
    )
    for refused in (from_pg, into_pg):
        assert refused.returncode == 1, refused.stderr
        [line] = refused.stderr.splitlines()
        assert f"(pid {server.pid} on " in line and "is running on the catalog postgresql://" in line
        assert PASSWORD not in line
    assert not (tmp_path / "x.db").exists() and not (tmp_path / "y.db").exists()


def test_the_catalog_option_before_or_after_the_command_and_its_password_never_shown(
    pg_server: PgServer, tmp_path: Path
) -> None:
    url, schema = pg_url(pg_server), f"opt_{uuid.uuid4().hex[:8]}"
    env = {"TASKSQL_CATALOG_SCHEMA": schema}
    data = str(tmp_path / "data")

    made = tasksql_cli(
        "--catalog", url, "--data", data, "sql", "CREATE TASK t SCHEDULE = '1 HOUR' AS SELECT 1", env=env
    )
    assert made.returncode == 0, made.stderr
    listed = tasksql_cli(
        "--data", data, "--format", "csv", "sql", "--catalog", url, "SELECT name FROM system.tasks", env=env
    )
    assert listed.stdout.splitlines() == ["name", "t"]
    assert not (tmp_path / "data" / "catalog.db").exists()

    shown = tasksql_cli("--format", "csv", "settings", "--catalog", url)
    [row] = [line for line in shown.stdout.splitlines() if line.startswith("catalog_url,")]
    assert row.startswith("catalog_url,postgresql://") and ":***@" in row and row.split(",")[2] == "--catalog"
    assert PASSWORD not in shown.stdout

    unreachable = "postgresql://someone:" + PASSWORD + "@127.0.0.1:1/nowhere"
    failed = tasksql_cli("--catalog", unreachable, "--data", data, "sql", "SHOW TASKS")
    assert failed.returncode == 1
    [line] = failed.stderr.splitlines()
    assert "127.0.0.1:1" in line and PASSWORD not in line
