"""``tasksql sql`` as a real process: notices go to standard error as ``notice: ...`` after their
statement's result, never into CSV or JSON on standard output; a script that leaves BEGIN open is
rolled back and fails, and the next command sees none of it."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

from catalog_choice import clean_env

NO_SCHEDULER = "notice: no scheduler is running for this data directory: task noserver is started"


def tasksql(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_env()
    return subprocess.run(
        [sys.executable, "-m", "tasksql", "--data", str(data), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_notices_go_to_stderr_and_csv_stays_clean(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = tasksql(
        data, "--format", "csv", "sql", "CREATE TASK noserver SCHEDULE 1s AS SELECT 1; SELECT 2 AS b"
    )
    assert done.returncode == 0, done.stderr
    assert list(csv.reader(io.StringIO(done.stdout))) == [
        ["status"],
        ["Task noserver successfully created."],
        [],
        ["b"],
        ["2"],
    ]
    [line] = done.stderr.splitlines()
    assert line.startswith(NO_SCHEDULER)
    # JSON: one array per statement on standard output, the notice apart
    done = tasksql(data, "sql", "--format", "json", "CREATE OR REPLACE TASK noserver SCHEDULE 1s AS SELECT 1")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"status": "Task noserver successfully created."}]
    assert done.stderr.startswith(NO_SCHEDULER)


def test_a_notice_follows_its_own_statement(tmp_path: Path) -> None:
    script = "SELECT 1 AS a;\nCREATE TASK noserver SCHEDULE 1s INTO nowhere AS SELECT 1;\nSELECT 3 AS c"
    done = tasksql(tmp_path / "data", "sql", script)
    assert done.returncode == 0, done.stderr
    notices = done.stderr.splitlines()
    assert notices[0].startswith("notice: task noserver: INTO table nowhere does not exist in warehouse")
    assert notices[1].startswith(NO_SCHEDULER)
    assert len(notices) == 2


def test_a_failed_script_still_shows_the_notices_of_what_ran(tmp_path: Path) -> None:
    done = tasksql(
        tmp_path / "data", "sql", "CREATE TASK noserver SCHEDULE 1s AS SELECT 1; SELECT * FROM nosuch"
    )
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[0].startswith(NO_SCHEDULER)
    assert lines[1].startswith("error [QUERY_FAILED]: statement 2 (line 1) failed: ")


def test_a_script_leaving_begin_open_is_rolled_back(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = tasksql(data, "sql", "CREATE TABLE t (x INT);\nBEGIN;\nINSERT INTO t VALUES (1)")
    assert done.returncode == 1
    assert done.stdout.splitlines() == ["CREATE TABLE", "BEGIN", "INSERT 0 1"]
    assert done.stderr.startswith(
        "error [TRANSACTION_NOT_ENDED]: the script ended inside the transaction begun by statement 2 (BEGIN): "
        "it was rolled back"
    )
    assert "use -1 (--single-transaction)" in done.stderr
    done = tasksql(data, "--format", "csv", "sql", "SELECT count(*) AS n FROM t")
    assert done.stdout == "n\n0\n", done.stderr
    done = tasksql(data, "sql", "BEGIN; INSERT INTO t VALUES (1); COMMIT")
    assert done.returncode == 0 and done.stdout.splitlines() == ["BEGIN", "INSERT 0 1", "COMMIT"]
    assert tasksql(data, "--format", "csv", "sql", "SELECT count(*) AS n FROM t").stdout == "n\n1\n"
