"""The shell prints notices on its error stream right after their statement's result, keeps a
transaction begun with BEGIN open across inputs (the prompt says so), and rolls back, saying so, a
transaction left open when the shell or its piped input ends. Real data directory."""

from __future__ import annotations

from pathlib import Path

from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from shell_support import Buffers, cli

from tasksql.connection import Connection
from tasksql.shell.loop import PROMPT, PROMPT_IN_TRANSACTION

NO_SCHEDULER = "notice: no scheduler is running for this data directory: task noserver is started"


def test_a_notice_follows_its_statements_result(buffers: Buffers) -> None:
    assert buffers.shell.execute("CREATE TASK noserver SCHEDULE 1s AS SELECT 1; SELECT 2 AS b;")
    out, err = buffers.take()
    assert out.startswith("Task noserver successfully created.\n")
    assert "notice" not in out
    [line] = err.splitlines()
    assert line.startswith(NO_SCHEDULER)
    assert buffers.shell.execute("ALTER TASK noserver SUSPEND;")
    assert buffers.take()[1] == ""  # suspending leaves nothing to warn about


def test_a_transaction_spans_inputs(conn: Connection, buffers: Buffers) -> None:
    shell = buffers.shell
    assert shell.execute("CREATE TABLE t (x INT);")
    assert shell.execute("BEGIN;")
    assert conn.in_transaction
    assert shell.execute("INSERT INTO t VALUES (1);")
    assert shell.execute("COMMIT;")
    assert not conn.in_transaction
    assert shell.execute("BEGIN;")
    assert shell.execute("DELETE FROM t;")
    buffers.take()
    assert shell.execute("CREATE TASK x SCHEDULE 1s AS SELECT 1;")  # (the session goes on)
    assert "error [NOT_IN_TRANSACTION]" in buffers.take()[1]
    assert shell.execute("ROLLBACK;")
    assert conn.sql("SELECT count(*) FROM t").rows == [(1,)]


def test_the_prompt_shows_an_open_transaction_and_the_end_rolls_it_back(conn: Connection) -> None:
    buffers = Buffers(conn)
    shell = buffers.shell
    prompts: list[str] = []
    real_prompt = shell.session

    with create_pipe_input() as pipe:
        session = real_prompt(input=pipe, output=DummyOutput())
        original = session.prompt

        def recording(message: object, **kw: object) -> str:
            prompts.append("".join(text for _, text in message))  # type: ignore[attr-defined]
            return original(message, **kw)  # type: ignore[arg-type]

        session.prompt = recording  # type: ignore[method-assign]
        pipe.send_text("CREATE TABLE t (x INT);\rBEGIN;\rINSERT INTO t VALUES (1);\r\x04")
        shell.run(session)
    assert prompts == [PROMPT, PROMPT, PROMPT_IN_TRANSACTION, PROMPT_IN_TRANSACTION]
    out, err = buffers.take()
    assert "INSERT 0 1" in out
    assert err == "notice: the shell ended inside a transaction begun with BEGIN: it was rolled back\n"
    assert not conn.in_transaction
    assert conn.sql("SELECT count(*) FROM t").rows == [(0,)]


def test_piped_input_that_leaves_begin_open_fails(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = cli(data, "CREATE TABLE t (x INT);\nBEGIN;\nINSERT INTO t VALUES (1);\n")
    assert done.returncode == 1
    assert (
        done.stderr == "notice: the input ended inside a transaction begun with BEGIN: it was rolled back\n"
    )
    done = cli(
        data, "BEGIN;\nINSERT INTO t VALUES (2);\nCOMMIT;\nSELECT count(*) AS n FROM t;\n", "--format", "csv"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == ["n", "1"]
