"""Log records that cannot be forged: control characters in logged text are escaped.

Task names, statement text, error messages and URLs reach the log, and each of them can hold a
line break (``CREATE TASK "a<newline>2026-01-01 ... ERROR ..."``). Written as is, it would start a
line that looks like a record of its own. :class:`EscapingFormatter` writes every record on one
line: control characters (C0, DEL, C1, the Unicode line and paragraph separators, the bidirectional
overrides that reorder what a terminal shows) and lone surrogates are written as ``\\n``,
``\\x1b``, ``\\u2028``... A traceback, which needs its lines, keeps them, each one indented, so a
line that begins in the first column is always the start of a real record.

:func:`configure` installs it on the root logger; whatever sets up logging for a process calls it:
the server with :data:`FORMAT` (time, level, logger), the other commands with ``terminal=True``
(``warning: <message>``, as their notices and errors read).
"""

from __future__ import annotations

import logging
import re
import sys
from types import TracebackType
from typing import TextIO

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]

#: The format of every record.
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Not control characters in the strict sense, but they break or reorder lines on a terminal.
_LAYOUT = "\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{_LAYOUT}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Inside a traceback the line breaks stay (indented); everything else is escaped as in a message.
_CONTROL_BUT_NEWLINE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_INDENT = "    "
_LINE_START = re.compile(r"(?<=\n)(?=[^\n])")  # the start of a line after the first, unless empty


def _escape_one(m: re.Match[str]) -> str:
    ch = m.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` on one line: every control character written as an escape (``\\n``, ``\\x1b``)."""
    return _CONTROL.sub(_escape_one, text)


def escape_keeping_lines(text: str, indent: str) -> str:
    """``text`` with its line breaks kept, every line after the first indented by ``indent`` (empty
    lines stay empty; no line it holds starts where a record or a message of its own would), and
    every other control character written as an escape."""
    return _LINE_START.sub(indent, _CONTROL_BUT_NEWLINE.sub(_escape_one, text))


def _indented(text: str) -> str:
    """A multi-line block (a traceback) with its control characters escaped and every line after
    the first indented."""
    return _CONTROL_BUT_NEWLINE.sub(_escape_one, text).replace("\n", "\n" + _INDENT)


class EscapingFormatter(logging.Formatter):
    """A :class:`logging.Formatter` whose records each take one line (see the module docstring)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))

    def formatException(self, ei: ExcInfo) -> str:
        return _INDENT + _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _INDENT + _indented(super().formatStack(stack_info))


class TerminalFormatter(EscapingFormatter):
    """One escaped line per record for a command a person runs: ``warning: <message>``."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(f"{record.levelname.lower()}: {record.message}")


class _StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler that writes to whatever ``sys.stderr`` is when a record comes (as logging's own
    last resort does), so a command run in-process with its streams swapped logs to its own."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def configure(level: str, stream: TextIO | None = None, *, terminal: bool = False) -> None:
    """Log records of ``level`` and above (a level name; unknown names mean INFO) to ``stream``
    (default: standard error, as it is when each record comes), one escaped line each: with
    :data:`FORMAT`, or as :class:`TerminalFormatter` writes them when ``terminal``. As
    :func:`logging.basicConfig`, does nothing when the root logger already has handlers (a host
    application configured logging itself)."""
    handler = logging.StreamHandler(stream) if stream is not None else _StandardError()
    handler.setFormatter(TerminalFormatter() if terminal else EscapingFormatter(FORMAT))
    value = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    logging.basicConfig(level=value, handlers=[handler])
