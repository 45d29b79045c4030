"""What each meta-command does (:mod:`tasksql.shell.meta` parses them).

:class:`Commands` runs one parsed command against a :class:`~tasksql.shell.loop.Shell`: it changes
the shell's display settings, lists the warehouse's relations from the shell's cache, runs files,
opens the editor, and re-runs a query with ``\\watch``. User mistakes (a missing file, an unknown
relation, no query to watch) raise :class:`ConfigError` with one line naming the cause; the shell
prints it and goes on.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tasksql.clock import SystemClock
from tasksql.errors import ConfigError, TasksqlError
from tasksql.shell.display import expanded_text
from tasksql.shell.meta import MetaCommand, MetaKind, help_text
from tasksql.shell.schema import (
    DUCKDB_DDL_QUERY,
    SYSTEM_SCHEMA,
    Column,
    Relation,
    columns_result,
    create_statement,
    relations_result,
)

if TYPE_CHECKING:
    from tasksql.shell.loop import Shell

LIST_TASKS = "SHOW TERSE TASKS"
#: Seconds between runs of ``\\watch`` when none are given (as psql).
DEFAULT_WATCH_S = 2.0
#: How deep ``\\i`` may nest (a file that includes itself stops here).
MAX_INCLUDE_DEPTH = 16


def editor_command() -> list[str]:
    """``$VISUAL``, else ``$EDITOR``, else ``vi``, split like a shell command line."""
    command = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    return shlex.split(command)


def edit_text(text: str) -> str:
    """``text`` after the user edited it in the editor (see :func:`editor_command`).

    :raises ConfigError: code ``EDITOR_FAILED`` when the editor cannot be started or exits with an
        error (the text is then unchanged).
    """
    with tempfile.TemporaryDirectory(prefix="tasksql-edit-") as tmp:
        path = Path(tmp) / "query.sql"
        path.write_text(text + ("\n" if text and not text.endswith("\n") else ""), encoding="utf-8")
        command = editor_command()
        try:
            done = subprocess.run([*command, str(path)], check=False)
        except OSError as err:
            raise ConfigError(
                f"cannot start the editor {command[0]!r}: {err.strerror or err}; set $EDITOR",
                code="EDITOR_FAILED",
            ) from None
        if done.returncode != 0:
            raise ConfigError(
                f"the editor {command[0]!r} exited with status {done.returncode}; nothing changed",
                code="EDITOR_FAILED",
            )
        return path.read_text(encoding="utf-8")


def watch_arguments(args: tuple[str, ...]) -> tuple[float, int | None]:
    """``\\watch`` arguments: seconds (``2``, ``i=2``, ``interval=2``) and count (``c=3``, ``count=3``).

    :raises ConfigError: code ``INVALID_ARGUMENT`` for anything else or a value out of range.
    """
    interval, count = DEFAULT_WATCH_S, None
    for arg in args:
        key, eq, value = arg.partition("=")
        key = key.lower() if eq else ("i" if count is None and arg == args[0] else "c")
        value = value if eq else arg
        try:
            if key in ("i", "interval"):
                interval = float(value)
                if not 0 < interval <= 86400:
                    raise ValueError
            elif key in ("c", "count"):
                count = int(value)
                if count < 1:
                    raise ValueError
            else:
                raise ValueError
        except ValueError:
            raise ConfigError(
                f"\\watch: expected seconds (more than 0) and c=COUNT (1 or more), found {arg!r}",
                code="INVALID_ARGUMENT",
            ) from None
    return interval, count


class Commands:
    """Runs meta-commands on ``shell``."""

    def __init__(self, shell: Shell) -> None:
        self.shell = shell
        self.include_depth = 0

    def run(self, meta: MetaCommand, pending: str = "") -> bool:
        """Run ``meta``; ``pending`` is the unfinished SQL typed before it. False to quit.

        :raises TasksqlError: a mistake of the user, printed by the caller.
        """
        shell, display = self.shell, self.shell.display
        kind, arg = meta.kind, meta.argument
        if kind is MetaKind.QUIT:
            return False
        if kind is MetaKind.HELP:
            display.write(help_text() + "\n")
        elif kind is MetaKind.TASKS:
            shell.run_sql(LIST_TASKS)
        elif kind is MetaKind.FORMAT:
            if arg is not None:
                display.fmt = arg.lower()
            display.message(f"Output format is {display.fmt}.")
        elif kind is MetaKind.EXPANDED:
            if arg is None:
                display.expanded = not display.expanded
            else:
                display.expanded = {"on": True, "off": False, "auto": None}[arg.lower()]
            display.message(f"Expanded display is {expanded_text(display.expanded)}.")
        elif kind is MetaKind.TIMING:
            display.timing = (not display.timing) if arg is None else arg.lower() == "on"
            display.message(f"Timing is {'on' if display.timing else 'off'}.")
        elif kind is MetaKind.PSET:
            self._pset(meta.args)
        elif kind is MetaKind.OUTPUT:
            self._output(arg)
        elif kind is MetaKind.INCLUDE:
            assert arg is not None
            self.include(arg)
        elif kind is MetaKind.EDIT:
            self._edit(pending)
        elif kind is MetaKind.WATCH:
            self._watch(meta.args, pending)
        elif kind is MetaKind.DESCRIBE:
            self._describe(arg)
        elif kind is MetaKind.TABLES:
            shell.schema.refresh()
            display.results([relations_result(shell.schema.tables(arg, kinds=("table",)))])
        elif kind is MetaKind.SCHEMA:
            self._schema(arg)
        return True

    def _pset(self, args: tuple[str, ...]) -> None:
        display = self.shell.display
        if len(args) == 2:
            value = args[1].lower()
            if value not in ("on", "off"):
                raise ConfigError(
                    f"\\pset pager: expected on or off, found {args[1]!r}", code="INVALID_ARGUMENT"
                )
            display.pager = value == "on"
        elif len(args) == 1:
            display.pager = not display.pager
        if args:
            display.message(f"Pager usage is {'on' if display.pager else 'off'}.")
            return
        display.message(
            f"format {display.fmt}\nexpanded {expanded_text(display.expanded)}\n"
            f"pager {'on' if display.pager else 'off'}\ntiming {'on' if display.timing else 'off'}\n"
            f"output {display.file_name or 'standard output'}"
        )

    def _output(self, name: str | None) -> None:
        display = self.shell.display
        if name is None:
            display.close_file()
            display.message("Results go to standard output.")
            return
        display.open_file(name)
        display.message(f"Results go to {name} (\\o alone: back to standard output).")

    def include(self, name: str) -> None:
        """``\\i FILE``: run the statements and commands of the file; the first failure stops it.

        :raises ConfigError: code ``CANNOT_READ`` for a file that cannot be read, ``INCLUDE_DEPTH``
            when files include each other too deeply.
        """
        if self.include_depth >= MAX_INCLUDE_DEPTH:
            raise ConfigError(
                f"\\i {name}: files include each other more than {MAX_INCLUDE_DEPTH} deep; stopped",
                code="INCLUDE_DEPTH",
            )
        path = Path(name).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            raise ConfigError(f"\\i: cannot read {name}: {reason}", code="CANNOT_READ") from None
        self.include_depth += 1
        try:
            self.shell.run_script(text, interactive=False)
        finally:
            self.include_depth -= 1

    def _edit(self, pending: str) -> None:
        shell = self.shell
        if not shell.interactive:
            raise ConfigError("\\e needs a terminal: it opens an editor", code="NOT_INTERACTIVE")
        edited = edit_text(pending or shell.last_query or "")
        shell.next_input = edited.strip()

    def _watch(self, args: tuple[str, ...], pending: str) -> None:
        interval, count = watch_arguments(args)
        shell = self.shell
        query = pending or shell.last_query
        if not query:
            raise ConfigError("\\watch: no query to run again; run a query first", code="NO_QUERY")
        clock = SystemClock()
        runs = 0
        try:
            while True:
                shell.display.write(f"{clock.now():%a %d %b %Y %H:%M:%S} UTC (every {interval:g}s)\n\n")
                if not shell.run_sql(query):
                    return
                runs += 1
                if count is not None and runs >= count:
                    return
                time.sleep(interval)  # the interval the user asked for; Ctrl-C ends it
        except KeyboardInterrupt:
            shell.display.message("")  # the prompt starts on a fresh line

    def _describe(self, name: str | None) -> None:
        shell = self.shell
        shell.schema.refresh()
        if name is None:
            shell.display.results([relations_result(shell.schema.all_relations())])
            return
        relation = shell.schema.find(name)
        if relation is not None and relation.schema == SYSTEM_SCHEMA and not relation.columns:
            relation = self._system_columns(relation)
        if relation is not None:
            shell.display.results([columns_result(relation)])
            return
        shell.refresh_names()
        if name.replace('"', "").lower() in (t.lower() for t in shell.task_names):
            shell.run_sql(f"DESCRIBE TASK {name}")
            return
        raise ConfigError(f"\\d: no table, view or task named {name}", code="NOT_FOUND")

    def _system_columns(self, relation: Relation) -> Relation:
        """A tasksql relation with its columns, read by querying it."""
        try:
            result = self.shell.conn.sql(f"DESCRIBE SELECT * FROM {relation.qualified}")
            columns = tuple(Column(name=str(r[0]), type=str(r[1])) for r in result.rows)
        except TasksqlError:
            result = self.shell.conn.sql(f"SELECT * FROM {relation.qualified} LIMIT 0")
            columns = tuple(Column(name=c, type="") for c in result.columns)
        return Relation(schema=relation.schema, name=relation.name, kind=relation.kind, columns=columns)

    def _schema(self, name: str | None) -> None:
        shell = self.shell
        shell.schema.refresh()
        wanted = None if name is None else shell.schema.find(name)
        if name is not None and wanted is None:
            raise ConfigError(f".schema: no table or view named {name}", code="NOT_FOUND")
        try:
            rows = shell.conn.sql(DUCKDB_DDL_QUERY).rows
            statements = [
                str(sql) + ("" if str(sql).rstrip().endswith(";") else ";")
                for schema, table, sql in rows
                if wanted is None or (str(schema), str(table)) == (wanted.schema, wanted.name)
            ]
        except TasksqlError:  # not DuckDB: rebuild the statements from the columns
            relations = [wanted] if wanted is not None else shell.schema.relations
            statements = [create_statement(r) for r in relations]
        shell.display.write("".join(s + "\n" for s in statements))
