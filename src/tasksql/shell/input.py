"""What the shell does with the text in its input buffer, as pure functions.

:func:`is_complete` decides whether Enter submits the buffer or starts a new line. It uses the
tokenizer and splitter of the SQL front end, so the shell and the parser agree on where a statement
ends: a semicolon inside a string, a comment, a ``$$ ... $$`` body or a ``BEGIN ... END`` task body
does not end it. :func:`parse_meta` reads the backslash commands (``\\q``, ``\\h``, ``\\t``, ``\\f``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tasksql.errors import ConfigError, TasksqlSyntaxError
from tasksql.output import FORMATS
from tasksql.sql.split import split_tokens
from tasksql.sql.tokenizer import tokenize
from tasksql.sql.tokens import TokenKind

# Tokenizer errors that mean "the user has not finished typing", as opposed to text that is wrong.
_UNFINISHED = frozenset({"UNTERMINATED_STRING", "UNTERMINATED_COMMENT"})

# Statements after which the task names offered for completion are fetched again.
_CATALOG_CHANGERS = frozenset({"CREATE", "ALTER", "DROP"})


def is_complete(text: str) -> bool:
    """True when ``text``, stripped, ends with a semicolon that ends a statement.

    False for empty text, for a semicolon inside a string, quoted identifier, comment,
    dollar-quoted body or an unfinished ``BEGIN ... END`` task body, and for text that ends inside
    an unterminated string or comment. Text that cannot be tokenized for another reason counts as
    complete when it ends with ``;``, so that submitting it shows the error. Never raises.
    """
    stripped = text.strip()
    if not stripped.endswith(";"):
        return False
    try:
        tokens = tokenize(stripped, comments=True)
    except TasksqlSyntaxError as err:
        return err.code not in _UNFINISHED
    if not tokens or tokens[-1].kind is not TokenKind.SEMICOLON:
        return False
    pieces = split_tokens(stripped, tokens)
    # The splitter leaves the last piece unterminated when the final ';' is inside a task body.
    return not pieces or pieces[-1].terminated


def submits_on_enter(text: str) -> bool:
    """Whether Enter submits ``text``: an empty buffer, a meta-command or a complete statement."""
    stripped = text.strip()
    return not stripped or is_meta(stripped) or is_complete(stripped)


def changes_catalog(text: str) -> bool:
    """True when a statement of ``text`` starts with CREATE, ALTER or DROP (so task names may have
    changed). Never raises: text that does not tokenize gives False."""
    try:
        tokens = tokenize(text)
    except TasksqlSyntaxError:
        return False
    for piece in split_tokens(text, tokens):
        head = piece.tokens[0] if piece.tokens else None
        if head is not None and head.kind is TokenKind.WORD and head.upper in _CATALOG_CHANGERS:
            return True
    return False


class MetaKind(Enum):
    """The backslash commands of the shell."""

    QUIT = "quit"
    HELP = "help"
    TASKS = "tasks"
    FORMAT = "format"


@dataclass(frozen=True, slots=True, kw_only=True)
class MetaCommand:
    """A parsed backslash command; ``argument`` is the output format of ``\\f`` (None: show it)."""

    kind: MetaKind
    argument: str | None = None


_META_NAMES = {
    "q": MetaKind.QUIT,
    "quit": MetaKind.QUIT,
    "h": MetaKind.HELP,
    "?": MetaKind.HELP,
    "help": MetaKind.HELP,
    "t": MetaKind.TASKS,
    "f": MetaKind.FORMAT,
}

META_HELP = (
    ("\\q", "quit (also Ctrl-D)"),
    ("\\h, \\?", "this help"),
    ("\\t", "list tasks (SHOW TERSE TASKS)"),
    ("\\f table|csv|json", "switch the output format (\\f alone shows it)"),
)


def is_meta(text: str) -> bool:
    """True when ``text``, stripped, is one line that starts with a backslash."""
    stripped = text.strip()
    return stripped.startswith("\\") and "\n" not in stripped


def parse_meta(text: str) -> MetaCommand | None:
    """The meta-command in ``text``, or None when ``text`` is not one (see :func:`is_meta`).

    A trailing ``;`` is tolerated. Arguments are case-insensitive.

    :raises ConfigError: code ``UNKNOWN_COMMAND`` for an unknown command, ``INVALID_ARGUMENT`` for
        a command given arguments it does not take or an unknown output format.
    """
    if not is_meta(text):
        return None
    words = text.strip().removesuffix(";").split()
    name, args = words[0][1:].lower(), [w.lower() for w in words[1:]]
    kind = _META_NAMES.get(name)
    if kind is None:
        raise ConfigError(f"unknown command \\{name}; type \\h for help", code="UNKNOWN_COMMAND")
    if kind is MetaKind.FORMAT:
        if len(args) > 1 or (args and args[0] not in FORMATS):
            raise ConfigError(f"\\f takes one output format: {', '.join(FORMATS)}", code="INVALID_ARGUMENT")
        return MetaCommand(kind=kind, argument=args[0] if args else None)
    if args:
        raise ConfigError(f"\\{name} takes no arguments", code="INVALID_ARGUMENT")
    return MetaCommand(kind=kind)
