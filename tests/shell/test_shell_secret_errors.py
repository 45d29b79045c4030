"""An error's source line never shows a literal SECRET_STRING, as the shell prints it (the CLI's:
tests/interfaces/test_cli_secret_errors.py)."""

from __future__ import annotations

from pathlib import Path

from shell_support import Buffers

from catalog_choice import catalog_env
from tasksql.connection import Connection
from tasksql.settings import Settings

VALUE = "T0/B0/XXshellSECRETvalue"
MASK = "'" + "*" * len(VALUE) + "'"
CREATE = f"CREATE SECRET s TYPE = GENERIC_STRING SECRET_STRING = '{VALUE}'"

FAILING = {
    "parse": (f"{CREATE} BOGUS = 1", "UNKNOWN_PROPERTY"),
    "run": (f"{CREATE};\n{CREATE} COMMENT = 'again'", "SECRET_EXISTS"),
    "later": (f"{CREATE}; SELECT * FROM no_such_table_here", "QUERY_FAILED"),
}


def test_the_shell_masks_a_literal_secret_in_the_failing_line(tmp_path: Path) -> None:
    settings = Settings.load(env=catalog_env(), data_dir=tmp_path / "data")
    with Connection(settings) as conn:
        buffers = Buffers(conn)
        for script, code in FAILING.values():
            conn.sql("DROP SECRET IF EXISTS s")
            assert buffers.shell.run_sql(script) is False
            _, err = buffers.take()
            assert f"error [{code}]" in err and VALUE not in err, err
            if code != "QUERY_FAILED":
                assert MASK in err, err
