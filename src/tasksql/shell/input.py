"""What the shell does with the text it reads, as pure functions.

:func:`is_complete` decides whether the SQL typed so far ends a statement. It uses the tokenizer and
splitter of the SQL front end, so the shell and the parser agree on where a statement ends: a
semicolon inside a string, a comment, a ``$$ ... $$`` body or a ``BEGIN ... END`` task body does
not end it, and a comment after the last semicolon does not keep it open.

:func:`read_script` cuts text (what was typed, a piped script, a file run with ``\\i``) into SQL
chunks and meta-command lines, the way psql reads its input: a line starting with a backslash is a
meta-command wherever the SQL before it is not inside a string, comment or body; a DuckDB-style
``.command`` line only at the start of a statement. Every other line is SQL, so a meta-command
never swallows the lines after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tasksql.errors import TasksqlSyntaxError
from tasksql.sql.split import split_tokens
from tasksql.sql.tokenizer import tokenize
from tasksql.sql.tokens import TokenKind

# Tokenizer errors that mean "the user has not finished typing", as opposed to text that is wrong.
_UNFINISHED = frozenset({"UNTERMINATED_STRING", "UNTERMINATED_COMMENT"})

# Statements after which the names offered for completion (tasks, tables, columns) are read again.
_CATALOG_CHANGERS = frozenset({"CREATE", "ALTER", "DROP", "ATTACH", "DETACH"})

# A DuckDB-style dot command: a dot and a letter at the start of the line (``.5`` is a number).
_DOT_COMMAND = re.compile(r"\.[A-Za-z]")


def is_complete(text: str) -> bool:
    """True when ``text`` ends, after white space and comments, with a semicolon ending a statement.

    False for text without code, for a semicolon inside a string, quoted identifier, comment,
    dollar-quoted body or an unfinished ``BEGIN ... END`` task body, and for text that ends inside
    an unterminated string or comment. Text that cannot be tokenized for another reason counts as
    complete when it ends with ``;``, so that submitting it shows the error. Never raises.
    """
    stripped = text.strip()
    try:
        tokens = tokenize(stripped, comments=True)
    except TasksqlSyntaxError as err:
        return err.code not in _UNFINISHED and stripped.endswith(";")
    code = [t for t in tokens if t.kind is not TokenKind.COMMENT]
    if not code or code[-1].kind is not TokenKind.SEMICOLON:
        return False
    pieces = split_tokens(stripped, code)
    # The splitter leaves the last piece unterminated when the final ';' is inside a task body.
    return not pieces or pieces[-1].terminated


def is_blank(text: str) -> bool:
    """True when ``text`` holds no code: only white space and complete comments.

    Leading white space and ``--`` comments are skipped without tokenizing, so SQL text is found
    blank or not at once; only text starting with a block comment is tokenized.
    """
    rest = text
    while True:
        rest = rest.lstrip()
        if not rest:
            return True
        if rest.startswith("--"):
            end = rest.find("\n")
            if end < 0:
                return True
            rest = rest[end + 1 :]
            continue
        if not rest.startswith("/*"):
            return False
        try:
            tokens = tokenize(text, comments=True)
        except TasksqlSyntaxError:
            return False
        return all(t.kind is TokenKind.COMMENT for t in tokens)


@dataclass(frozen=True, slots=True)
class _Where:
    """Where the end of some SQL text is: inside a string/comment/body, at a statement boundary."""

    in_literal: bool
    at_boundary: bool


def _where(sql: str) -> _Where:
    """One tokenization of ``sql`` answers both questions a meta-command line asks of the SQL before it."""
    if not sql.strip():
        return _Where(in_literal=False, at_boundary=True)
    try:
        tokens = tokenize(sql, comments=True)
    except TasksqlSyntaxError as err:
        return _Where(in_literal=err.code in _UNFINISHED, at_boundary=False)
    code = [t for t in tokens if t.kind is not TokenKind.COMMENT]
    if not code:
        return _Where(in_literal=False, at_boundary=True)
    if code[-1].kind is not TokenKind.SEMICOLON:
        return _Where(in_literal=False, at_boundary=False)
    pieces = split_tokens(sql, code)
    return _Where(in_literal=False, at_boundary=not pieces or pieces[-1].terminated)


def _meta_kind(stripped: str) -> str | None:
    """``\\`` or ``.`` when the stripped line looks like a meta-command, else None."""
    if stripped.startswith("\\"):
        return "\\"
    return "." if _DOT_COMMAND.match(stripped) else None


def _recognised(kind: str, where: _Where) -> bool:
    return not where.in_literal if kind == "\\" else where.at_boundary


def is_meta_line(line: str, sql_before: str = "") -> bool:
    """Whether ``line`` is a meta-command when it follows the SQL text ``sql_before``.

    A backslash line is one unless ``sql_before`` ends inside a string, comment or dollar-quoted
    body; a ``.command`` line only when ``sql_before`` is blank or ends a statement.
    """
    kind = _meta_kind(line.strip())
    return kind is not None and _recognised(kind, _where(sql_before))


@dataclass(frozen=True, slots=True, kw_only=True)
class SqlChunk:
    """SQL to run as one script, from ``line`` (1-based) of the source. ``text`` keeps the line
    numbers of the source: it starts with one newline per line before ``line``, and a meta-command
    line inside it is an empty line."""

    text: str
    line: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MetaLine:
    """A meta-command line (``text`` stripped) at ``line`` (1-based). ``pending`` is the SQL typed
    before it that does not end a statement yet (psql's query buffer): ``\\e`` edits it, ``\\watch``
    runs it, and it stays in the buffer of the next prompt when the input ends."""

    text: str
    line: int
    pending: str = ""


Item = SqlChunk | MetaLine


def read_script(text: str) -> list[Item]:
    """The SQL chunks and meta-command lines of ``text``, in order.

    SQL lines accumulate; a meta-command line at a statement boundary ends the chunk before it. A
    backslash command inside an unfinished statement carries that statement as ``pending``; when
    no SQL line follows it, the unfinished statement is left to the caller (not returned as a
    chunk). Only lines that look like meta-commands are checked against the SQL before them, so
    reading a large script stays linear.
    """
    items: list[Item] = []
    lines = text.split("\n")
    buffer: list[str] = []  # SQL lines of the current chunk, meta lines blanked
    first = 0  # index of the chunk's first line
    has_sql = False
    left_pending = False  # the last line read was a meta-command inside an unfinished statement

    def flush(end: int) -> None:
        nonlocal buffer, first, has_sql
        sql = "\n".join(buffer)
        if has_sql and not is_blank(sql):
            items.append(SqlChunk(text="\n" * first + sql, line=first + 1))
        buffer, first, has_sql = [], end, False

    for i, line in enumerate(lines):
        stripped = line.strip()
        kind = _meta_kind(stripped)
        if kind is not None:
            sql = "\n".join(buffer) if has_sql else ""
            where = _where(sql)
            if _recognised(kind, where):
                if where.at_boundary:
                    flush(i + 1)
                    items.append(MetaLine(text=stripped, line=i + 1))
                    left_pending = False
                else:
                    items.append(MetaLine(text=stripped, line=i + 1, pending=sql.strip()))
                    buffer.append("")
                    left_pending = True
                continue
        if not has_sql:
            first = i
            buffer = []
        buffer.append(line)
        has_sql = True
        left_pending = left_pending and not stripped
    if not left_pending:
        flush(len(lines))
    return items


def ends_with_meta(text: str) -> bool:
    """Whether the last item of ``text`` is a meta-command line (so Enter runs the input)."""
    last = text.rstrip().rsplit("\n", 1)[-1].strip()
    if _meta_kind(last) is None:
        return False
    items = read_script(text.rstrip())
    return bool(items) and isinstance(items[-1], MetaLine)


def submits_on_enter(text: str) -> bool:
    """Whether Enter runs ``text``: an empty buffer, a meta-command line at its end, or SQL ending
    a statement (see :func:`is_complete`)."""
    stripped = text.strip()
    return not stripped or ends_with_meta(stripped) or is_complete(stripped)


def changes_catalog(text: str) -> bool:
    """True when a statement of ``text`` starts with CREATE, ALTER, DROP, ATTACH or DETACH (so task,
    table or column names may have changed). Never raises: text that does not tokenize gives False."""
    try:
        tokens = tokenize(text)
    except TasksqlSyntaxError:
        return False
    for piece in split_tokens(text, tokens):
        head = piece.tokens[0] if piece.tokens else None
        if head is not None and head.kind is TokenKind.WORD and head.upper in _CATALOG_CHANGERS:
            return True
    return False
