"""The shell's meta-commands: one table of commands, parsing, and the help text built from it.

psql's backslash commands (``\\d``, ``\\x``, ``\\timing``, ...) and the DuckDB CLI's dot commands
(``.tables``, ``.schema``) that users type by habit. :data:`COMMANDS` is the one list: parsing,
validation and ``\\?`` all read it, so a command cannot exist without its help line.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from enum import Enum

from tasksql.errors import ConfigError
from tasksql.output import FORMATS


class MetaKind(Enum):
    """What a meta-command does (the shell's command runner has one method per kind)."""

    QUIT = "quit"
    HELP = "help"
    DESCRIBE = "describe"
    TABLES = "tables"
    SCHEMA = "schema"
    TASKS = "tasks"
    FORMAT = "format"
    EXPANDED = "expanded"
    TIMING = "timing"
    PSET = "pset"
    OUTPUT = "output"
    INCLUDE = "include"
    EDIT = "edit"
    WATCH = "watch"


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandSpec:
    """One meta-command: its spellings (the first is the one help shows), usage, help line, and how
    many arguments it takes; ``choices`` are the values its first argument may take (any case)."""

    names: tuple[str, ...]
    kind: MetaKind
    usage: str
    help: str
    max_args: int = 0
    min_args: int = 0
    choices: tuple[str, ...] = ()


ON_OFF = ("on", "off")

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        names=("\\d", ".describe"),
        kind=MetaKind.DESCRIBE,
        usage="\\d [NAME]",
        help="list tables and views; with NAME, its columns (or DESCRIBE TASK NAME)",
        max_args=1,
    ),
    CommandSpec(
        names=("\\dt", ".tables"),
        kind=MetaKind.TABLES,
        usage="\\dt [PATTERN], .tables",
        help="list tables (PATTERN may use * and ?)",
        max_args=1,
    ),
    CommandSpec(
        names=(".schema",),
        kind=MetaKind.SCHEMA,
        usage=".schema [TABLE]",
        help="CREATE statements of the tables (or of TABLE)",
        max_args=1,
    ),
    CommandSpec(names=("\\t",), kind=MetaKind.TASKS, usage="\\t", help="list tasks (SHOW TERSE TASKS)"),
    CommandSpec(
        names=("\\x",),
        kind=MetaKind.EXPANDED,
        usage="\\x [on|off|auto]",
        help="expanded output, one block per row (alone: toggle; auto: when a table is too wide)",
        max_args=1,
        choices=("on", "off", "auto"),
    ),
    CommandSpec(
        names=("\\f", ".mode"),
        kind=MetaKind.FORMAT,
        usage="\\f [table|csv|json]",
        help="output format (alone: show it)",
        max_args=1,
        choices=FORMATS,
    ),
    CommandSpec(
        names=("\\timing", ".timer"),
        kind=MetaKind.TIMING,
        usage="\\timing [on|off]",
        help="print how long each statement took (alone: toggle)",
        max_args=1,
        choices=ON_OFF,
    ),
    CommandSpec(
        names=("\\pset",),
        kind=MetaKind.PSET,
        usage="\\pset pager [on|off]",
        help="page output taller than the terminal through $PAGER (alone: show the settings)",
        max_args=2,
        choices=("pager",),
    ),
    CommandSpec(
        names=("\\o", ".output"),
        kind=MetaKind.OUTPUT,
        usage="\\o [FILE]",
        help="send results to FILE (appended); alone: back to standard output",
        max_args=1,
    ),
    CommandSpec(
        names=("\\i", ".read"),
        kind=MetaKind.INCLUDE,
        usage="\\i FILE",
        help="run the statements and commands in FILE",
        max_args=1,
        min_args=1,
    ),
    CommandSpec(
        names=("\\e",),
        kind=MetaKind.EDIT,
        usage="\\e",
        help="edit the current input (or the last query) in $EDITOR",
    ),
    CommandSpec(
        names=("\\watch",),
        kind=MetaKind.WATCH,
        usage="\\watch [SECONDS] [c=COUNT]",
        help="run the last query again every SECONDS (default 2) until Ctrl-C (or COUNT times)",
        max_args=2,
    ),
    CommandSpec(names=("\\?", "\\h", "\\help", ".help"), kind=MetaKind.HELP, usage="\\?", help="this help"),
    CommandSpec(names=("\\q", "\\quit", ".quit", ".exit"), kind=MetaKind.QUIT, usage="\\q", help="quit"),
)

_BY_NAME = {name: spec for spec in COMMANDS for name in spec.names}


@dataclass(frozen=True, slots=True, kw_only=True)
class MetaCommand:
    """A parsed meta-command: its spec and its arguments as typed (quotes removed)."""

    spec: CommandSpec
    args: tuple[str, ...] = ()

    @property
    def kind(self) -> MetaKind:
        return self.spec.kind

    @property
    def argument(self) -> str | None:
        """The first argument, or None."""
        return self.args[0] if self.args else None


def parse_meta(line: str) -> MetaCommand:
    """The meta-command on ``line`` (a line starting with ``\\`` or ``.``; a trailing ``;`` is
    tolerated). Names are case-insensitive; arguments are split like shell words (quote a file name
    with spaces), and the first is checked against the command's choices.

    :raises ConfigError: code ``UNKNOWN_COMMAND`` for an unknown command, ``INVALID_ARGUMENT`` for
        too many or too few arguments, a value not among the choices, or an unbalanced quote.
    """
    text = line.strip().removesuffix(";").rstrip()
    name, _, rest = text.partition(" ")
    spec = _BY_NAME.get(name.lower())
    if spec is None:
        raise ConfigError(f"unknown command {name}; type \\? for the list", code="UNKNOWN_COMMAND")
    try:
        args = tuple(shlex.split(rest))
    except ValueError as err:
        raise ConfigError(f"{name}: {err}", code="INVALID_ARGUMENT") from None
    if not spec.min_args <= len(args) <= spec.max_args:
        raise ConfigError(f"{name}: usage {spec.usage}", code="INVALID_ARGUMENT")
    if spec.choices and args and args[0].lower() not in spec.choices:
        raise ConfigError(
            f"{name}: expected {' or '.join(spec.choices)}, found {args[0]!r}", code="INVALID_ARGUMENT"
        )
    return MetaCommand(spec=spec, args=args)


KEYS_HELP = (
    ("Enter", "new line, or run the input when it ends a statement with ';'"),
    ("Alt-Enter, Esc Enter", "run the input as it is"),
    ("Ctrl-C", "cancel the running statement; at the prompt, clear the input"),
    ("Ctrl-D", "quit (on an empty line)"),
    ("Up, Down", "previous and next input from the history"),
    ("Tab", "complete names of tasks, tables and columns, and the keywords valid here"),
)


def help_text() -> str:
    """The text ``\\?`` prints: every meta-command of :data:`COMMANDS` and the keys."""
    rows = [(spec.usage, spec.help) for spec in COMMANDS]
    width = max(len(key) for key, _ in (*rows, *KEYS_HELP))
    lines = ["Statements end with ';' and may span several lines.", "", "Commands:"]
    lines += [f"  {key:<{width}}  {what}" for key, what in rows]
    others = [", ".join(spec.names[1:]) for spec in COMMANDS if len(spec.names) > 1]
    lines += ["", "Also: " + "; ".join(others), "", "Keys:"]
    lines += [f"  {key:<{width}}  {what}" for key, what in KEYS_HELP]
    return "\n".join(lines)
