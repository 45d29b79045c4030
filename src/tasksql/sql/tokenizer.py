"""The tokenizer: sqlglot's DuckDB tokenizer, wrapped into tasksql :class:`Token` objects.

sqlglot's DuckDB dialect reads everything the five task spellings and the warehouses need:
``'it''s'``, ``E'..\\n..'``, ``$$ ... $$`` and ``$tag$ ... $tag$`` bodies, nested ``/* /* */ */``
comments and ``--`` comments. Three adjustments are made here:

* Back-quoted identifiers (`` `nightly-export` ``, ```` `a``b` ````), as Timeplus, ClickHouse and
  MySQL quote names, are identifiers like double-quoted ones (DuckDB and SQLite read them too).

* sqlglot turns ``EXECUTE``/``CALL``/... at the start of a statement into a "command" whose rest is
  one opaque string; that is switched off, so ``EXECUTE TASK t`` is ordinary tokens.
* sqlglot reports positions as the *end* column and inclusive end offsets, and only a context
  snippet when it fails. Here every token gets a :class:`Span` of its start (1-based line and
  column, 0-based ``start``/``end`` with ``end`` exclusive), and failures become
  :class:`TasksqlSyntaxError` pointing at the opening quote or comment.
"""

from __future__ import annotations

import bisect
import re
from typing import Any, ClassVar

from sqlglot.dialects.duckdb import DuckDB
from sqlglot.tokenizer_core import TokenType

from tasksql.errors import Span, TasksqlSyntaxError
from tasksql.sql.tokens import Token, TokenKind
from tasksql.storable import check_sql_text


class _Tokenizer(DuckDB.Tokenizer):
    # No "commands": EXECUTE TASK, CALL, RESET... are tokenized like everything else.
    COMMANDS: ClassVar[set[Any]] = set()
    # Timeplus, ClickHouse and MySQL quote names with back quotes.
    IDENTIFIERS: ClassVar[list[str | tuple[str, str]]] = ['"', "`"]


_STRING_TYPES = frozenset(
    {
        TokenType.STRING,
        TokenType.HEREDOC_STRING,
        TokenType.BYTE_STRING,
        TokenType.NATIONAL_STRING,
        TokenType.RAW_STRING,
        TokenType.BIT_STRING,
        TokenType.HEX_STRING,
        TokenType.UNICODE_STRING,
    }
)

_PUNCT = {
    TokenType.L_PAREN: TokenKind.LPAREN,
    TokenType.R_PAREN: TokenKind.RPAREN,
    TokenType.L_BRACKET: TokenKind.LBRACKET,
    TokenType.R_BRACKET: TokenKind.RBRACKET,
    TokenType.COMMA: TokenKind.COMMA,
    TokenType.DOT: TokenKind.DOT,
    TokenType.SEMICOLON: TokenKind.SEMICOLON,
    TokenType.EQ: TokenKind.EQ,
}


_WORD_PIECE = re.compile(r"\S+")


