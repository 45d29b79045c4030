"""The interactive shell: input completeness, meta-commands, completion, highlighting, piped mode
and an interactive session driven through prompt_toolkit's pipe input."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from tasksql.client import find_server
from tasksql.connection import Connection
from tasksql.errors import ConfigError
from tasksql.settings import Settings
from tasksql.shell.loop import HISTORY_FILE, Shell, help_text, run_script
from tasksql.shell.completion import SqlCompleter, candidates, in_literal_or_comment, word_before
from tasksql.shell.input import (
    MetaCommand,
    MetaKind,
    changes_catalog,
    is_complete,
    is_meta,
    parse_meta,
    submits_on_enter,
)
from tasksql.shell.keywords import ShellWords, shell_words, words_from_module
from tasksql.shell.lexer import COMMENT, FUNCTION, IDENTIFIER, KEYWORD, NUMBER, STRING, SqlLexer, fragments

SCHEDULED = "SCHEDULE = '1 MINUTE'"

# --- statement completeness ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("SELECT 1;", True),
        ("  SELECT 1;  \n", True),
        ("SELECT 1", False),
        ("", False),
        ("   \n ", False),
        (";", True),
        ("SELECT 1;\nSELECT 2;", True),
        ("SELECT 1;\nSELECT 2", False),
        # semicolons in strings and quoted identifiers
        ("SELECT 'a;'", False),
        ("SELECT 'a;';", True),
        ("SELECT 'it''s;", False),
        ("SELECT 'it''s';", True),
        ('SELECT "a;b', False),
        ('SELECT "a;b";', True),
        # unterminated strings never submit, even when the line ends with ';'
        ("SELECT 'abc;", False),
        ("SELECT E'a\\';", False),
        # comments
        ("SELECT 1 -- done;", False),
        ("SELECT 1; -- trailing comment", False),
        ("SELECT 1 /* ; */", False),
        ("SELECT 1 /* open ;", False),
        ("SELECT 1 /* /* */ ; */", False),
        ("SELECT 1 /* /* */ ; */;", True),
        # dollar-quoted bodies
        (f"CREATE TASK t {SCHEDULED} AS $$ INSERT INTO x VALUES (1);", False),
        (f"CREATE TASK t {SCHEDULED} AS $$ INSERT INTO x VALUES (1); $$;", True),
        ("SELECT $tag$ ; $$ ; ", False),
        ("SELECT $tag$ ; $$ ; $tag$;", True),
        # BEGIN ... END task bodies
        (f"CREATE TASK t {SCHEDULED} AS BEGIN INSERT INTO x VALUES (1);", False),
        (f"CREATE TASK t {SCHEDULED} AS BEGIN INSERT INTO x VALUES (1); END;", True),
        (f"CREATE TASK t {SCHEDULED}\nAS BEGIN\n  INSERT INTO x VALUES (1);\n  DELETE FROM y;\n", False),
        (f"CREATE OR REPLACE TASK t {SCHEDULED} AS BEGIN BEGIN SELECT 1; END;", False),
        (f"CREATE OR REPLACE TASK t {SCHEDULED} AS BEGIN BEGIN SELECT 1; END; END;", True),
        ("ALTER TASK t MODIFY AS BEGIN SELECT 1; IF x THEN SELECT 2; END IF;", False),
        ("ALTER TASK t MODIFY AS BEGIN SELECT 1; IF x THEN SELECT 2; END IF; END;", True),
        # a top-level BEGIN is a transaction statement, complete at its semicolon
        ("BEGIN;", True),
        ("BEGIN TRANSACTION;", True),
    ],
)
def test_is_complete(text: str, complete: bool) -> None:
    assert is_complete(text) is complete


@pytest.mark.parametrize(
    ("text", "submits"),
    [
        ("", True),
        ("   ", True),
        ("\\q", True),
        ("  \\f csv  ", True),
        ("SELECT 1;", True),
        ("SELECT 1", False),
        ("SELECT 1\n\\q", False),
        ("SELECT '\\q", False),
    ],
)
def test_submits_on_enter(text: str, submits: bool) -> None:
    assert submits_on_enter(text) is submits


@pytest.mark.parametrize(
    ("text", "changes"),
    [
        (f"CREATE TASK t {SCHEDULED} AS SELECT 1", True),
        ("drop task t", True),
        ("SELECT 1; ALTER TASK t SUSPEND;", True),
        ("-- a comment first\nCREATE OR REPLACE TASK t AS SELECT 1", True),
        ("SHOW TASKS", False),
        ("SELECT 'CREATE'", False),
        ("-- CREATE\nSELECT 1", False),
        ("SELECT 'unterminated", False),
    ],
)
def test_changes_catalog(text: str, changes: bool) -> None:
    assert changes_catalog(text) is changes


# --- meta-commands -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\\q", MetaCommand(kind=MetaKind.QUIT)),
        ("\\quit", MetaCommand(kind=MetaKind.QUIT)),
        ("  \\q;  ", MetaCommand(kind=MetaKind.QUIT)),
        ("\\h", MetaCommand(kind=MetaKind.HELP)),
        ("\\?", MetaCommand(kind=MetaKind.HELP)),
        ("\\t", MetaCommand(kind=MetaKind.TASKS)),
        ("\\f csv", MetaCommand(kind=MetaKind.FORMAT, argument="csv")),
        ("\\f JSON", MetaCommand(kind=MetaKind.FORMAT, argument="json")),
        ("\\F table", MetaCommand(kind=MetaKind.FORMAT, argument="table")),
        ("\\f", MetaCommand(kind=MetaKind.FORMAT, argument=None)),
        ("SELECT 1", None),
        ("SELECT '\\q'", None),
        ("\\q\nSELECT 1", None),
    ],
)
def test_parse_meta(text: str, expected: MetaCommand | None) -> None:
    assert parse_meta(text) == expected
    assert is_meta(text) is (expected is not None)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("\\x", "UNKNOWN_COMMAND"),
        ("\\", "UNKNOWN_COMMAND"),
        ("\\f xml", "INVALID_ARGUMENT"),
        ("\\f csv json", "INVALID_ARGUMENT"),
        ("\\q now", "INVALID_ARGUMENT"),
    ],
)
def test_parse_meta_rejects(text: str, code: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_meta(text)
    assert info.value.code == code


def test_help_names_every_command() -> None:
    text = help_text()
    for command in ("\\q", "\\h", "\\?", "\\t", "\\f table|csv|json", "Ctrl-D", "Ctrl-C", "Alt-Enter"):
        assert command in text


# --- words, completion ---------------------------------------------------------------------------

WORDS = ShellWords.of(["SELECT", "SET", "SHOW", "SCHEDULE", "TASK", "TASKS", "WAREHOUSE"], ["task_history"])


def test_candidates_follow_the_case_of_the_prefix() -> None:
    assert candidates("sel", WORDS) == ["select"]
    assert candidates("SEL", WORDS) == ["SELECT"]
    assert candidates("Sel", WORDS) == ["SELECT"]
    assert candidates("s", WORDS) == ["schedule", "select", "set", "show"]
    assert candidates("zzz", WORDS) == []


def test_candidates_offer_task_names_first_and_quote_them() -> None:
    names = ["tally", "My Task", "task_nightly"]
    assert candidates("ta", WORDS, names) == ["tally", "task_nightly", "task", "tasks", "task_history"]
    assert candidates("TASK_N", WORDS, names) == ["task_nightly"]
    assert candidates("my", WORDS, names) == ['"My Task"']


def test_candidates_skip_a_word_already_complete() -> None:
    assert candidates("task", WORDS) == ["tasks", "task_history"]
    assert candidates("", WORDS) == [
        "SCHEDULE",
        "SELECT",
        "SET",
        "SHOW",
        "TASK",
        "TASKS",
        "task_history",
        "WAREHOUSE",
    ]


def test_word_before_cursor() -> None:
    assert word_before("SELECT * FROM task_hi") == "task_hi"
    assert word_before("SELECT SYSTEM$TASK_DEP") == "SYSTEM$TASK_DEP"
    assert word_before("SHOW TASKS IN db.sch") == "sch"
    assert word_before("SCHEDULE 5s") == ""
    assert word_before("SELECT ") == ""


def test_no_completion_inside_strings_and_comments() -> None:
    assert in_literal_or_comment("SELECT 'ta")
    assert in_literal_or_comment("SELECT 1 -- ta")
    assert in_literal_or_comment("SELECT 1 /* ta")
    assert not in_literal_or_comment("SELECT 'a' || ta")
    assert not in_literal_or_comment("SELECT 1 /* x */ ta")


def _completions(completer: SqlCompleter, text: str, *, requested: bool = False) -> list[tuple[str, int]]:
    event = CompleteEvent(completion_requested=requested)
    return [(c.text, c.start_position) for c in completer.get_completions(Document(text), event)]


def test_completer_completes_the_word_before_the_cursor() -> None:
    names = ["nightly_load"]
    completer = SqlCompleter(WORDS, lambda: names)
    assert _completions(completer, "SELECT * FROM task_h") == [("task_history", -6)]
    assert _completions(completer, "execute task NIGH") == [("nightly_load", -4)]
    assert _completions(completer, "SELECT 'nigh") == []
    assert _completions(completer, "SHOW ") == []
    assert len(_completions(completer, "SHOW ", requested=True)) == len(WORDS.all()) + 1
    names.append("nightly_report")  # the completer asks for the names each time
    assert [t for t, _ in _completions(completer, "nightly_")] == ["nightly_load", "nightly_report"]


def test_shell_words_come_from_the_sql_keywords_module() -> None:
    words = shell_words()
    for keyword in ("SELECT", "CREATE", "TASK", "SCHEDULE", "WAREHOUSE", "SUSPEND_TASK_AFTER_NUM_FAILURES"):
        assert words.is_keyword(keyword)
    for keyword in ("WHERE", "JOIN", "ORDER", "BY"):  # ordinary SQL, added by the shell
        assert words.is_keyword(keyword)
    for function in ("next_runs", "task_history", "SYSTEM$TASK_DEPENDENTS_ENABLE"):
        assert words.is_function(function)
        assert not words.is_keyword(function)


def test_shell_words_without_the_keywords_module() -> None:
    words = shell_words("tasksql.no_such_module")
    assert words.is_keyword("WHERE")
    assert not words.is_keyword("SCHEDULE")
    assert words.functions == frozenset()


def test_words_from_a_keywords_module() -> None:
    module = types.ModuleType("kw")
    module.STATEMENT_STARTERS = ("CREATE", "VACUUM")  # type: ignore[attr-defined]
    module.PROPERTIES = ("zeta_property",)  # type: ignore[attr-defined]
    module.UNITS = {"ms": 1, "s": 1000}  # type: ignore[attr-defined]
    module.CLAUSES = frozenset({"ORDER BY", "not a-word"})  # type: ignore[attr-defined]
    module.FUNCTIONS = ["my_function"]  # type: ignore[attr-defined]
    module.VERSION = "1"  # type: ignore[attr-defined]
    module._PRIVATE = ("HIDDEN",)  # type: ignore[attr-defined]
    module.MIXED = ("WORD", 3)  # type: ignore[attr-defined]
    words = words_from_module(module)
    assert words.keywords == {"CREATE", "VACUUM", "ZETA_PROPERTY", "ORDER", "BY", "NOT"}
    assert words.functions == {"my_function"}
    module.__all__ = ["FUNCTIONS", "PROPERTIES"]  # type: ignore[attr-defined]
    words = words_from_module(module)
    assert words.keywords == {"ZETA_PROPERTY"}
    assert words.functions == {"my_function"}


def test_shell_words_include_the_sql_keywords_module() -> None:
    from tasksql.sql import keywords

    found = words_from_module(keywords)
    merged = shell_words()
    assert found.keywords - found.function_keys <= merged.keywords
    assert found.functions == merged.functions


# --- highlighting --------------------------------------------------------------------------------

HIGHLIGHT_WORDS = shell_words()


@pytest.mark.parametrize(
    "text",
    [
        "SELECT next_runs('t', 3), 42, x -- note\n  FROM \"Quoted\";",
        "SELECT 'unterminated",
        "SELECT 1 /* open",
        "SELECT $$ body",
        "SELECT 1 \\ 2",
        "",
    ],
)
def test_fragments_cover_the_text_exactly(text: str) -> None:
    assert "".join(piece for _, piece in fragments(text, HIGHLIGHT_WORDS)) == text


def test_fragments_style_each_kind_of_token() -> None:
    text = "SELECT next_runs('t', 3), x -- note\nFROM \"Quoted\""
    styled = [(style, piece) for style, piece in fragments(text, HIGHLIGHT_WORDS) if piece.strip()]
    assert (KEYWORD, "SELECT") in styled
    assert (FUNCTION, "next_runs") in styled
    assert (STRING, "'t'") in styled
    assert (NUMBER, "3") in styled
    assert (IDENTIFIER, "x") in styled
    assert (COMMENT, "-- note") in styled
    assert (KEYWORD, "FROM") in styled
    assert (IDENTIFIER, '"Quoted"') in styled


def test_fragments_of_unfinished_input() -> None:
    assert fragments("SELECT 'abc", HIGHLIGHT_WORDS)[-1] == (STRING, "'abc")
    assert fragments("SELECT 1 /* open", HIGHLIGHT_WORDS)[-1] == (COMMENT, "/* open")
    assert fragments("SELECT $$ x;\n y", HIGHLIGHT_WORDS)[-1] == (STRING, "$$ x;\n y")


def test_lexer_returns_lines() -> None:
    lexer = SqlLexer(HIGHLIGHT_WORDS)
    get_line = lexer.lex_document(Document("SELECT 1\nFROM t -- c"))
    assert [piece for _, piece in get_line(0)] == ["SELECT", " ", "1"]
    assert [piece for _, piece in get_line(1)] == ["FROM", " ", "t", " ", "-- c"]
    assert get_line(5) == []


# --- sessions over a real data directory ---------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(env={}, data_dir=tmp_path / "data")


@pytest.fixture
def conn(settings: Settings) -> Iterator[Connection]:
    with Connection(settings) as connection:
        yield connection


def _shell(conn: Connection, fmt: str = "table") -> tuple[Shell, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Shell(conn, fmt, out=out, err=err), out, err


def test_execute_runs_sql_and_meta_commands(conn: Connection) -> None:
    shell, out, err = _shell(conn)
    assert shell.execute(f"CREATE TASK nightly_load {SCHEDULED} AS SELECT 1;")
    assert shell.task_names == ["nightly_load"]  # refreshed after CREATE
    assert shell.execute("\\f csv")
    assert shell.fmt == "csv"
    out.truncate(0)
    out.seek(0)
    assert shell.execute("\\t")
    lines = out.getvalue().splitlines()
    assert lines[0] == "created_on,name,kind,database_name,schema_name,schedule"
    assert ",nightly_load,TASK," in lines[1]
    assert shell.execute("\\f")
    assert out.getvalue().endswith("output format: csv\n")
    assert err.getvalue() == ""
    assert shell.execute("   ")
    assert not shell.execute("\\q")


def test_execute_prints_errors_with_a_caret_and_goes_on(conn: Connection) -> None:
    shell, out, err = _shell(conn)
    assert shell.execute("SHOW TASKS;\nDROP TASK no_such_task;")
    assert "error [TASK_NOT_FOUND]" in err.getvalue()
    assert shell.execute("\\f xml")
    assert "error [INVALID_ARGUMENT]" in err.getvalue()
    assert shell.execute("\\nope")
    assert "error [UNKNOWN_COMMAND]" in err.getvalue()
    err.truncate(0)
    err.seek(0)
    assert shell.execute("SELECT 1;\nCREATE TASK bad SCHEDULE = 'every now and then' AS SELECT 1;")
    rendered = err.getvalue()
    assert rendered.startswith("error [")
    assert "\n   2 | CREATE TASK bad" in rendered  # the offending line, numbered in the input
    assert "^" in rendered.splitlines()[-1]
    shell.execute("SHOW TASKS;")
    assert "(0 rows)" in out.getvalue()


def test_banner_says_where_and_how(conn: Connection, settings: Settings) -> None:
    shell, _, _ = _shell(conn)
    banner = shell.banner()
    assert "tasksql 0." in banner
    assert str(settings.data_dir.resolve()) in banner
    assert "embedded" in banner
    assert "\\h" in banner


def test_interactive_session_through_pipe_input(conn: Connection, settings: Settings) -> None:
    shell, out, err = _shell(conn)
    keys = (
        # a statement over two lines: the first Enter starts a new line, the second runs it
        f"CREATE TASK nightly_load\r{SCHEDULED} AS INSERT INTO t VALUES (';');\r"
        # Ctrl-C drops an unfinished statement: this task is never created
        "CREATE TASK dropped AS\x03"
        "SHOW TASKS;\r"
        # Alt-Enter (Esc Enter) runs the buffer without a semicolon
        "\\f csv\r"
        "SHOW TERSE TASKS\x1b\r"
        "\\q\r"
        "SELECT 'never run';\r"
    )
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        session = shell.session(input=pipe, output=DummyOutput())
        shell.run(session)
    text = out.getvalue()
    assert text.startswith("tasksql ")
    assert "successfully created" in text
    assert "nightly_load" in text
    assert "dropped" not in text
    assert "created_on,name,kind,database_name,schema_name,schedule" in text  # the CSV after \f csv
    assert "never run" not in text
    assert err.getvalue() == ""
    assert shell.task_names == ["nightly_load"]
    history = (settings.data_dir / HISTORY_FILE).read_text()
    assert "CREATE TASK nightly_load" in history
    assert "SHOW TERSE TASKS" in history


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    """Wait (up to a generous limit) until the shell running in another thread got somewhere."""
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"the shell never got to: {what}")
        time.sleep(0.01)


def test_interactive_history_recall_and_ctrl_d(conn: Connection, tmp_path: Path) -> None:
    shell, out, err = _shell(conn)
    history = FileHistory(str(tmp_path / "h"))
    with create_pipe_input() as pipe:
        session = shell.session(input=pipe, output=DummyOutput(), history=history)
        runner = threading.Thread(target=shell.run, args=(session,))
        runner.start()
        try:
            pipe.send_text("SHOW TASKS;\r")
            # The next keys go to the next prompt, which reads the history before it reads keys.
            _wait_for(lambda: "(0 rows)" in out.getvalue(), "the result of the first statement")
            # Up recalls the previous input and Enter runs it again; Ctrl-D on an empty line quits.
            pipe.send_text("\x1b[A\r\x04")
        finally:
            runner.join(timeout=60)
    assert not runner.is_alive()
    assert out.getvalue().count("(0 rows)") == 2
    assert err.getvalue() == ""
    assert history.get_strings() == ["SHOW TASKS;"]  # a repeated input is stored once


def test_run_script(conn: Connection) -> None:
    out, err = io.StringIO(), io.StringIO()
    script = f"CREATE TASK a {SCHEDULED} AS SELECT 1;\nSHOW TERSE TASKS;"
    assert run_script(conn, script, "json", out=out, err=err) == 0
    assert '"name": "a"' in out.getvalue()
    assert run_script(conn, "SHOW TASKS;\nDROP TASK nope;", "table", out=out, err=err) == 1
    assert "error [TASK_NOT_FOUND]" in err.getvalue()


# --- piped mode through the command line ---------------------------------------------------------


def _cli(data: Path, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSQL_")}
    return subprocess.run(
        [sys.executable, "-m", "tasksql", "--data", str(data), *args, "shell"],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_piped_shell_runs_the_script(tmp_path: Path) -> None:
    script = f"CREATE TASK piped_task {SCHEDULED}\n  AS SELECT 1;\nSHOW TERSE TASKS;\n"
    done = _cli(tmp_path / "data", script, "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert "tasksql>" not in done.stdout  # no prompt, no banner
    lines = done.stdout.splitlines()
    assert "created_on,name,kind,database_name,schema_name,schedule" in lines
    assert any(",piped_task,TASK," in line for line in lines)
    again = _cli(tmp_path / "data", "SHOW TASKS;")
    assert again.returncode == 0, again.stderr
    assert "piped_task" in again.stdout


def test_piped_shell_fails_on_error(tmp_path: Path) -> None:
    done = _cli(tmp_path / "data", "SHOW TASKS;\nDROP TASK missing_task;\n")
    assert done.returncode == 1
    assert "error [TASK_NOT_FOUND]" in done.stderr


# --- through a running server --------------------------------------------------------------------


@pytest.fixture
def server_data(tmp_path: Path) -> Iterator[Path]:
    """A data directory owned by a ``tasksql serve`` process (on any free port)."""
    data = tmp_path / "served"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSQL_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tasksql", "--data", str(data), "serve", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        _wait_for(lambda: proc.poll() is not None or find_server(data) is not None, "a running server")
        if proc.poll() is not None:
            pytest.fail(f"tasksql serve exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        yield data
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_shell_through_a_running_server(server_data: Path) -> None:
    done = _cli(server_data, f"CREATE TASK served_task {SCHEDULED} AS SELECT 1;")
    assert done.returncode == 0, done.stderr
    server = find_server(server_data)
    assert server is not None
    with Connection(Settings.load(env={}, data_dir=server_data)) as remote:
        assert remote.remote
        shell, out, err = _shell(remote, "csv")
        assert f"connected to the tasksql server at {server.url}" in shell.banner()
        shell.refresh_task_names()
        assert shell.task_names == ["served_task"]
        assert shell.execute("DROP TASK no_such_task;")
        assert "error [TASK_NOT_FOUND]" in err.getvalue()
        assert shell.execute("\\t")
        assert ",served_task,TASK," in out.getvalue()
