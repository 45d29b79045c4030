"""What the shell does with its input: when a statement is complete, when Enter runs the input,
how a script is cut into SQL and meta-command lines."""

from __future__ import annotations

import pytest
from shell_support import SCHEDULED

from tasksql.shell.input import (
    MetaLine,
    SqlChunk,
    changes_catalog,
    is_complete,
    is_meta_line,
    read_script,
    submits_on_enter,
)


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
        # a comment after the last semicolon does not keep the input open
        ("SELECT 1; -- trailing comment", True),
        ("SELECT 2 AS y; -- c", True),
        ("SELECT 2 AS y; /* c */", True),
        ("SELECT 2 AS y; /* c */ -- d\n", True),
        ("SELECT 2 AS y; /* open", False),
        ("-- only a comment", False),
        ("/* only */ ;", True),
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
        (".tables", True),
        ("SELECT 1;", True),
        ("SELECT 1; -- done", True),
        ("SELECT 1", False),
        # a backslash command after unfinished SQL runs (the SQL waits in the next prompt), as psql
        ("SELECT 1\n\\x", True),
        ("SELECT 1\n\\e", True),
        ("SELECT '\\q", False),
        ("SELECT $$\n\\q", False),
        # a dot command only starts a statement
        ("SELECT 1\n.tables", False),
        ("SELECT 1;\n.tables", True),
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
        ("CREATE TABLE t (a INT)", True),
        ("SHOW TASKS", False),
        ("SELECT 'CREATE'", False),
        ("-- CREATE\nSELECT 1", False),
        ("SELECT 'unterminated", False),
    ],
)
def test_changes_catalog(text: str, changes: bool) -> None:
    assert changes_catalog(text) is changes


# --- scripts --------------------------------------------------------------------------------------


def test_read_script_cuts_at_meta_commands_and_keeps_line_numbers() -> None:
    items = read_script("SELECT 1;\n\\x\nSELECT 2;\n.tables\nSELECT 3;")
    assert items == [
        SqlChunk(text="SELECT 1;", line=1),
        MetaLine(text="\\x", line=2),
        SqlChunk(text="\n\nSELECT 2;", line=3),
        MetaLine(text=".tables", line=4),
        SqlChunk(text="\n\n\n\nSELECT 3;", line=5),
    ]
    # the chunk's text keeps the line numbers of the script, so errors name the script's lines
    chunk = items[4]
    assert isinstance(chunk, SqlChunk)
    assert chunk.text.split("\n")[chunk.line - 1] == "SELECT 3;"


def test_a_dot_command_does_not_swallow_the_lines_after_it() -> None:
    assert read_script(".tables\nSELECT 1;\n.schema t\nSELECT 2;") == [
        MetaLine(text=".tables", line=1),
        SqlChunk(text="\nSELECT 1;", line=2),
        MetaLine(text=".schema t", line=3),
        SqlChunk(text="\n\n\nSELECT 2;", line=4),
    ]


def test_read_script_meta_lines_inside_unfinished_sql() -> None:
    # psql's query buffer: the command runs, the statement goes on after it
    assert read_script("SELECT 1\n\\x\n;") == [
        MetaLine(text="\\x", line=2, pending="SELECT 1"),
        SqlChunk(text="SELECT 1\n\n;", line=1),
    ]
    # at the end of the input the unfinished statement is left to the caller (the next prompt)
    assert read_script("SELECT 1\n\\e") == [MetaLine(text="\\e", line=2, pending="SELECT 1")]
    # inside a body or string a backslash line is SQL
    assert read_script("SELECT $$\n\\x\n$$;") == [SqlChunk(text="SELECT $$\n\\x\n$$;", line=1)]
    # an unfinished statement at the end of a script is returned, to be run as it is
    assert read_script("SELECT 1;\nSELECT 2") == [SqlChunk(text="SELECT 1;\nSELECT 2", line=1)]
    assert read_script("-- nothing\n\n") == []


@pytest.mark.parametrize(
    ("line", "before", "meta"),
    [
        ("\\d", "", True),
        ("\\d", "SELECT 1", True),
        ("\\d", "SELECT 'open", False),
        (".tables", "", True),
        (".tables", "SELECT 1;", True),
        (".tables", "SELECT 1", False),
        (".5", "", False),
        ("SELECT 1", "", False),
    ],
)
def test_is_meta_line(line: str, before: str, meta: bool) -> None:
    assert is_meta_line(line, before) is meta


def test_reading_a_large_script_tokenizes_only_at_meta_commands() -> None:
    import time

    script = "INSERT INTO t VALUES (1, 'a;b');\n" * 5000
    started = time.thread_time()  # CPU time: on a loaded machine the thread also waits for a core
    assert read_script(script) == [SqlChunk(text=script, line=1)]
    assert read_script("-- header\n" + script + "\n.tables") == [
        SqlChunk(text="-- header\n" + script, line=1),
        MetaLine(text=".tables", line=5003),
    ]
    assert time.thread_time() - started < 10  # a tokenization per meta-command, not per line
    assert read_script("/* a */ -- b\n\\x") == [MetaLine(text="\\x", line=2)]
