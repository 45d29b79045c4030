"""Meta-commands at work on a real data directory: listing and describing relations, display
settings, output to a file, running files, the editor, \\watch, and the pager."""

from __future__ import annotations

import io
import shlex
import sys
from pathlib import Path

import pytest
from shell_support import SCHEDULED, Buffers, cli

from tasksql.connection import Connection
from tasksql.shell.display import Display


@pytest.fixture
def warehouse(conn: Connection) -> Buffers:
    buffers = Buffers(conn)
    assert buffers.shell.execute(
        "CREATE TABLE events (event_id INTEGER NOT NULL, kind VARCHAR);\n"
        "CREATE VIEW recent AS SELECT event_id FROM events;\n"
        f"CREATE TASK nightly_load {SCHEDULED} AS INSERT INTO events VALUES (1, 'x');"
    )
    assert buffers.take()[1] == ""
    return buffers


def test_describe_lists_relations_and_columns(warehouse: Buffers) -> None:
    shell = warehouse.shell
    shell.display.fmt = "csv"
    shell.execute("\\d")
    out, err = warehouse.take()
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == "schema,name,type"
    assert {"main,events,table", "main,recent,view", "system,tasks,system view"} <= set(lines)
    shell.execute("\\d events")
    assert warehouse.take()[0].splitlines() == [
        "column,type,nullable",
        "event_id,INTEGER,false",
        "kind,VARCHAR,true",
    ]
    shell.execute("\\d system.cluster")  # tasksql's own relation: its columns are read by querying it
    out, err = warehouse.take()
    assert err == ""
    assert "node_id," in out
    shell.execute("\\d nightly_load")  # not a relation but a task: DESCRIBE TASK
    out, err = warehouse.take()
    assert out.startswith("property,value")
    shell.execute("\\d nope")
    out, err = warehouse.take()
    assert err.startswith("error [NOT_FOUND]: \\d: no table, view or task named nope")
    assert "Traceback" not in err


def test_tables_and_schema(warehouse: Buffers) -> None:
    shell = warehouse.shell
    shell.display.fmt = "csv"
    for command in ("\\dt", ".tables", "\\dt ev*"):
        shell.execute(command)
        assert warehouse.take()[0].splitlines() == ["schema,name,type", "main,events,table"], command
    shell.execute("\\dt zz*")
    assert warehouse.take()[0].splitlines() == ["schema,name,type"]
    shell.execute(".schema events")
    out, _ = warehouse.take()
    assert out.startswith("CREATE TABLE events(")
    assert "event_id INTEGER NOT NULL" in out
    assert "VIEW" not in out
    shell.execute(".schema")
    out, _ = warehouse.take()
    assert "CREATE TABLE events(" in out and "CREATE VIEW recent" in out
    shell.execute(".schema nope")
    assert warehouse.take()[1].startswith("error [NOT_FOUND]")


def test_expanded_and_timing(warehouse: Buffers) -> None:
    shell = warehouse.shell
    shell.execute("\\x")
    shell.execute("SHOW TASKS;")
    out, _ = warehouse.take()
    assert out.startswith("Expanded display is on.\n-[ row 1 ]")
    assert "definition" in out  # blocks show every column
    shell.execute("\\x off")
    shell.execute("SELECT 1 AS one;")
    out, _ = warehouse.take()
    assert "Expanded display is off." in out and "┃ one ┃" in out
    shell.execute("\\x auto")
    assert warehouse.take()[0] == "Expanded display is auto.\n"
    shell.execute("\\timing")
    shell.execute("SELECT 1; SELECT 2;")
    out, _ = warehouse.take()
    assert out.startswith("Timing is on.\n")
    assert out.count("Time: ") == 2  # one per statement
    shell.execute("\\timing off")
    shell.execute("SELECT 1;")
    assert "Time: " not in warehouse.take()[0]


def test_output_to_a_file_and_back(warehouse: Buffers, tmp_path: Path) -> None:
    shell = warehouse.shell
    target = tmp_path / "results.txt"
    shell.execute(f"\\o {target}")
    shell.execute("SELECT 'to the file' AS where_to;")
    out, _ = warehouse.take()
    assert "to the file" not in out
    shell.execute("\\o")
    shell.execute("SELECT 'back here' AS where_to;")
    assert "back here" in warehouse.take()[0]
    assert "to the file" in target.read_text()
    assert "back here" not in target.read_text()
    shell.execute(f"\\o {tmp_path / 'no' / 'such' / 'dir.txt'}")
    assert warehouse.take()[1].startswith("error [CANNOT_OPEN]: cannot write to")


