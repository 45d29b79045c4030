"""An error's source line never shows a literal SECRET_STRING, as the CLI prints it.

The engine attaches the script with secrets masked (docs/sql-reference.md, Secrets); the CLI and
the shell (tests/shell/test_shell_secret_errors.py) printed the script as typed instead, so ``tasksql sql "CREATE SECRET s ... SECRET_STRING
= '<value>' BOGUS = 1"`` showed the value under the caret.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from catalog_choice import catalog_env
from tasksql.cli import main

VALUE = "T0/B0/XXcliSECRETvalue"
MASK = "'" + "*" * len(VALUE) + "'"
CREATE = f"CREATE SECRET s TYPE = GENERIC_STRING SECRET_STRING = '{VALUE}'"

FAILING = {
    # refused by the parser (UNKNOWN_PROPERTY), the literal before the caret
    "parse": (f"{CREATE} BOGUS = 1", "UNKNOWN_PROPERTY"),
    # refused when run (SECRET_EXISTS): the secret exists from the first statement
    "run": (f"{CREATE};\n{CREATE} COMMENT = 'again'", "SECRET_EXISTS"),
    # another statement fails after a secret statement of the same line
    "later": (f"{CREATE}; SELECT * FROM no_such_table_here", "QUERY_FAILED"),
}


def test_the_cli_masks_a_literal_secret_in_the_failing_line(tmp_path: Path) -> None:
    for n, (script, code) in enumerate(FAILING.values()):
        data = tmp_path / f"d{n}"
        result = CliRunner().invoke(main, ["--data", str(data), "sql", script], env=catalog_env())
        assert result.exit_code == 1, result.output
        stderr = result.stderr
        assert f"error [{code}]" in stderr and "Traceback" not in stderr, stderr
        assert VALUE not in stderr, stderr
        if code != "QUERY_FAILED":  # the warehouse's error names no position in the script
            assert MASK in stderr, stderr  # the line is shown, the value's columns kept
