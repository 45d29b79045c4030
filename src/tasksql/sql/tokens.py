"""Tokens of tasksql's SQL front end.

A :class:`Token` is one lexical unit of the source text with its exact :class:`~tasksql.errors.Span`.
:class:`TokenKind` is deliberately coarse: the task grammar matches keywords on their text
(case-insensitively), so every keyword, type name and unquoted identifier is a :attr:`TokenKind.WORD`.
The rest of the code never sees the token types of the underlying tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tasksql.errors import Span


class TokenKind(Enum):
    """What a token is, as far as the task grammar cares."""

    WORD = "word"  #: keyword or unquoted identifier (``text`` as written)
    IDENT = "ident"  #: double-quoted identifier (``text`` unescaped)
    STRING = "string"  #: '...', E'...', $$...$$, $tag$...$tag$ (``text`` is the value)
    NUMBER = "number"  #: numeric literal (``text`` as written)
    LPAREN = "("
    RPAREN = ")"
    LBRACKET = "["
    RBRACKET = "]"
    COMMA = ","
    DOT = "."
    SEMICOLON = ";"
    EQ = "="
    OPERATOR = "operator"  #: any other symbol (``*``, ``/``, ``::``, ``>=``, ``#``, ``?``, ...)
    COMMENT = "comment"  #: only produced by ``tokenize(text, comments=True)``
    REST = "rest"  #: the unread rest of a task body (:mod:`tasksql.sql.lazy_body`); tokenize never makes one


@dataclass(frozen=True, slots=True)
class Token:
    """One token.

    ``text`` is the token's value: the unescaped contents of a string or quoted identifier, the
    source text otherwise. ``raw`` is always the exact source text (quotes included), and
    ``span`` locates it in the whole source. ``quoted`` is True for strings and quoted identifiers.
    """

    kind: TokenKind
    text: str
    span: Span
    quoted: bool = False
    raw: str = ""

    @property
    def upper(self) -> str:
        """The text in upper case (for keyword comparisons)."""
        return self.text.upper()

    @property
    def start(self) -> int:
        return self.span.start

    @property
    def end(self) -> int:
        return self.span.end

    @property
    def dollar_quoted(self) -> bool:
        """True for ``$$...$$`` and ``$tag$...$tag$`` strings."""
        return self.kind is TokenKind.STRING and self.raw.startswith("$")

    def is_word(self, *words: str) -> bool:
        """True when this is an unquoted word equal (case-insensitively) to one of ``words``."""
        return self.kind is TokenKind.WORD and self.text.upper() in words

    def __repr__(self) -> str:
        return f"Token({self.kind.name}, {self.raw!r}, {self.span.line}:{self.span.column})"
