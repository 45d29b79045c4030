"""``tasksql sql`` on scripts: what ran is printed before the error that names the failing statement,
``-1`` is all or nothing, EXECUTE TASK of a failing task exits non-zero, Ctrl-C stops the query."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from tasksql.cli import main

SLOW = "SELECT sum(hash(a.range * b.range)) FROM range(1000000) a, range(1000000) b"


def run(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--data", str(tmp_path / "data"), *args])
    return result.exit_code, result.stdout, result.stderr


def test_what_ran_is_printed_and_the_failing_statement_named(tmp_path: Path) -> None:
    code, out, err = run(
        tmp_path, "sql", "CREATE TABLE zz(a int); INSERT INTO zz VALUES (1); SELECT * FROM nosuch"
    )
    assert code == 1
    assert out.splitlines() == ["CREATE TABLE", "INSERT 0 1"]
    assert err.startswith("error [QUERY_FAILED]: statement 3 (line 1) failed: Catalog Error")
    assert "nosuch" in err
    code, out, _ = run(tmp_path, "--format", "json", "sql", "SELECT count(*) AS n FROM zz")
    assert code == 0 and json.loads(out) == [{"n": 1}]


def test_json_output_has_one_line_per_statement_that_ran(tmp_path: Path) -> None:
    code, out, err = run(
        tmp_path, "--format", "json", "sql", "SELECT 1 AS a;\nCREATE TABLE t (x INT);\nSELECT * FROM nosuch"
    )
    assert code == 1
    assert [json.loads(line) for line in out.splitlines()] == [[{"a": 1}], []]
    assert "statement 3 (line 3) failed" in err


def test_single_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    for flag in ("-1", "--single-transaction"):
        code, out, err = run(
            tmp_path, "sql", flag, "CREATE TABLE zz(a int); INSERT INTO zz VALUES (1); SELECT * FROM nosuch"
        )
        assert code == 1
        assert out.splitlines() == ["CREATE TABLE", "INSERT 0 1"]
        assert "statement 3 (line 1) failed (the script was rolled back: none of it remains)" in err
        code, _, err = run(tmp_path, "sql", "SELECT * FROM zz")
        assert code == 1 and "zz does not exist" in err
    code, out, _ = run(tmp_path, "sql", "-1", "CREATE TABLE zz(a int); INSERT INTO zz VALUES (1)")
    assert code == 0 and out.splitlines() == ["CREATE TABLE", "INSERT 0 1"]
    code, _, err = run(tmp_path, "sql", "-1", "CREATE TASK t SCHEDULE 1 HOUR AS SELECT 1")
    assert code == 1 and "NOT_IN_TRANSACTION" in err


def test_execute_task_of_a_failing_task_exits_non_zero(tmp_path: Path) -> None:
    code, out, err = run(
        tmp_path, "sql", "CREATE TASK bad SCHEDULE 1 HOUR AS SELECT * FROM nosuch; EXECUTE TASK bad"
    )
    assert code == 1
    assert out.strip() == "Task bad successfully created."
    assert "error [RUN_FAILED]: statement 2 (line 1) failed: task bad ran: FAILED, run 1: [42P01]" in err


def test_ctrl_c_stops_the_statement_and_exits_130(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tasksql",
            "--data",
            str(tmp_path / "data"),
            "sql",
            f"CREATE TABLE t (a INT); {SLOW}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "CREATE TABLE\n"  # printed at once, while the query runs
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert code == 130
    assert "cancelled (Ctrl-C)" in (proc.stderr.read() if proc.stderr else "")
