"""``tasksql shell``: the interactive SQL shell.

On a terminal, the shell reads statements with prompt_toolkit: input may span lines and is run when
Enter is pressed after a semicolon that ends a statement (the SQL front end decides, see
:mod:`tasksql.shell.input`), or at once with Alt-Enter / Esc Enter. It keeps a history in
``<data dir>/.shell_history``, completes keywords, functions and task names, and highlights the
input. Backslash commands (``\\q``, ``\\h``, ``\\t``, ``\\f``) control the shell itself.

When standard input is not a terminal, the shell reads all of it, runs it as one script, prints
the results and exits with status 1 if a statement failed, so it can be used in pipes.

Statements go through :class:`tasksql.connection.Connection`: to the running ``tasksql serve``
when one owns the data directory, to an embedded engine otherwise.
"""

from __future__ import annotations

import sys
from typing import TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.history import FileHistory, History
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.output import Output

from tasksql import __version__
from tasksql.client import find_server
from tasksql.connection import Connection
from tasksql.errors import TasksqlError
from tasksql.output import write_results
from tasksql.settings import Settings
from tasksql.shell.completion import SqlCompleter
from tasksql.shell.input import (
    META_HELP,
    MetaCommand,
    MetaKind,
    changes_catalog,
    parse_meta,
    submits_on_enter,
)
from tasksql.shell.keywords import ShellWords, shell_words
from tasksql.shell.lexer import STYLE, SqlLexer

HISTORY_FILE = ".shell_history"
PROMPT = "tasksql> "
LIST_TASKS = "SHOW TERSE TASKS"

_KEYS_HELP = (
    ("Enter", "new line, or run the input when it ends a statement with ';'"),
    ("Alt-Enter, Esc Enter", "run the input as it is"),
    ("Ctrl-C", "clear the input"),
    ("Ctrl-D", "quit (on an empty line)"),
    ("Up, Down", "previous and next input from the history"),
    ("Tab", "complete keywords, functions and task names"),
)


def help_text() -> str:
    """The text ``\\h`` prints: the meta-commands and the keys."""
    rows = [*META_HELP, *_KEYS_HELP]
    width = max(len(key) for key, _ in rows)
    lines = ["Statements end with ';' and may span several lines.", "", "Commands:"]
    lines += [f"  {key:<{width}}  {what}" for key, what in META_HELP]
    lines += ["", "Keys:"]
    lines += [f"  {key:<{width}}  {what}" for key, what in _KEYS_HELP]
    return "\n".join(lines)


def key_bindings() -> KeyBindings:
    """Enter runs a complete input (see :func:`submits_on_enter`) and otherwise starts a new line;
    Alt-Enter / Esc Enter runs the input regardless. An open completion menu takes Enter first."""
    kb = KeyBindings()

    @kb.add("enter")
    def _enter(event: KeyPressEvent) -> None:
        buf = event.current_buffer
        state = buf.complete_state
        if state is not None and state.current_completion is not None:
            buf.apply_completion(state.current_completion)
            return
        if submits_on_enter(buf.text):
            buf.validate_and_handle()
        else:
            buf.insert_text("\n")

    @kb.add("escape", "enter")
    def _run_now(event: KeyPressEvent) -> None:
        event.current_buffer.validate_and_handle()

    return kb


def _continuation(width: int, line_number: int, is_soft_wrap: int) -> StyleAndTextTuples:
    return [("class:continuation", "...> ".rjust(width))]


