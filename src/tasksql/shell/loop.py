"""``tasksql shell``: the session and its read-run loop.

On a terminal, the shell reads input with prompt_toolkit: input may span lines and is run when
Enter is pressed after a semicolon that ends a statement or on a meta-command line (see
:mod:`tasksql.shell.input`), or at once with Alt-Enter / Esc Enter. It keeps a history in
``<data dir>/.shell_history`` (a literal secret masked), completes by context
(:mod:`tasksql.shell.completion`) and highlights the input. Each statement's result is printed as
soon as it completes; Ctrl-C while statements run cancels them.

When standard input is not a terminal, the shell reads all of it and runs it as a script (SQL and
meta-commands, as ``\\i`` runs a file), and exits with status 1 when a statement failed.

Statements go through :class:`tasksql.connection.Connection`: to the running ``tasksql serve``
when one owns the data directory, to an embedded engine otherwise.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
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
from tasksql.engine.results import Result
from tasksql.errors import TasksqlError
from tasksql.settings import Settings
from tasksql.shell.commands import LIST_TASKS, Commands
from tasksql.shell.completion import Names, SqlCompleter
from tasksql.shell.display import Display
from tasksql.shell.input import MetaLine, SqlChunk, changes_catalog, read_script, submits_on_enter
from tasksql.shell.keywords import ShellWords, shell_words
from tasksql.shell.lexer import STYLE, SqlLexer
from tasksql.shell.meta import parse_meta
from tasksql.shell.schema import WarehouseSchema
from tasksql.sql.parser import masked_secrets

HISTORY_FILE = ".shell_history"


class _SecretSafeHistory(FileHistory):
    """The history file, with the literal ``SECRET_STRING`` of a ``CREATE / ALTER SECRET`` masked
    before it is written (the session's own Up and Down still recall what was typed)."""

    def store_string(self, string: str) -> None:
        super().store_string(masked_secrets(string))


PROMPT = "tasksql> "
#: The prompt while a transaction begun with BEGIN is open (psql shows ``=*>``).
PROMPT_IN_TRANSACTION = "tasksql*> "
#: What the shell prints when Ctrl-C stopped the statements that were running.
CANCELLED = "cancelled: the running statement was stopped"


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

    :meth:`execute` runs one submitted input (SQL and meta-commands) and is what the interactive
    loop calls; :meth:`run` is that loop; :meth:`run_script` runs piped input and ``\\i`` files.
    Results go to ``out`` (or the ``\\o`` file), errors to ``err``; a :class:`TasksqlError` is
    printed with the failing statement, the offending line and a caret, and the session goes on.
    """

    def __init__(
        self,
        conn: Connection,
        fmt: str,
        *,
        out: TextIO | None = None,
        err: TextIO | None = None,
        words: ShellWords | None = None,
        interactive: bool = True,
    ) -> None:
        self.conn = conn
        self.display = Display(
            fmt, out if out is not None else sys.stdout, err if err is not None else sys.stderr
        )
        self.words = words if words is not None else shell_words()
        self.interactive = interactive
        self.task_names: list[str] = []
        self.schema = WarehouseSchema(conn.sql)
        self.commands = Commands(self)
        #: The last SQL run (``\\e`` edits it, ``\\watch`` runs it again).
        self.last_query: str | None = None
        #: Text the next prompt starts with (after ``\\e``, or SQL left unfinished before a command).
        self.next_input = ""

    @property
    def fmt(self) -> str:
        return self.display.fmt

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
            "End statements with ';'. Type \\? for help, \\q or Ctrl-D to quit."
        )

    def names(self) -> Names:
        """What completion offers now: task names and the warehouse's relations."""
        return Names(tasks=self.task_names, schema=self.schema)

    def refresh_names(self) -> None:
        """Read the task names and the warehouse's relations again; on failure the previous ones are
        kept (completion is a convenience: it must not disturb the session)."""
        try:
            result = self.conn.sql(LIST_TASKS)
            self.task_names = sorted({str(n) for n in result.column("name") if n is not None})
        except (TasksqlError, ValueError):
            pass
        self.schema.refresh()

    # --- running input ------------------------------------------------------------------------

    def execute(self, text: str) -> bool:
        """Run one submitted input; False when the shell should quit (``\\q``)."""
        if not text.strip():
            return True
        return self.run_script(text, interactive=self.interactive) is not None

    def run_script(self, text: str, *, interactive: bool) -> bool | None:
        """Run the SQL chunks and meta-commands of ``text`` in order, stopping at the first failure.

        True when everything succeeded, False after a failure, None when a ``\\q`` asked to quit.
        ``interactive``: SQL left unfinished before a final meta-command goes back to the prompt
        (psql's query buffer) instead of running.
        """
        items = read_script(text)
        self.display.start_script()
        for n, item in enumerate(items):
            if isinstance(item, SqlChunk):
                if not self.run_sql(item.text):
                    return False
                continue
            is_last = n == len(items) - 1
            try:
                if not self.commands.run(parse_meta(item.text), item.pending):
                    return None
            except TasksqlError as error:
                self.display.error(error.render())
                return False
            except KeyboardInterrupt:
                self.display.error(CANCELLED)
                return False
            if is_last and item.pending and not _consumes_pending(item):
                if interactive:
                    self.next_input = self.next_input or item.pending
                elif not self.run_sql(item.pending):
                    return False
        return True

    def run_sql(self, text: str) -> bool:
        """Run the statements of ``text``, printing each result as it completes; False on failure."""
        display = self.display
        last = time.monotonic()

        def show(result: Result) -> None:
            nonlocal last
            display.result(result)
            now = time.monotonic()
            display.elapsed(now - last)
            last = now

        ok = True
        try:
            self.conn.sql_all(text, on_result=show, wait_for_runs=True)
        except TasksqlError as error:
            display.error(error.render(masked_secrets(text)))  # a SECRET_STRING never shown
            ok = False
        except KeyboardInterrupt:
            display.error(CANCELLED)
            ok = False
        self.last_query = text.strip()
        if changes_catalog(text):  # also after a failure: statements before it may have changed names
            self.refresh_names()
        return ok

    # --- the interactive loop -----------------------------------------------------------------

    def end_transaction(self, why: str) -> bool:
        """Roll back a transaction left open (BEGIN without COMMIT) and print a notice saying so;
        whether there was one. ``why``: what ended it (the shell, the input)."""
        if not self.conn.rollback_open_transaction():
            return False
        self.display.error(f"notice: {why} inside a transaction begun with BEGIN: it was rolled back")
        return True

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
            history = _SecretSafeHistory(str(data_dir / HISTORY_FILE))
        return PromptSession(
            multiline=True,
            key_bindings=key_bindings(),
            history=history,
            completer=SqlCompleter(self.words, self.names),
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
        """Print the banner, then read and run inputs until ``\\q`` or Ctrl-D (end of input).

        Ctrl-C at the prompt clears the input; while statements run, it cancels them.
        """
        session = session if session is not None else self.session()
        self.display.message(self.banner())
        self.refresh_names()
        try:
            while True:
                default, self.next_input = self.next_input, ""
                try:
                    prompt = PROMPT_IN_TRANSACTION if self.conn.in_transaction else PROMPT
                    text = session.prompt([("class:prompt", prompt)], default=default)
                except KeyboardInterrupt:
                    continue  # Ctrl-C: the input is dropped, a fresh prompt follows
                except EOFError:
                    break
                try:
                    if not self.execute(text):
                        break
                except KeyboardInterrupt:  # Ctrl-C pressed again while the shell handled one
                    with contextlib.suppress(KeyboardInterrupt):
                        self.display.error(CANCELLED)
        finally:
            self.end_transaction("the shell ended")
            self.display.close_file()


def _consumes_pending(item: MetaLine) -> bool:
    """Whether the command uses the unfinished SQL before it (``\\e`` edits it, ``\\watch`` runs it)."""
    name = item.text.split(maxsplit=1)[0].lower()
    return name in ("\\e", "\\watch")


def run_shell(settings: Settings, fmt: str) -> None:
    """The ``tasksql shell`` command: interactive on a terminal, a script runner on piped input.

    :raises TasksqlError: when the data directory cannot be opened.
    :raises SystemExit: with status 1 when a piped script fails (the error is printed first).
    """
    if not sys.stdin.isatty():
        text = sys.stdin.read()
        with Connection(settings) as conn:
            shell = Shell(conn, fmt, interactive=False)
            ok = shell.run_script(text, interactive=False)
            if shell.end_transaction("the input ended") and ok is not False:
                ok = False  # what the input meant to write is not there: a failure, as in tasksql sql
            shell.display.close_file()
        if ok is False:
            sys.exit(1)
        return
    # Ctrl-C cancels statements even when the shell was started with SIGINT ignored (from a
    # background job of a script, say), as psql installs its own handler too.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with Connection(settings) as conn:
        Shell(conn, fmt).run()
