"""Every log record is one line: text a user controls cannot forge records."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tasksql.logs import FORMAT, EscapingFormatter, escape_controls


def _record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("bad\nERROR forged line")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("tasksql.test", logging.INFO, __file__, 1, msg, args, exc_info)


def test_escape_controls() -> None:
    assert escape_controls("a\nb\r\tc\x1b[31m\x00\x85\u2028\u202e\ud800é😀") == (
        "a\\nb\\r\\tc\\x1b[31m\\x00\\x85\\u2028\\u202e\\ud800é😀"
    )


def test_a_task_name_with_a_newline_stays_on_its_line() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(EscapingFormatter(FORMAT))
    name = "t\n2026-01-01 00:00:00,000 ERROR tasksql.scheduler: forged"
    handler.emit(_record("run of %s failed", name))
    handler.emit(_record("surrogate %s", "\ud800"))  # would make a strict UTF-8 stream fail
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("run of t\\n2026-01-01 00:00:00,000 ERROR tasksql.scheduler: forged failed")
    assert lines[1].endswith("surrogate \\ud800")


def test_a_traceback_keeps_its_lines_indented() -> None:
    text = EscapingFormatter(FORMAT).format(_record("oops %s", "x\ny", exc=True))
    first, *rest = text.split("\n")
    assert first.endswith("oops x\\ny")
    assert rest and all(line.startswith("    ") for line in rest)
    assert any("ValueError: bad" in line for line in rest)
    assert any(line.strip() == "ERROR forged line" for line in rest)  # indented: not a record


def test_configure_writes_one_line_per_record_in_a_fresh_process() -> None:
    import subprocess

    code = (
        "import logging; from tasksql import logs; logs.configure('info'); "
        "logging.getLogger('tasksql.scheduler').info('run of %s failed', 'a\\nFORGED \\x1b[2J')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("INFO tasksql.scheduler: run of a\\nFORGED \\x1b[2J failed")


_HOOKED_CLI = """
import logging, sys
from tasksql import output
from tasksql.cli import main

write = output.ResultWriter.write


def write_and_log(self, result):  # a warning logged while the command runs, as a library might
    logging.getLogger("some.library").warning("odd value %s", "a\\nFORGED error line \\x1b[2J")
    write(self, result)


output.ResultWriter.write = write_and_log
main(sys.argv[1:], prog_name="tasksql")
"""


@pytest.mark.parametrize(
    ("command", "stdin"), [(["sql", "SELECT 1 AS a"], ""), (["shell"], "SELECT 1 AS a;\n")]
)
def test_the_cli_logs_one_escaped_line_per_record(tmp_path: Path, command: list[str], stdin: str) -> None:
    """tasksql sql and tasksql shell (real processes) log warnings as one escaped line each."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSQL_")}
    done = subprocess.run(
        [sys.executable, "-c", _HOOKED_CLI, "--data", str(tmp_path / "data"), *command],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["warning: odd value a\\nFORGED error line \\x1b[2J"]
    assert "\x1b" not in done.stderr