class Shell:
    """One shell session over an open connection.

    :meth:`execute` runs one submitted input (a meta-command or SQL text) and is what the
    interactive loop calls; :meth:`run` is that loop. Results go to ``out``, errors to ``err``;
    a :class:`TasksqlError` is printed with the offending line and a caret, and the session goes on.
    """

    def __init__(
        self,
        conn: Connection,
        fmt: str,
        *,
        out: TextIO | None = None,
        err: TextIO | None = None,
        words: ShellWords | None = None,
    ) -> None:
        self.conn = conn
        self.fmt = fmt
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.words = words if words is not None else shell_words()
        self.task_names: list[str] = []

    def banner(self) -> str:
        """Version, data directory, embedded or connected to a server, and how to get help."""
        data_dir = self.conn.settings.data_dir.resolve()
        mode = "embedded engine"
        if self.conn.remote:
            server = find_server(data_dir)
            mode = "connected to the tasksql server" + (f" at {server.url}" if server is not None else "")
        return (
            f"tasksql {__version__} shell\n"
            f"data directory: {data_dir} ({mode})\n"
            "End statements with ';'. Type \\h for help, \\q or Ctrl-D to quit."
        )

    def refresh_task_names(self) -> None:
        """Fetch the task names offered for completion; on failure the previous names are kept."""
        try:
            result = self.conn.sql(LIST_TASKS)
            self.task_names = sorted({str(n) for n in result.column("name") if n is not None})
        except (TasksqlError, ValueError):
            pass  # completion is a convenience: a failing refresh must not disturb the session

    def execute(self, text: str) -> bool:
        """Run one submitted input; False when the shell should quit (``\\q``)."""
        stripped = text.strip()
        if not stripped:
            return True
        try:
            meta = parse_meta(stripped)
        except TasksqlError as error:
            self._print_error(error, stripped)
            return True
        if meta is not None:
            return self._run_meta(meta)
        self._run_sql(text)
        return True

    def _run_meta(self, meta: MetaCommand) -> bool:
        if meta.kind is MetaKind.QUIT:
            return False
        if meta.kind is MetaKind.HELP:
            self.out.write(help_text() + "\n")
        elif meta.kind is MetaKind.TASKS:
            self._run_sql(LIST_TASKS, refresh=True)
        elif meta.argument is None:
            self.out.write(f"output format: {self.fmt}\n")
        else:
            self.fmt = meta.argument
            self.out.write(f"output format: {self.fmt}\n")
        self.out.flush()
        return True

    def _run_sql(self, text: str, *, refresh: bool | None = None) -> None:
        try:
            results = self.conn.sql_all(text)
        except TasksqlError as error:
            self._print_error(error, text)
        except KeyboardInterrupt:
            self.err.write("interrupted: the shell no longer waits for this statement\n")
            self.err.flush()
        else:
            write_results(results, self.fmt, self.out)
            self.out.flush()
        if refresh is None:
            refresh = changes_catalog(text)
        if refresh:  # also after a failure: a script may have changed tasks before it failed
            self.refresh_task_names()

    def _print_error(self, error: TasksqlError, text: str) -> None:
        self.err.write(error.render(text) + "\n")
        self.err.flush()

    def session(
        self,
        *,
        history: History | None = None,
        input: Input | None = None,
        output: Output | None = None,
    ) -> PromptSession[str]:
        """The prompt_toolkit session: multi-line input, key bindings, completion, highlighting.

        ``history`` defaults to ``<data dir>/.shell_history``; ``input`` and ``output`` default to
        the terminal (tests pass a pipe input and a dummy output).
        """
        if history is None:
            data_dir = self.conn.settings.data_dir
            data_dir.mkdir(parents=True, exist_ok=True)
            history = FileHistory(str(data_dir / HISTORY_FILE))
        return PromptSession(
            multiline=True,
            key_bindings=key_bindings(),
            history=history,
            completer=SqlCompleter(self.words, lambda: self.task_names),
            complete_while_typing=True,
            lexer=SqlLexer(self.words),
            style=STYLE,
            include_default_pygments_style=False,
            prompt_continuation=_continuation,
            auto_suggest=AutoSuggestFromHistory(),
            input=input,
            output=output,
        )

    def run(self, session: PromptSession[str] | None = None) -> None:
        """Print the banner, then read and run inputs until ``\\q`` or Ctrl-D (end of input)."""
        session = session if session is not None else self.session()
        self.out.write(self.banner() + "\n")
        self.out.flush()
        self.refresh_task_names()
        while True:
            try:
                text = session.prompt([("class:prompt", PROMPT)])
            except KeyboardInterrupt:
                continue  # Ctrl-C: the buffer is dropped, a fresh prompt follows
            except EOFError:
                break
            if not self.execute(text):
                break


def run_script(conn: Connection, text: str, fmt: str, *, out: TextIO, err: TextIO) -> int:
    """Run ``text`` as one script and print its results; 0 on success, 1 (error printed) on failure."""
    try:
        results = conn.sql_all(text)
    except TasksqlError as error:
        err.write(error.render(text) + "\n")
        err.flush()
        return 1
    write_results(results, fmt, out)
    out.flush()
    return 0


def run_shell(settings: Settings, fmt: str) -> None:
    """The ``tasksql shell`` command: interactive on a terminal, a script runner on piped input.

    :raises TasksqlError: when the data directory cannot be opened.
    :raises SystemExit: with status 1 when a piped script fails (the error is printed first).
    """
    if not sys.stdin.isatty():
        text = sys.stdin.read()
        with Connection(settings) as conn:
            code = run_script(conn, text, fmt, out=sys.stdout, err=sys.stderr)
        if code:
            sys.exit(code)
        return
    with Connection(settings) as conn:
        Shell(conn, fmt).run()
