"""Task statements whose body is not tokenized: the head is, the body stays one piece of text.

sqlglot's tokenizer (:mod:`tasksql.sql.tokenizer`) costs seconds per megabyte, and the SQL body of
a task (``AS <sql>`` to the end of the statement) is kept as written: nothing in it needs tokens.
:func:`lazy_cursor` finds where the body begins with the scanner (:mod:`tasksql.sql.scan`), the
first word AS outside parentheses that is not ``AS USER``, and gives the parsers a cursor over the
tokens before it, the body's first token (so a parser that looks one token past AS sees what the
full token list holds) and one :attr:`~tasksql.sql.tokens.TokenKind.REST` token for the rest of
the body. A body that is one dollar-quoted string gets its token from the scanner too.

The parse on that cursor is the parse of the full token list when :func:`trusted` says so: the
body parser took the rest as the end of the body (:meth:`Cursor.take_rest`, which reads offsets
only), or the parsers never looked at the rest token (an error in the head, for instance). In any
other case (the word AS was something else, the parsers looked further) the caller tokenizes the
whole statement and parses it again.
"""

from __future__ import annotations

from tasksql.errors import TasksqlError
from tasksql.sql import scan
from tasksql.sql.cursor import Cursor
from tasksql.sql.split import Piece
from tasksql.sql.tokenizer import LineIndex, tokenize_range
from tasksql.sql.tokens import Token, TokenKind

_OPENING = frozenset("([")
_CLOSING = frozenset(")]")


def body_start(source: str, start: int, end: int) -> tuple[int, int] | None:
    """The offsets of the word AS that begins the SQL body of the task statement ``source[start:
    end]`` and of the body's first token (the first AS outside parentheses that is not VoltDB's
    ``AS USER``), or None when there is none to be sure of: no such AS, AS followed by nothing or
    not by white space (``AS$$x$$`` is one word), a body that begins with a ``$`` that opens no
    identifier-tagged string (where sqlglot's tokenizer and the scanner may read differently).

    :raises scan.ScanError: at text the scanner cannot read.
    """
    depth = 0
    for lex in scan.lexemes(source, start):
        if lex.start >= end:
            return None
        if lex.kind == scan.OTHER:
            ch = source[lex.start]
            if ch in _OPENING:
                depth += 1
            elif ch in _CLOSING:
                depth = max(0, depth - 1)  # as the WHEN clause counts them
        elif lex.kind == scan.WORD and lex.text == "AS" and depth == 0:
            if lex.end >= end or not source[lex.end].isspace():
                return None
            first = scan.skip_gap(source, lex.end)
            if first >= end or (source[first] == "$" and scan.dollar_tag_at(source, first) is None):
                return None
            nxt = next(scan.lexemes(source, first))
            if nxt.kind == scan.WORD and nxt.text == "USER":
                continue  # VoltDB's AS USER: the body's AS comes later
            return lex.start, first
    return None


def dollar_string_value(source: str, start: int, end: int) -> str | None:
    """The value of ``source[start:end]`` when that is exactly one dollar-quoted string with an
    identifier tag (``$$...$$``, ``$tag$...$tag$``: the tokenizer reads those as the scanner
    does), else None."""
    tag = scan.dollar_tag_at(source, start)
    if tag is None or end - start < 2 * len(tag) or source.find(tag, start + len(tag)) != end - len(tag):
        return None
    return source[start + len(tag) : end - len(tag)]


def lazy_cursor(source: str, piece: Piece, index: LineIndex) -> Cursor | None:
    """A cursor over ``piece`` (a task statement of ``source``) with its body left untokenized,
    or None when the body cannot be told apart safely (the caller tokenizes the whole statement)."""
    end = piece.start + len(piece.text)
    try:
        found = body_start(source, piece.start, end)
        if found is None:
            return None
        as_start, first = found
        first_end = next(scan.lexemes(source, first)).end
        rest = scan.skip_gap(source, first_end)
    except scan.ScanError:
        return None
    value = dollar_string_value(source, first, first_end)
    try:
        if value is None:
            tokens = tokenize_range(source, piece.start, first_end, index)
        else:  # a string of a megabyte costs the tokenizer a second: the scanner read it
            tokens = tokenize_range(source, piece.start, as_start + 2, index)
            raw = source[first:first_end]
            tokens.append(Token(TokenKind.STRING, value, index.span(first, first_end), quoted=True, raw=raw))
    except TasksqlError:
        return None  # the whole statement's tokens say what is wrong
    # the tokenizer must see the scanner's AS and first token where the scanner does
    if (
        len(tokens) < 2
        or (tokens[-1].start, tokens[-1].end) != (first, first_end)
        or tokens[-2].start != as_start
        or not tokens[-2].is_word("AS")
    ):
        return None
    if rest >= end:
        return Cursor(source, tokens, index)
    text = source[rest:end]
    tokens.append(Token(TokenKind.REST, text, index.span(rest, end), raw=text))
    return Cursor(source, tokens, index, watch=len(tokens) - 1)


def trusted(cur: Cursor) -> bool:
    """Whether the parse on ``cur`` (from :func:`lazy_cursor`) is the parse of the full token list."""
    return cur.watch is None or cur.rest_taken or not cur.watched