def test_include_runs_sql_and_commands_and_names_the_failing_line(warehouse: Buffers, tmp_path: Path) -> None:
    shell = warehouse.shell
    script = tmp_path / "setup.sql"
    script.write_text(
        "\\f csv\nINSERT INTO events VALUES (7, 'from a file');\n.tables\nSELECT kind FROM events;\n"
    )
    shell.execute(f"\\i {script}")
    out, err = warehouse.take()
    assert err == ""
    assert "main,events,table" in out and "from a file" in out
    bad = tmp_path / "bad.sql"
    bad.write_text("SELECT 1;\n\n\nSELECT * FROM missing_table;\nSELECT 'never';\n")
    shell.execute(f"\\i {bad}")
    out, err = warehouse.take()
    assert "never" not in out
    assert "statement 2 (line 4) failed" in err  # the line of the file
    shell.execute(f"\\i {tmp_path / 'absent.sql'}")
    assert warehouse.take()[1].startswith("error [CANNOT_READ]: \\i: cannot read")
    loop = tmp_path / "loop.sql"
    loop.write_text(f"\\i {loop}\n")
    shell.execute(f"\\i {loop}")
    assert "error [INCLUDE_DEPTH]" in warehouse.take()[1]


def test_edit_puts_the_edited_query_in_the_next_prompt(
    warehouse: Buffers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys\np = sys.argv[1]\ntext = open(p).read()\nopen(p, 'w').write(text.replace('1', '42'))\n"
    )
    monkeypatch.setenv("EDITOR", f"{shlex.quote(sys.executable)} {shlex.quote(str(editor))}")
    monkeypatch.delenv("VISUAL", raising=False)
    shell = warehouse.shell
    shell.execute("SELECT 1 AS answer;")
    shell.execute("\\e")
    assert shell.next_input == "SELECT 42 AS answer;"
    shell.next_input = ""
    shell.execute("SELECT 1 + 1\n\\e")  # the unfinished input is edited, not the last query
    assert shell.next_input == "SELECT 42 + 42"
    monkeypatch.setenv("EDITOR", "/no/such/editor")
    shell.execute("\\e")
    assert warehouse.take()[1].endswith(
        "error [EDITOR_FAILED]: cannot start the editor '/no/such/editor': No such file or directory; set $EDITOR\n"
    )


def test_watch_runs_the_last_query_again(warehouse: Buffers, conn: Connection) -> None:
    fresh = Buffers(conn)
    fresh.shell.execute("\\watch")
    assert fresh.take()[1].startswith("error [NO_QUERY]")
    shell = warehouse.shell
    shell.execute("SELECT count(*) AS n FROM events;")
    warehouse.take()
    shell.execute("\\watch 0.01 c=3")
    out, err = warehouse.take()
    assert err == ""
    assert out.count("(every 0.01s)") == 3
    assert out.count("┃ n ┃") == 3
    shell.execute("\\watch 0")
    assert warehouse.take()[1].startswith("error [INVALID_ARGUMENT]")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_pager_for_output_taller_than_the_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paged = tmp_path / "paged.txt"
    pager = (
        f"{shlex.quote(sys.executable)} -c \"import sys; open({str(paged)!r}, 'a').write(sys.stdin.read())\""
    )
    monkeypatch.setenv("PAGER", pager)
    monkeypatch.setenv("LINES", "10")
    monkeypatch.setenv("COLUMNS", "80")
    out = _Terminal()
    display = Display("table", out, io.StringIO())
    display.write("short\n")
    assert out.getvalue() == "short\n" and not paged.exists()
    long = "".join(f"line {i}\n" for i in range(30))
    display.write(long)
    assert paged.read_text() == long
    assert out.getvalue() == "short\n"
    display.pager = False
    display.write(long)
    assert out.getvalue() == "short\n" + long
    display.pager = True
    monkeypatch.setenv("PAGER", "/no/such/pager")
    display.write(long)  # a pager that cannot start: the text is printed
    assert out.getvalue().endswith(long)


def test_pset_pager(warehouse: Buffers) -> None:
    shell = warehouse.shell
    shell.execute("\\pset pager off")
    assert warehouse.take()[0] == "Pager usage is off.\n"
    assert not shell.display.pager
    shell.execute("\\pset")
    assert "pager off" in warehouse.take()[0]


def test_piped_script_with_meta_commands(tmp_path: Path) -> None:
    script = ".tables\nCREATE TABLE t (a INTEGER);\n\\f csv\nINSERT INTO t VALUES (1);\n.tables\nSELECT a FROM t;\n"
    done = cli(tmp_path / "data", script)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "Output format is csv." in lines
    assert lines[-5:] == ["schema,name,type", "main,t,table", "", "a", "1"]