class LineIndex:
    """Offsets to 1-based (line, column), in O(log lines) per lookup."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts = [0]
        pos = text.find("\n")
        while pos != -1:
            self._starts.append(pos + 1)
            pos = text.find("\n", pos + 1)

    def span(self, start: int, end: int) -> Span:
        """The span of ``text[start:end]`` (offsets are clamped into the text)."""
        start = max(0, min(start, len(self.text)))
        end = max(start, min(end, len(self.text)))
        row = bisect.bisect_right(self._starts, start) - 1
        return Span(row + 1, start - self._starts[row] + 1, start, end)


def _kind_of(token_type: TokenType, raw: str) -> TokenKind:
    if token_type in _STRING_TYPES:
        return TokenKind.STRING
    if token_type is TokenType.IDENTIFIER:
        return TokenKind.IDENT
    if token_type is TokenType.NUMBER:
        return TokenKind.NUMBER
    punct = _PUNCT.get(token_type)
    if punct is not None:
        return punct
    head = raw[:1]
    if head.isalpha() or head == "_":
        return TokenKind.WORD
    return TokenKind.OPERATOR


def _failure(text: str, index: LineIndex, start: int) -> TasksqlSyntaxError:
    """The error for text the tokenizer could not read, pointing at the construct that begins at
    ``start`` (sqlglot's start of the token it was reading)."""
    rest = text[start : start + 2]
    if rest == "/*":
        code, message, width = "UNTERMINATED_COMMENT", "unterminated comment: '/*' is never closed", 2
    elif rest[:1] in ('"', "`"):
        code, message, width = (
            "UNTERMINATED_STRING",
            f"unterminated quoted identifier: '{rest[0]}' is never closed",
            1,
        )
    elif rest[:1] == "$":
        close = text.find("$", start + 1)
        tag = text[start : close + 1] if close != -1 else "$$"
        code, message = "UNTERMINATED_STRING", f"unterminated dollar-quoted string: {tag} is never closed"
        width = len(tag)
    elif "'" in rest:
        code, message, width = "UNTERMINATED_STRING", "unterminated string: the quote is never closed", 1
        if rest[0] != "'":
            width = 2
    else:
        code, message, width = "SYNTAX_ERROR", "cannot read the text here", 1
    return TasksqlSyntaxError(message, code=code, span=index.span(start, start + width), source=text)


def _comments(text: str, index: LineIndex, start: int, end: int) -> list[Token]:
    """The comments in ``text[start:end]``, a gap between two tokens (only white space and comments)."""
    out: list[Token] = []
    pos = start
    while pos < end:
        ch = text[pos]
        if ch.isspace():
            pos += 1
            continue
        if text.startswith("--", pos):
            stop = text.find("\n", pos, end)
            stop = end if stop == -1 else stop
        elif text.startswith("/*", pos):
            depth, stop = 1, pos + 2
            while stop < end and depth:
                if text.startswith("/*", stop):
                    depth, stop = depth + 1, stop + 2
                elif text.startswith("*/", stop):
                    depth, stop = depth - 1, stop + 2
                else:
                    stop += 1
        else:  # not expected in a gap; keep it visible rather than lose it
            stop = pos + 1
        raw = text[pos:stop]
        out.append(Token(TokenKind.COMMENT, raw, index.span(pos, stop), raw=raw))
        pos = stop
    return out


def raw_tokens(text: str) -> list[Any]:
    """sqlglot's own tokens of ``text``, read as :func:`tokenize` reads it (no commands, back
    quotes), for code that works on sqlglot tokens (:mod:`tasksql.sysviews.rewrite`).

    :raises sqlglot.errors.TokenError: for text that cannot be read.
    """
    return list(_Tokenizer().tokenize(text))


def tokenize(text: str, *, comments: bool = False) -> list[Token]:
    """Split ``text`` into tokens, each with its exact span.

    Comments are skipped unless ``comments`` is True (the shell uses them for highlighting).

    :raises TasksqlSyntaxError: code ``UNTERMINATED_STRING`` (a string, quoted identifier or
        dollar-quoted body that is never closed), ``UNTERMINATED_COMMENT``, or ``SYNTAX_ERROR``,
        pointing at where the unreadable construct starts; ``INVALID_CHARACTER`` for a character
        that cannot be stored and read back (NUL, a lone surrogate: :mod:`tasksql.storable`).
    """
    check_sql_text(text)
    return _tokens(text, LineIndex(text), 0, len(text), comments=comments)


def tokenize_range(text: str, start: int, end: int, index: LineIndex | None = None) -> list[Token]:
    """The tokens of ``text[start:end]`` (comments skipped), with spans in the whole ``text``.

    For a statement of a script that is already known to hold only characters that can be stored
    (the caller checked the whole script): only this statement's text is read.

    :raises TasksqlSyntaxError: as :func:`tokenize`, with the span in the whole text.
    """
    return _tokens(text, index or LineIndex(text), start, end, comments=False)


def _tokens(source: str, index: LineIndex, offset: int, stop: int, *, comments: bool) -> list[Token]:
    """The tokens of ``source[offset:stop]``; ``index`` locates offsets of the whole ``source``."""
    text = source[offset:stop] if offset or stop < len(source) else source
    tokenizer = _Tokenizer()
    try:
        raw_tokens = tokenizer.tokenize(text)
    except Exception as exc:  # sqlglot raises TokenError, or IndexError inside nested comments
        start = getattr(getattr(tokenizer, "_core", None), "_start", 0)
        raise _failure(source, index, offset + (start if isinstance(start, int) else 0)) from exc
    out: list[Token] = []
    previous_end = 0
    for tok in raw_tokens:
        start, end = tok.start, tok.end + 1
        raw = text[start:end]
        if comments and start > previous_end:
            out.extend(_comments(source, index, offset + previous_end, offset + start))
        kind = _kind_of(tok.token_type, raw)
        if kind is TokenKind.WORD and not raw.isidentifier():
            # sqlglot reads "ORDER BY", "PRIMARY KEY", ... as one token: keep one word per token.
            for m in _WORD_PIECE.finditer(raw):
                piece_kind = _kind_of(TokenType.VAR, m.group())
                piece_span = index.span(offset + start + m.start(), offset + start + m.end())
                out.append(Token(piece_kind, m.group(), piece_span, raw=m.group()))
        else:
            value = tok.text if kind in (TokenKind.STRING, TokenKind.IDENT) else raw
            quoted = kind in (TokenKind.STRING, TokenKind.IDENT)
            out.append(Token(kind, value, index.span(offset + start, offset + end), quoted=quoted, raw=raw))
        previous_end = end
    if comments and previous_end < len(text):
        out.extend(_comments(source, index, offset + previous_end, offset + len(text)))
    return out
