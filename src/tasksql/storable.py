"""Text tasksql can store and read back.

Whatever a user writes (statement text, names, comments, JSON, settings) ends up in the catalog
(SQLite), a warehouse (DuckDB, SQLite, PostgreSQL), JSON answers and logs. Two kinds of character
survive none of those round trips, so they are refused where the text comes in, before anything is
stored:

* a lone surrogate (U+D800..U+DFFF not part of a pair): Python strings can hold one (from
  ``'\\ud800'`` in Python source, a JSON ``"\\ud800"`` escape, an environment variable that is not
  UTF-8), but it cannot be encoded as UTF-8, so every later read of a row holding it fails;
* NUL (U+0000): C strings end there (SQLite's and DuckDB's SQL text, PostgreSQL text values), so
  what is read back is cut short or refused. SQL that needs the character writes ``chr(0)``.

Every other character, control characters included, is stored and read back as written (logs
escape control characters when they print them: :mod:`tasksql.logs`).
"""

from __future__ import annotations

import re

from tasksql.errors import ConfigError, Span, TasksqlError, TasksqlSyntaxError

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def first_unstorable(text: str) -> int | None:
    """The offset of the first character of ``text`` that cannot be stored and read back, or None.

    One scan at C speed (a regular expression), so it costs nothing next to parsing.
    """
    if text.isascii():
        return None if "\x00" not in text else text.index("\x00")
    found = _UNSTORABLE.search(text)
    return None if found is None else found.start()


def describe_char(ch: str) -> str:
    """The refused character named for a message: ``a NUL character (U+0000)``, ``a lone
    surrogate (U+D800)``."""
    if ch == "\x00":
        return "a NUL character (U+0000)"
    return f"a lone surrogate (U+{ord(ch):04X})"


def check_sql_text(text: str) -> None:
    """Refuse SQL text holding a character that cannot be stored and read back.

    :raises TasksqlSyntaxError: code ``INVALID_CHARACTER`` with the span (line, column) of the first
        such character.
    :raises TasksqlError: code ``INVALID_ARGUMENT`` when ``text`` is not a str at all.
    """
    if not isinstance(text, str):  # the Python API is called with anything
        raise TasksqlError(
            f"SQL text must be a str, not {type(text).__name__}"
            + (" (decode the bytes first)" if isinstance(text, bytes | bytearray) else ""),
            code="INVALID_ARGUMENT",
        )
    pos = first_unstorable(text)
    if pos is None:
        return
    hint = " (write chr(0) for a NUL in a value)" if text[pos] == "\x00" else ""
    raise TasksqlSyntaxError(
        f"the text holds {describe_char(text[pos])}, which cannot be stored or read back{hint}",
        code="INVALID_CHARACTER",
        span=Span.at(text, pos, pos + 1),
        source=text,
    )


def check_setting_text(name: str, value: str) -> None:
    """Refuse a text setting holding a character that cannot be stored and read back.

    :raises ConfigError: naming the setting and the character's position (1-based).
    """
    pos = first_unstorable(value)
    if pos is not None:
        raise ConfigError(
            f"setting {name} holds {describe_char(value[pos])} at character {pos + 1}, which "
            "cannot be stored: give text that is valid Unicode without NUL"
        )
