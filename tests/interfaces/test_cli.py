"""The ``tasksql`` command line, through click's runner and as a real process."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from catalog_choice import catalog_env
from tasksql.cli import main


def run(tmp_path: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(main, ["--data", str(tmp_path / "data"), *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("sql", "shell", "serve", "settings"):
        assert command in result.stdout
    assert "--format" in result.stdout and "--data" in result.stdout


def test_sql_prints_tables_json_and_csv(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path, "sql", "CREATE TASK t SCHEDULE = '5 MINUTES' AS SELECT 1")
    assert code == 0 and out.strip() == "Task t successfully created."
    code, out, _ = run(
        tmp_path, "--format", "json", "sql", "SELECT 1 AS a, 'x' AS b; SELECT name FROM system.tasks"
    )
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [[{"a": 1, "b": "x"}], [{"name": "t"}]]
    code, out, _ = run(tmp_path, "--format", "csv", "sql", "SELECT 1 AS a, NULL AS b")
    assert out.splitlines() == ["a,b", "1,"]
    code, out, _ = run(tmp_path, "sql", "SELECT 42 AS answer")
    assert "answer" in out and "42" in out and "(1 row)" in out


def test_sql_errors_point_at_the_line_and_exit_non_zero(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "sql", "SHOW TASKS;\nCREATE TASK t SCHEDULE = '5 FORTNIGHTS' AS SELECT 1")
    assert code == 1
    assert "UNKNOWN_UNIT" in err and "line 2" in err
    assert "^" in err and "   2 | CREATE TASK t SCHEDULE" in err


def test_sql_from_a_file_and_from_stdin(tmp_path: Path) -> None:
    script = tmp_path / "setup.sql"
    script.write_text("CREATE TABLE t (x INTEGER);\nINSERT INTO t VALUES (1), (2);\n")
    assert run(tmp_path, "sql", "-f", str(script))[0] == 0
    code, out, _ = run(tmp_path, "--format", "json", "sql", stdin="SELECT sum(x) AS s FROM t")
    assert code == 0 and json.loads(out) == [{"s": 3}]


def test_settings_say_where_each_value_comes_from(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["--data", str(tmp_path / "d"), "--format", "csv", "settings"], env={"TASKSQL_PORT": "9999"}
    )
    assert result.exit_code == 0, result.output
    rows = {row["setting"]: row for row in csv.DictReader(io.StringIO(result.stdout))}
    assert rows["data_dir"]["value"] == str(tmp_path / "d") and rows["data_dir"]["source"] == "--data"
    assert rows["port"]["value"] == "9999" and rows["port"]["source"] == "TASKSQL_PORT"
    assert rows["grace_period_s"]["source"] == "default"
    # (with --catalog=postgres, the test's catalog comes from its environment variables)
    assert {row["source"] for row in rows.values()} <= {"default", "--data", "TASKSQL_PORT", *catalog_env()}


def test_global_options_after_the_command(tmp_path: Path) -> None:
    data = str(tmp_path / "after")
    result = CliRunner().invoke(main, ["sql", "SELECT 1 AS a", "--format", "csv", "--data", data])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["a", "1"]
    assert (tmp_path / "after" / "lock").exists()  # the data directory after the command was used
    # given before and after the command, the value after it wins
    result = CliRunner().invoke(
        main,
        [
            "--data",
            str(tmp_path / "before"),
            "--format",
            "json",
            "sql",
            "--format",
            "csv",
            "--data",
            data,
            "SELECT 2 AS b",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["b", "2"]
    assert not (tmp_path / "before").exists()
    result = CliRunner().invoke(main, ["--data", "x", "settings", "--data", data, "--format", "json"])
    first = json.loads(result.stdout)[0]
    assert (first["setting"], first["value"], first["source"]) == ("data_dir", data, "--data")


def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tasksql",
            "--data",
            str(tmp_path / "d"),
            "--format",
            "json",
            "sql",
            "SELECT 2 AS two",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"two": 2}]
